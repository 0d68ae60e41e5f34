// SPDX-License-Identifier: GPL-2.0
/*
 * client_ctl.c - the control device /dev/atomblk-ctl (uapi/atomblk.h):
 * create, remove, resize, status and list volumes. Every call validates
 * all of its input before it changes anything, and undoes its own partial
 * work on failure, so a failed call leaves no trace.
 */
#define pr_fmt(fmt) "atom_client: " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "client.h"

static bool client_ctl_closed; /* module_exit began; under client_mutex */

/* A fixed-size string from userspace: non-empty and NUL-terminated. */
static bool client_ctl_string_valid(const char *s, size_t size)
{
	return s[0] && memchr(s, '\0', size);
}

static bool client_ctl_version_valid(const struct atomblk_ctl_hdr *hdr)
{
	return hdr->uapi_version >= ATOMBLK_UAPI_VERSION_MIN &&
	       hdr->uapi_version <= ATOMBLK_UAPI_VERSION;
}

static bool client_ctl_size_valid(u64 size)
{
	return size && IS_ALIGNED(size, ATOMBLK_SIZE_ALIGN) && size <= (u64)MAX_LFS_FILESIZE;
}

/*
 * A create request's leg path: a terminated path, or from uapi version 2 on
 * the empty string (a missing mirror leg; the layout rules are checked on
 * the whole volume by client_volume_legs_valid()).
 */
static bool client_ctl_leg_valid(const struct atomblk_create *req, unsigned int i)
{
	if (!req->legs[i][0])
		return req->hdr.uapi_version >= ATOMBLK_UAPI_VERSION_MISSING_LEG;
	return client_ctl_string_valid(req->legs[i], sizeof(req->legs[i]));
}

/*
 * Version 3 leg flags: known bits only, and none past nr_legs. Older
 * versions carry no flags (their layout ends before leg_flags).
 */
static bool client_ctl_leg_flags_valid(const struct atomblk_create *req)
{
	unsigned int i;

	if (req->hdr.uapi_version < ATOMBLK_UAPI_VERSION_LEG_FLAGS)
		return true;
	for (i = 0; i < ATOMBLK_LEGS_MAX; i++) {
		if (req->leg_flags[i] & ~ATOMBLK_LEG_FLAGS_KNOWN)
			return false;
		if (i >= req->nr_legs && req->leg_flags[i])
			return false;
	}
	return true;
}

/*
 * The disk's logical block size: the largest of the present legs' (a
 * file-backed nvmet namespace on XFS has 4096-byte blocks), so that no IO
 * the filesystem sends is smaller than a leg accepts.
 */
static unsigned int client_ctl_logical_block_size(const struct client_volume *vol)
{
	unsigned int i, lbs = SECTOR_SIZE;

	for (i = 0; i < vol->nr_legs; i++)
		if (vol->legs[i].dev.bdev)
			lbs = max(lbs, bdev_logical_block_size(vol->legs[i].dev.bdev));
	return lbs;
}

