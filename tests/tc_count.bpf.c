// SPDX-License-Identifier: GPL-2.0
/*
 * Someone else's tc filter, after flowpin's on the same clsact ingress:
 * counts the IPv4 echo requests it sees, to the router (coexist.sh's r,
 * 10.9.1.1) and to anywhere else, and lets every packet go on.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ROUTER 0x0a090101 /* 10.9.1.1 */
#define ICMP_ECHO 8	   /* <linux/icmp.h> needs libc's headers */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2); /* 0: to the router, 1: through it */
	__type(key, __u32);
	__type(value, __u64);
} echo_requests SEC(".maps");

SEC("tc")
int count_echo(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u8 *icmp_type = (void *)(ip + 1);
	__u32 key;
	__u64 *n;

	if ((void *)(icmp_type + 4) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_ICMP ||
	    *icmp_type != ICMP_ECHO)
		return TC_ACT_OK;
	key = ip->daddr == bpf_htonl(ROUTER) ? 0 : 1;
	n = bpf_map_lookup_elem(&echo_requests, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
