/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsprobe — what a block device (or image file) carries, by libblkid's
 * signature probe: nothing (blank: safe to format), a filesystem, a
 * partition table or something else (RAID member, LVM, swap...). The Node
 * service formats only blank devices.
 */
#ifndef ATOMBLK_FSPROBE_H
#define ATOMBLK_FSPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSPROBE_TYPE_MAX 32

/*
 * fsprobe_type() - the signature on @path: "" when blank, else its type
 * ("ext4", "xfs", "swap", "LVM2_member", ...; a partition table as "gpt",
 * "dos"...).
 * Return: 0; -EMEDIUMTYPE when several signatures conflict (never blank);
 * -errno if the device cannot be read.
 */
int fsprobe_type(const char *path, char ret_type[FSPROBE_TYPE_MAX]);

/*
 * fsprobe_fs_size() - the size in bytes the filesystem of @type ("ext2",
 * "ext3", "ext4", "xfs") on @path says it spans, from its superblock (ext:
 * block count times block size; xfs: data blocks times block size). A
 * filesystem grown online may be larger than the device it is read from.
 * Return: 0; -EOPNOTSUPP for another type; -EBADMSG when the superblock's
 * magic does not match @type; -errno if the device cannot be read.
 */
int fsprobe_fs_size(const char *path, const char *type, uint64_t *ret);

#endif
