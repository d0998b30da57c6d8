/* SPDX-License-Identifier: GPL-2.0 */
/* What flowpinctl's commands share: options, maps, the next-hop table. */
#ifndef FLOWPIN_FLOWPINCTL_H
#define FLOWPIN_FLOWPINCTL_H

#include <stdbool.h>
#include <net/if.h>
#include "flow_text.h"
#include "json_writer.h"
#include "pinned_maps.h"
#include "table.h"

struct ctl {
	const char *pin_path;
	bool json;
	struct json_writer jw;
	struct pinned_maps maps;
};

/* The next hops with the text people read, by id. */
struct nexthop_view {
	__u32 n;
	struct nexthop *nh;
	char (*gw)[ADDR_TEXT_MAX];
	char (*dev)[IF_NAMESIZE];
	bool *selected; /* by id; NULL: no --nexthop given */
};

/*
 * Open flow_pins, nexthops and the maps in more (FP_MAP_BIT()s), read the
 * next hops and, when gw is not NULL, select those with that gateway (an
 * error, reported, when there is none).
 */
int nexthop_view_open(struct ctl *ctl, unsigned int more,
		      const struct fp_addr *gw, struct nexthop_view *v);
void nexthop_view_free(struct nexthop_view *v);
/* The next hop a pin names, if the pin still holds (same generation). */
const struct nexthop *nexthop_view_pin(const struct nexthop_view *v,
				       const struct flow_pin *pin);
/* The pin holds, and names a selected next hop if there is a selection. */
bool nexthop_view_pin_selected(const struct nexthop_view *v,
			       const struct flow_pin *pin);

/* A flow and its pin: one table row or one JSON object. */
void flow_row_table(struct table *t, const struct flow_key *key,
		    const struct flow_pin *pin, const struct nexthop_view *v);
void flow_row_json(struct json_writer *w, const struct flow_key *key,
		   const struct flow_pin *pin, const struct nexthop_view *v);
extern const struct table_col flow_cols[];
/* Who made a pin and how: "made here, from a first packet". */
const char *pin_origin_format(const struct flow_pin *pin, char *buf, size_t len);
#define FLOW_NCOLS 7

int do_status(struct ctl *ctl, int argc, char **argv);
int do_stats(struct ctl *ctl, int argc, char **argv);
int do_flows(struct ctl *ctl, int argc, char **argv);
int do_lookup(struct ctl *ctl, int argc, char **argv);
int do_nexthops(struct ctl *ctl, int argc, char **argv);
int do_flush(struct ctl *ctl, int argc, char **argv);
int do_detach(struct ctl *ctl, int argc, char **argv);
int do_peers(struct ctl *ctl, int argc, char **argv);
/* sync_peers, all FP_MAX_PEERS entries; *n is 0 when the map is not there. */
int peers_read(struct ctl *ctl, struct sync_peer_status *p, int *n);

/* Open these maps (FP_MAP_BIT()s) under ctl->pin_path. */
int ctl_open(struct ctl *ctl, unsigned int maps);

#endif /* FLOWPIN_FLOWPINCTL_H */
