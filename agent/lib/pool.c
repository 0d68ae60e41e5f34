// SPDX-License-Identifier: GPL-2.0
/*
 * pool — sparse backing files in one directory, reflink snapshots and
 * clones. See pool.h for the capacity and atomicity rules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <linux/fs.h>

#include "lib/pool.h"

#define POOL_TMP_PREFIX ".tmp."
#define POOL_MODE_REPLICA 0600
#define POOL_MODE_SNAPSHOT 0400

struct pool {
	char dir[PATH_MAX]; /* the pool directory, absolute */
	int dir_fd; /* O_DIRECTORY descriptor of dir */
	uint64_t capacity; /* configured bytes */
};

bool pool_name_is_valid(const char *name)
{
	size_t len;

	if (!name || name[0] == '\0' || name[0] == '.')
		return false;
	len = strnlen(name, POOL_NAME_MAX + 1);
	if (len > POOL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool pool_size_is_valid(uint64_t size)
{
	return size > 0 && size % POOL_BLOCK_SIZE == 0 && size <= (uint64_t)INT64_MAX;
}

/* Remove temporaries a crash left between create and rename. */
static void pool_remove_temporaries(struct pool *pool)
{
	int fd = openat(pool->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, POOL_TMP_PREFIX, strlen(POOL_TMP_PREFIX)))
			unlinkat(pool->dir_fd, de->d_name, 0);
	closedir(d);
}

int pool_open(const char *dir, uint64_t capacity, struct pool **ret_pool)
{
	struct pool *pool;

	if (!dir || dir[0] != '/' || capacity == 0)
		return -EINVAL;
	if (strlen(dir) >= sizeof(pool->dir))
		return -ENAMETOOLONG;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	strcpy(pool->dir, dir);
	pool->capacity = capacity;
	pool->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pool->dir_fd < 0) {
		int ret = -errno;

		free(pool);
		return ret;
	}
	pool_remove_temporaries(pool);
	*ret_pool = pool;
	return 0;
}

void pool_free(struct pool *pool)
{
	if (!pool)
		return;
	close(pool->dir_fd);
	free(pool);
}

