// SPDX-License-Identifier: GPL-2.0
/*
 * atom_client.ko - the replaceable half of atomblk: volume layouts over
 * legs, the IO mapping, and the control device.
 *
 * module_init adopts: for every disk the atom holds, read the volume's
 * state record, reopen its legs, attach the volume to the disk, then
 * register with the atom, which re-dispatches the parked IO to us. If any
 * step fails, everything done so far is undone and insmod fails: the atom
 * keeps holding the IO for the next attempt.
 *
 * module_exit abandons, in this order:
 *  1. refuse control calls (a caller in an ioctl pins the module, so none
 *     runs here) and remove the control device;
 *  2. atom_unregister_client(): the atom stops dispatching, waits until we
 *     ended every request we own, and fences its calls into us;
 *  3. wait for our retry work and for bio completions still running our
 *     code after they ended their request (workqueue destroy, RCU);
 *  4. save each volume's record (leg health after the drain), release the
 *     legs, free everything.
 */
#define pr_fmt(fmt) "atom_client: " fmt

#include <linux/delay.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "client.h"

DEFINE_MUTEX(client_mutex); /* volumes and control calls */
LIST_HEAD(client_volumes); /* every volume, under client_mutex */
struct bio_set client_bioset; /* leg bios, front pad: struct client_bio */
struct workqueue_struct *client_wq; /* deferred leg bios (client_submit.c), read retries */

static struct atom_client client_atom_client = {
	.abi_version = ATOM_ABI_VERSION,
	.name = CLIENT_NAME,
	.version = ATOM_CLIENT_VERSION,
	.ops =
		&(const struct atom_client_ops){
			.queue_rq = client_queue_rq,
		},
};

#ifdef ATOM_CLIENT_FAULT_INJECTION
static bool client_fail_adopt;
module_param_named(fail_adopt, client_fail_adopt, bool, 0644);
MODULE_PARM_DESC(fail_adopt,
		 "Test: fail insmod with -EIO after reading the records (default: false)");

static unsigned int client_abandon_delay;
module_param_named(abandon_delay_ms, client_abandon_delay, uint, 0644);
MODULE_PARM_DESC(abandon_delay_ms,
		 "Test: sleep this long in module_exit before abandoning (default: 0)");

/*
 * The leg check runs for every leg bio of a test build: unarmed, it is one
 * read, so a test build's data path stays the production one (it used to
 * take this global lock with interrupts off for every leg bio).
 */
static DEFINE_SPINLOCK(client_fail_leg_lock);
static bool client_fail_leg_armed; /* client_fail_leg_volume[0] != '\0' */
static char client_fail_leg_volume[ATOMBLK_ID_MAX]; /* "" = no leg fails */
static unsigned int client_fail_leg_index;

/* "VOLUME_ID:LEG_INDEX", or an empty string for none. */
static int client_fail_leg_set(const char *val, const struct kernel_param *kp)
{
	char volume[ATOMBLK_ID_MAX] = "";
	unsigned int index = 0;
	const char *colon;
	size_t len = strcspn(val, "\n");

	if (len) {
		colon = strrchr(val, ':');
		if (!colon || colon == val || colon - val >= ATOMBLK_ID_MAX)
			return -EINVAL;
		if (sscanf(colon + 1, "%u", &index) != 1 || index >= ATOMBLK_LEGS_MAX)
			return -EINVAL;
		memcpy(volume, val, colon - val);
		volume[colon - val] = '\0';
	}
	spin_lock(&client_fail_leg_lock);
	strscpy(client_fail_leg_volume, volume, sizeof(client_fail_leg_volume));
	client_fail_leg_index = index;
	WRITE_ONCE(client_fail_leg_armed, volume[0] != '\0');
	spin_unlock(&client_fail_leg_lock);
	return 0;
}

static int client_fail_leg_get(char *buf, const struct kernel_param *kp)
{
	int ret;

	spin_lock(&client_fail_leg_lock);
	if (client_fail_leg_volume[0])
		ret = sysfs_emit(buf, "%s:%u\n", client_fail_leg_volume, client_fail_leg_index);
	else
		ret = sysfs_emit(buf, "\n");
	spin_unlock(&client_fail_leg_lock);
	return ret;
}

static const struct kernel_param_ops client_fail_leg_ops = {
	.set = client_fail_leg_set,
	.get = client_fail_leg_get,
};
module_param_cb(fail_leg, &client_fail_leg_ops, NULL, 0644);
MODULE_PARM_DESC(
	fail_leg,
	"Test: every IO to leg VOLUME_ID:LEG_INDEX fails with EIO; empty = none (default: empty)");

bool client_should_fail_adopt(void)
{
	return READ_ONCE(client_fail_adopt);
}

