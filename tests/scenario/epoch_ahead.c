// SPDX-License-Identifier: GPL-2.0
/*
 * scenario_epoch_ahead: move the run epoch a stopped flowpind left in its
 * pin directory (sync_peers entry 0) SECONDS ahead, as if its clock had
 * been that far ahead during its last run. The fleet suite's clock-back
 * case starts it twice after this: the first run's epoch follows the one
 * moved ahead, and its peers learn it; the second's clock is then behind
 * what its peers know, and it must still be heard.
 *
 * Usage: scenario_epoch_ahead PIN_DIR SECONDS   Prints the new epoch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "flowpin.h"

int main(int argc, char **argv)
{
	struct sync_peer_status self;
	char path[4096];
	__u32 key = 0;
	long secs;
	int fd;

	if (argc != 3 || (secs = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: scenario_epoch_ahead PIN_DIR SECONDS\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/sync_peers", argv[1]);
	fd = bpf_obj_get(path);
	if (fd < 0 || bpf_map_lookup_elem(fd, &key, &self)) {
		fprintf(stderr, "scenario_epoch_ahead: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!self.epoch) {
		fprintf(stderr, "scenario_epoch_ahead: %s holds no run's epoch\n", path);
		return 1;
	}
	self.epoch += (__u64)secs * 1000000000ULL;
	if (bpf_map_update_elem(fd, &key, &self, BPF_EXIST)) {
		fprintf(stderr, "scenario_epoch_ahead: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%llu\n", (unsigned long long)self.epoch);
	close(fd);
	return 0;
}
