/* SPDX-License-Identifier: GPL-2.0 */
/* A private network namespace for one test process, and shell commands in it. */
#ifndef FLOWPIN_TEST_NETNS_H
#define FLOWPIN_TEST_NETNS_H

/* Move this process into a new, empty network namespace. */
int netns_enter(void);
/* Go back; the namespace and everything in it disappears. */
void netns_leave(void);

/* Run a shell command in the current namespace; 0 on success. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write a sysctl of the current namespace, e.g. "net/ipv4/ip_forward". */
int sysctl_set(const char *name, const char *value);

/* Pin this thread to one CPU; 0 on success. */
int run_on_cpu(int cpu);

#include <stddef.h>

/*
 * The kernel alone forwarding a frame: it is sent from in_peer (the peer of
 * a router port), and watched for on the out_peers (peers of its egress
 * ports) for 300 ms. Returns the index + 1 of the out_peer a frame of the
 * same flow (family 4 or 6: addresses and ports) left by, 0 if none, -1 on
 * a socket error.
 */
int kernel_forwards(const char *in_peer, const char *const *out_peers, int n,
		    const void *frame, size_t len, int family);

/*
 * A frame sent from in_peer, and the first of the same flow to arrive at
 * out_peer within 300 ms, copied into got (size bytes at most) as the
 * receiving kernel hands it to a packet socket: without its outer VLAN tag,
 * which *tag gets (protocol << 16 | TCI; 0: it came untagged). Returns its
 * length, 0 if none came, -1 on a socket error.
 */
int frame_through(const char *in_peer, const char *out_peer,
		  const void *frame, size_t len, int family,
		  unsigned char *got, size_t size, unsigned int *tag);

#endif