bool client_should_fail_leg(struct client_volume *vol, unsigned int leg)
{
	bool fail;

	if (!READ_ONCE(client_fail_leg_armed))
		return false;
	spin_lock(&client_fail_leg_lock);
	fail = client_fail_leg_volume[0] && leg == client_fail_leg_index &&
	       !strcmp(client_fail_leg_volume, vol->id);
	spin_unlock(&client_fail_leg_lock);
	return fail;
}

unsigned int client_abandon_delay_ms(void)
{
	return READ_ONCE(client_abandon_delay);
}
#endif /* ATOM_CLIENT_FAULT_INJECTION */

struct client_volume *client_find_volume(const char *id)
{
	struct client_volume *vol;

	list_for_each_entry(vol, &client_volumes, node)
		if (!strcmp(vol->id, id))
			return vol;
	return NULL;
}

void client_volume_close_legs(struct client_volume *vol)
{
	unsigned int i;

	for (i = 0; i < vol->nr_legs; i++)
		atom_compat_bdev_close(&vol->legs[i].dev);
}

/*
 * Missing legs (path "") are for mirrors only, and a mirror needs at least
 * one leg that is not missing.
 */
bool client_volume_legs_valid(const struct client_volume *vol)
{
	unsigned int i, missing = 0;

	for (i = 0; i < vol->nr_legs; i++)
		missing += client_leg_is_missing(&vol->legs[i]);
	if (vol->layout == ATOMBLK_LAYOUT_LINEAR)
		return !missing;
	return missing < vol->nr_legs;
}

/*
 * Open every leg of @vol by path (claimed by the volume) and compute the
 * usable sizes and the linear offsets. The same device twice is -EINVAL.
 * A missing mirror leg is not opened and marked faulty. When @adopting, a
 * mirror leg the record says is faulty and whose device cannot be opened
 * (e.g. its NVMe-oF namespace went away with its storage node) is kept
 * without a device too: refusing it would keep every volume's IO held.
 */
int client_volume_open_legs(struct client_volume *vol, bool adopting)
{
	sector_t start = 0;
	unsigned int i, j;
	int ret;

	for (i = 0; i < vol->nr_legs; i++) {
		struct client_leg *leg = &vol->legs[i];

		leg->nr_sectors = 0;
		leg->start = start;
		if (client_leg_is_missing(leg)) {
			leg->faulty = true;
			continue;
		}
		ret = atom_compat_bdev_open(&leg->dev, leg->path, vol);
		if (ret && adopting && leg->faulty && vol->layout == ATOMBLK_LAYOUT_MIRROR) {
			pr_warn("%s: faulty leg %u (%s) cannot be reopened (%d), kept without a device\n",
				vol->id, i, leg->path, ret);
			continue;
		}
		if (ret)
			goto out_close;
		for (j = 0; j < i; j++) {
			if (vol->legs[j].dev.bdev == leg->dev.bdev) {
				ret = -EINVAL;
				goto out_close;
			}
		}
		leg->nr_sectors =
			round_down(bdev_nr_sectors(leg->dev.bdev), CLIENT_SIZE_ALIGN_SECTORS);
		start += leg->nr_sectors;
	}
	return 0;

out_close:
	client_volume_close_legs(vol);
	return ret;
}

/*
 * Sectors of volume data the opened legs of @vol can hold: their sum
 * (linear) or the smallest leg with a device (mirror; 0 if none has one).
 */
sector_t client_volume_capacity(struct client_volume *vol)
{
	sector_t cap = 0;
	bool first = true;
	unsigned int i;

	for (i = 0; i < vol->nr_legs; i++) {
		if (vol->layout == ATOMBLK_LAYOUT_LINEAR) {
			cap += vol->legs[i].nr_sectors;
		} else if (vol->legs[i].dev.bdev) {
			if (first || vol->legs[i].nr_sectors < cap)
				cap = vol->legs[i].nr_sectors;
			first = false;
		}
	}
	return cap;
}

/* A mirror whose every leg lacks a device: IO fails, but it may be adopted. */
static bool client_volume_has_no_device(struct client_volume *vol)
{
	unsigned int i;

	for (i = 0; i < vol->nr_legs; i++)
		if (vol->legs[i].dev.bdev)
			return false;
	return true;
}

void client_volume_free(struct client_volume *vol)
{
	kfree(vol);
}

/* Adopt one disk: record -> volume -> legs -> attach. */
static int client_adopt_disk(struct atom_disk *disk, void *priv)
{
	struct client_volume *vol;
	int ret;

	vol = client_record_load(disk);
	if (IS_ERR(vol))
		return PTR_ERR(vol);
	ret = client_volume_open_legs(vol, true);
	if (ret) {
		pr_err("%s: cannot reopen the legs of %s (%d)\n", atom_disk_name(disk), vol->id,
		       ret);
		client_volume_free(vol);
		return ret;
	}
	if (client_volume_has_no_device(vol)) {
		pr_warn("%s: no leg of %s has a device, its IO fails\n", atom_disk_name(disk),
			vol->id);
	} else if (vol->size > client_volume_capacity(vol)) {
		pr_err("%s: legs of %s shrank below the volume size\n", atom_disk_name(disk),
		       vol->id);
		client_volume_close_legs(vol);
		client_volume_free(vol);
		return -EINVAL;
	}
	vol->disk = disk;
	atomic_set(&vol->read_cursor, 0);
	list_add_tail(&vol->node, &client_volumes);
	return 0;
}

