/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pool — a storage node's pool: one directory of sparse backing files
 * (replicas, snapshots, clones) with a configured capacity.
 *
 * Capacity is provisioning, not allocation: every file counts with its full
 * size (a snapshot or clone too, although reflink shares its blocks), so a
 * pool never promises more than it was given. A create or expand is refused
 * with -ENOSPC when it would exceed the configured capacity, or when the
 * size alone exceeds the filesystem's free space.
 *
 * Files appear atomically: written under a hidden temporary name (".tmp.*")
 * and renamed without replacing, so a crash never leaves half a replica under
 * its real name; pool_open() removes temporaries a crash left behind.
 *
 * Sizes are multiples of POOL_BLOCK_SIZE (the nvmet file backend exports a
 * file with the filesystem's block size, up to 4 KiB).
 *
 * Not thread-safe: the caller serialises calls on one pool.
 */
#ifndef ATOMBLK_POOL_H
#define ATOMBLK_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_NAME_MAX 128 /* bytes of a replica name, NUL excluded */
#define POOL_BLOCK_SIZE 4096ULL /* sizes are multiples of this */

struct pool;

struct pool_entry {
	char name[POOL_NAME_MAX + 1]; /* file name in the pool */
	uint64_t size; /* provisioned (logical) size in bytes */
	uint64_t allocated; /* bytes allocated on the filesystem */
	bool read_only; /* a snapshot */
};

struct pool_capacity {
	uint64_t total; /* configured capacity */
	uint64_t used; /* sum of the files' provisioned sizes */
	uint64_t available; /* min(total - used, filesystem free space) */
	uint64_t allocated; /* sum of the files' allocated bytes */
};

/*
 * pool_open() - open the pool directory @dir (must exist) with
 * @capacity bytes, removing temporaries left by a crash.
 * Return: 0, -EINVAL (@dir not absolute, @capacity 0), -ENOMEM, or the
 * -errno of opening @dir.
 */
int pool_open(const char *dir, uint64_t capacity, struct pool **ret_pool);

/* pool_free() - close @pool; NULL is fine. Files stay. */
void pool_free(struct pool *pool);

/*
 * pool_name_is_valid() - 1..POOL_NAME_MAX bytes of [A-Za-z0-9._-], not
 * starting with '.' (so no "..", no '/', no clash with temporaries).
 */
bool pool_name_is_valid(const char *name);

/*
 * pool_path() - the backing file's path of @name into @buf.
 * Return: 0, -EINVAL (bad name), -ENAMETOOLONG.
 */
int pool_path(const struct pool *pool, const char *name, char *buf, size_t size);

/*
 * pool_create() - a new sparse replica @name of @size bytes.
 * Return: 0, -EINVAL (bad name or size), -EEXIST, -ENOSPC, or -errno.
 */
int pool_create(struct pool *pool, const char *name, uint64_t size);

/* pool_delete() - remove @name. Return: 0 (also when absent), -EINVAL, -errno. */
int pool_delete(struct pool *pool, const char *name);

/*
 * pool_expand() - grow @name to @size bytes (same size: nothing to do).
 * Return: 0, -EINVAL (bad name, size not aligned or smaller than now),
 * -ENOENT, -EROFS (a snapshot), -ENOSPC, or -errno.
 */
int pool_expand(struct pool *pool, const char *name, uint64_t size);

/*
 * pool_snapshot() - @name becomes a read-only reflink copy of @source.
 * Return: 0, -EINVAL, -ENOENT (no @source), -EEXIST, -ENOSPC,
 * -EOPNOTSUPP (the pool's filesystem cannot reflink), or -errno.
 */
int pool_snapshot(struct pool *pool, const char *source, const char *name);

/*
 * pool_clone() - @name becomes a writable reflink copy of @source (a
 * replica or a snapshot), grown to @size bytes (0: the source's size).
 * Return: as pool_snapshot(); -EINVAL also for @size below the source's.
 */
int pool_clone(struct pool *pool, const char *source, const char *name, uint64_t size);

/*
 * pool_stat() - one file's entry.
 * Return: 0, -EINVAL, -ENOENT, or -errno.
 */
int pool_stat(const struct pool *pool, const char *name, struct pool_entry *ret_entry);

/*
 * pool_list() - every file in the pool, sorted by name; free *ret_entries.
 * Return: 0, -ENOMEM, or -errno.
 */
int pool_list(const struct pool *pool, struct pool_entry **ret_entries, size_t *ret_count);

/* pool_capacity() - the pool's numbers. Return: 0 or -errno. */
int pool_capacity(const struct pool *pool, struct pool_capacity *ret_capacity);

#endif
