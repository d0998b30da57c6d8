// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

#include "netns.h"

static int orig_netns = -1;

int netns_enter(void)
{
	orig_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig_netns < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		int err = -errno;

		close(orig_netns);
		orig_netns = -1;
		return err;
	}
	return sh("ip link set lo up");
}

void netns_leave(void)
{
	if (orig_netns < 0)
		return;
	if (setns(orig_netns, CLONE_NEWNET))
		fprintf(stderr, "setns back: %s\n", strerror(errno));
	close(orig_netns);
	orig_netns = -1;
}

int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

int sysctl_set(const char *name, const char *value)
{
	char path[256];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	rc = fputs(value, f) < 0 ? -EIO : 0;
	if (fclose(f))
		rc = -errno;
	return rc;
}

int run_on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int packet_socket(const char *dev)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = if_nametoindex(dev),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	if (!sll.sll_ifindex || bind(fd, (void *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Where a frame's IP header starts, past any 802.1Q / 802.1ad tags (a
 * packet socket reads a received frame without its tag); 0 if it is not
 * IP of this family.
 */
static size_t ip_offset(const unsigned char *f, size_t len, int family)
{
	size_t off = 12;

	while (len >= off + 2 && ((f[off] == 0x81 && f[off + 1] == 0x00) ||
				  (f[off] == 0x88 && f[off + 1] == 0xa8)))
		off += 4;
	if (len < off + 2 || f[off] != (family == 4 ? 0x08 : 0x86) ||
	    f[off + 1] != (family == 4 ? 0x00 : 0xdd))
		return 0;
	return off + 2;
}

/* The frames' addresses and ports: what a forwarded copy keeps. */
static int same_flow(const unsigned char *a, size_t alen,
		     const unsigned char *b, size_t blen, int family)
{
	size_t ia = ip_offset(a, alen, family), ib = ip_offset(b, blen, family);
	size_t off = family == 4 ? 12 : 8;	   /* source address */
	size_t n = family == 4 ? 8 + 4 : 32 + 4; /* addresses, ports */

	if (!ia || !ib || alen < ia + 20 + 4 || blen < ib + 20 + 4 ||
	    alen < ia + off + n || blen < ib + off + n)
		return 0;
	if (family == 4)
		return !memcmp(a + ia + off, b + ib + off, 8) &&
		       !memcmp(a + ia + 20, b + ib + 20, 4);
	return !memcmp(a + ia + off, b + ib + off, n);
}

int kernel_forwards(const char *in_peer, const char *const *out_peers, int n,
		    const void *frame, size_t len, int family)
{
	int in = packet_socket(in_peer), out[16], found = 0, err = 0;
	struct pollfd pfd[16];
	unsigned char got[4096];
	ssize_t r;

	if (n > 16 || in < 0)
		err = -1;
	for (int i = 0; i < n && !err; i++) {
		out[i] = packet_socket(out_peers[i]);
		if (out[i] < 0) {
			n = i;
			err = -1;
			break;
		}
		while (recv(out[i], got, sizeof(got), 0) > 0)
			; /* what came before */
		pfd[i] = (struct pollfd){ .fd = out[i], .events = POLLIN };
	}
	if (!err && send(in, frame, len, 0) != (ssize_t)len)
		err = -1;
	for (int t = 0; !err && !found && t < 30; t++) {
		if (poll(pfd, n, 10) <= 0)
			continue;
		for (int i = 0; i < n && !found; i++)
			while (!found && (r = recv(out[i], got, sizeof(got), 0)) > 0)
				if (same_flow(frame, len, got, r, family))
					found = i + 1;
	}
	for (int i = 0; i < n; i++)
		close(out[i]);
	if (in >= 0)
		close(in);
	return err ? -1 : found;
}

int frame_through(const char *in_peer, const char *out_peer,
		  const void *frame, size_t len, int family,
		  unsigned char *got, size_t size, unsigned int *tag)
{
	int in = packet_socket(in_peer), out = packet_socket(out_peer);
	int one = 1, found = 0, err = 0;
	char cbuf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	struct pollfd pfd = { .fd = out, .events = POLLIN };

	if (in < 0 || out < 0 ||
	    setsockopt(out, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)))
		err = -1;
	while (!err && recv(out, got, size, 0) > 0)
		; /* what came before */
	if (!err && send(in, frame, len, 0) != (ssize_t)len)
		err = -1;
	for (int t = 0; !err && !found && t < 30; t++) {
		struct iovec iov = { .iov_base = got, .iov_len = size };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		ssize_t r;

		if (poll(&pfd, 1, 10) <= 0)
			continue;
		while (!found && (r = recvmsg(out, &m, 0)) > 0) {
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);

			if (!same_flow(frame, len, got, r, family)) {
				m.msg_controllen = sizeof(cbuf);
				continue;
			}
			found = r;
			*tag = 0;
			for (; c; c = CMSG_NXTHDR(&m, c)) {
				struct tpacket_auxdata a;

				if (c->cmsg_level != SOL_PACKET ||
				    c->cmsg_type != PACKET_AUXDATA)
					continue;
				memcpy(&a, CMSG_DATA(c), sizeof(a));
				if (a.tp_status & TP_STATUS_VLAN_VALID)
					*tag = (unsigned int)(a.tp_status & TP_STATUS_VLAN_TPID_VALID ?
							      a.tp_vlan_tpid : 0x8100) << 16 |
					       a.tp_vlan_tci;
			}
		}
	}
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	return err ? -1 : found;
}
