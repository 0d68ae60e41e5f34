// SPDX-License-Identifier: GPL-2.0
/*
 * atom.ko - the small, stable half of atomblk: it owns every /dev/atomN
 * gendisk and its blk-mq queue, and hands requests to whichever client
 * module is registered. With no client, requests are held until a client
 * adopts the disk or the hold time runs out.
 *
 * Ordering of a client swap (compare ublk_drv.c's user recovery in 6.1):
 *
 * Abandon (atom_unregister_client):
 *  1. quiesce every queue: afterwards no ->queue_rq() runs or starts, so no
 *     new request reaches the client;
 *  2. wait until the client ended or requeued every request it owns;
 *  3. switch each disk to HELD and start its hold timer;
 *  4. clear the client pointer and synchronize_srcu(): no CPU is left in a
 *     call into the client (the fence the client's module_exit relies on);
 *  5. unquiesce and kick the requeue list: new and requeued requests reach
 *     ->queue_rq(), which parks them, counted, on the disk's held list.
 *
 * Adopt (atom_register_client):
 *  1. publish the client pointer, bump the generation;
 *  2. per disk: stop the hold timer, switch to ATTACHED under the disk lock
 *     (from now on ->queue_rq() dispatches to the client), take the held
 *     list, requeue every held request and kick the requeue list.
 *
 * Removal fails held requests before del_gendisk(), which freezes the
 * queue and would otherwise wait forever for them.
 */
#define pr_fmt(fmt) "atom: " fmt

#include <linux/blkdev.h>
#include <linux/idr.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "atom_compat.h"
#include "atom_internal.h"

#define ATOM_QUEUE_DEPTH 128
#define ATOM_MAX_HW_SECTORS 1024 /* 512 KiB per request */

static int atom_hold_secs_default = 300;
module_param_named(hold_secs, atom_hold_secs_default, int, 0644);
MODULE_PARM_DESC(hold_secs,
		 "Seconds IO may wait with no client before it fails with EIO (default: 300)");

DEFINE_MUTEX(atom_mutex); /* client registration, disk list */
LIST_HEAD(atom_disks); /* every disk, under atom_mutex */
unsigned int atom_ndisks; /* length of atom_disks */
u64 atom_gen; /* adopt counter, under atom_mutex */
struct atom_client __rcu *atom_client; /* the registered client or NULL */
DEFINE_STATIC_SRCU(atom_srcu); /* fences every call into the client */
static DEFINE_MUTEX(atom_record_mutex); /* all state records */
static void *atom_global_record; /* client's global record */
static size_t atom_global_record_len; /* its length */
static DEFINE_IDA(atom_index_ida); /* N of /dev/atomN */
static int atom_major; /* dynamic block major */

const char *atom_disk_state_name(enum atom_disk_state state)
{
	switch (state) {
	case ATOM_DISK_ATTACHED:
		return "attached";
	case ATOM_DISK_HELD:
		return "held";
	case ATOM_DISK_ABNORMAL:
		return "abnormal";
	case ATOM_DISK_DYING:
		return "dying";
	}
	return "unknown";
}

static struct atom_cmd *atom_rq_cmd(struct request *rq)
{
	return blk_mq_rq_to_pdu(rq);
}

static struct atom_disk *atom_rq_disk(struct request *rq)
{
	return rq->q->queuedata;
}

/* Effective hold time of @disk: its override or the module parameter. */
int atom_disk_hold_secs(struct atom_disk *disk)
{
	int secs = READ_ONCE(disk->hold_secs);

	return secs >= 0 ? secs : max(READ_ONCE(atom_hold_secs_default), 0);
}

/*
 * (Re)start the hold timer of a HELD disk so that it fires hold_secs after
 * the no-client period began. Called on abandon and when the hold time is
 * changed through sysfs.
 */
void atom_disk_rearm_hold(struct atom_disk *disk)
{
	unsigned long flags;
	s64 left_ms = 0;
	bool held;

	spin_lock_irqsave(&disk->lock, flags);
	held = disk->state == ATOM_DISK_HELD;
	if (held)
		left_ms = (s64)atom_disk_hold_secs(disk) * MSEC_PER_SEC -
			  ktime_ms_delta(ktime_get(), disk->held_since);
	spin_unlock_irqrestore(&disk->lock, flags);
	if (held)
		mod_delayed_work(system_wq, &disk->hold_work,
				 msecs_to_jiffies(max_t(s64, left_ms, 0)));
}

