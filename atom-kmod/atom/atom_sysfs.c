// SPDX-License-Identifier: GPL-2.0
/*
 * atom_sysfs.c - status and controls of atom.ko in sysfs:
 * /sys/kernel/atom/ (global) and /sys/block/atomN/atom/ (per disk).
 * The agent and the tests read these; they never parse the kernel log.
 *
 * Per-disk handlers take only the disk's spinlock, never atom_mutex:
 * del_gendisk() runs under atom_mutex and waits for active handlers.
 */
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "atom_internal.h"

static struct kobject *atom_kobj; /* /sys/kernel/atom */

static ssize_t abi_version_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", ATOM_ABI_VERSION);
}

/* Name or version of the registered client; empty when there is none. */
static ssize_t atom_client_field_show(char *buf, bool version)
{
	struct atom_client *client;
	ssize_t ret;

	mutex_lock(&atom_mutex);
	client = rcu_dereference_protected(atom_client, lockdep_is_held(&atom_mutex));
	if (client)
		ret = sysfs_emit(buf, "%s\n", version ? client->version : client->name);
	else
		ret = sysfs_emit(buf, "\n");
	mutex_unlock(&atom_mutex);
	return ret;
}

static ssize_t client_name_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return atom_client_field_show(buf, false);
}

static ssize_t client_version_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return atom_client_field_show(buf, true);
}

static ssize_t generation_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", atom_generation());
}

static ssize_t ndisks_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(atom_ndisks));
}

static struct kobj_attribute atom_abi_version_attr = __ATTR_RO(abi_version);
static struct kobj_attribute atom_client_name_attr = __ATTR_RO(client_name);
static struct kobj_attribute atom_client_version_attr = __ATTR_RO(client_version);
static struct kobj_attribute atom_generation_attr = __ATTR_RO(generation);
static struct kobj_attribute atom_ndisks_attr = __ATTR_RO(ndisks);

static struct attribute *atom_global_attrs[] = {
	&atom_abi_version_attr.attr, &atom_client_name_attr.attr, &atom_client_version_attr.attr,
	&atom_generation_attr.attr,  &atom_ndisks_attr.attr,	  NULL,
};

static const struct attribute_group atom_global_group = {
	.attrs = atom_global_attrs,
};

static struct atom_disk *atom_dev_disk(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

static ssize_t volume_id_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", atom_dev_disk(dev)->volume_id);
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct atom_disk *disk = atom_dev_disk(dev);
	enum atom_disk_state state;

	spin_lock_irq(&disk->lock);
	state = disk->state;
	spin_unlock_irq(&disk->lock);
	return sysfs_emit(buf, "%s\n", atom_disk_state_name(state));
}

static ssize_t held_requests_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct atom_disk *disk = atom_dev_disk(dev);
	unsigned int n;

	spin_lock_irq(&disk->lock);
	n = disk->nr_held;
	spin_unlock_irq(&disk->lock);
	return sysfs_emit(buf, "%u\n", n);
}

static ssize_t last_pause_us_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct atom_disk *disk = atom_dev_disk(dev);
	u64 us;

	spin_lock_irq(&disk->lock);
	us = disk->last_pause_us;
	spin_unlock_irq(&disk->lock);
	return sysfs_emit(buf, "%llu\n", us);
}

static ssize_t hold_secs_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(atom_dev_disk(dev)->hold_secs));
}

/* Set the per-disk hold time (-1 = module default); a held disk re-arms. */
static ssize_t hold_secs_store(struct device *dev, struct device_attribute *attr, const char *buf,
			       size_t count)
{
	struct atom_disk *disk = atom_dev_disk(dev);
	int secs, ret;

	ret = kstrtoint(buf, 10, &secs);
	if (ret)
		return ret;
	if (secs < -1)
		return -EINVAL;
	WRITE_ONCE(disk->hold_secs, secs);
	atom_disk_rearm_hold(disk);
	return count;
}

/* Writing 1 fails every held request now and marks the disk abnormal. */
static ssize_t fail_held_store(struct device *dev, struct device_attribute *attr, const char *buf,
			       size_t count)
{
	bool fail;
	int ret;

	ret = kstrtobool(buf, &fail);
	if (ret)
		return ret;
	if (fail)
		atom_disk_fail_held(atom_dev_disk(dev));
	return count;
}

static DEVICE_ATTR_RO(volume_id);
static DEVICE_ATTR_RO(state);
static DEVICE_ATTR_RO(held_requests);
static DEVICE_ATTR_RO(last_pause_us);
static DEVICE_ATTR_RW(hold_secs);
static DEVICE_ATTR_WO(fail_held);

static struct attribute *atom_disk_attrs[] = {
	&dev_attr_volume_id.attr,
	&dev_attr_state.attr,
	&dev_attr_held_requests.attr,
	&dev_attr_last_pause_us.attr,
	&dev_attr_hold_secs.attr,
	&dev_attr_fail_held.attr,
	NULL,
};

static const struct attribute_group atom_disk_group = {
	.name = "atom",
	.attrs = atom_disk_attrs,
};

const struct attribute_group *atom_disk_attr_groups[] = {
	&atom_disk_group,
	NULL,
};

int atom_sysfs_init(void)
{
	int ret;

	atom_kobj = kobject_create_and_add("atom", kernel_kobj);
	if (!atom_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(atom_kobj, &atom_global_group);
	if (ret)
		goto out_put_kobj;
	return 0;

out_put_kobj:
	kobject_put(atom_kobj);
	return ret;
}

void atom_sysfs_exit(void)
{
	sysfs_remove_group(atom_kobj, &atom_global_group);
	kobject_put(atom_kobj);
}
