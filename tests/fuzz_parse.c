// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the datapath's parser (bpf/parse.h), built for
 * userspace with ASan and UBSan. Any read past the frame is an ASan report;
 * a parse result that breaks an invariant below aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define NET_IP_ALIGN 2 /* as drivers place frames: the IP header 4-aligned */

static void check(int cond)
{
	if (!cond)
		abort();
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static int ipv4_csum_ok_ref(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	return fold(sum) == 0xffff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + NET_IP_ALIGN);
	uint8_t *frame = buf + NET_IP_ALIGN, *end = frame + size;
	struct packet pkt = {};
	int ret;

	memcpy(frame, data, size);
	ret = parse_packet(frame, end, &pkt);
	check(ret == 0 || (ret >= FP_PASS_NON_IP && ret < FP_STAT_MAX));
	if (ret) {
		free(buf);
		return 0;
	}
	check(!!pkt.ip4 + !!pkt.ip6 == 1);
	check(pkt.l3_len == size - 14);
	if (pkt.ip4) {
		const uint8_t *ip = (const uint8_t *)pkt.ip4;
		size_t hlen = (ip[0] & 0xf) * 4;

		check(ip == frame + 14 && hlen >= 20 && hlen <= pkt.l3_len);
		check(pkt.key.family == FP_AF_INET && ip[8] > 1);
		check(ipv4_csum_ok_ref(ip, hlen));
		check(((ip[2] << 8) | ip[3]) <= pkt.l3_len);
		if ((ip[6] & 0x3f) || ip[7]) /* a fragment: no ports */
			check(!pkt.key.sport && !pkt.key.dport);
	} else {
		const uint8_t *ip = (const uint8_t *)pkt.ip6;

		check(ip == frame + 14 && pkt.key.family == FP_AF_INET6);
		check(ip[7] > 1 && ip[24] != 0xff);
	}
	if (pkt.key.proto != IPPROTO_TCP && pkt.key.proto != IPPROTO_UDP)
		check(!pkt.key.sport && !pkt.key.dport);
	if (pkt.icmp_error)
		check(pkt.inner_key.family == pkt.key.family);
	check(!(frame[0] & 1)); /* never a group MAC */
	free(buf);
	return 0;
}