static void atom_fail_list(struct list_head *list)
{
	struct atom_cmd *cmd, *next;

	list_for_each_entry_safe(cmd, next, list, held_node) {
		list_del_init(&cmd->held_node);
		blk_mq_end_request(blk_mq_rq_from_pdu(cmd), BLK_STS_IOERR);
	}
}

/*
 * Fail every held request of @disk with EIO and mark it ABNORMAL, so new
 * requests fail too until a client adopts it. Only a HELD disk changes.
 */
void atom_disk_fail_held(struct atom_disk *disk)
{
	LIST_HEAD(failed);
	unsigned long flags;
	unsigned int n = 0;

	spin_lock_irqsave(&disk->lock, flags);
	if (disk->state == ATOM_DISK_HELD) {
		disk->state = ATOM_DISK_ABNORMAL;
		list_splice_init(&disk->held, &failed);
		n = disk->nr_held;
		disk->nr_held = 0;
	}
	spin_unlock_irqrestore(&disk->lock, flags);
	if (n)
		pr_warn("%s: failing %u held requests, disk is abnormal\n", disk->gd->disk_name, n);
	atom_fail_list(&failed);
}

static void atom_disk_hold_expired(struct work_struct *work)
{
	struct atom_disk *disk = container_of(to_delayed_work(work), struct atom_disk, hold_work);

	atom_disk_fail_held(disk);
}

/*
 * One request fewer inside the client: wake an abandon waiting for none.
 * Most puts find nobody waiting; wq_has_sleeper() (a full barrier, then a
 * look at the list) spares them the wait queue's lock, and pairs with the
 * barrier wait_event() sets before it tests client_owned.
 */
static void atom_client_owned_put(struct atom_disk *disk)
{
	if (atomic_dec_and_test(&disk->client_owned) && wq_has_sleeper(&disk->client_owned_wq))
		wake_up_all(&disk->client_owned_wq);
}

/*
 * The client submits bios to its legs from ->queue_rq(). Those must not
 * join the plug of the task that dispatches us: that plug may be the very
 * one being flushed (blk_finish_plug() -> blk_mq_flush_plug_list() -> run
 * queue -> here), and adding requests to it re-enters the flush and
 * corrupts its list (seen as a NULL dereference in
 * blk_mq_flush_plug_list() on 6.12). The client gets a plug of its own,
 * flushed before we return.
 */
static blk_status_t atom_call_client_queue_rq(struct atom_client *client, struct atom_disk *disk,
					      struct request *rq, void *client_data)
{
	struct blk_plug *dispatcher_plug = current->plug;
	struct blk_plug client_plug;
	blk_status_t ret;

	current->plug = NULL;
	blk_start_plug(&client_plug);
	ret = client->ops->queue_rq(disk, rq, client_data);
	blk_finish_plug(&client_plug);
	current->plug = dispatcher_plug;
	return ret;
}

static blk_status_t atom_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct atom_disk *disk = hctx->queue->queuedata;
	struct request *rq = bd->rq;
	struct atom_client *client;
	blk_status_t ret = BLK_STS_OK;
	void *client_data;
	int srcu_idx;

	blk_mq_start_request(rq);

	/*
	 * Attached, the common case, without the lock: a disk leaves ATTACHED
	 * for HELD only while its queue is quiesced (no ->queue_rq() runs), and
	 * for DYING at removal, where a request that saw ATTACHED just before
	 * goes to the client as it would have under the lock. The acquire pairs
	 * with the release in atom_disk_adopt(), so client_data is the new one.
	 */
	if (smp_load_acquire(&disk->state) != ATOM_DISK_ATTACHED) {
		spin_lock_irq(&disk->lock);
		switch (disk->state) {
		case ATOM_DISK_ATTACHED:
			break;
		case ATOM_DISK_HELD:
			list_add_tail(&atom_rq_cmd(rq)->held_node, &disk->held);
			disk->nr_held++;
			spin_unlock_irq(&disk->lock);
			return BLK_STS_OK;
		case ATOM_DISK_ABNORMAL:
		case ATOM_DISK_DYING:
			spin_unlock_irq(&disk->lock);
			return BLK_STS_IOERR;
		}
		spin_unlock_irq(&disk->lock);
	}
	client_data = READ_ONCE(disk->client_data);
	atomic_inc(&disk->client_owned);

	/*
	 * ATTACHED implies a registered client: unregister quiesces the queue
	 * before it clears the pointer, and this runs inside the dispatch
	 * section quiescing waits for. The SRCU section is the explicit fence.
	 */
	srcu_idx = srcu_read_lock(&atom_srcu);
	client = srcu_dereference(atom_client, &atom_srcu);
	if (client)
		ret = atom_call_client_queue_rq(client, disk, rq, client_data);
	else
		ret = BLK_STS_IOERR;
	srcu_read_unlock(&atom_srcu, srcu_idx);

	if (ret != BLK_STS_OK)
		atom_client_owned_put(disk);
	return ret;
}

