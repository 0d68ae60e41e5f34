/* SPDX-License-Identifier: GPL-2.0 */
/*
 * atom_compat.h - the block-layer API differences between the kernels we
 * build for (Debian 12: 6.1 and 6.12). Every version test of the project
 * lives here; the rest of the code calls these helpers only.
 *
 * - Queue limits: from 6.9 blk_mq_alloc_disk() takes a struct queue_limits
 *   and cache/FUA are limit features; before, the queue is set up with
 *   blk_queue_*() calls after allocation.
 * - Opening a block device by path: from 6.9 bdev_file_open_by_path()
 *   returns a struct file (released with bdev_fput()); 6.1 has
 *   blkdev_get_by_path()/blkdev_put() with FMODE_EXCL for a claim.
 */
#ifndef ATOM_COMPAT_H
#define ATOM_COMPAT_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/version.h>

#define ATOM_COMPAT_NEW_BLOCK_API (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0))

/* The queue properties an atom disk is created with. */
struct atom_compat_limits {
	unsigned int logical_block_size; /* bytes */
	unsigned int physical_block_size; /* bytes */
	unsigned int max_hw_sectors; /* 512-byte sectors per request */
	bool write_cache; /* volatile cache: flushes reach the driver */
	bool fua; /* REQ_FUA reaches the driver */
};

static inline struct gendisk *atom_compat_alloc_disk(struct blk_mq_tag_set *set,
						     const struct atom_compat_limits *al,
						     void *queuedata)
{
#if ATOM_COMPAT_NEW_BLOCK_API
	struct queue_limits lim = {
		.logical_block_size = al->logical_block_size,
		.physical_block_size = al->physical_block_size,
		.max_hw_sectors = al->max_hw_sectors,
	};

	if (al->write_cache)
		lim.features |= BLK_FEAT_WRITE_CACHE;
	if (al->fua)
		lim.features |= BLK_FEAT_FUA;
	return blk_mq_alloc_disk(set, &lim, queuedata);
#else
	struct gendisk *disk = blk_mq_alloc_disk(set, queuedata);

	if (IS_ERR(disk))
		return disk;
	blk_queue_logical_block_size(disk->queue, al->logical_block_size);
	blk_queue_physical_block_size(disk->queue, al->physical_block_size);
	blk_queue_max_hw_sectors(disk->queue, al->max_hw_sectors);
	blk_queue_write_cache(disk->queue, al->write_cache, al->fua);
	/* From 6.11 a queue is rotational only if the driver says so. */
	blk_queue_flag_set(QUEUE_FLAG_NONROT, disk->queue);
	return disk;
#endif
}

/* An exclusively opened block device, read-write. */
struct atom_compat_bdev {
	struct block_device *bdev; /* the device, NULL when closed */
#if ATOM_COMPAT_NEW_BLOCK_API
	struct file *file; /* the open file that holds the claim */
#endif
};

/* Open @path read-write, claimed by @holder. 0 or -errno. */
static inline int atom_compat_bdev_open(struct atom_compat_bdev *h, const char *path, void *holder)
{
#if ATOM_COMPAT_NEW_BLOCK_API
	struct file *file;

	file = bdev_file_open_by_path(path, BLK_OPEN_READ | BLK_OPEN_WRITE, holder, NULL);
	if (IS_ERR(file))
		return PTR_ERR(file);
	h->file = file;
	h->bdev = file_bdev(file);
#else
	struct block_device *bdev;

	bdev = blkdev_get_by_path(path, FMODE_READ | FMODE_WRITE | FMODE_EXCL, holder);
	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	h->bdev = bdev;
#endif
	return 0;
}

/* Release a device opened by atom_compat_bdev_open(); NULL-safe. */
static inline void atom_compat_bdev_close(struct atom_compat_bdev *h)
{
	if (!h->bdev)
		return;
#if ATOM_COMPAT_NEW_BLOCK_API
	/* bdev_fput() drops the claim now; a plain fput() would defer it. */
	bdev_fput(h->file);
	h->file = NULL;
#else
	blkdev_put(h->bdev, FMODE_READ | FMODE_WRITE | FMODE_EXCL);
#endif
	h->bdev = NULL;
}

#endif /* ATOM_COMPAT_H */
