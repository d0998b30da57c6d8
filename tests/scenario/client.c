// SPDX-License-Identifier: GPL-2.0
/*
 * scenario_client: the client of the scenario suite. Holds many long-lived
 * TCP connections (each from its own source port) and reports which backend
 * answers on each. Reads one command a line on stdin and answers each with
 * exactly one line on stdout:
 *
 *   open TAG ADDR PORT N      open N connections at once, note each one's
 *                             backend, keep them
 *     -> open TAG ok=N fail=F b1=C1 b2=C2 ...
 *   check TAG TIMEOUT_MS      send a line on every connection of TAG and
 *                             count those still answered by the same backend
 *     -> check TAG total=N same=S broken=B b1=BROKEN/OF b2=...
 *   spread TAG ADDR PORT N    open N new connections, count backends, close
 *     -> spread TAG ok=N fail=F b1=C1 ...
 *   close TAG                 close every connection of TAG
 *     -> close TAG closed=N
 *   bulk TAG BYTES TIMEOUT_MS on every connection of TAG at once, send BYTES
 *                             bytes and read them back (the server echoes
 *                             them), then the backend's name: full-sized
 *                             segments both ways, GSO where the stack uses it
 *     -> bulk TAG total=N same=S broken=B b1=BROKEN/OF b2=...
 *   quit
 *
 * A connection is broken when it is reset, closed, silent until the
 * timeout, answered by another backend, or (bulk) echoes other bytes. A backend is named by the line
 * the server greets with. Every wait is bounded: all connections of one
 * command are handled at once, with one deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NAME_LEN 32
#define MAX_BACKENDS 32
#define OPEN_TIMEOUT_MS 3000

struct conn {
	int fd;
	char tag[NAME_LEN];
	char backend[NAME_LEN];
};

/* Connections per backend, and how many of them broke. */
struct tally {
	int n;
	char name[MAX_BACKENDS][NAME_LEN];
	int count[MAX_BACKENDS];
	int broken[MAX_BACKENDS];
};

/* One line awaited on a socket. */
struct pending {
	int fd;
	int err; /* 1 while waiting, then 0 or a negative errno */
	int len;
	char line[NAME_LEN];
};

static struct conn *conns;
static size_t nconns, capconns;

static int tally_slot(struct tally *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->name[i], name))
			return i;
	if (t->n == MAX_BACKENDS)
		return MAX_BACKENDS - 1; /* lumped together; never in the suite */
	snprintf(t->name[t->n], NAME_LEN, "%s", name);
	return t->n++;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* " name=count" (or " name=broken/count") pairs sorted by name, then a newline. */
