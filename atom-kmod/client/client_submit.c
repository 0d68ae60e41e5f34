// SPDX-License-Identifier: GPL-2.0
/*
 * client_submit.c - which task submits a leg bio.
 *
 * The client maps a request onto leg bios in ->queue_rq(), which runs in
 * whatever task dispatches the atom's queue: often the application itself
 * (blk-mq issues directly from the submitting task or from its plug), and
 * the leg's driver then runs in that task too. Some drivers may signal the
 * task they run in: nvme-tcp sends from its ->queue_rq() when it runs on
 * the queue's io_cpu (nvme_tcp_queue_request(), 6.1 and 6.12), with
 * MSG_DONTWAIT but no MSG_NOSIGNAL, and a send on a connection the target
 * reset fails with EPIPE and raises SIGPIPE in the current task
 * (sk_stream_error()). The application writing to the atom disk would be
 * killed because a leg it knows nothing about lost its target, and a
 * signal cannot be taken back once sent.
 *
 * So the bios of a leg flagged ATOMBLK_LEG_SUBMIT_WORKER (the agent flags
 * its NVMe/TCP legs at create time) are submitted from a kernel worker
 * when the caller is not a kernel thread: kernel threads ignore signals
 * whose action is the default, and the driver's own send path then runs
 * there.
 *
 * Every leg's bios also go to the worker when ->queue_rq() runs inside the
 * dispatching task's own bio submission (current->bio_list set: blk-mq
 * issued our request from submit_bio(), e.g. when the plug of
 * __submit_bio() or a full plug is flushed). submit_bio_noacct() would
 * only queue a leg bio on that list, to be sent once the task's current
 * bio is done, and the task may first sleep on the atom disk itself (a
 * split remainder ahead of our bios waits for a wbt slot or a tag) while
 * the requests holding those slots wait for the queued leg bios: a
 * deadlock, seen on 6.12 as every writer asleep in the atom disk's
 * wbt_wait() with its requests in flight and the legs idle. The kernel's
 * bioset rescuer avoids the same trap by punting current->bio_list to a
 * workqueue. Everywhere else a leg bio is submitted inline, at no cost;
 * the deferred ones pay one work hand-off per request and round.
 *
 * Ownership: a deferred bio already holds its reference on io->pending
 * (client_bio_submit()), so the request cannot end before the worker has
 * submitted it. The worker takes the whole list first and touches @io no
 * more once it starts submitting: the last completion may end the request
 * and the atom may reuse its PDU at once. Only the first round of a request
 * can defer (a retry round runs in client_wq: a kernel thread outside any
 * bio submission), and the module's exit flushes client_wq after the atom
 * drained every request.
 */
#define pr_fmt(fmt) "atom_client: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/sched.h>

#include "client.h"

/* Whether a bio to @leg must not be submitted by the current task. */
static bool client_leg_wants_worker(struct client_io *io, unsigned int leg)
{
	if (current->bio_list)
		return true;
	return (io->vol->legs[leg].flags & ATOMBLK_LEG_SUBMIT_WORKER) &&
	       !(current->flags & PF_KTHREAD);
}

static void client_submit_work(struct work_struct *work)
{
	struct client_io *io = container_of(work, struct client_io, submit_work);
	struct bio_list bios = io->worker_bios;
	struct blk_plug plug;
	struct bio *bio;

	/* The bios pin @io until they are submitted; not after. */
	bio_list_init(&io->worker_bios);
	blk_start_plug(&plug);
	while ((bio = bio_list_pop(&bios)))
		submit_bio_noacct(bio);
	blk_finish_plug(&plug);
}

/* Before the first round of a request. */
void client_submit_init(struct client_io *io)
{
	bio_list_init(&io->worker_bios);
	INIT_WORK(&io->submit_work, client_submit_work);
}

/* Submit @bio to @leg now, or keep it for the worker (client_submit_kick()). */
void client_submit_leg_bio(struct client_io *io, unsigned int leg, struct bio *bio)
{
	if (client_leg_wants_worker(io, leg)) {
		bio_list_add(&io->worker_bios, bio);
		return;
	}
	submit_bio_noacct(bio);
}

/* After a round was mapped, with the submit bias still held: start the worker. */
void client_submit_kick(struct client_io *io)
{
	if (!bio_list_empty(&io->worker_bios))
		queue_work(client_wq, &io->submit_work);
}
