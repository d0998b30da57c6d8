// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the datapath's parser (bpf/parse.h), built for
 * userspace with ASan and UBSan. Any read past the frame is an ASan report;
 * a parse result that breaks an invariant below aborts.
 */
#include <stdint.h>
#include <stdio.h>
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

static unsigned long parsed4, parsed6, parsed_tagged;

/* At the end of a run: a run that parsed no IPv4 or IPv6 frame proved little. */
static void report(void)
{
	fprintf(stderr, "fuzz_parse: parsed %lu IPv4 and %lu IPv6 frames, %lu tagged\n",
		parsed4, parsed6, parsed_tagged);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(report);
	return 0;
}

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* An 802.1Q or 802.1ad Ethernet type. */
static int is_tag(const uint8_t *type)
{
	return (type[0] == 0x81 && type[1] == 0x00) ||
	       (type[0] == 0x88 && type[1] == 0xa8);
}

/*
 * libFuzzer's mutations, then, three times in four, a correct IPv4 header
 * (after one VLAN tag, when the frame has one)
 * checksum: a mutated header would fail the checksum almost always, and
 * the checks after it (TTL, martians, fragments, ports) would go unfuzzed.
 */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed)
{
	size_t hlen;
	uint32_t sum = 0;

	size_t l3 = 14;

	size = LLVMFuzzerMutate(data, size, max_size);
	if (size >= 18 && is_tag(data + 12)) /* one tag: IPv4 after it */
		l3 = 18;
	if (seed % 4 == 0 || size < l3 + 20 || data[l3 - 2] != 0x08 ||
	    data[l3 - 1] != 0)
		return size;
	hlen = (data[l3] & 0xf) * 4;
	if (hlen < 20 || l3 + hlen > size)
		return size;
	data[l3 + 10] = data[l3 + 11] = 0;
	for (size_t i = 0; i < hlen; i += 2)
		sum += data[l3 + i] << 8 | data[l3 + i + 1];
	sum = ~fold(sum) & 0xffff;
	data[l3 + 10] = sum >> 8;
	data[l3 + 11] = sum & 0xff;
	return size;
}

static int is_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44;
}

/*
 * The key from the header bytes, computed here independently: addresses,
 * protocol (an IPv6 walk stops at a Fragment header), and the ports of an
 * unfragmented TCP or UDP packet.
 */
static void check_key(const struct packet *pkt, const uint8_t *ip,
		      const uint8_t *end)
{
	const struct flow_key *k = &pkt->key;
	const uint8_t *l4;
	int fragment;
	uint8_t proto;

	if (pkt->ip4) {
		check(!memcmp(k->saddr, ip + 12, 4) && !memcmp(k->daddr, ip + 16, 4));
		proto = ip[9];
		fragment = (ip[6] & 0x3f) || ip[7];
		l4 = ip + 20; /* options are the kernel's: never parsed OK */
	} else {
		check(!memcmp(k->saddr, ip + 8, 16) && !memcmp(k->daddr, ip + 24, 16));
		proto = ip[6];
		fragment = 0;
		l4 = ip + 40;
		for (int i = 0; i < 6 && is_ext(proto); i++) {
			check(l4 + 8 <= end);
			if (proto == 44) {
				fragment = 1;
				proto = l4[0];
				l4 += 8;
				break;
			}
			proto = l4[0];
			l4 += (l4[1] + 1) * 8;
		}
	}
	check(k->proto == proto);
	if (!fragment && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
		check(l4 + 4 <= end);
		check(!memcmp(&k->sport, l4, 2) && !memcmp(&k->dport, l4 + 2, 2));
	} else {
		check(!k->sport && !k->dport);
	}
}

/* What a parse found, without the pointers into the frame. */
static int same_parse(const struct packet *a, const struct packet *b)
{
	return !memcmp(&a->key, &b->key, sizeof(a->key)) &&
	       !memcmp(&a->inner_key, &b->inner_key, sizeof(a->inner_key)) &&
	       a->l3_len == b->l3_len && a->hdr_len == b->hdr_len &&
	       a->l4_off == b->l4_off && a->tcp_flags == b->tcp_flags &&
	       a->icmp_error == b->icmp_error && !!a->ip4 == !!b->ip4 &&
	       !!a->ip6 == !!b->ip6;
}

/*
 * The XDP entry point's parse, which takes one tag: an untagged frame
 * parses as at tc; a tagged one as the same frame without its tag, or
 * FP_PASS_VLAN when no IP follows the tag (a second tag, say). A frame too
 * short for a tag is malformed (too short for IP too).
 */
