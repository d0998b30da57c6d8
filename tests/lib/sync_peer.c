// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "sync_peer.h"

uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t tai_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct sync_pin test_peer_pin(const struct test_peer *p,
			      const struct flow_key *key, uint8_t gw_family,
			      const void *gw)
{
	struct sync_pin pin = { .key = *key, .gw_family = gw_family,
				.router = p->router, .rank = tai_ns() };

	memcpy(pin.gw, gw, gw_family == FP_AF_INET ? 4 : 16);
	return pin;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

int udp_socket(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

int test_peer_open(struct test_peer *p, int port, int daemon_port,
		   const uint8_t key[SYNC_KEY_LEN])
{
	int rcvbuf = 8 << 20; /* a flowpind's (loader/sync.c RCVBUF) */

	memset(p, 0, sizeof(*p));
	p->fd = udp_socket(port);
	/* as a peer takes a window's burst: a smaller one lost datagrams */
	if (p->fd >= 0 &&
	    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	p->daemon = (struct sockaddr_in){ .sin_family = AF_INET,
					  .sin_port = htons(daemon_port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	memcpy(p->key, key, SYNC_KEY_LEN);
	p->epoch = realtime_ns();
	p->router = 0x7f000000 | port;
	sync_ends_make(&p->to, FP_AF_INET, &p->daemon.sin_addr, port,
		       &p->daemon.sin_addr, daemon_port);
	sync_ends_make(&p->from, FP_AF_INET, &p->daemon.sin_addr, daemon_port,
		       &p->daemon.sin_addr, port);
	return p->fd < 0 ? -1 : 0;
}

void test_peer_close(struct test_peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

size_t test_peer_build(struct test_peer *p, uint8_t *buf, uint8_t type,
		       uint8_t flags, uint32_t aux, const struct sync_pin *pins,
		       const uint64_t *acks, int n)
{
	struct sync_hdr h = {
		.type = type, .flags = flags, .count = n, .aux = aux,
		.router = p->router, .epoch = p->epoch, .seq = ++p->seq, .time_ns = realtime_ns(),
	};

	sync_put_hdr(buf, &h);
	for (int i = 0; i < n; i++) {
		if (pins)
			sync_put_pin(buf, i, &pins[i]);
		else
			sync_put_ack(buf, i, acks[i]);
	}
	return sync_seal(buf, p->key, &p->to);
}

int test_peer_send_raw(const struct test_peer *p, int fd, const uint8_t *buf,
		       size_t len)
{
	return sendto(fd, buf, len, 0, (const struct sockaddr *)&p->daemon,
		      sizeof(p->daemon)) == (ssize_t)len ? 0 : -1;
}

int test_peer_send(struct test_peer *p, uint8_t type, uint8_t flags,
		   uint32_t aux, const struct sync_pin *pins,
		   const uint64_t *acks, int n)
{
	uint8_t buf[SYNC_MAX_DGRAM];

	return test_peer_send_raw(p, p->fd, buf,
				  test_peer_build(p, buf, type, flags, aux, pins,
						  acks, n));
}

int test_peer_ack(struct test_peer *p, uint64_t seq)
{
	uint64_t acks[2] = { p->their_epoch, seq };

	return test_peer_send(p, SYNC_ACK, 0, 0, NULL, acks, 2);
}

int test_peer_recv(struct test_peer *p, uint8_t type, struct sync_hdr *h,
		   uint8_t *buf, int timeout_ms, bool ack_others)
{
	uint64_t until = mono_us() + timeout_ms * 1000ULL;

	for (uint64_t now; (now = mono_us()) < until;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, (until - now) / 1000 + 1) <= 0)
			continue;
		n = recv(p->fd, buf, SYNC_MAX_DGRAM, 0);
		if (n <= 0 || sync_unseal(buf, n, p->key, &p->from, h) != -1 ||
		    !sync_clock_ok(h->time_ns, realtime_ns()) ||
		    !sync_replay_check(&p->replay, h->epoch, h->seq))
			return -1;
		p->their_epoch = h->epoch;
		if (h->type == type)
			return 1;
		if (ack_others && (h->type == SYNC_PINS || h->type == SYNC_BULK_REQ))
			test_peer_ack(p, h->seq);
	}
	return 0;
}

int test_peer_join(struct test_peer *p, int timeout_ms)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;

	/* as often as a daemon does and more: it may not listen yet */
	for (int waited = 0; waited < timeout_ms; waited += 200) {
		test_peer_send(p, SYNC_HELLO, 0, 0, NULL, NULL, 0);
		switch (test_peer_recv(p, SYNC_BULK_REQ, &h, buf, 200, true)) {
		case 1:
			test_peer_ack(p, h.seq);
			return test_peer_send(p, SYNC_PINS, SYNC_F_END, 0, NULL,
					      NULL, 0);
		case -1:
			return -1;
		}
	}
	return -1;
}
