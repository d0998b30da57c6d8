/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running the real flowpind from a test: start it with arguments, read its
 * log, stop it; read what it pinned.
 */
#ifndef FLOWPIN_TEST_DAEMON_H
#define FLOWPIN_TEST_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include "flowpin.h"

extern char pin_path[64], log_path[64];	    /* the daemon's -p and stderr */
/* beside the test */
extern char flowpind[PATH_MAX], flowpinctl[PATH_MAX], xdp_pass_obj[PATH_MAX];
extern bool as_nobody; /* start flowpind as nobody, without capabilities */

/* Paths for this test program; -1 when flowpind is not built. */
int daemon_paths_init(const char *name);

__u64 now_us(void);
/* flowpind -p pin_path ARGS... (NULL-terminated), stderr to log_path. */
pid_t daemon_start(const char *first, ...);
/* The same, run through a wrapper command such as setpriv (NULL-terminated). */
pid_t daemon_start_wrapped(const char *const *wrapper, const char *first, ...);
bool daemon_log_has(const char *what);
int daemon_wait_log(const char *what, int ms); /* 0 once the log has it */
int daemon_wait_ready(pid_t pid); /* 0 once it said "ready:" */
int daemon_wait_exit(pid_t pid);  /* its exit status, -1 if it hung */
int daemon_stop(pid_t pid, int sig);
void daemon_kill_all(void);	  /* every daemon started, SIGKILL */
/* After a test: kill its daemons, detach what they left, remove pins and log. */
void daemon_cleanup(void);

int pinned_fd(const char *map);
bool pin_dir_exists(void);
void remove_pins(void);
/* State of this gateway's next hop in the pinned table, or -1. */
int nh_state(int family, int ifindex, const char *gw, struct nexthop *out);

#endif
