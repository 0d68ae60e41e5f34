/* SPDX-License-Identifier: GPL-2.0 */
/*
 * volctl — the client module's control ioctls on /dev/atomblk-ctl
 * (atom-kmod/include/uapi/atomblk.h): create, remove, resize, status and
 * list volumes. Every call opens the device (under ROOT_DEV), sends one
 * request and closes it, so a client swap between two calls is harmless.
 * A request goes out in the lowest uapi version that carries it (1; 2 for
 * a create with a missing mirror leg; 3 for one with worker legs), so
 * older clients keep answering.
 *
 * Errors are the uapi's (a failed call changes nothing): -EINVAL malformed
 * input, -ENOENT unknown volume or leg, -EEXIST duplicate id, -EBUSY leg in
 * use, -ESHUTDOWN client unloading; plus -ENOTCONN when the control device
 * does not exist (no client loaded), -ENAMETOOLONG for an id or leg path
 * too long for the uapi (checked before any call) and -EPROTONOSUPPORT
 * for a missing leg when the loaded client is older than uapi version 2.
 */
#ifndef ATOMBLK_VOLCTL_H
#define ATOMBLK_VOLCTL_H

#include <stddef.h>
#include <stdint.h>

#include "uapi/atomblk.h"

struct volctl_spec {
	const char *id; /* volume id */
	uint64_t size; /* bytes, multiple of ATOMBLK_SIZE_ALIGN */
	enum atomblk_layout layout;
	unsigned int nr_legs;
	const char *legs[ATOMBLK_LEGS_MAX]; /* block device paths; NULL or "" = missing */
	unsigned int worker_legs; /* bit i: leg i gets ATOMBLK_LEG_SUBMIT_WORKER (NVMe/TCP) */
};

/*
 * volctl_create() - create the volume; its disk name ("atom0") in @ret_disk.
 * A mirror may have missing legs (not all): they are faulty from the start
 * and the volume is degraded. A missing leg in a linear volume, or every
 * mirror leg missing, is -EINVAL before any call. Worker legs are a
 * safety the client honours from uapi 3 on: with an older client the
 * volume is created without them (that client submits every leg inline).
 */
int volctl_create(const struct volctl_spec *spec, char ret_disk[ATOMBLK_DISK_NAME_MAX]);

/* volctl_remove() - delete the volume and its disk. */
int volctl_remove(const char *id);

/* volctl_resize() - set the volume's size (within its legs). */
int volctl_resize(const char *id, uint64_t size);

/* volctl_status() - the volume's disk, size, layout, state and legs. */
int volctl_status(const char *id, struct atomblk_status *ret);

/* volctl_list() - every volume, in a malloc'd array (free() it). */
int volctl_list(struct atomblk_list_entry **ret, size_t *ret_count);

/*
 * volctl_device_size() - a block device's size in bytes (BLKGETSIZE64).
 * Return: 0; -ENOTBLK if @path is not a block device; -errno.
 */
int volctl_device_size(const char *path, uint64_t *ret);

/*
 * volctl_layout_capacity() - the largest volume @layout can have over legs
 * of @sizes: each leg rounded down to ATOMBLK_SIZE_ALIGN, summed (linear)
 * or the smallest (mirror). 0 for a leg count the layout does not accept.
 */
uint64_t volctl_layout_capacity(enum atomblk_layout layout, const uint64_t *sizes,
				unsigned int nr_legs);

const char *volctl_layout_name(enum atomblk_layout layout);
int volctl_layout_parse(const char *name, enum atomblk_layout *ret);
const char *volctl_volume_state_name(enum atomblk_volume_state state);

#endif
