// SPDX-License-Identifier: GPL-2.0
/*
 * test_checksum's witness at an egress (clsact egress): for each frame that
 * leaves, whether its skb is CHECKSUM_COMPLETE and, when it is, whether its
 * sum is the frame's. At tc egress that sum covers the frame from its first
 * byte: a tc redirect from ingress adds the MAC header it pushes back
 * (bpf_push_mac_rcsum()). Every frame goes on.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define MAX_FRAME 256

enum { NOT_COMPLETE, SUM_RIGHT, SUM_WRONG, TOO_LONG, N_SEEN };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, N_SEEN);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline __u16 fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (s & 0xffff) + (s >> 16);
}

SEC("tc")
int csum_check(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	/* skb->csum, or an error when the skb is not CHECKSUM_COMPLETE */
	__s64 csum = bpf_csum_update(skb, 0);
	__u32 key = NOT_COMPLETE;
	__u64 sum = 0, *n;

	if (csum < 0)
		goto count;
	key = TOO_LONG;
	if (skb->len > MAX_FRAME || data + skb->len > end)
		goto count; /* longer than the test's frames, or not linear */
	/* the frame's 16-bit words as csum_partial() adds them on x86 */
	for (int i = 0; i < MAX_FRAME; i++) {
		__u8 *b = data + i;

		if ((void *)(b + 1) > end)
			break;
		sum += (__u64)*b << ((i & 1) * 8);
	}
	key = fold(sum) == fold((__u32)csum) ? SUM_RIGHT : SUM_WRONG;
count:
	n = bpf_map_lookup_elem(&seen, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
