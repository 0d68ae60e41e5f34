/* SPDX-License-Identifier: GPL-2.0 */
/*
 * client.h - atom_client.ko's private structures and cross-file prototypes.
 */
#ifndef ATOM_CLIENT_H
#define ATOM_CLIENT_H

#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

#include "atom.h"
#include "atom_compat.h"
#include "uapi/atomblk.h"

#ifndef ATOM_CLIENT_VERSION
#define ATOM_CLIENT_VERSION "unknown"
#endif

#define CLIENT_NAME "atom_client"
#define CLIENT_SIZE_ALIGN_SECTORS (ATOMBLK_SIZE_ALIGN >> SECTOR_SHIFT)

/*
 * A leg of a volume. A mirror leg may have no device (dev.bdev NULL): it
 * was missing at creation (path "") or, when adopting, a faulty leg whose
 * device is gone. Such a leg is faulty from the start, and IO only ever
 * goes to healthy legs, so nothing dereferences its device.
 */
struct client_leg {
	char path[ATOMBLK_PATH_MAX]; /* block device path, the leg's stable id; "" = missing */
	struct atom_compat_bdev dev; /* the open, claimed device; bdev NULL = none */
	sector_t nr_sectors; /* usable size, a multiple of 4 KiB; 0 without a device */
	sector_t start; /* linear: first volume sector on this leg */
	bool faulty; /* an IO failed or no device; READ_ONCE/WRITE_ONCE */
	u32 flags; /* ATOMBLK_LEG_* from create, kept in the record */
	atomic_t reads_in_flight; /* mirror: read requests sent here, not yet done */
};

/* The leg was missing at creation: it has no path and never a device. */
static inline bool client_leg_is_missing(const struct client_leg *leg)
{
	return !leg->path[0];
}

struct client_volume {
	struct list_head node; /* in client_volumes, under client_mutex */
	char id[ATOMBLK_ID_MAX]; /* the volume id, also the atom disk's */
	enum atomblk_layout layout; /* linear or mirror */
	unsigned int nr_legs; /* legs in use */
	struct client_leg legs[ATOMBLK_LEGS_MAX]; /* in layout order */
	sector_t size; /* volume size in sectors */
	u64 generation; /* atom generation when created or adopted */
	struct atom_disk *disk; /* the atom's disk, NULL until added */
	atomic_t read_cursor; /* mirror: where the search for a read leg starts */
};

/*
 * Per-request state, in the atom's client PDU. Ownership: from
 * client_queue_rq() until client_io_done() ends the request, the request
 * and this struct belong to the client. @pending counts submitted leg bios
 * plus one bias reference held while submitting; the last put decides.
 */
struct client_io {
	struct client_volume *vol; /* the volume the request is for */
	struct request *rq; /* the atom request */
	atomic_t pending; /* bios in flight + submit bias */
	unsigned long target_legs; /* legs this round was sent to */
	unsigned long failed_legs; /* legs whose bios failed (set_bit) */
	unsigned long tried_legs; /* mirror reads: legs already tried */
	int read_leg; /* mirror reads: this round's leg (counted in flight), or -1 */
	struct work_struct retry_work; /* mirror reads: retry on another leg */
	struct bio_list worker_bios; /* leg bios client_submit_work() sends */
	struct work_struct submit_work; /* submits worker_bios (client_submit.c) */
};

/* A leg bio; the bioset's front pad holds the leg index. */
struct client_bio {
	struct client_io *io; /* owner */
	unsigned int leg; /* index in vol->legs */
	struct bio bio; /* must be last */
};

/* client_main.c */
extern struct mutex client_mutex;
extern struct list_head client_volumes;
extern struct bio_set client_bioset;
extern struct workqueue_struct *client_wq;
void client_volume_close_legs(struct client_volume *vol);
int client_volume_open_legs(struct client_volume *vol, bool adopting);
bool client_volume_legs_valid(const struct client_volume *vol);
void client_volume_free(struct client_volume *vol);
sector_t client_volume_capacity(struct client_volume *vol);
struct client_volume *client_find_volume(const char *id);

/* client_io.c */
blk_status_t client_queue_rq(struct atom_disk *disk, struct request *rq, void *client_data);
enum atomblk_volume_state client_volume_state(struct client_volume *vol);

/* client_submit.c */
void client_submit_init(struct client_io *io);
void client_submit_leg_bio(struct client_io *io, unsigned int leg, struct bio *bio);
void client_submit_kick(struct client_io *io);

/* client_ctl.c */
int client_ctl_init(void);
void client_ctl_exit(void);

/* client_record.c */
int client_record_save(struct client_volume *vol);
struct client_volume *client_record_load(struct atom_disk *disk);
int client_global_record_save(void);

/* Fault injection, compiled in for test builds only (FAULT_INJECTION=y). */
#ifdef ATOM_CLIENT_FAULT_INJECTION
bool client_should_fail_adopt(void);
bool client_should_fail_leg(struct client_volume *vol, unsigned int leg);
unsigned int client_abandon_delay_ms(void);
#else
static inline bool client_should_fail_adopt(void)
{
	return false;
}

static inline bool client_should_fail_leg(struct client_volume *vol, unsigned int leg)
{
	return false;
}

static inline unsigned int client_abandon_delay_ms(void)
{
	return 0;
}
#endif

#endif /* ATOM_CLIENT_H */