static void check_tag_ok(const uint8_t *data, size_t size, int untagged_ret,
			 const struct packet *untagged)
{
	uint8_t *buf = malloc(size + NET_IP_ALIGN), *frame = buf + NET_IP_ALIGN;
	struct packet pkt = {}, plain = {};
	int ret, plain_ret;

	memcpy(frame, data, size);
	ret = parse_packet(frame, frame + size, size, true, &pkt);
	if (size < 18) { /* no room for a tag, nor for IP */
		check(ret == FP_PASS_MALFORMED);
	} else if (!is_tag(data + 12)) {
		check(ret == untagged_ret && !pkt.tag_in_frame);
		check(ret || same_parse(&pkt, untagged));
	} else if (!(data[16] == 0x08 && data[17] == 0x00) &&
		   !(data[16] == 0x86 && data[17] == 0xdd)) {
		check(ret == FP_PASS_VLAN);
	} else {
		/* the MACs, then the tag's inner type and what follows */
		memcpy(frame, data, 12);
		memcpy(frame + 12, data + 16, size - 16);
		plain_ret = parse_packet(frame, frame + size - 4, size - 4,
					 false, &plain);
		memcpy(frame, data, size);
		check(ret == plain_ret);
		check(ret || (same_parse(&pkt, &plain) && pkt.tag_in_frame &&
			      pkt.tag_tci == (data[14] << 8 | data[15])));
		parsed_tagged += !ret;
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + NET_IP_ALIGN);
	uint8_t *frame = buf + NET_IP_ALIGN, *end = frame + size;
	struct packet pkt = {};
	int ret;

	memcpy(frame, data, size);
	ret = parse_packet(frame, end, size, false, &pkt);
	check(ret == 0 || (ret >= FP_PASS_NON_IP && ret < FP_STAT_MAX));
	check_tag_ok(data, size, ret, &pkt);
	if (ret) {
		free(buf);
		return 0;
	}
	check(!!pkt.ip4 + !!pkt.ip6 == 1);
	check(pkt.l3_len == size - 14);
	check_key(&pkt, pkt.ip4 ? (const uint8_t *)pkt.ip4 : (const uint8_t *)pkt.ip6, end);
	if (pkt.ip4)
		parsed4++;
	else
		parsed6++;
	if (pkt.ip4) {
		const uint8_t *ip = (const uint8_t *)pkt.ip4;
		size_t hlen = (ip[0] & 0xf) * 4;

		/* options are the kernel's: only a 20-byte header parses OK */
		check(ip == frame + 14 && hlen == 20 && hlen <= pkt.l3_len);
		/* martians never: 0/8, 127/8, 169.254/16, group or broadcast source */
		check(ip[12] != 0 && ip[12] != 127 && !(ip[12] == 169 && ip[13] == 254));
		check(ip[16] != 0 && ip[16] != 127 && !(ip[16] == 169 && ip[17] == 254));
		check((ip[12] & 0xf0) != 0xe0 && (ip[16] & 0xf0) != 0xe0);
		check(pkt.key.family == FP_AF_INET && ip[8] > 1);
		check(ipv4_csum_ok_ref(ip, hlen));
		check(((ip[2] << 8) | ip[3]) <= pkt.l3_len);
		if ((ip[6] & 0x3f) || ip[7]) /* a fragment: no ports */
			check(!pkt.key.sport && !pkt.key.dport);
	} else {
		const uint8_t *ip = (const uint8_t *)pkt.ip6;

		check(ip == frame + 14 && pkt.key.family == FP_AF_INET6);
		static const uint8_t zero[15];

		check(ip[7] > 1 && ip[24] != 0xff && ip[8] != 0xff);
		/* martians never: ::, ::1 and fe80::/10, either way */
		for (int a = 8; a <= 24; a += 16) {
			check(!(ip[a] == 0xfe && (ip[a + 1] & 0xc0) == 0x80));
			check(memcmp(ip + a, zero, 15) || ip[a + 15] > 1);
		}
	}
	if (pkt.key.proto != IPPROTO_TCP && pkt.key.proto != IPPROTO_UDP)
		check(!pkt.key.sport && !pkt.key.dport);
	/*
	 * A GSO segment's headers: from L3 to the payload, so the L4 header
	 * (doff words for TCP, 8 bytes for UDP) ends there and holds the ports.
	 */
	if (pkt.key.sport || pkt.key.dport) {
		const uint8_t *l3 = pkt.ip4 ? (const uint8_t *)pkt.ip4 :
					      (const uint8_t *)pkt.ip6;
		const uint8_t *min = l3 + (pkt.ip4 ? 20 : 40);
		bool found = false;

		for (int doff = 5; doff <= 15 && !found; doff++) {
			int l4len = pkt.key.proto == IPPROTO_TCP ? doff * 4 : 8;
			const uint8_t *l4 = l3 + pkt.hdr_len - l4len;

			found = l4 >= min &&
				l4 + (pkt.key.proto == IPPROTO_TCP ? 20 : 8) <= end &&
				(pkt.key.proto == IPPROTO_UDP || l4[12] >> 4 == doff) &&
				!memcmp(l4, &pkt.key.sport, 2) &&
				!memcmp(l4 + 2, &pkt.key.dport, 2);
		}
		check(found);
	}
	if (pkt.icmp_error)
		check(pkt.inner_key.family == pkt.key.family);
	check(!(frame[0] & 1)); /* never a group MAC */
	free(buf);
	return 0;
}
