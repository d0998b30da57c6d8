// SPDX-License-Identifier: GPL-2.0
/*
 * Seeds for the parser's fuzzer: one valid frame of every kind the packet
 * tests build (TCP, UDP, ICMP, fragments, extension headers, options, ICMP
 * errors, VLAN), written to DIR, so mutations start past the IPv4 header
 * checksum and reach the code after it.
 *
 * Usage: fuzz_seeds DIR
 */
#include <stdio.h>
#include <netinet/in.h>

#include "packets.h"

#define C4 "10.0.0.100"
#define S4 "198.51.100.10"
#define C6 "2001:db8::100"
#define S6 "2001:db8:100::10"

static const __u8 dstopts[] = { IPPROTO_DSTOPTS, IPPROTO_ROUTING };
static const struct pkt_spec reply4 = { .family = 4, .proto = IPPROTO_TCP, .src = S4, .dst = C4, .sport = 80, .dport = 40001 };
static const struct pkt_spec reply6 = { .family = 6, .proto = IPPROTO_UDP, .src = S6, .dst = C6, .sport = 80, .dport = 40001, .ext = dstopts, .n_ext = 1 };

static const struct pkt_spec seeds[] = {
	{ .family = 4, .proto = IPPROTO_TCP, .src = C4, .dst = S4, .sport = 40001, .dport = 80, .tcp_flags = 0x02 },
	{ .family = 4, .proto = IPPROTO_UDP, .src = C4, .dst = S4, .sport = 40002, .dport = 53, .payload = 32 },
	{ .family = 4, .proto = IPPROTO_ICMP, .src = C4, .dst = S4, .icmp_type = 8 },
	{ .family = 4, .proto = IPPROTO_UDP, .src = C4, .dst = S4, .sport = 1, .dport = 2, .frag = 0x2000, .payload = 24 },
	{ .family = 4, .proto = IPPROTO_UDP, .src = C4, .dst = S4, .sport = 1, .dport = 2, .frag = 3, .payload = 8 },
	{ .family = 4, .proto = IPPROTO_UDP, .src = C4, .dst = S4, .sport = 3, .dport = 4, .ip_opts = 4 },
	{ .family = 4, .proto = IPPROTO_ICMP, .src = "10.0.0.254", .dst = S4, .icmp_type = 3, .icmp_code = 4, .quote = &reply4 },
	{ .family = 4, .proto = IPPROTO_UDP, .src = C4, .dst = S4, .sport = 5, .dport = 6, .vlan = 100 },
	{ .family = 6, .proto = IPPROTO_TCP, .src = C6, .dst = S6, .sport = 40001, .dport = 80, .tcp_flags = 0x02 },
	{ .family = 6, .proto = IPPROTO_UDP, .src = C6, .dst = S6, .sport = 40002, .dport = 53, .payload = 32 },
	{ .family = 6, .proto = IPPROTO_ICMPV6, .src = C6, .dst = S6, .icmp_type = 128 },
	{ .family = 6, .proto = IPPROTO_UDP, .src = C6, .dst = S6, .sport = 7, .dport = 8, .ext = dstopts, .n_ext = 2 },
	{ .family = 6, .proto = IPPROTO_UDP, .src = C6, .dst = S6, .sport = 1, .dport = 2, .frag = 0x2000, .payload = 24 },
	{ .family = 6, .proto = IPPROTO_UDP, .src = C6, .dst = S6, .sport = 1, .dport = 2, .frag = 0x2000, .frag_first = 1, .ext = dstopts, .n_ext = 1 },
	{ .family = 6, .proto = IPPROTO_ICMPV6, .src = "2001:db8::254", .dst = S6, .icmp_type = 1, .quote = &reply6 },
	{ .family = 6, .proto = IPPROTO_TCP, .src = C6, .dst = S6, .sport = 40003, .dport = 80, .tcp_flags = 0x02, .vlan = 200 },
	{ .family = 4, .proto = IPPROTO_ICMP, .src = "10.0.0.254", .dst = S4, .icmp_type = 3, .icmp_code = 4, .quote = &reply4, .vlan = 300 },
	{ .family = 4, .proto = IPPROTO_UDP, .src = C4, .dst = S4, .sport = 5, .dport = 6, .svlan = 10, .vlan = 100 },
};

int main(int argc, char **argv)
{
	__u8 buf[PKT_MAX];

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		size_t len = pkt_build(&seeds[i], buf);
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%02zu", argv[1], i);
		f = fopen(path, "w");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