int pool_path(const struct pool *pool, const char *name, char *buf, size_t size)
{
	if (!pool_name_is_valid(name))
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s/%s", pool->dir, name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static void pool_entry_fill(struct pool_entry *entry, const char *name, const struct stat *st)
{
	memset(entry, 0, sizeof(*entry));
	snprintf(entry->name, sizeof(entry->name), "%.*s", POOL_NAME_MAX, name);
	entry->size = st->st_size;
	entry->allocated = (uint64_t)st->st_blocks * 512;
	entry->read_only = !(st->st_mode & S_IWUSR);
}

int pool_stat(const struct pool *pool, const char *name, struct pool_entry *ret_entry)
{
	struct stat st;

	if (!pool_name_is_valid(name))
		return -EINVAL;
	if (fstatat(pool->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	pool_entry_fill(ret_entry, name, &st);
	return 0;
}

static int pool_entry_compare(const void *a, const void *b)
{
	return strcmp(((const struct pool_entry *)a)->name, ((const struct pool_entry *)b)->name);
}

int pool_list(const struct pool *pool, struct pool_entry **ret_entries, size_t *ret_count)
{
	struct pool_entry *entries = NULL;
	size_t count = 0, allocated = 0;
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = openat(pool->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!pool_name_is_valid(de->d_name))
			continue; /* ".", "..", temporaries, foreign names */
		if (fstatat(pool->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue; /* deleted meanwhile, or not ours */
		if (count == allocated) {
			size_t n = allocated ? allocated * 2 : 16;
			struct pool_entry *grown = realloc(entries, n * sizeof(*entries));

			if (!grown) {
				ret = -ENOMEM;
				goto out_close;
			}
			entries = grown;
			allocated = n;
		}
		pool_entry_fill(&entries[count++], de->d_name, &st);
	}
	if (count)
		qsort(entries, count, sizeof(*entries), pool_entry_compare);
out_close:
	closedir(d);
	if (ret) {
		free(entries);
		return ret;
	}
	*ret_entries = entries;
	*ret_count = count;
	return 0;
}

static int pool_fs_free(const struct pool *pool, uint64_t *ret_free)
{
	struct statvfs sv;

	if (fstatvfs(pool->dir_fd, &sv) < 0)
		return -errno;
	*ret_free = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

int pool_capacity(const struct pool *pool, struct pool_capacity *ret_capacity)
{
	struct pool_capacity cap = { .total = pool->capacity };
	struct pool_entry *entries;
	uint64_t fs_free = 0;
	size_t count;
	int ret;

	ret = pool_list(pool, &entries, &count);
	if (ret)
		return ret;
	for (size_t i = 0; i < count; i++) {
		cap.used += entries[i].size;
		cap.allocated += entries[i].allocated;
	}
	free(entries);
	ret = pool_fs_free(pool, &fs_free);
	if (ret)
		return ret;
	cap.available = cap.used < cap.total ? cap.total - cap.used : 0;
	if (cap.available > fs_free)
		cap.available = fs_free;
	*ret_capacity = cap;
	return 0;
}

/* -ENOSPC unless @more bytes fit both the configured capacity and the filesystem. */
static int pool_reserve(const struct pool *pool, uint64_t more)
{
	struct pool_capacity cap;
	int ret = pool_capacity(pool, &cap);

	if (ret)
		return ret;
	if (more > cap.available)
		return -ENOSPC;
	return 0;
}

/* A new empty temporary file in the pool; its name goes to @ret_tmp. */
static int pool_open_temporary(struct pool *pool, const char *name, mode_t mode, char *ret_tmp,
			       size_t size)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		int fd;

		snprintf(ret_tmp, size, POOL_TMP_PREFIX "%s.%08x", name, (unsigned)random());
		fd = openat(pool->dir_fd, ret_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

/*
 * Give the finished temporary @tmp (open as @fd) its real name @name:
 * data and size durable first, then the rename, which never replaces an
 * existing file, then the directory entry durable.
 */
static int pool_publish(struct pool *pool, int fd, const char *tmp, const char *name)
{
	if (fsync(fd) < 0)
		return -errno;
	if (renameat2(pool->dir_fd, tmp, pool->dir_fd, name, RENAME_NOREPLACE) < 0)
		return -errno;
	if (fsync(pool->dir_fd) < 0)
		return -errno;
	return 0;
}

static bool pool_exists(const struct pool *pool, const char *name)
{
	return faccessat(pool->dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int pool_create(struct pool *pool, const char *name, uint64_t size)
{
	char tmp[POOL_NAME_MAX + 32];
	int fd, ret;

	if (!pool_name_is_valid(name) || !pool_size_is_valid(size))
		return -EINVAL;
	if (pool_exists(pool, name))
		return -EEXIST;
	ret = pool_reserve(pool, size);
	if (ret)
		return ret;
	fd = pool_open_temporary(pool, name, POOL_MODE_REPLICA, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	ret = pool_publish(pool, fd, tmp, name);
	if (ret)
		goto out_unlink;
	close(fd);
	return 0;

out_unlink:
	close(fd);
	unlinkat(pool->dir_fd, tmp, 0);
	return ret;
}

int pool_delete(struct pool *pool, const char *name)
{
	if (!pool_name_is_valid(name))
		return -EINVAL;
	if (unlinkat(pool->dir_fd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	if (fsync(pool->dir_fd) < 0)
		return -errno;
	return 0;
}

int pool_expand(struct pool *pool, const char *name, uint64_t size)
{
	struct pool_entry entry;
	int fd, ret;

	if (!pool_size_is_valid(size))
		return -EINVAL;
	ret = pool_stat(pool, name, &entry);
	if (ret)
		return ret;
	if (entry.read_only)
		return -EROFS;
	if (size < entry.size)
		return -EINVAL;
	if (size == entry.size)
		return 0;
	ret = pool_reserve(pool, size - entry.size);
	if (ret)
		return ret;
	fd = openat(pool->dir_fd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * A reflink copy of @source named @name, mode @mode, grown to @size (0:
 * the source's size). Filesystems without reflink answer FICLONE with
 * EOPNOTSUPP (ext4), ENOTTY (no such ioctl) or EXDEV; all become -EOPNOTSUPP.
 */
static int pool_reflink(struct pool *pool, const char *source, const char *name, mode_t mode,
			uint64_t size)
{
	struct pool_entry src_entry;
	char tmp[POOL_NAME_MAX + 32];
	int src_fd, fd, ret;

	if (!pool_name_is_valid(name) || (size && !pool_size_is_valid(size)))
		return -EINVAL;
	ret = pool_stat(pool, source, &src_entry);
	if (ret)
		return ret;
	if (!size)
		size = src_entry.size;
	if (size < src_entry.size)
		return -EINVAL;
	if (pool_exists(pool, name))
		return -EEXIST;
	ret = pool_reserve(pool, size);
	if (ret)
		return ret;
	src_fd = openat(pool->dir_fd, source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (src_fd < 0)
		return -errno;
	fd = pool_open_temporary(pool, name, mode, tmp, sizeof(tmp));
	if (fd < 0) {
		close(src_fd);
		return fd;
	}
	if (ioctl(fd, FICLONE, src_fd) < 0) {
		ret = -errno;
		if (ret == -ENOTTY || ret == -EXDEV || ret == -ENOSYS)
			ret = -EOPNOTSUPP;
		goto out_unlink;
	}
	if (size > src_entry.size && ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	ret = pool_publish(pool, fd, tmp, name);
	if (ret)
		goto out_unlink;
	close(fd);
	close(src_fd);
	return 0;

out_unlink:
	close(fd);
	close(src_fd);
	unlinkat(pool->dir_fd, tmp, 0);
	return ret;
}

int pool_snapshot(struct pool *pool, const char *source, const char *name)
{
	return pool_reflink(pool, source, name, POOL_MODE_SNAPSHOT, 0);
}

int pool_clone(struct pool *pool, const char *source, const char *name, uint64_t size)
{
	return pool_reflink(pool, source, name, POOL_MODE_REPLICA, size);
}
