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

#define FSPROBE_TYPE_MAX 32

/*
 * fsprobe_type() - the signature on @path: "" when blank, else its type
 * ("ext4", "xfs", "swap", "LVM2_member", ...; a partition table as "gpt",
 * "dos"...).
 * Return: 0; -EMEDIUMTYPE when several signatures conflict (never blank);
 * -errno if the device cannot be read.
 */
int fsprobe_type(const char *path, char ret_type[FSPROBE_TYPE_MAX]);

#endif
