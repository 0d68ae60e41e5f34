/* SPDX-License-Identifier: GPL-2.0 */
/*
 * atom_internal.h - atom.ko's private structures and cross-file prototypes.
 */
#ifndef ATOM_INTERNAL_H
#define ATOM_INTERNAL_H

#include <linux/blk-mq.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "atom.h"

/*
 * Disk states, under atom_disk.lock. Who owns a request in each state:
 *
 * ATOM_DISK_ATTACHED: a client is registered. ->queue_rq() hands each
 *	request to the client, which owns it until atom_end_request() or
 *	atom_requeue_request(); atom_disk.client_owned counts them.
 * ATOM_DISK_HELD: no client. ->queue_rq() starts each request and parks it
 *	on atom_disk.held; the atom owns it. Requests beyond the tag depth wait
 *	in blk-mq. ->timeout() re-arms the timer. The hold timer runs.
 * ATOM_DISK_ABNORMAL: the hold time passed (or fail_held was written): held
 *	requests were failed and new ones fail with EIO at once, until a
 *	client adopts the disk again.
 * ATOM_DISK_DYING: atom_remove_disk() runs; new requests fail with EIO.
 */
enum atom_disk_state {
	ATOM_DISK_ATTACHED,
	ATOM_DISK_HELD,
	ATOM_DISK_ABNORMAL,
	ATOM_DISK_DYING,
};

/* Per-request data of the atom (the blk-mq PDU). */
struct atom_cmd {
	struct list_head held_node; /* on atom_disk.held while held */
	u64 client_pdu[ATOM_CLIENT_PDU_SIZE / 8]; /* the client's scratch space */
};

struct atom_disk {
	struct list_head node; /* in atom_disks, under atom_mutex */
	int index; /* N of /dev/atomN */
	char volume_id[ATOM_VOLUME_ID_MAX]; /* set at creation, never changes */
	struct gendisk *gd; /* the disk; private_data points here */
	struct blk_mq_tag_set tag_set; /* one hardware queue per disk */

	spinlock_t lock; /* protects the fields down to held_since */
	enum atom_disk_state state; /* see enum atom_disk_state */
	void *client_data; /* the client's pointer, NULL with no client */
	struct list_head held; /* parked requests (struct atom_cmd) */
	unsigned int nr_held; /* length of @held */
	ktime_t held_since; /* when the no-client period began */

	atomic_t client_owned; /* requests the client owns now */
	wait_queue_head_t client_owned_wq; /* woken when client_owned drops to 0 */
	int hold_secs; /* per-disk hold time, -1 = module default */
	struct delayed_work hold_work; /* fails held IO when the hold time passes */
	u64 last_pause_us; /* length of the last no-client period */

	void *record; /* client's state record, under atom_record_mutex */
	size_t record_len; /* its length in bytes */
};

/* atom_main.c */
extern struct mutex atom_mutex;
extern struct list_head atom_disks;
extern unsigned int atom_ndisks;
extern u64 atom_gen;
extern struct atom_client __rcu *atom_client;
int atom_disk_hold_secs(struct atom_disk *disk);
void atom_disk_rearm_hold(struct atom_disk *disk);
void atom_disk_fail_held(struct atom_disk *disk);
const char *atom_disk_state_name(enum atom_disk_state state);

/* atom_sysfs.c */
extern const struct attribute_group *atom_disk_attr_groups[];
int atom_sysfs_init(void);
void atom_sysfs_exit(void);

#endif /* ATOM_INTERNAL_H */
