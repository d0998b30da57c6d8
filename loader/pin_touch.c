// SPDX-License-Identifier: GPL-2.0
/* Pins peers named, looked up from inside the kernel: see pin_touch.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "pin_touch.h"
#include "pin_touch.skel.h"

struct pin_touch_batch {
	struct pin_touch *skel;
	int prog_fd;
	__u32 n;
	bool warned;
};

int pin_touch_open(struct pin_touch_batch **out, int flow_pins_fd)
{
	struct pin_touch_batch *t = calloc(1, sizeof(*t));
	int err;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->skel = pin_touch__open();
	if (!t->skel) {
		err = -errno;
		goto err;
	}
	err = bpf_map__reuse_fd(t->skel->maps.flow_pins, flow_pins_fd) ?:
	      pin_touch__load(t->skel);
	if (err)
		goto err;
	t->prog_fd = bpf_program__fd(t->skel->progs.pin_touch);
	*out = t;
	return 0;
err:
	pr_warn("sync: cannot load pin_touch: %s; peers' pins are evicted before ours\n",
		strerror(-err));
	pin_touch__destroy(t->skel);
	free(t);
	return err;
}

int pin_touch_flush(struct pin_touch_batch *t)
{
	struct pin_touch_args args;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args,
		    .ctx_size_in = sizeof(args));
	int err;

	if (!t || !t->n)
		return 0;
	args = (struct pin_touch_args){ .n = t->n };
	t->n = 0;
	if (bpf_prog_test_run_opts(t->prog_fd, &opts)) {
		err = -errno;
		if (!t->warned)
			pr_warn("sync: running pin_touch: %s\n", strerror(-err));
		t->warned = true;
		return err;
	}
	/* the kernel writes the context back where it came from */
	return args.found;
}

void pin_touch_add(struct pin_touch_batch *t, const struct flow_key *key)
{
	if (!t)
		return;
	t->skel->bss->touch_keys[t->n++] = *key;
	if (t->n == FP_TOUCH_MAX)
		pin_touch_flush(t);
}

void pin_touch_close(struct pin_touch_batch *t)
{
	if (!t)
		return;
	pin_touch__destroy(t->skel);
	free(t);
}
