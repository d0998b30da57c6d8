/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pin directory: a bpffs mounted where there is none, the directory
 * made or checked (a directory of flowpind's user on a bpffs, opened
 * without following a symlink), restricted and locked; the maps an
 * earlier image pinned there reused when they fit, this image's pinned,
 * pinned again before a re-exec, unpinned when nothing was attached.
 * datapath.c calls these in datapath_open() and datapath_attach().
 */
#ifndef FLOWPIN_PIN_DIR_H
#define FLOWPIN_PIN_DIR_H

#include "datapath.h"

/* A bpffs at /sys/fs/bpf (mounted if missing) under pin_path's parent. */
int pin_dir_bpffs(const char *pin_path);
/* Make or check dp->pin_path, and lock it (dp->lock_fd, dp->made_dir). */
int pin_dir_make(struct datapath *dp);
/* Close the lock; remove the directory if this image made it. */
void pin_dir_release(struct datapath *dp);

/*
 * Before load: every map pinned there that fits this build is reused
 * (dp->reused); one of another layout is refused, but for the disposable
 * ones (counters, budgets...), which are replaced (dp->repin).
 */
int pin_dir_reuse(struct datapath *dp);
/* After load: the status the last daemon left (dp->prev, dp->have_prev). */
int pin_dir_read_status(struct datapath *dp);
/* After attach: pin the maps not reused (dp->pinned_now). */
int pin_dir_pin_maps(struct datapath *dp);

/*
 * Before a re-exec, which adopts the maps through their pins: pin again
 * any map whose pin was removed. Fails (and the re-exec must not happen)
 * when a pin now names another map or the directory is not ours.
 */
int pin_dir_repin(struct datapath *dp);
/* Undo this image's pins when nothing was ever attached. */
void pin_dir_unpin_new(struct datapath *dp);

#endif /* FLOWPIN_PIN_DIR_H */
