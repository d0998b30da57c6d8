// SPDX-License-Identifier: GPL-2.0
/* P0: flowpin's own parser and nothing else, the floor of every figure. */
#include "parse.h"

SEC("xdp")
int p0(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct packet pkt = {};

	return parse_packet(data, data_end, data_end - data, true, &pkt) ?
		       XDP_PASS :
		       XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
