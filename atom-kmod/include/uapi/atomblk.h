/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * atomblk.h - control uapi of atom_client.ko: the misc device
 * /dev/atomblk-ctl and its ioctls. The agent and atomtool use it.
 *
 * Versioning: every request starts with a struct atomblk_ctl_hdr whose
 * uapi_version names the layout of the request. The client accepts every
 * version from ATOMBLK_UAPI_VERSION_MIN to ATOMBLK_UAPI_VERSION and fails
 * any other with EINVAL. Structures only grow at their end, and a new field
 * is only read when the request's version says it is there; a version
 * leaves the accepted window only after a documented deprecation, so an
 * older agent keeps working with a newer client and vice versa. A caller
 * sends the lowest version that carries what it asks for, so that it works
 * with every client whose window holds that version.
 *
 * Version history:
 *  1: the first layout.
 *  2: ATOMBLK_IOC_CREATE of a mirror accepts a leg path "" for a leg missing
 *     at creation (same structure sizes; only the meaning of "" changed).
 *     The leg has no device and is FAULTY from the start, the volume is
 *     DEGRADED and IO runs on the present legs; at least one leg must be
 *     present. STATUS reports the leg with path "" and ATOMBLK_LEG_FAULTY
 *     whatever the request's version. A client whose newest version is 1
 *     answers EINVAL to every version 2 request (and to "" in version 1),
 *     so a caller can tell "too old" from bad input by sending a harmless
 *     version 2 request (ATOMBLK_IOC_LIST with capacity 0): EINVAL means
 *     the client does not speak version 2.
 *  3: per-leg flags. struct atomblk_create and struct atomblk_status grew
 *     leg_flags at their end; a version 3 create or status travels in the
 *     grown layout (ATOMBLK_IOC_CREATE_V3, ATOMBLK_IOC_STATUS_V3: the
 *     ioctl number carries the size), an older one in the original layout
 *     (ATOMBLK_IOC_CREATE, ATOMBLK_IOC_STATUS); a version that does not
 *     match the command's layout is EINVAL. One flag so far,
 *     ATOMBLK_LEG_SUBMIT_WORKER. The flags are kept across client swaps.
 *
 * Errors: EINVAL for malformed input (bad version, empty or unterminated
 * id or path, zero or unaligned size, wrong leg count for the layout, size
 * larger than the legs, an empty leg path in a linear volume or before
 * version 2, every mirror leg missing, an unknown leg flag or a flag past
 * nr_legs, a version that does not match the command's layout), ENOENT for an unknown volume id or leg path,
 * EEXIST for a duplicate volume id, EBUSY for a leg already in use,
 * ESHUTDOWN while the client module is unloading. A failed call changes
 * nothing.
 */
#ifndef _UAPI_ATOMBLK_H
#define _UAPI_ATOMBLK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ATOMBLK_CTL_DEVICE "/dev/atomblk-ctl"
#define ATOMBLK_UAPI_VERSION 3 /* newest request layout */
#define ATOMBLK_UAPI_VERSION_MIN 1 /* oldest one still accepted */
#define ATOMBLK_UAPI_VERSION_MISSING_LEG 2 /* first with "" = mirror leg missing */
#define ATOMBLK_UAPI_VERSION_LEG_FLAGS 3 /* first with leg_flags */

#define ATOMBLK_ID_MAX 64 /* volume id, bytes including the NUL */
#define ATOMBLK_PATH_MAX 256 /* leg path, bytes including the NUL */
#define ATOMBLK_DISK_NAME_MAX 32 /* "atomN", bytes including the NUL */
#define ATOMBLK_LEGS_MAX 8 /* legs of a linear volume */
#define ATOMBLK_MIRROR_LEGS_MIN 2
#define ATOMBLK_MIRROR_LEGS_MAX 3
#define ATOMBLK_SIZE_ALIGN 4096 /* volume sizes are multiples of this */

enum atomblk_layout {
	ATOMBLK_LAYOUT_LINEAR = 1, /* legs concatenated in order */
	ATOMBLK_LAYOUT_MIRROR = 2, /* RAID-1 over 2 or 3 legs */
};

enum atomblk_volume_state {
	ATOMBLK_VOLUME_OK = 0, /* every leg healthy */
	ATOMBLK_VOLUME_DEGRADED = 1, /* mirror: a leg faulty, IO continues */
	ATOMBLK_VOLUME_FAILED = 2, /* IO fails: a linear leg or every mirror leg faulty */
};

enum atomblk_leg_state {
	ATOMBLK_LEG_OK = 0,
	ATOMBLK_LEG_FAULTY = 1, /* an IO to the leg failed, or it is missing */
};

/*
 * Leg flags (version 3). ATOMBLK_LEG_SUBMIT_WORKER: the leg's driver may
 * signal the task that submits IO to it, so the client submits the leg's
 * IO from a kernel worker whenever the caller is a user task. nvme-tcp is
 * such a driver: it sends on its socket from ->queue_rq() in the submitting
 * task without MSG_NOSIGNAL, and a send on a connection the target reset
 * raises SIGPIPE in that task (the application writing to the atom disk,
 * whose default action kills it). Costs a hand-off per request to the leg;
 * legs without the flag are submitted inline as before.
 */
#define ATOMBLK_LEG_SUBMIT_WORKER 0x1u
#define ATOMBLK_LEG_FLAGS_KNOWN ATOMBLK_LEG_SUBMIT_WORKER

/* First member of every request. */
struct atomblk_ctl_hdr {
	__u32 uapi_version; /* in: ATOMBLK_UAPI_VERSION the caller speaks */
	__u32 reserved; /* in: 0 */
};

/* ATOMBLK_IOC_CREATE: create a volume and its /dev/atomN disk. */
struct atomblk_create {
	struct atomblk_ctl_hdr hdr;
	char id[ATOMBLK_ID_MAX]; /* in: unique, NUL-terminated */
	__u64 size; /* in: bytes, multiple of ATOMBLK_SIZE_ALIGN */
	__u32 layout; /* in: enum atomblk_layout */
	__u32 nr_legs; /* in: linear 1..LEGS_MAX, mirror 2..3 */
	char legs[ATOMBLK_LEGS_MAX][ATOMBLK_PATH_MAX]; /* in: block device paths;
							 * v2 mirror: "" = missing */
	char disk[ATOMBLK_DISK_NAME_MAX]; /* out: e.g. "atom0" */
	/* version 3 (ATOMBLK_IOC_CREATE_V3) */
	__u32 leg_flags[ATOMBLK_LEGS_MAX]; /* in: ATOMBLK_LEG_* per leg; 0 past nr_legs */
};
#define ATOMBLK_CREATE_V1_SIZE 2168 /* bytes before version 3 (up to disk) */

/* ATOMBLK_IOC_REMOVE: delete a volume and its disk. */
struct atomblk_remove {
	struct atomblk_ctl_hdr hdr;
	char id[ATOMBLK_ID_MAX]; /* in */
};

/* ATOMBLK_IOC_RESIZE: change a volume's size (within its legs). */
struct atomblk_resize {
	struct atomblk_ctl_hdr hdr;
	char id[ATOMBLK_ID_MAX]; /* in */
	__u64 size; /* in: bytes, multiple of ATOMBLK_SIZE_ALIGN */
};

struct atomblk_leg_status {
	char path[ATOMBLK_PATH_MAX]; /* the leg's block device path, "" = missing */
	__u32 state; /* enum atomblk_leg_state */
	__u32 reserved;
};

/* ATOMBLK_IOC_STATUS: one volume's state. */
struct atomblk_status {
	struct atomblk_ctl_hdr hdr;
	char id[ATOMBLK_ID_MAX]; /* in */
	char disk[ATOMBLK_DISK_NAME_MAX]; /* out */
	__u64 size; /* out: bytes */
	__u32 layout; /* out: enum atomblk_layout */
	__u32 state; /* out: enum atomblk_volume_state */
	__u32 nr_legs; /* out */
	__u32 reserved;
	struct atomblk_leg_status legs[ATOMBLK_LEGS_MAX]; /* out: nr_legs used */
	/* version 3 (ATOMBLK_IOC_STATUS_V3) */
	__u32 leg_flags[ATOMBLK_LEGS_MAX]; /* out: ATOMBLK_LEG_* per leg */
};
#define ATOMBLK_STATUS_V1_SIZE 2240 /* bytes before version 3 (up to legs) */

struct atomblk_list_entry {
	char id[ATOMBLK_ID_MAX];
	char disk[ATOMBLK_DISK_NAME_MAX];
	__u64 size; /* bytes */
	__u32 layout; /* enum atomblk_layout */
	__u32 state; /* enum atomblk_volume_state */
};

/*
 * ATOMBLK_IOC_LIST: every volume. The caller passes an array of capacity
 * entries; the client fills min(capacity, count) and sets count to the
 * number of volumes (call again with a larger array if count > capacity).
 */
struct atomblk_list {
	struct atomblk_ctl_hdr hdr;
	__u32 capacity; /* in: entries at entries_ptr */
	__u32 count; /* out: volumes that exist */
	__u64 entries_ptr; /* in: struct atomblk_list_entry * */
};

#define ATOMBLK_IOC_MAGIC 0xA7
/* Versions 1 and 2: the original layouts (the same numbers as ever). */
#define ATOMBLK_IOC_CREATE \
	_IOC(_IOC_READ | _IOC_WRITE, ATOMBLK_IOC_MAGIC, 1, ATOMBLK_CREATE_V1_SIZE)
#define ATOMBLK_IOC_REMOVE _IOW(ATOMBLK_IOC_MAGIC, 2, struct atomblk_remove)
#define ATOMBLK_IOC_RESIZE _IOW(ATOMBLK_IOC_MAGIC, 3, struct atomblk_resize)
#define ATOMBLK_IOC_STATUS \
	_IOC(_IOC_READ | _IOC_WRITE, ATOMBLK_IOC_MAGIC, 4, ATOMBLK_STATUS_V1_SIZE)
#define ATOMBLK_IOC_LIST _IOWR(ATOMBLK_IOC_MAGIC, 5, struct atomblk_list)
/* Version 3 and later: the grown layouts. */
#define ATOMBLK_IOC_CREATE_V3 _IOWR(ATOMBLK_IOC_MAGIC, 1, struct atomblk_create)
#define ATOMBLK_IOC_STATUS_V3 _IOWR(ATOMBLK_IOC_MAGIC, 4, struct atomblk_status)

#endif /* _UAPI_ATOMBLK_H */
