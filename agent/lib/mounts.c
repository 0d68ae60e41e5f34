// SPDX-License-Identifier: GPL-2.0
/* Mount table and mount wrappers; see mounts.h. */
#include "lib/mounts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include <libmount/libmount.h>

#include "lib/roots.h"

static int table_load(const char *mountinfo, struct libmnt_table **ret)
{
	char path[PATH_MAX];
	struct libmnt_table *tb;
	int r;

	if (!mountinfo) {
		r = roots_path(ROOT_PROC, "self/mountinfo", path, sizeof(path));
		if (r < 0)
			return r;
		mountinfo = path;
	}
	tb = mnt_new_table();
	if (!tb)
		return -ENOMEM;
	r = mnt_table_parse_file(tb, mountinfo);
	if (r < 0) {
		mnt_unref_table(tb);
		return r == -1 ? -EIO : r;
	}
	*ret = tb;
	return 0;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void entry_fill(struct libmnt_fs *fs, struct mount_entry *e)
{
	const char *vfs_opts = mnt_fs_get_vfs_options(fs);

	copy_str(e->source, sizeof(e->source), mnt_fs_get_source(fs));
	copy_str(e->target, sizeof(e->target), mnt_fs_get_target(fs));
	copy_str(e->fstype, sizeof(e->fstype), mnt_fs_get_fstype(fs));
	copy_str(e->root, sizeof(e->root), mnt_fs_get_root(fs));
	e->devno = mnt_fs_get_devno(fs);
	e->readonly = vfs_opts && mnt_optstr_get_option(vfs_opts, "ro", NULL, NULL) == 0;
}

int mounts_find_target(const char *mountinfo, const char *target, struct mount_entry *ret)
{
	struct libmnt_table *tb;
	struct libmnt_iter *it;
	struct libmnt_fs *fs, *found = NULL;
	int r;

	r = table_load(mountinfo, &tb);
	if (r < 0)
		return r;
	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!it) {
		mnt_unref_table(tb);
		return -ENOMEM;
	}
	/* The last matching line is the topmost mount (no path canonicalization). */
	while (mnt_table_next_fs(tb, it, &fs) == 0)
		if (mnt_fs_get_target(fs) && !strcmp(mnt_fs_get_target(fs), target))
			found = fs;
	if (found)
		entry_fill(found, ret);
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return found ? 0 : -ENOENT;
}

bool mounts_is_mountpoint(const char *mountinfo, const char *target)
{
	struct mount_entry *e = malloc(sizeof(*e));
	bool mounted;

	if (!e)
		return false;
	mounted = mounts_find_target(mountinfo, target, e) == 0;
	free(e);
	return mounted;
}

int mounts_list_device(const char *mountinfo, dev_t devno, const char *disk_name,
		       struct mount_entry **ret, size_t *ret_count)
{
	struct mount_entry *entries = NULL, *grown;
	size_t count = 0;
	struct libmnt_table *tb;
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	char node_root[64] = "";
	int r;

	if (disk_name)
		snprintf(node_root, sizeof(node_root), "/%s", disk_name);
	r = table_load(mountinfo, &tb);
	if (r < 0)
		return r;
	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!it) {
		mnt_unref_table(tb);
		return -ENOMEM;
	}
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *fstype = mnt_fs_get_fstype(fs), *root = mnt_fs_get_root(fs);
		bool is_fs = mnt_fs_get_devno(fs) == devno;
		bool is_node = node_root[0] && fstype && !strcmp(fstype, "devtmpfs") && root &&
			       !strcmp(root, node_root);

		if (!is_fs && !is_node)
			continue;
		grown = realloc(entries, (count + 1) * sizeof(*entries));
		if (!grown) {
			r = -ENOMEM;
			break;
		}
		entries = grown;
		entry_fill(fs, &entries[count++]);
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	if (r < 0) {
		free(entries);
		return r;
	}
	*ret = entries;
	*ret_count = count;
	return 0;
}

/* Options that change what kind of mount(2) call is made: never from a request. */
static bool option_changes_the_call(const char *name, size_t len)
{
	static const char *const refused[] = {
		"bind",	      "rbind",	     "move",	     "remount",	    "private",
		"rprivate",   "shared",	     "rshared",	     "slave",	    "rslave",
		"unbindable", "runbindable", "make-private", "make-shared",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strlen(refused[i]) == len && !strncmp(refused[i], name, len))
			return true;
	return false;
}

static int options_check(const char *options)
{
	char *copy = strdup(options), *pos, *name, *value;
	size_t name_len, value_len;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	pos = copy;
	while (!r && mnt_optstr_next_option(&pos, &name, &name_len, &value, &value_len) == 0)
		if (option_changes_the_call(name, name_len))
			r = -EINVAL;
	free(copy);
	return r;
}

int mounts_parse_options(const char *options, unsigned long *ret_flags, char **ret_data)
{
	const struct libmnt_optmap *linux_map = mnt_get_builtin_optmap(MNT_LINUX_MAP);
	char *user = NULL, *vfs = NULL, *fsopts = NULL;
	unsigned long flags = 0;
	int r;

	*ret_flags = 0;
	*ret_data = NULL;
	if (!options || !options[0])
		return 0;
	r = options_check(options);
	if (r < 0)
		return r;
	r = mnt_split_optstr(options, &user, &vfs, &fsopts, 0, 0);
	if (r < 0)
		return -ENOMEM;
	if (user) /* "user", "noauto", "loop", ... mean nothing to mount(2) */
		r = -EINVAL;
	if (!r && vfs && mnt_optstr_get_flags(vfs, &flags, linux_map) < 0)
		r = -EINVAL;
	free(user);
	free(vfs);
	if (r < 0) {
		free(fsopts);
		return r;
	}
	*ret_flags = flags;
	*ret_data = fsopts;
	return 0;
}

int mounts_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		 const char *data)
{
	return mount(source, target, fstype, flags, data) < 0 ? -errno : 0;
}

int mounts_bind(const char *source, const char *target, bool readonly, unsigned long extra_flags)
{
	unsigned long flags = extra_flags | (readonly ? MS_RDONLY : 0);

	if (mount(source, target, NULL, MS_BIND, NULL) < 0)
		return -errno;
	if (!flags)
		return 0;
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0) {
		int r = -errno;

		umount2(target, UMOUNT_NOFOLLOW);
		return r;
	}
	return 0;
}

int mounts_umount(const char *target)
{
	if (umount2(target, UMOUNT_NOFOLLOW) < 0)
		return errno == EINVAL ? 0 : -errno;
	return 0;
}