static void tally_print(struct tally *t, int with_broken)
{
	char names[MAX_BACKENDS][NAME_LEN];

	memcpy(names, t->name, sizeof(names));
	qsort(names, t->n, NAME_LEN, cmp_name);
	for (int i = 0; i < t->n; i++) {
		int s = tally_slot(t, names[i]);

		if (with_broken)
			printf(" %s=%d/%d", t->name[s], t->broken[s], t->count[s]);
		else
			printf(" %s=%d", t->name[s], t->count[s]);
	}
	printf("\n");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Read what has arrived on p; sets p->err when the line is complete or on error. */
static void pending_read(struct pending *p)
{
	for (;;) {
		ssize_t r = recv(p->fd, p->line + p->len, 1, MSG_DONTWAIT);

		if (r == 0) {
			p->err = -ECONNRESET;
			return;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				p->err = -errno;
			return;
		}
		if (p->line[p->len] == '\n') {
			p->line[p->len] = '\0';
			p->err = 0;
			return;
		}
		if (++p->len == NAME_LEN - 1) {
			p->err = -EPROTO;
			return;
		}
	}
}

/* Wait for one line on every p[i] whose err is 1, until timeout_ms. */
static void pending_wait(struct pending *p, int n, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct pollfd *pfd = calloc(n > 0 ? n : 1, sizeof(*pfd));
	int *idx = calloc(n > 0 ? n : 1, sizeof(*idx));

	if (!pfd || !idx)
		goto out;
	for (;;) {
		long long left = deadline - now_ms();
		int w = 0;

		for (int i = 0; i < n; i++) {
			if (p[i].err != 1)
				continue;
			pfd[w].fd = p[i].fd;
			pfd[w].events = POLLIN;
			idx[w++] = i;
		}
		if (!w || left <= 0)
			break;
		if (poll(pfd, w, (int)left) < 0 && errno != EINTR)
			break;
		for (int j = 0; j < w; j++)
			if (pfd[j].revents)
				pending_read(&p[idx[j]]);
	}
out:
	for (int i = 0; i < n; i++)
		if (p[i].err == 1)
			p[i].err = -ETIMEDOUT;
	free(pfd);
	free(idx);
}

static int add_conn(int fd, const char *tag, const char *backend)
{
	if (nconns == capconns) {
		size_t cap = capconns ? capconns * 2 : 256;
		struct conn *c = realloc(conns, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		conns = c;
		capconns = cap;
	}
	conns[nconns].fd = fd;
	snprintf(conns[nconns].tag, NAME_LEN, "%s", tag);
	snprintf(conns[nconns].backend, NAME_LEN, "%s", backend);
	nconns++;
	return 0;
}

/* open (keep = 1) and spread (keep = 0). */
static void cmd_open(const char *verb, const char *tag, const char *addr,
		     const char *port, int n, int keep)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM,
	};
	struct tally t = { 0 };
	struct addrinfo *ai = NULL;
	struct pending *p = NULL;
	int ok = 0, fail = 0, last_err = 0, err;

	if (n < 1 || (err = getaddrinfo(addr, port, &hints, &ai))) {
		printf("%s %s error bad address or count\n", verb, tag);
		return;
	}
	p = calloc(n, sizeof(*p));
	if (!p) {
		printf("%s %s error %s\n", verb, tag, strerror(ENOMEM));
		goto out;
	}
	/* All at once: each socket gets its own ephemeral source port. */
	for (int i = 0; i < n; i++) {
		p[i].err = 1;
		p[i].fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (p[i].fd < 0)
			p[i].err = -errno;
		else if (connect(p[i].fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)
			p[i].err = -errno;
	}
	/* The greeting arrives once the handshake is done. */
	pending_wait(p, n, OPEN_TIMEOUT_MS);
	for (int i = 0; i < n; i++) {
		if (!p[i].err && keep && add_conn(p[i].fd, tag, p[i].line))
			p[i].err = -ENOMEM;
		if (p[i].err) {
			fail++;
			last_err = p[i].err;
		} else {
			t.count[tally_slot(&t, p[i].line)]++;
			ok++;
		}
	}
	/* Spread: closed only now, so no source port was used twice. */
	for (int i = 0; i < n; i++)
		if (p[i].fd >= 0 && (p[i].err || !keep))
			close(p[i].fd);
	if (fail)
		fprintf(stderr, "scenario_client: %s %s: %d of %d failed, last: %s\n",
			verb, tag, fail, n, strerror(-last_err));
	printf("%s %s ok=%d fail=%d", verb, tag, ok, fail);
	tally_print(&t, 0);
out:
	free(p);
	freeaddrinfo(ai);
}

/* Count a connection's answer: 1 when its own backend gave it, else 0. */
static int tally_answer(struct tally *t, const struct conn *c,
			const struct pending *answer)
{
	int s = tally_slot(t, c->backend);

	t->count[s]++;
	if (!answer->err && !strcmp(answer->line, c->backend))
		return 1;
	t->broken[s]++;
	return 0;
}

static void cmd_check(const char *tag, int timeout_ms)
{
	struct tally t = { 0 };
	int total = 0, same = 0, broken = 0, n = 0;
	struct pending *p = calloc(nconns + 1, sizeof(*p));
	size_t *idx = calloc(nconns + 1, sizeof(*idx));

	if (!p || !idx) {
		printf("check %s error %s\n", tag, strerror(ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < nconns; i++) {
		if (strcmp(conns[i].tag, tag))
			continue;
		p[n].fd = conns[i].fd;
		p[n].err = 1;
		if (send(conns[i].fd, "ping\n", 5, MSG_NOSIGNAL) != 5)
			p[n].err = -errno;
		idx[n++] = i;
	}
	pending_wait(p, n, timeout_ms);
	for (int j = 0; j < n; j++)
		same += tally_answer(&t, &conns[idx[j]], &p[j]);
	total = n;
	broken = n - same;
	printf("check %s total=%d same=%d broken=%d", tag, total, same, broken);
	tally_print(&t, 1);
out:
	free(p);
	free(idx);
}

/* One connection's bulk transfer. */
struct bulk {
	int fd;
	long sent, got;	  /* payload bytes, the "bulk N" line not counted */
	int hdr_sent;
	int err;	  /* 1 while going, then 0 or a negative errno */
	struct pending name;
};

static unsigned char bulk_byte(long k)
{
	return (unsigned char)(k % 251);
}

/* Move what can move on b without blocking; sets b->err when done. */
static void bulk_step(struct bulk *b, long bytes, short revents)
{
	char buf[65536], hdr[32];
	ssize_t n;

	if (revents & POLLOUT) {
		int hl = snprintf(hdr, sizeof(hdr), "bulk %ld\n", bytes);

		if (b->hdr_sent < hl) {
			n = send(b->fd, hdr + b->hdr_sent, hl - b->hdr_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN) {
				b->err = -errno;
				return;
			}
			b->hdr_sent += n > 0 ? n : 0;
		}
		while (b->hdr_sent == hl && b->sent < bytes) {
			long k = bytes - b->sent < (long)sizeof(buf) ?
					 bytes - b->sent : (long)sizeof(buf);

			for (long i = 0; i < k; i++)
				buf[i] = bulk_byte(b->sent + i);
			n = send(b->fd, buf, k, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno != EAGAIN)
					b->err = -errno;
				break;
			}
			b->sent += n;
		}
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)) || b->err != 1)
		return;
	while (b->got < bytes) {
		long k = bytes - b->got < (long)sizeof(buf) ?
				 bytes - b->got : (long)sizeof(buf);

		n = recv(b->fd, buf, k, MSG_DONTWAIT);
		if (n == 0) {
			b->err = -ECONNRESET;
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				b->err = -errno;
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if ((unsigned char)buf[i] != bulk_byte(b->got + i)) {
				b->err = -EPROTO;
				return;
			}
		}
		b->got += n;
	}
	b->name.fd = b->fd;
	pending_read(&b->name);
	if (b->name.err != 1)
		b->err = b->name.err;
}

