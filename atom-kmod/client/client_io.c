// SPDX-License-Identifier: GPL-2.0
/*
 * client_io.c - maps each atom request onto bios to the volume's legs.
 *
 * Linear: the legs are concatenated; a request crossing a leg boundary is
 * split there. Mirror: a write goes to every healthy leg and succeeds when
 * at least one leg took it (failing legs are marked faulty and dropped from
 * later IO); a read goes to the healthy leg with the fewest reads in
 * flight (ties taken in turn, so equal legs share the reads evenly; a slow
 * or busy leg gets fewer), and is retried on another leg when it fails. A
 * flush goes to every healthy leg.
 *
 * The request ends when every bio of the last round has completed. Bio
 * completions put the last reference inside an RCU read section, so the
 * module_exit path (synchronize_rcu() after the atom drained every request)
 * knows no CPU still runs this code.
 */
#define pr_fmt(fmt) "atom_client: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/rcupdate.h>

#include "client.h"

static void client_leg_mark_faulty(struct client_volume *vol, unsigned int i)
{
	if (READ_ONCE(vol->legs[i].faulty))
		return;
	WRITE_ONCE(vol->legs[i].faulty, true);
	pr_warn("%s: leg %u (%s) failed, marked faulty\n", vol->id, i, vol->legs[i].path);
}

enum atomblk_volume_state client_volume_state(struct client_volume *vol)
{
	unsigned int i, faulty = 0;

	for (i = 0; i < vol->nr_legs; i++)
		faulty += READ_ONCE(vol->legs[i].faulty);
	if (!faulty)
		return ATOMBLK_VOLUME_OK;
	if (vol->layout == ATOMBLK_LAYOUT_MIRROR && faulty < vol->nr_legs)
		return ATOMBLK_VOLUME_DEGRADED;
	return ATOMBLK_VOLUME_FAILED;
}

/* The legs a write or flush goes to: every healthy one (all, for linear). */
static unsigned long client_write_legs(struct client_volume *vol)
{
	unsigned long legs = 0;
	unsigned int i;

	for (i = 0; i < vol->nr_legs; i++)
		if (vol->layout == ATOMBLK_LAYOUT_LINEAR || !READ_ONCE(vol->legs[i].faulty))
			legs |= BIT(i);
	return legs;
}

/*
 * Mirror: of the healthy legs not tried yet, the one with the fewest reads in
 * flight, searching from a rotating start so ties alternate; -1 if none is
 * left. The counts are read without a lock: a stale count only costs
 * balance.
 */
static int client_pick_read_leg(struct client_io *io)
{
	struct client_volume *vol = io->vol;
	unsigned int start = atomic_inc_return(&vol->read_cursor);
	int best = -1, best_in_flight = INT_MAX, in_flight;
	unsigned int n, i;

	for (n = 0; n < vol->nr_legs; n++) {
		i = (start + n) % vol->nr_legs;
		if (READ_ONCE(vol->legs[i].faulty) || (io->tried_legs & BIT(i)))
			continue;
		in_flight = atomic_read(&vol->legs[i].reads_in_flight);
		if (in_flight < best_in_flight) {
			best = i;
			best_in_flight = in_flight;
		}
	}
	return best;
}

static void client_io_done(struct client_io *io);

static void client_io_put(struct client_io *io)
{
	if (atomic_dec_and_test(&io->pending))
		client_io_done(io);
}

static void client_bio_end_io(struct bio *bio)
{
	struct client_bio *cb = container_of(bio, struct client_bio, bio);
	struct client_io *io = cb->io;

	if (bio->bi_status)
		set_bit(cb->leg, &io->failed_legs);
	bio_put(bio);
	rcu_read_lock();
	client_io_put(io);
	rcu_read_unlock();
}

/*
 * The hints a leg bio inherits from the request, so the leg's block layer
 * treats it as it would the application's own bio. REQ_SYNC|REQ_IDLE marks
 * an O_DIRECT write, which the leg's writeback throttle lets through
 * (wbt_should_throttle()); without REQ_IDLE every such write would count
 * against the leg's wbt limit, 8 in flight at its starting depth, and its
 * submitter could sleep there. REQ_BACKGROUND gives writeback the leg's
 * background limit. Not inherited: REQ_NOWAIT and the REQ_FAILFAST_* and
 * REQ_RAHEAD hints, which let a leg fail a bio the application would
 * only see delayed (a failed leg bio marks a mirror leg faulty), and those
 * the atom's own queue has acted on: REQ_PREFLUSH (a flush reaches us as a
 * request of its own), REQ_NOMERGE, REQ_POLLED (nobody polls a leg bio).
 */
