/* SPDX-License-Identifier: GPL-2.0 */
/*
 * atomsys — the atom module's status as sysfs shows it (contract:
 * atom-kmod/README.md): /sys/kernel/atom/{abi_version, client_name,
 * client_version, generation, ndisks} and, per disk,
 * /sys/block/atomN/atom/{volume_id, state, held_requests, last_pause_us,
 * hold_secs}.
 * Paths start at the ROOT_SYS root, so tests read fixture trees.
 */
#ifndef ATOMBLK_ATOMSYS_H
#define ATOMBLK_ATOMSYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uapi/atomblk.h"

struct atomsys_module {
	unsigned int abi_version; /* atom<->client ABI the atom speaks */
	char client_name[64]; /* "" when no client is registered */
	char client_version[64]; /* "" when no client is registered */
	uint64_t generation; /* bumped at every adopt */
	unsigned int ndisks; /* disks the atom owns */
};

enum atomsys_disk_state {
	ATOMSYS_DISK_ATTACHED, /* a client serves its IO */
	ATOMSYS_DISK_HELD, /* no client: IO is parked */
	ATOMSYS_DISK_ABNORMAL, /* held IO was failed; new IO fails */
	ATOMSYS_DISK_UNKNOWN, /* a state this agent does not know */
};

struct atomsys_disk {
	char name[ATOMBLK_DISK_NAME_MAX]; /* "atom0" */
	char volume_id[ATOMBLK_ID_MAX]; /* the volume it carries */
	enum atomsys_disk_state state;
	uint64_t held_requests; /* requests parked right now */
	uint64_t last_pause_us; /* last no-client period */
};

/*
 * atomsys_module_read() - the atom's module-wide status.
 * Return: 0; -ENOENT when the atom is not loaded; -EBADMSG for a value that
 * does not parse; -errno.
 */
int atomsys_module_read(struct atomsys_module *ret);

/* atomsys_client_attached() - a client is registered with the atom. */
bool atomsys_client_attached(const struct atomsys_module *m);

/*
 * atomsys_disk_read() - one disk's status by name ("atom0").
 * Return: 0; -ENOENT for no such atom disk; -EINVAL for a bad name;
 * -EBADMSG; -errno.
 */
int atomsys_disk_read(const char *name, struct atomsys_disk *ret);

/*
 * atomsys_disk_find() - the disk carrying @volume_id.
 * Return: 0; -ENOENT if no atom disk carries it; -errno.
 */
int atomsys_disk_find(const char *volume_id, struct atomsys_disk *ret);

/*
 * atomsys_disks_list() - every atom disk, sorted by name, in a malloc'd
 * array (free() it). Return: 0 (an empty list when the atom is not
 * loaded); -errno.
 */
int atomsys_disks_list(struct atomsys_disk **ret, size_t *ret_count);

const char *atomsys_disk_state_name(enum atomsys_disk_state state);

/*
 * atomsys_disk_set_hold() - the per-disk hold override of disk @name: IO
 * waits at most @secs seconds with no client (ATOMSYS_HOLD_DEFAULT: the
 * atom's module default again); a held disk re-arms its timer.
 * Return: 0; -EINVAL (bad name or @secs); -ENOENT (no such disk); -errno.
 */
#define ATOMSYS_HOLD_DEFAULT (-1)
int atomsys_disk_set_hold(const char *name, int secs);

/* atomsys_disk_hold() - the per-disk override now (ATOMSYS_HOLD_DEFAULT: none). */
int atomsys_disk_hold(const char *name, int *ret_secs);

#endif
