// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <bpf/libbpf.h>

#include "flowpin.h"
#include "tc_hook.h"

#define TC_HOOK(name, idx)                                                     \
	LIBBPF_OPTS(bpf_tc_hook, name, .ifindex = (idx),                       \
		    .attach_point = BPF_TC_INGRESS)

__u32 tc_hook_prog_id(int ifindex)
{
	TC_HOOK(hook, ifindex);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FP_TC_HANDLE,
		    .priority = FP_TC_PRIORITY);
	/* no qdisc is an answer here, not an error for libbpf to print */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	int err = bpf_tc_query(&hook, &opts);

	libbpf_set_print(print);
	/* no qdisc, no filter, no such port: nothing of ours there */
	return err ? 0 : opts.prog_id;
}

int tc_hook_attach(int ifindex, int prog_fd, bool *made_qdisc)
{
	TC_HOOK(hook, ifindex);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FP_TC_HANDLE,
		    .priority = FP_TC_PRIORITY, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	*made_qdisc = !err;
	if (err && err != -EEXIST)
		return err;
	err = bpf_tc_attach(&hook, &opts);
	if (err && *made_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		*made_qdisc = false;
	}
	return err;
}

int tc_hook_detach(int ifindex, bool made_qdisc)
{
	TC_HOOK(hook, ifindex);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FP_TC_HANDLE,
		    .priority = FP_TC_PRIORITY);
	/* the caller says what a failure means; libbpf need not */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	int err = bpf_tc_detach(&hook, &opts);

	libbpf_set_print(print);
	if (!err && made_qdisc) {
		/* both points: that is how the clsact qdisc itself goes */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	return err;
}
