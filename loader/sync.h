/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pin sync between flowpind instances: the datapath's new pins (the
 * pin_events ring) go to every peer over UDP, authenticated, acked and
 * resent; a pin from a peer goes into flow_pins where the flow has no
 * usable pin, or one the fleet's rule puts behind it (FP_RANK_*). A peer met
 * for the first time, or restarted, is asked for its pins (bulk sync); one
 * back from silence gets what was not acked. docs/DESIGN.md, "Pin sync",
 * has the rules.
 */
#ifndef FLOWPIN_SYNC_H
#define FLOWPIN_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "flowpin.h"
#include "nexthop_table.h"

struct sync_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

struct sync_config {
	bool on;		   /* --sync given */
	struct sync_addr listen;
	struct sync_addr peer[FP_MAX_PEERS - 1];
	int n_peers;
	const char *key_file;
	const char *key_next_file; /* --sync-key-next: accepted too, never signed with */
	unsigned int wait_s;	   /* --sync-wait: bulk sync before ready, at most */
	uint32_t router_id;	   /* --router-id; 0: sync_router_id() of listen */
	unsigned int refresh_s;	   /* --sync-refresh: live flows' pins to the peers again; 0: never */
	unsigned int repair_s;	   /* --sync-repair: digests of the peers' pins held here; 0: never */
};

#define SYNC_WAIT_S 5
#define SYNC_REFRESH_S 30
#define SYNC_REPAIR_S 60

/*
 * "ADDR", "ADDR:PORT", "[ADDR6]" or "[ADDR6]:PORT" (a bare IPv6 address
 * too), port FP_SYNC_PORT when not given. -EINVAL when it is none of them.
 */
int sync_parse_addr(const char *s, struct sync_addr *a);

/*
 * This router's id in the fleet's rule: --router-id, else the listening
 * address's IPv4 address, or the last 32 bits of its IPv6 one (0: none).
 */
uint32_t sync_router_id(const struct sync_config *c);

/*
 * Check what the options say together: one line in err and -EINVAL when
 * --peer or --sync-key come without --sync, --sync without a key, a
 * peer of another family than the listening address, or twice the same.
 */
int sync_check_config(const struct sync_config *c, char *err, size_t errlen);

/* What pin sync reads and writes of the daemon's. */
struct sync_env {
	const struct nexthop_table *nht; /* gateways <-> local next hops */
	enum withdrawn_policy policy;	 /* which next hops are usable */
	/* a port of this daemon's, attached: next hops on it may take pins */
	bool (*serves)(void *ctx, __u32 ifindex);
	void *ctx;
	int flow_pins_fd;
	/* flow_pins is new (a reboot): the peers are asked for our pins too */
	bool own_pins_lost;
	int pin_events_fd;
	int peers_fd; /* sync_peers */
	/* pin_turnover and the datapath's pins_per_s: 0, no budget */
	int turnover_fd;
	__u64 pins_per_s;
	/* the CPUs' copies of pins: a pin the rule replaces leaves them */
	int cache_fd, cache_tags_fd;
	__u32 max_flows; /* flow_pins' size: every router holds the fleet's pins */
};

struct sync;

/*
 * Read the key and bind the socket: before anything else is set up, so
 * bad input leaves nothing behind. One line logged and -errno on failure.
 */
int sync_open(struct sync **s, const struct sync_config *c);
/* Then, with the maps loaded: open the ring, greet the peers. */
int sync_start(struct sync *s, const struct sync_env *env);
/* Poll this fd for input, then call sync_work(). */
int sync_fd(const struct sync *s);
/* Datagrams, new pins, timers: whatever is due. */
void sync_work(struct sync *s);
/*
 * The pins this router made and holds, as last counted (flowpind gives it
 * once a second): told to the peers in each hello, and with theirs held
 * against --max-flows at once.
 */
void sync_set_own_pins(struct sync *s, __u64 n);
/* Every peer has sent its bulk sync since this run started. */
bool sync_bulk_done(const struct sync *s);
/* Peers whose bulk sync is not done, for the log: "ADDR, ADDR". */
void sync_pending_peers(const struct sync *s, char *buf, size_t len);
/* Close everything; NULL is fine. */
void sync_stop(struct sync *s);

#endif /* FLOWPIN_SYNC_H */
