/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a flow forwarded by flowpin skips that the kernel's own forwarding
 * would apply: netfilter rules on the forward path and NAT (nftables, and
 * iptables-legacy), IPsec policies (xfrm), reverse-path filtering on the
 * ports, and policy rules that match a packet mark. Each finding is one
 * line for the log.
 */
#ifndef FLOWPIN_BYPASS_H
#define FLOWPIN_BYPASS_H

#include <stdbool.h>

#define BYPASS_MAX 32
#define BYPASS_LEN 200

struct bypass {
	char what[BYPASS_MAX][BYPASS_LEN];
	int n;
	bool nat; /* a NAT rule: flowpin would forward packets un-NATed */
};

/* Look, in the current network namespace, for what these ports bypass. */
void bypass_scan(char *const *ports, int n_ports, struct bypass *b);

/* Is this finding among b's? */
bool bypass_has(const struct bypass *b, const char *what);

#endif
