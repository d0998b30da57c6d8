// SPDX-License-Identifier: GPL-2.0
/*
 * scenario_echo: the backend of the scenario suite. Listens on every
 * address (IPv4 and IPv6, one dual-stack socket), greets each new
 * connection with its own name and answers every line it receives with its
 * name again, so the client can tell which backend holds a connection.
 * A line "bulk N" is followed by N bytes, which are sent back as they
 * come, and then the name.
 *
 * Usage: scenario_echo NAME PORT
 * Prints "listening" on stdout once it accepts connections.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define MAX_FD 65536
#define SEND_TIMEOUT_MS 5000

/* Per connection: the line being read, or the bytes of a bulk left to echo. */
static struct {
	long bulk_left;
	int len;
	char line[32];
} state[MAX_FD];

static int listen_any(unsigned short port)
{
	struct sockaddr_in6 sa = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	int one = 1, zero = 0;
	int fd;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* All of buf, waiting (bounded) while the socket's buffer is full. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			if (poll(&p, 1, SEND_TIMEOUT_MS) <= 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Answer every complete line with the name; 0, or -1 when the peer left. */
static int serve(int fd, const char *reply, size_t reply_len)
{
	char buf[65536];
	ssize_t n;

	if (fd >= MAX_FD)
		return -1;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		for (ssize_t i = 0; i < n; i++) {
			if (state[fd].bulk_left) {
				long k = n - i < state[fd].bulk_left ?
						 n - i : state[fd].bulk_left;

				if (send_all(fd, buf + i, k))
					return -1;
				state[fd].bulk_left -= k;
				i += k - 1;
				if (!state[fd].bulk_left &&
				    send_all(fd, reply, reply_len))
					return -1;
				continue;
			}
			if (buf[i] != '\n') {
				if (state[fd].len < (int)sizeof(state[fd].line) - 1)
					state[fd].line[state[fd].len++] = buf[i];
				continue;
			}
			state[fd].line[state[fd].len] = '\0';
			state[fd].len = 0;
			if (sscanf(state[fd].line, "bulk %ld",
				   &state[fd].bulk_left) == 1 &&
			    state[fd].bulk_left > 0)
				continue;
			state[fd].bulk_left = 0;
			if (send_all(fd, reply, reply_len))
				return -1;
		}
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev, events[MAX_EVENTS];
	char reply[64];
	size_t reply_len;
	int lfd, efd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s NAME PORT\n", argv[0]);
		return 2;
	}
	reply_len = (size_t)snprintf(reply, sizeof(reply), "%s\n", argv[1]);
	if (reply_len >= sizeof(reply)) {
		fprintf(stderr, "scenario_echo: name too long\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	lfd = listen_any((unsigned short)atoi(argv[2]));
	if (lfd < 0) {
		fprintf(stderr, "scenario_echo: listen: %s\n", strerror(-lfd));
		return 1;
	}
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0) {
		perror("scenario_echo: epoll_create1");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev)) {
		perror("scenario_echo: epoll_ctl");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);

	for (;;) {
		int n = epoll_wait(efd, events, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("scenario_echo: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd != lfd) {
				if (serve(fd, reply, reply_len))
					close(fd); /* also leaves the epoll set */
				continue;
			}
			for (;;) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (cfd < 0)
					break;
				if (cfd < MAX_FD)
					memset(&state[cfd], 0, sizeof(state[cfd]));
				ev.events = EPOLLIN;
				ev.data.fd = cfd;
				if (send(cfd, reply, reply_len, MSG_NOSIGNAL) != (ssize_t)reply_len ||
				    epoll_ctl(efd, EPOLL_CTL_ADD, cfd, &ev))
					close(cfd);
			}
		}
	}
}