#define CLIENT_BIO_HINTS (REQ_SYNC | REQ_IDLE | REQ_FUA | REQ_META | REQ_PRIO | REQ_BACKGROUND)

/* The flags a leg bio carries: the request's op and hints, no PREFLUSH. */
static blk_opf_t client_bio_opf(struct request *rq)
{
	/* A flush travels as an empty write with REQ_PREFLUSH in a bio. */
	if (req_op(rq) == REQ_OP_FLUSH)
		return REQ_OP_WRITE | REQ_PREFLUSH | REQ_SYNC;
	return req_op(rq) | (rq->cmd_flags & CLIENT_BIO_HINTS);
}

static void client_bio_init(struct client_io *io, struct bio *bio, unsigned int leg,
			    sector_t leg_sector)
{
	struct client_bio *cb = container_of(bio, struct client_bio, bio);

	cb->io = io;
	cb->leg = leg;
	bio->bi_opf = client_bio_opf(io->rq);
	bio->bi_iter.bi_sector = leg_sector;
	bio->bi_end_io = client_bio_end_io;
	bio->bi_ioprio = req_get_ioprio(io->rq);
}

/* An empty leg bio (a flush). */
static struct bio *client_bio_alloc(struct client_io *io, unsigned int leg)
{
	struct bio *bio;

	bio = bio_alloc_bioset(io->vol->legs[leg].dev.bdev, 0, client_bio_opf(io->rq), GFP_NOIO,
			       &client_bioset);
	client_bio_init(io, bio, leg, 0);
	return bio;
}

/*
 * A leg bio for @len sectors of @src starting @offset sectors into it: a
 * clone sharing @src's pages (no copy of its vectors), trimmed to the part.
 */
static struct bio *client_bio_clone(struct client_io *io, unsigned int leg, struct bio *src,
				    sector_t offset, sector_t len, sector_t leg_sector)
{
	struct bio *bio;

	bio = bio_alloc_clone(io->vol->legs[leg].dev.bdev, src, GFP_NOIO, &client_bioset);
	if (offset || len < bio_sectors(src))
		bio_trim(bio, offset, len);
	client_bio_init(io, bio, leg, leg_sector);
	return bio;
}

static void client_bio_submit(struct client_io *io, struct bio *bio)
{
	struct client_bio *cb = container_of(bio, struct client_bio, bio);

	atomic_inc(&io->pending);
	if (client_should_fail_leg(io->vol, cb->leg)) {
		bio->bi_status = BLK_STS_IOERR;
		bio_endio(bio);
		return;
	}
	client_submit_leg_bio(io, cb->leg, bio);
}

/*
 * Where volume sector @sector lives: for a mirror on @mirror_leg at the same
 * sector; for linear on the leg holding it. Sets *@ret_room to the sectors
 * left on that leg from there.
 */
static unsigned int client_map_sector(struct client_volume *vol, int mirror_leg, sector_t sector,
				      sector_t *ret_leg_sector, sector_t *ret_room)
{
	unsigned int i;

	if (mirror_leg >= 0) {
		*ret_leg_sector = sector;
		*ret_room = vol->legs[mirror_leg].nr_sectors - sector;
		return mirror_leg;
	}
	for (i = 0; i + 1 < vol->nr_legs; i++)
		if (sector < vol->legs[i].start + vol->legs[i].nr_sectors)
			break;
	*ret_leg_sector = sector - vol->legs[i].start;
	*ret_room = vol->legs[i].nr_sectors - *ret_leg_sector;
	return i;
}

/*
 * Send the data of the request: to leg @mirror_leg (mirror) or to the legs
 * holding each part (linear, @mirror_leg < 0). Each bio of the request is
 * cloned once per leg part it covers.
 */
