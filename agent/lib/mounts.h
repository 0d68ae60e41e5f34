/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mounts — the mount table (read with libmount from a mountinfo file,
 * default <ROOT_PROC>/self/mountinfo) and thin mount(2)/umount2(2)
 * wrappers for what the Node service does: mount a filesystem, bind mount
 * a directory or a device node, remount a bind read-only, unmount.
 */
#ifndef ATOMBLK_MOUNTS_H
#define ATOMBLK_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One mountinfo line, the fields the agent looks at. */
struct mount_entry {
	char source[256]; /* "/dev/atom0", "udev", ... */
	char target[4096]; /* the mount point */
	char fstype[32]; /* "ext4", "devtmpfs", ... */
	char root[4096]; /* path inside the filesystem: "/" or "/atom0" for a bound device node */
	dev_t devno; /* st_dev of the filesystem */
	bool readonly; /* per-mount "ro" */
};

/*
 * mounts_find_target() - the topmost mount on @target in @mountinfo (NULL =
 * the default file).
 * Return: 0; -ENOENT if nothing is mounted there; -errno.
 */
int mounts_find_target(const char *mountinfo, const char *target, struct mount_entry *ret);

/* mounts_is_mountpoint() - something is mounted on @target (by the table). */
bool mounts_is_mountpoint(const char *mountinfo, const char *target);

/*
 * mounts_list_device() - every mount of block device @devno: filesystems
 * on it (matched by st_dev) and bind mounts of its device node
 * ("/<@disk_name>" root on a devtmpfs), in a malloc'd array (free() it).
 * @disk_name: "atom0", or NULL to match filesystems only.
 * Return: 0 (possibly with *ret_count 0); -errno.
 */
int mounts_list_device(const char *mountinfo, dev_t devno, const char *disk_name,
		       struct mount_entry **ret, size_t *ret_count);

/*
 * mounts_parse_options() - split comma-separated mount options (@options,
 * "noatime,nodiscard,data=ordered") into MS_* flags and the filesystem's own
 * data string (malloc'd, may be NULL).
 * Return: 0; -EINVAL for an option that only mount(8) understands
 * ("user", "loop", ...) or that must not be asked for ("remount", "bind",
 * "move"); -ENOMEM.
 */
int mounts_parse_options(const char *options, unsigned long *ret_flags, char **ret_data);

/* mounts_mount() - mount(2) a filesystem; -errno. */
int mounts_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		 const char *data);

/*
 * mounts_bind() - bind mount @source on @target, then, if @readonly or
 * @extra_flags ask for it, remount the bind with MS_RDONLY and those flags
 * (a bind ignores them on the first call). On a failed remount the bind is
 * undone. Return: 0, -errno.
 */
int mounts_bind(const char *source, const char *target, bool readonly, unsigned long extra_flags);

/* mounts_umount() - unmount @target; 0 also if it was not mounted (EINVAL). */
int mounts_umount(const char *target);

#endif