static void cmd_bulk(const char *tag, long bytes, int timeout_ms)
{
	struct tally t = { 0 };
	int total = 0, same = 0, broken = 0, n = 0;
	struct bulk *b = calloc(nconns + 1, sizeof(*b));
	struct pollfd *pfd = calloc(nconns + 1, sizeof(*pfd));
	int *idx = calloc(nconns + 1, sizeof(*idx));
	size_t *conn = calloc(nconns + 1, sizeof(*conn));
	long long deadline = now_ms() + timeout_ms;

	if (!b || !pfd || !idx || !conn || bytes < 1) {
		printf("bulk %s error %s\n", tag, strerror(ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < nconns; i++) {
		if (strcmp(conns[i].tag, tag))
			continue;
		b[n].fd = conns[i].fd;
		b[n].err = 1;
		b[n].name.err = 1;
		conn[n++] = i;
	}
	for (;;) {
		long long left = deadline - now_ms();
		int w = 0;

		for (int i = 0; i < n; i++) {
			if (b[i].err != 1)
				continue;
			pfd[w].fd = b[i].fd;
			pfd[w].events = POLLIN |
					(b[i].sent < bytes ? POLLOUT : 0);
			idx[w++] = i;
		}
		if (!w || left <= 0)
			break;
		if (poll(pfd, w, (int)left) < 0 && errno != EINTR)
			break;
		for (int j = 0; j < w; j++)
			if (pfd[j].revents)
				bulk_step(&b[idx[j]], bytes, pfd[j].revents);
	}
	for (int j = 0; j < n; j++) {
		b[j].name.err = b[j].err; /* a transfer's error, or the name's */
		same += tally_answer(&t, &conns[conn[j]], &b[j].name);
	}
	total = n;
	broken = n - same;
	printf("bulk %s total=%d same=%d broken=%d", tag, total, same, broken);
	tally_print(&t, 1);
out:
	free(b);
	free(pfd);
	free(idx);
	free(conn);
}

static void cmd_close(const char *tag)
{
	size_t kept = 0;
	int closed = 0;

	for (size_t i = 0; i < nconns; i++) {
		if (strcmp(conns[i].tag, tag)) {
			conns[kept++] = conns[i];
			continue;
		}
		close(conns[i].fd);
		closed++;
	}
	nconns = kept;
	printf("close %s closed=%d\n", tag, closed);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(void)
{
	char line[512];

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	while (fgets(line, sizeof(line), stdin)) {
		char tag[NAME_LEN], addr[64], port[8];
		long bytes;
		int n;

		if (sscanf(line, "open %31s %63s %7s %d", tag, addr, port, &n) == 4)
			cmd_open("open", tag, addr, port, n, 1);
		else if (sscanf(line, "spread %31s %63s %7s %d", tag, addr, port, &n) == 4)
			cmd_open("spread", tag, addr, port, n, 0);
		else if (sscanf(line, "check %31s %d", tag, &n) == 2)
			cmd_check(tag, n);
		else if (sscanf(line, "bulk %31s %ld %d", tag, &bytes, &n) == 3)
			cmd_bulk(tag, bytes, n);
		else if (sscanf(line, "close %31s", tag) == 1)
			cmd_close(tag);
		else if (!strncmp(line, "quit", 4))
			break;
		else
			printf("error unknown command\n");
		fflush(stdout);
	}
	for (size_t i = 0; i < nconns; i++)
		close(conns[i].fd);
	free(conns);
	return 0;
}