static void client_io_submit_data(struct client_io *io, int mirror_leg)
{
	struct client_volume *vol = io->vol;
	sector_t leg_sector, room, offset, len;
	unsigned int leg;
	struct bio *src;

	__rq_for_each_bio(src, io->rq) {
		for (offset = 0; offset < bio_sectors(src); offset += len) {
			leg = client_map_sector(vol, mirror_leg, src->bi_iter.bi_sector + offset,
						&leg_sector, &room);
			len = min_t(sector_t, bio_sectors(src) - offset, room);
			io->target_legs |= BIT(leg);
			client_bio_submit(io,
					  client_bio_clone(io, leg, src, offset, len, leg_sector));
		}
	}
}

/* Send one round of the request; the caller holds the submit bias. */
static void client_io_submit(struct client_io *io)
{
	struct client_volume *vol = io->vol;
	unsigned long legs;
	unsigned int i;
	int leg;

	io->failed_legs = 0;
	io->target_legs = 0;
	io->read_leg = -1;

	switch (req_op(io->rq)) {
	case REQ_OP_FLUSH:
		legs = client_write_legs(vol);
		for_each_set_bit(i, &legs, vol->nr_legs) {
			io->target_legs |= BIT(i);
			client_bio_submit(io, client_bio_alloc(io, i));
		}
		break;
	case REQ_OP_READ:
		if (vol->layout == ATOMBLK_LAYOUT_LINEAR) {
			client_io_submit_data(io, -1);
			break;
		}
		leg = client_pick_read_leg(io);
		if (leg < 0)
			break;
		io->tried_legs |= BIT(leg);
		io->read_leg = leg;
		atomic_inc(&vol->legs[leg].reads_in_flight);
		client_io_submit_data(io, leg);
		break;
	case REQ_OP_WRITE:
		if (vol->layout == ATOMBLK_LAYOUT_LINEAR) {
			client_io_submit_data(io, -1);
			break;
		}
		legs = client_write_legs(vol);
		for_each_set_bit(i, &legs, vol->nr_legs)
			client_io_submit_data(io, i);
		break;
	default:
		break;
	}
}

static void client_io_retry_work(struct work_struct *work)
{
	struct client_io *io = container_of(work, struct client_io, retry_work);

	atomic_set(&io->pending, 1);
	client_io_submit(io);
	client_io_put(io);
}

/*
 * Every bio of the round has completed: end the request, or retry a failed
 * mirror read on another leg. Any context.
 */
static void client_io_done(struct client_io *io)
{
	struct client_volume *vol = io->vol;
	unsigned long failed = io->failed_legs;
	blk_status_t status = BLK_STS_OK;
	unsigned int i;

	if (io->read_leg >= 0)
		atomic_dec(&vol->legs[io->read_leg].reads_in_flight);
	if (!io->target_legs) {
		/* Nothing could be sent: no healthy leg is left. */
		atom_end_request(io->rq, BLK_STS_IOERR);
		return;
	}
	if (!failed) {
		atom_end_request(io->rq, BLK_STS_OK);
		return;
	}

	for_each_set_bit(i, &failed, vol->nr_legs)
		client_leg_mark_faulty(vol, i);

	if (vol->layout == ATOMBLK_LAYOUT_LINEAR) {
		status = BLK_STS_IOERR;
	} else if (req_op(io->rq) == REQ_OP_READ) {
		/* Another healthy, untried leg may have the data. */
		for (i = 0; i < vol->nr_legs; i++) {
			if (!READ_ONCE(vol->legs[i].faulty) && !(io->tried_legs & BIT(i))) {
				queue_work(client_wq, &io->retry_work);
				return;
			}
		}
		status = BLK_STS_IOERR;
	} else if (!(io->target_legs & ~failed)) {
		/* A mirror write or flush counts when one leg took it. */
		status = BLK_STS_IOERR;
	}
	atom_end_request(io->rq, status);
}

blk_status_t client_queue_rq(struct atom_disk *disk, struct request *rq, void *client_data)
{
	struct client_io *io = atom_rq_client_pdu(rq);

	BUILD_BUG_ON(sizeof(struct client_io) > ATOM_CLIENT_PDU_SIZE);

	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_FLUSH:
		break;
	default:
		return BLK_STS_NOTSUPP;
	}

	io->vol = client_data;
	io->rq = rq;
	io->tried_legs = 0;
	INIT_WORK(&io->retry_work, client_io_retry_work);
	client_submit_init(io);
	atomic_set(&io->pending, 1);
	client_io_submit(io);
	client_submit_kick(io);
	client_io_put(io);
	return BLK_STS_OK;
}