static int client_ctl_create(struct atomblk_create *req)
{
	struct atom_disk_config cfg = {};
	struct client_volume *vol;
	unsigned int i;
	int ret;

	if (!client_ctl_string_valid(req->id, sizeof(req->id)) || !client_ctl_size_valid(req->size))
		return -EINVAL;
	switch (req->layout) {
	case ATOMBLK_LAYOUT_LINEAR:
		if (req->nr_legs < 1 || req->nr_legs > ATOMBLK_LEGS_MAX)
			return -EINVAL;
		break;
	case ATOMBLK_LAYOUT_MIRROR:
		if (req->nr_legs < ATOMBLK_MIRROR_LEGS_MIN ||
		    req->nr_legs > ATOMBLK_MIRROR_LEGS_MAX)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	for (i = 0; i < req->nr_legs; i++)
		if (!client_ctl_leg_valid(req, i))
			return -EINVAL;
	if (!client_ctl_leg_flags_valid(req))
		return -EINVAL;
	if (client_find_volume(req->id))
		return -EEXIST;

	vol = kzalloc(sizeof(*vol), GFP_KERNEL);
	if (!vol)
		return -ENOMEM;
	INIT_LIST_HEAD(&vol->node);
	strscpy(vol->id, req->id, sizeof(vol->id));
	vol->layout = req->layout;
	vol->nr_legs = req->nr_legs;
	vol->size = req->size >> SECTOR_SHIFT;
	for (i = 0; i < req->nr_legs; i++) {
		strscpy(vol->legs[i].path, req->legs[i], sizeof(vol->legs[i].path));
		if (req->hdr.uapi_version >= ATOMBLK_UAPI_VERSION_LEG_FLAGS)
			vol->legs[i].flags = req->leg_flags[i];
	}
	if (!client_volume_legs_valid(vol)) {
		ret = -EINVAL;
		goto out_free_vol;
	}

	ret = client_volume_open_legs(vol, false);
	if (ret) {
		/* A path that is not a block device is bad input. */
		if (ret == -ENOTBLK)
			ret = -EINVAL;
		goto out_free_vol;
	}
	if (vol->size > client_volume_capacity(vol)) {
		ret = -EINVAL;
		goto out_close_legs;
	}

	vol->generation = atom_generation();
	cfg.volume_id = vol->id;
	cfg.capacity_sectors = vol->size;
	cfg.client_data = vol;
	cfg.logical_block_size = client_ctl_logical_block_size(vol);
	ret = atom_add_disk(&cfg, &vol->disk);
	if (ret)
		goto out_close_legs;
	list_add_tail(&vol->node, &client_volumes);

	strscpy(req->disk, atom_disk_name(vol->disk), sizeof(req->disk));
	pr_info("%s: created on %s, %s over %u legs, %llu bytes%s\n", vol->id, req->disk,
		vol->layout == ATOMBLK_LAYOUT_MIRROR ? "mirror" : "linear", vol->nr_legs,
		(unsigned long long)req->size,
		client_volume_state(vol) == ATOMBLK_VOLUME_DEGRADED ? ", degraded (leg missing)" :
								      "");
	return 0;

out_close_legs:
	client_volume_close_legs(vol);
out_free_vol:
	client_volume_free(vol);
	return ret;
}

static int client_ctl_remove(struct atomblk_remove *req)
{
	struct client_volume *vol;

	if (!client_ctl_string_valid(req->id, sizeof(req->id)))
		return -EINVAL;
	vol = client_find_volume(req->id);
	if (!vol)
		return -ENOENT;
	/* The atom fails what it holds and waits for what we own. */
	atom_remove_disk(vol->disk);
	list_del(&vol->node);
	client_volume_close_legs(vol);
	pr_info("%s: removed\n", vol->id);
	client_volume_free(vol);
	return 0;
}

/*
 * Re-read the size of legs that may have grown since they were opened (an
 * NVMe-oF namespace rescanned after its replica was expanded): every mirror
 * leg with a device, and the last leg of a linear volume (growing an
 * earlier one would move the offsets of the legs after it). Sizes only
 * grow here, and no IO maps past the disk's capacity, which grows after.
 */
static void client_ctl_refresh_leg_sizes(struct client_volume *vol)
{
	unsigned int i = vol->layout == ATOMBLK_LAYOUT_MIRROR ? 0 : vol->nr_legs - 1;
	sector_t nr;

	for (; i < vol->nr_legs; i++) {
		struct client_leg *leg = &vol->legs[i];

		if (!leg->dev.bdev)
			continue;
		nr = round_down(bdev_nr_sectors(leg->dev.bdev), CLIENT_SIZE_ALIGN_SECTORS);
		if (nr > leg->nr_sectors)
			WRITE_ONCE(leg->nr_sectors, nr);
	}
}

static int client_ctl_resize(struct atomblk_resize *req)
{
	struct client_volume *vol;
	int ret;

	if (!client_ctl_string_valid(req->id, sizeof(req->id)) || !client_ctl_size_valid(req->size))
		return -EINVAL;
	vol = client_find_volume(req->id);
	if (!vol)
		return -ENOENT;
	client_ctl_refresh_leg_sizes(vol);
	if ((req->size >> SECTOR_SHIFT) > client_volume_capacity(vol))
		return -EINVAL;
	ret = atom_disk_set_capacity(vol->disk, req->size >> SECTOR_SHIFT);
	if (ret)
		return ret;
	vol->size = req->size >> SECTOR_SHIFT;
	return 0;
}

static int client_ctl_status(struct atomblk_status *req)
{
	struct client_volume *vol;
	unsigned int i;

	if (!client_ctl_string_valid(req->id, sizeof(req->id)))
		return -EINVAL;
	vol = client_find_volume(req->id);
	if (!vol)
		return -ENOENT;
	strscpy(req->disk, atom_disk_name(vol->disk), sizeof(req->disk));
	req->size = (u64)vol->size << SECTOR_SHIFT;
	req->layout = vol->layout;
	req->state = client_volume_state(vol);
	req->nr_legs = vol->nr_legs;
	for (i = 0; i < vol->nr_legs; i++) {
		strscpy(req->legs[i].path, vol->legs[i].path, sizeof(req->legs[i].path));
		req->legs[i].state =
			READ_ONCE(vol->legs[i].faulty) ? ATOMBLK_LEG_FAULTY : ATOMBLK_LEG_OK;
		if (req->hdr.uapi_version >= ATOMBLK_UAPI_VERSION_LEG_FLAGS)
			req->leg_flags[i] = vol->legs[i].flags;
	}
	return 0;
}

static int client_ctl_list(struct atomblk_list *req)
{
	struct atomblk_list_entry __user *uentries = u64_to_user_ptr(req->entries_ptr);
	struct atomblk_list_entry entry;
	struct client_volume *vol;
	u32 n = 0;

	list_for_each_entry(vol, &client_volumes, node) {
		if (n < req->capacity) {
			memset(&entry, 0, sizeof(entry));
			strscpy(entry.id, vol->id, sizeof(entry.id));
			strscpy(entry.disk, atom_disk_name(vol->disk), sizeof(entry.disk));
			entry.size = (u64)vol->size << SECTOR_SHIFT;
			entry.layout = vol->layout;
			entry.state = client_volume_state(vol);
			if (copy_to_user(&uentries[n], &entry, sizeof(entry)))
				return -EFAULT;
		}
		n++;
	}
	req->count = n;
	return 0;
}

/*
 * Whether the request's version matches the layout its command carries:
 * a version 3 create or status comes in the grown layout, an older one in
 * the original; the other commands did not change.
 */
static bool client_ctl_layout_valid(unsigned int cmd, const struct atomblk_ctl_hdr *hdr)
{
	bool grown = hdr->uapi_version >= ATOMBLK_UAPI_VERSION_LEG_FLAGS;

	switch (cmd) {
	case ATOMBLK_IOC_CREATE:
	case ATOMBLK_IOC_STATUS:
		return !grown;
	case ATOMBLK_IOC_CREATE_V3:
	case ATOMBLK_IOC_STATUS_V3:
		return grown;
	default:
		return true;
	}
}

static long client_ctl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	size_t size = _IOC_SIZE(cmd);
	void *req;
	long ret;

	BUILD_BUG_ON(offsetof(struct atomblk_create, leg_flags) != ATOMBLK_CREATE_V1_SIZE);
	BUILD_BUG_ON(offsetof(struct atomblk_status, leg_flags) != ATOMBLK_STATUS_V1_SIZE);
	switch (cmd) {
	case ATOMBLK_IOC_CREATE:
	case ATOMBLK_IOC_CREATE_V3:
	case ATOMBLK_IOC_REMOVE:
	case ATOMBLK_IOC_RESIZE:
	case ATOMBLK_IOC_STATUS:
	case ATOMBLK_IOC_STATUS_V3:
	case ATOMBLK_IOC_LIST:
		break;
	default:
		return -ENOTTY;
	}

	req = memdup_user(uarg, size);
	if (IS_ERR(req))
		return PTR_ERR(req);
	if (!client_ctl_version_valid(req) || !client_ctl_layout_valid(cmd, req)) {
		ret = -EINVAL;
		goto out_free;
	}

	mutex_lock(&client_mutex);
	if (client_ctl_closed) {
		ret = -ESHUTDOWN;
		goto out_unlock;
	}
	switch (cmd) {
	case ATOMBLK_IOC_CREATE:
	case ATOMBLK_IOC_CREATE_V3:
		ret = client_ctl_create(req);
		break;
	case ATOMBLK_IOC_REMOVE:
		ret = client_ctl_remove(req);
		break;
	case ATOMBLK_IOC_RESIZE:
		ret = client_ctl_resize(req);
		break;
	case ATOMBLK_IOC_STATUS:
	case ATOMBLK_IOC_STATUS_V3:
		ret = client_ctl_status(req);
		break;
	case ATOMBLK_IOC_LIST:
		ret = client_ctl_list(req);
		break;
	default:
		ret = -ENOTTY;
	}
	if (!ret && (_IOC_DIR(cmd) & _IOC_READ) && copy_to_user(uarg, req, size))
		ret = -EFAULT;
out_unlock:
	mutex_unlock(&client_mutex);
out_free:
	kfree(req);
	return ret;
}

static const struct file_operations client_ctl_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = client_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice client_ctl_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "atomblk-ctl",
	.fops = &client_ctl_fops,
	.mode = 0600,
};

int client_ctl_init(void)
{
	mutex_lock(&client_mutex);
	client_ctl_closed = false;
	mutex_unlock(&client_mutex);
	return misc_register(&client_ctl_misc);
}

/* An open control file pins the module, so no call is running here. */
void client_ctl_exit(void)
{
	mutex_lock(&client_mutex);
	client_ctl_closed = true;
	mutex_unlock(&client_mutex);
	misc_deregister(&client_ctl_misc);
}
