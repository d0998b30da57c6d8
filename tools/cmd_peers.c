// SPDX-License-Identifier: GPL-2.0
/* flowpinctl peers: pin sync with other flowpind instances. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "flowpinctl.h"
#include "peers_text.h"

int peers_read(struct ctl *ctl, struct sync_peer_status *p, int *n)
{
	int fd = ctl->maps.fd[FP_MAP_SYNC_PEERS];

	memset(p, 0, sizeof(*p) * FP_MAX_PEERS);
	*n = 0;
	if (fd < 0)
		return 0; /* maps of a build without pin sync */
	for (__u32 key = 0; key < FP_MAX_PEERS; key++) {
		if (bpf_map_lookup_elem(fd, &key, &p[key]))
			return -errno;
		*n = key + 1;
	}
	return 0;
}

int do_peers(struct ctl *ctl, int argc, char **argv)
{
	struct sync_peer_status p[FP_MAX_PEERS];
	int n, err;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "flowpinctl: peers takes no arguments\n");
		return -EINVAL;
	}
	err = ctl_open(ctl, FP_MAP_BIT(FP_MAP_SYNC_PEERS));
	if (err)
		return err;
	err = peers_read(ctl, p, &n);
	if (err) {
		fprintf(stderr, "flowpinctl: reading sync_peers: %s\n",
			strerror(-err));
		return err;
	}
	if (ctl->json)
		peers_json(&ctl->jw, p, n, time(NULL));
	else if (peers_table(stdout, p, n, time(NULL)))
		return -ENOMEM;
	return 0;
}
