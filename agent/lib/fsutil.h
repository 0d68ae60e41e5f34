/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsutil — run filesystem tools (mkfs.ext4, mkfs.xfs, resize2fs,
 * xfs_growfs) as child processes with argv arrays (never a shell), their
 * standard error captured for the caller's message.
 *
 * The agent is a gRPC process: children are started with posix_spawnp()
 * (vfork + exec at once), never a plain fork() that would run code in a
 * copy of grpc's threads' state (see shared/notes/grpc.md).
 */
#ifndef ATOMBLK_FSUTIL_H
#define ATOMBLK_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>

#define FSUTIL_ERR_MAX 512

/*
 * fsutil_run() - run @argv (argv[0] looked up in PATH), stdin and stdout on
 * /dev/null, stderr captured (its last @err_size - 1 bytes, trimmed) into
 * @err (may be NULL).
 * @ret_status: exit status, or 128 + signal number if it was killed.
 * Return: 0 once the program ran (whatever its status); -ENOENT / -EACCES
 * if it could not be started; -errno.
 */
int fsutil_run(const char *const argv[], int *ret_status, char *err, size_t err_size);

/* fsutil_fs_supported() - @fstype is one the agent can create and grow: ext4 or xfs. */
bool fsutil_fs_supported(const char *fstype);

/*
 * fsutil_mkfs() - create a @fstype filesystem on @device. The caller has
 * made sure the device is blank (fsutil does not probe).
 * Return: 0; -EOPNOTSUPP for another fstype; -EIO if the tool failed
 * (@err says why); -errno if it could not run.
 */
int fsutil_mkfs(const char *fstype, const char *device, char *err, size_t err_size);

/*
 * fsutil_grow() - grow the mounted @fstype filesystem on @device (mounted at
 * @mountpoint) to the device's size, online.
 * Return: as fsutil_mkfs().
 */
int fsutil_grow(const char *fstype, const char *device, const char *mountpoint, char *err,
		size_t err_size);

#endif
