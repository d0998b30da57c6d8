/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pins peers named, looked up from inside the kernel (bpf/pin_touch.bpf.c)
 * so that flow_pins' LRU counts them used: keys gathered, then looked up in
 * one BPF_PROG_TEST_RUN. For pin sync only.
 */
#ifndef FLOWPIN_PIN_TOUCH_H
#define FLOWPIN_PIN_TOUCH_H

#include <linux/types.h>
#include "flowpin.h"

struct pin_touch_batch;

/*
 * Load the program on the datapath's flow_pins (its fd). 0, or -errno
 * and one line logged: pin sync then goes without it.
 */
int pin_touch_open(struct pin_touch_batch **t, int flow_pins_fd);
/* Gather a key; a full batch is looked up at once. */
void pin_touch_add(struct pin_touch_batch *t, const struct flow_key *key);
/*
 * Look the gathered keys up. Returns how many were in flow_pins, or
 * -errno (the keys are dropped either way). NULL or none gathered: 0.
 */
int pin_touch_flush(struct pin_touch_batch *t);
/* NULL is fine. */
void pin_touch_close(struct pin_touch_batch *t);

#endif /* FLOWPIN_PIN_TOUCH_H */
