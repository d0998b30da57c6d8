/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What flowpin should do with a frame arriving on in0 of the packet tests'
 * router (fixture.c), worked out from the rules README.md states and the
 * router's routes, without the datapath's parser: the random-frame
 * campaign checks the program against it.
 */
#ifndef FLOWPIN_TEST_VERDICT_MODEL_H
#define FLOWPIN_TEST_VERDICT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct model_verdict {
	bool forward;	  /* forwarded by the routes (ICMP errors: never) */
	int egress_mask;  /* forward: the egress numbers (1..5) allowed, as bits */
	__u8 flow[40];	  /* forward: the flow's identity, to keep its egress */
	bool icmp_error;  /* an ICMP error: forwarded only along its flow's pin */
	__u8 inner[40];	  /* icmp_error: the identity of the flow it quotes */
	size_t ttl_off;	  /* forward: offset of the TTL / hop limit */
	bool ipv4;
};

/* The verdict for the frame in[0..len), arriving on in0 with this MAC. */
void model_verdict(const __u8 *in, size_t len, const __u8 *port_mac,
		   struct model_verdict *v);

#endif