/*
 * Held requests and requests inside the client wait as long as they must:
 * the hold timer bounds the first, the client (with its legs' own
 * timeouts) the second.
 */
static enum blk_eh_timer_return atom_timeout(struct request *rq)
{
	return BLK_EH_RESET_TIMER;
}

static const struct blk_mq_ops atom_mq_ops = {
	.queue_rq = atom_queue_rq,
	.timeout = atom_timeout,
};

static const struct block_device_operations atom_fops = {
	.owner = THIS_MODULE,
};

void *atom_rq_client_pdu(struct request *rq)
{
	return atom_rq_cmd(rq)->client_pdu;
}
EXPORT_SYMBOL_GPL(atom_rq_client_pdu);

void atom_end_request(struct request *rq, blk_status_t status)
{
	struct atom_disk *disk = atom_rq_disk(rq);

	/* Before ending: once ended, removal may free the disk. */
	atom_client_owned_put(disk);
	blk_mq_end_request(rq, status);
}
EXPORT_SYMBOL_GPL(atom_end_request);

void atom_requeue_request(struct request *rq)
{
	struct atom_disk *disk = atom_rq_disk(rq);

	/* The requeued request pins the queue, so the disk stays. */
	blk_mq_requeue_request(rq, true);
	atom_client_owned_put(disk);
}
EXPORT_SYMBOL_GPL(atom_requeue_request);

u64 atom_generation(void)
{
	u64 gen;

	mutex_lock(&atom_mutex);
	gen = atom_gen;
	mutex_unlock(&atom_mutex);
	return gen;
}
EXPORT_SYMBOL_GPL(atom_generation);

/* Hand the held requests of @disk to the newly registered client. */
static void atom_disk_adopt(struct atom_disk *disk)
{
	struct atom_cmd *cmd, *next;
	LIST_HEAD(requeue);

	cancel_delayed_work_sync(&disk->hold_work);

	spin_lock_irq(&disk->lock);
	if (disk->state == ATOM_DISK_HELD || disk->state == ATOM_DISK_ABNORMAL)
		disk->last_pause_us = ktime_us_delta(ktime_get(), disk->held_since);
	/* Publishes client_data to the lockless check in atom_queue_rq(). */
	smp_store_release(&disk->state, ATOM_DISK_ATTACHED);
	list_splice_init(&disk->held, &requeue);
	disk->nr_held = 0;
	spin_unlock_irq(&disk->lock);

	list_for_each_entry_safe(cmd, next, &requeue, held_node) {
		list_del_init(&cmd->held_node);
		blk_mq_requeue_request(blk_mq_rq_from_pdu(cmd), false);
	}
	blk_mq_kick_requeue_list(disk->gd->queue);
}