/* Undo client_adopt_disk() for every volume; also the exit teardown. */
static void client_release_volumes(bool save_records)
{
	struct client_volume *vol, *next;
	int ret;

	list_for_each_entry_safe(vol, next, &client_volumes, node) {
		if (save_records) {
			ret = client_record_save(vol);
			if (ret)
				pr_err("%s: saving the state record failed (%d)\n", vol->id, ret);
		}
		client_volume_close_legs(vol);
		list_del(&vol->node);
		client_volume_free(vol);
	}
}

static int client_attach_volumes(void)
{
	struct client_volume *vol;
	u64 generation = atom_generation() + 1; /* the one register makes */

	list_for_each_entry(vol, &client_volumes, node) {
		vol->generation = generation;
		atom_disk_set_client_data(vol->disk, vol);
	}
	return 0;
}

static void client_detach_volumes(void)
{
	struct client_volume *vol;

	list_for_each_entry(vol, &client_volumes, node)
		atom_disk_set_client_data(vol->disk, NULL);
}

static int __init client_init(void)
{
	int ret;

	ret = bioset_init(&client_bioset, BIO_POOL_SIZE, offsetof(struct client_bio, bio),
			  BIOSET_NEED_BVECS | BIOSET_NEED_RESCUER);
	if (ret)
		return ret;
	/*
	 * On the IO path of every request with a deferred leg bio, as kblockd
	 * is on the path of the requests it dispatches, and with the same
	 * flags: a rescuer (the legs may be under memory reclaim) and the
	 * high-priority pool, so a queued bio goes out when its work is
	 * queued rather than when the submitting task next sleeps.
	 */
	client_wq = alloc_workqueue("atom_client", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	if (!client_wq) {
		ret = -ENOMEM;
		goto out_exit_bioset;
	}

	mutex_lock(&client_mutex);
	ret = atom_for_each_disk(client_adopt_disk, NULL);
	if (ret)
		goto out_release_volumes;
	if (client_should_fail_adopt()) {
		pr_err("fault injection: failing adoption\n");
		ret = -EIO;
		goto out_release_volumes;
	}
	client_attach_volumes();
	ret = atom_register_client(&client_atom_client);
	if (ret)
		goto out_detach_volumes;
	mutex_unlock(&client_mutex);

	ret = client_ctl_init();
	if (ret)
		goto out_unregister;
	pr_info("version %s loaded, %u ABI\n", ATOM_CLIENT_VERSION, ATOM_ABI_VERSION);
	return 0;

out_unregister:
	mutex_lock(&client_mutex);
	atom_unregister_client(&client_atom_client);
	synchronize_rcu();
	client_release_volumes(true);
	goto out_unlock;
out_detach_volumes:
	client_detach_volumes();
out_release_volumes:
	client_release_volumes(false);
out_unlock:
	mutex_unlock(&client_mutex);
	destroy_workqueue(client_wq);
out_exit_bioset:
	bioset_exit(&client_bioset);
	pr_err("version %s: adoption failed (%d), IO stays held\n", ATOM_CLIENT_VERSION, ret);
	return ret;
}

static void __exit client_exit(void)
{
	unsigned int delay_ms = client_abandon_delay_ms();
	int ret;

	client_ctl_exit();
	if (delay_ms) {
		pr_info("fault injection: abandon delayed %u ms\n", delay_ms);
		msleep(delay_ms);
	}

	mutex_lock(&client_mutex);
	atom_unregister_client(&client_atom_client);
	/* Retries and bio completions may still run our code: wait them out. */
	flush_workqueue(client_wq);
	synchronize_rcu();
	client_release_volumes(true);
	ret = client_global_record_save();
	if (ret)
		pr_err("saving the global record failed (%d)\n", ret);
	mutex_unlock(&client_mutex);

	destroy_workqueue(client_wq);
	bioset_exit(&client_bioset);
	pr_info("version %s unloaded, IO held by the atom\n", ATOM_CLIENT_VERSION);
}

module_init(client_init);
module_exit(client_exit);
MODULE_DESCRIPTION("atomblk client: volume layouts over legs for atom disks");
MODULE_LICENSE("GPL");
MODULE_VERSION(ATOM_CLIENT_VERSION);
/* The atom ABI this build speaks: the agent checks it before a swap. */
MODULE_INFO(atom_abi, __stringify(ATOM_ABI_VERSION));
MODULE_SOFTDEP("pre: atom");