int atom_register_client(struct atom_client *client)
{
	struct atom_disk *disk;
	int ret = 0;

	if (!client || client->abi_version != ATOM_ABI_VERSION) {
		pr_err("client refused: ABI version %u, atom has %u\n",
		       client ? client->abi_version : 0, ATOM_ABI_VERSION);
		return -EINVAL;
	}
	if (!client->ops || !client->ops->queue_rq || !client->name || !client->version)
		return -EINVAL;

	mutex_lock(&atom_mutex);
	if (rcu_access_pointer(atom_client)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	list_for_each_entry(disk, &atom_disks, node) {
		if (!READ_ONCE(disk->client_data)) {
			pr_err("client %s left %s without data, refused\n", client->name,
			       disk->gd->disk_name);
			ret = -ENXIO;
			goto out_unlock;
		}
	}
	rcu_assign_pointer(atom_client, client);
	atom_gen++;
	list_for_each_entry(disk, &atom_disks, node)
		atom_disk_adopt(disk);
	pr_info("client %s %s registered, generation %llu, %u disks\n", client->name,
		client->version, atom_gen, atom_ndisks);
out_unlock:
	mutex_unlock(&atom_mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(atom_register_client);

void atom_unregister_client(struct atom_client *client)
{
	struct atom_disk *disk;

	mutex_lock(&atom_mutex);
	if (WARN_ON(rcu_access_pointer(atom_client) != client))
		goto out_unlock;

	list_for_each_entry(disk, &atom_disks, node)
		blk_mq_quiesce_queue(disk->gd->queue);
	list_for_each_entry(disk, &atom_disks, node)
		wait_event(disk->client_owned_wq, !atomic_read(&disk->client_owned));
	list_for_each_entry(disk, &atom_disks, node) {
		spin_lock_irq(&disk->lock);
		disk->state = ATOM_DISK_HELD;
		disk->held_since = ktime_get();
		disk->client_data = NULL;
		spin_unlock_irq(&disk->lock);
		atom_disk_rearm_hold(disk);
	}
	RCU_INIT_POINTER(atom_client, NULL);
	synchronize_srcu(&atom_srcu);
	list_for_each_entry(disk, &atom_disks, node) {
		blk_mq_unquiesce_queue(disk->gd->queue);
		blk_mq_kick_requeue_list(disk->gd->queue);
	}
	pr_info("client %s %s unregistered, %u disks held\n", client->name, client->version,
		atom_ndisks);
out_unlock:
	mutex_unlock(&atom_mutex);
}
EXPORT_SYMBOL_GPL(atom_unregister_client);

static bool atom_volume_id_valid(const char *id)
{
	size_t len = strnlen(id, ATOM_VOLUME_ID_MAX);

	return len > 0 && len < ATOM_VOLUME_ID_MAX;
}

static struct atom_disk *atom_find_volume(const char *id)
{
	struct atom_disk *disk;

	list_for_each_entry(disk, &atom_disks, node)
		if (!strcmp(disk->volume_id, id))
			return disk;
	return NULL;
}

int atom_add_disk(const struct atom_disk_config *cfg, struct atom_disk **ret_disk)
{
	const unsigned int lbs =
		cfg && cfg->logical_block_size ? cfg->logical_block_size : SECTOR_SIZE;
	const struct atom_compat_limits limits = {
		.logical_block_size = lbs,
		.physical_block_size = PAGE_SIZE,
		.max_hw_sectors = ATOM_MAX_HW_SECTORS,
		.write_cache = true,
		.fua = true,
	};
	struct atom_disk *disk;
	struct gendisk *gd;
	int ret;

	if (!cfg || !cfg->volume_id || !atom_volume_id_valid(cfg->volume_id) ||
	    !cfg->capacity_sectors || !cfg->client_data)
		return -EINVAL;
	if (lbs < SECTOR_SIZE || lbs > PAGE_SIZE || !is_power_of_2(lbs) ||
	    cfg->capacity_sectors & ((lbs >> SECTOR_SHIFT) - 1))
		return -EINVAL;

	mutex_lock(&atom_mutex);
	if (!rcu_access_pointer(atom_client)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (atom_find_volume(cfg->volume_id)) {
		ret = -EEXIST;
		goto out_unlock;
	}

	disk = kzalloc(sizeof(*disk), GFP_KERNEL);
	if (!disk) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	strscpy(disk->volume_id, cfg->volume_id, sizeof(disk->volume_id));
	spin_lock_init(&disk->lock);
	INIT_LIST_HEAD(&disk->held);
	init_waitqueue_head(&disk->client_owned_wq);
	INIT_DELAYED_WORK(&disk->hold_work, atom_disk_hold_expired);
	disk->hold_secs = -1;
	disk->state = ATOM_DISK_ATTACHED;
	disk->client_data = cfg->client_data;

	ret = ida_alloc(&atom_index_ida, GFP_KERNEL);
	if (ret < 0)
		goto out_free_disk;
	disk->index = ret;

	disk->tag_set.ops = &atom_mq_ops;
	disk->tag_set.nr_hw_queues = 1;
	disk->tag_set.queue_depth = ATOM_QUEUE_DEPTH;
	disk->tag_set.numa_node = NUMA_NO_NODE;
	disk->tag_set.cmd_size = sizeof(struct atom_cmd);
	/*
	 * Blocking: the client allocates leg bios (GFP_NOIO) in ->queue_rq().
	 * No IO scheduler by default: the legs below schedule their own IO, and
	 * with one (mq-deadline) every dispatch of a blocking queue is punted
	 * to kblockd instead of being issued from the submitter's context,
	 * which cut a linear volume's and a mirror's read IOPS by more than
	 * half in `make bench` on 6.1 (measured before this flag was set).
	 */
	disk->tag_set.flags =
		BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_BLOCKING | BLK_MQ_F_NO_SCHED_BY_DEFAULT;
	disk->tag_set.driver_data = disk;
	ret = blk_mq_alloc_tag_set(&disk->tag_set);
	if (ret)
		goto out_free_index;

	gd = atom_compat_alloc_disk(&disk->tag_set, &limits, disk);
	if (IS_ERR(gd)) {
		ret = PTR_ERR(gd);
		goto out_free_tag_set;
	}
	disk->gd = gd;
	gd->major = atom_major;
	gd->first_minor = disk->index;
	gd->minors = 1;
	gd->flags |= GENHD_FL_NO_PART;
	gd->fops = &atom_fops;
	gd->private_data = disk;
	snprintf(gd->disk_name, sizeof(gd->disk_name), "atom%d", disk->index);
	set_capacity(gd, cfg->capacity_sectors);

	/* A disk pins atom.ko: `rmmod atom` is refused while disks exist. */
	__module_get(THIS_MODULE);
	ret = device_add_disk(NULL, gd, atom_disk_attr_groups);
	if (ret)
		goto out_put_module;

	list_add_tail(&disk->node, &atom_disks);
	atom_ndisks++;
	mutex_unlock(&atom_mutex);
	*ret_disk = disk;
	return 0;

out_put_module:
	module_put(THIS_MODULE);
	put_disk(gd);
out_free_tag_set:
	blk_mq_free_tag_set(&disk->tag_set);
out_free_index:
	ida_free(&atom_index_ida, disk->index);
out_free_disk:
	kfree(disk);
out_unlock:
	mutex_unlock(&atom_mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(atom_add_disk);

void atom_remove_disk(struct atom_disk *disk)
{
	LIST_HEAD(failed);

	mutex_lock(&atom_mutex);
	list_del(&disk->node);
	atom_ndisks--;

	/* Fail held requests first: del_gendisk() freezes the queue. */
	spin_lock_irq(&disk->lock);
	disk->state = ATOM_DISK_DYING;
	list_splice_init(&disk->held, &failed);
	disk->nr_held = 0;
	spin_unlock_irq(&disk->lock);
	atom_fail_list(&failed);
	cancel_delayed_work_sync(&disk->hold_work);

	del_gendisk(disk->gd);
	put_disk(disk->gd);
	blk_mq_free_tag_set(&disk->tag_set);
	ida_free(&atom_index_ida, disk->index);
	module_put(THIS_MODULE);
	mutex_unlock(&atom_mutex);

	mutex_lock(&atom_record_mutex);
	kfree(disk->record);
	mutex_unlock(&atom_record_mutex);
	kfree(disk);
}
EXPORT_SYMBOL_GPL(atom_remove_disk);

int atom_disk_set_capacity(struct atom_disk *disk, sector_t capacity_sectors)
{
	if (!capacity_sectors)
		return -EINVAL;
	set_capacity_and_notify(disk->gd, capacity_sectors);
	return 0;
}
EXPORT_SYMBOL_GPL(atom_disk_set_capacity);

sector_t atom_disk_capacity(struct atom_disk *disk)
{
	return get_capacity(disk->gd);
}
EXPORT_SYMBOL_GPL(atom_disk_capacity);

const char *atom_disk_volume_id(struct atom_disk *disk)
{
	return disk->volume_id;
}
EXPORT_SYMBOL_GPL(atom_disk_volume_id);

const char *atom_disk_name(struct atom_disk *disk)
{
	return disk->gd->disk_name;
}
EXPORT_SYMBOL_GPL(atom_disk_name);

void atom_disk_set_client_data(struct atom_disk *disk, void *client_data)
{
	spin_lock_irq(&disk->lock);
	disk->client_data = client_data;
	spin_unlock_irq(&disk->lock);
}
EXPORT_SYMBOL_GPL(atom_disk_set_client_data);

/* Replace the record in @slot (length in @slot_len) by a copy of @buf. */
static int atom_store_record(void **slot, size_t *slot_len, const void *buf, size_t len)
{
	void *copy = NULL;

	if (len > ATOM_RECORD_MAX)
		return -EINVAL;
	if (len) {
		copy = kmemdup(buf, len, GFP_KERNEL);
		if (!copy)
			return -ENOMEM;
	}
	mutex_lock(&atom_record_mutex);
	kfree(*slot);
	*slot = copy;
	*slot_len = len;
	mutex_unlock(&atom_record_mutex);
	return 0;
}

static ssize_t atom_fetch_record(void **slot, size_t *slot_len, void *buf, size_t len)
{
	ssize_t ret;

	mutex_lock(&atom_record_mutex);
	ret = *slot_len;
	if (*slot)
		memcpy(buf, *slot, min(len, *slot_len));
	mutex_unlock(&atom_record_mutex);
	return ret;
}

int atom_disk_set_record(struct atom_disk *disk, const void *buf, size_t len)
{
	return atom_store_record(&disk->record, &disk->record_len, buf, len);
}
EXPORT_SYMBOL_GPL(atom_disk_set_record);

ssize_t atom_disk_get_record(struct atom_disk *disk, void *buf, size_t len)
{
	return atom_fetch_record(&disk->record, &disk->record_len, buf, len);
}
EXPORT_SYMBOL_GPL(atom_disk_get_record);

int atom_set_global_record(const void *buf, size_t len)
{
	return atom_store_record(&atom_global_record, &atom_global_record_len, buf, len);
}
EXPORT_SYMBOL_GPL(atom_set_global_record);

ssize_t atom_get_global_record(void *buf, size_t len)
{
	return atom_fetch_record(&atom_global_record, &atom_global_record_len, buf, len);
}
EXPORT_SYMBOL_GPL(atom_get_global_record);

int atom_for_each_disk(int (*fn)(struct atom_disk *disk, void *priv), void *priv)
{
	struct atom_disk *disk;
	int ret = 0;

	mutex_lock(&atom_mutex);
	list_for_each_entry(disk, &atom_disks, node) {
		ret = fn(disk, priv);
		if (ret)
			break;
	}
	mutex_unlock(&atom_mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(atom_for_each_disk);

static int __init atom_init(void)
{
	int ret;

	ret = register_blkdev(0, "atom");
	if (ret < 0)
		return ret;
	atom_major = ret;

	ret = atom_sysfs_init();
	if (ret)
		goto out_unregister_blkdev;
	pr_info("loaded, ABI %u, hold_secs %d\n", ATOM_ABI_VERSION, atom_hold_secs_default);
	return 0;

out_unregister_blkdev:
	unregister_blkdev(atom_major, "atom");
	return ret;
}

/* Disks hold a module reference, so there are none left here. */
static void __exit atom_exit(void)
{
	atom_sysfs_exit();
	unregister_blkdev(atom_major, "atom");
	ida_destroy(&atom_index_ida);
	kfree(atom_global_record);
	pr_info("unloaded\n");
}

module_init(atom_init);
module_exit(atom_exit);
MODULE_DESCRIPTION("atomblk atom: block disks that survive a client module swap");
MODULE_LICENSE("GPL");
MODULE_VERSION(__stringify(ATOM_ABI_VERSION));
