// SPDX-License-Identifier: GPL-2.0
/*
 * pool: sparse replicas in a temporary directory on the host. The host's
 * /tmp is ext4 (no reflink), so snapshots and clones are tested for their
 * -EOPNOTSUPP here; the real reflink runs in the VM on XFS
 * (tests/vm/cases/80-nvmet-export.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/pool.h"

#define MiB (1ULL << 20)

struct fixture {
	char dir[64];
	struct pool *pool;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/atomblk-pool-XXXXXX");
	if (!mkdtemp(f->dir) || pool_open(f->dir, 64 * MiB, &f->pool))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	pool_free(f->pool);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void file_path(const struct fixture *f, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", f->dir, name);
}

static void create_makes_a_sparse_file_of_the_size(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	struct stat st;

	assert_int_equal(pool_create(f->pool, "r1", 16 * MiB), 0);
	file_path(f, "r1", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 16 * MiB);
	assert_true((uint64_t)st.st_blocks * 512 < MiB);
	assert_int_equal(pool_create(f->pool, "r1", 16 * MiB), -EEXIST);
}

static void capacity_and_free_space_are_enforced(void **state)
{
	struct fixture *f = *state;
	struct pool_capacity cap;
	struct pool *huge;
	struct statfs sf;

	assert_int_equal(pool_create(f->pool, "a", 48 * MiB), 0);
	assert_int_equal(pool_create(f->pool, "b", 32 * MiB), -ENOSPC);
	assert_int_equal(pool_create(f->pool, "b", 16 * MiB), 0);
	assert_int_equal(pool_capacity(f->pool, &cap), 0);
	assert_int_equal(cap.total, 64 * MiB);
	assert_int_equal(cap.used, 64 * MiB);
	assert_int_equal(cap.available, 0);
	assert_int_equal(pool_expand(f->pool, "b", 20 * MiB), -ENOSPC);
	assert_int_equal(pool_delete(f->pool, "b"), 0);
	assert_int_equal(pool_expand(f->pool, "a", 60 * MiB), 0);
	assert_int_equal(pool_capacity(f->pool, &cap), 0);
	assert_int_equal(cap.used, 60 * MiB);
	assert_int_equal(cap.available, 4 * MiB);

	/* A pool configured far beyond the filesystem: its free space limits. */
	assert_int_equal(statfs(f->dir, &sf), 0);
	assert_int_equal(pool_open(f->dir, UINT64_MAX / 2, &huge), 0);
	assert_int_equal(pool_create(huge, "big",
				     ((uint64_t)sf.f_bavail * sf.f_bsize + 4096 * MiB) & ~4095ULL),
			 -ENOSPC);
	assert_int_equal(pool_stat(huge, "big", &(struct pool_entry){ 0 }), -ENOENT);
	pool_free(huge);
}

static void expand_only_grows(void **state)
{
	struct fixture *f = *state;
	struct pool_entry e;

	assert_int_equal(pool_create(f->pool, "r", 8 * MiB), 0);
	assert_int_equal(pool_expand(f->pool, "r", 4 * MiB), -EINVAL);
	assert_int_equal(pool_expand(f->pool, "r", 8 * MiB), 0);
	assert_int_equal(pool_expand(f->pool, "r", 12 * MiB), 0);
	assert_int_equal(pool_stat(f->pool, "r", &e), 0);
	assert_int_equal(e.size, 12 * MiB);
	assert_false(e.read_only);
	assert_int_equal(pool_expand(f->pool, "missing", 12 * MiB), -ENOENT);
	assert_int_equal(pool_expand(f->pool, "r", 12 * MiB + 1), -EINVAL);
}

static void names_are_validated(void **state)
{
	struct fixture *f = *state;
	char longest[POOL_NAME_MAX + 2];

	memset(longest, 'x', sizeof(longest));
	longest[POOL_NAME_MAX] = '\0';
	assert_true(pool_name_is_valid(longest));
	assert_true(pool_name_is_valid("pvc-1234_abc.v2"));
	longest[POOL_NAME_MAX] = 'x';
	longest[POOL_NAME_MAX + 1] = '\0';
	assert_false(pool_name_is_valid(longest));
	assert_false(pool_name_is_valid(""));
	assert_false(pool_name_is_valid(NULL));
	assert_false(pool_name_is_valid(".."));
	assert_false(pool_name_is_valid(".hidden"));
	assert_false(pool_name_is_valid("a/b"));
	assert_false(pool_name_is_valid("../etc"));
	assert_false(pool_name_is_valid("a b"));
	assert_int_equal(pool_create(f->pool, "../escape", 4 * MiB), -EINVAL);
	assert_int_equal(pool_create(f->pool, longest, 4 * MiB), -EINVAL);
	assert_int_equal(pool_delete(f->pool, ".."), -EINVAL);
	assert_int_equal(pool_create(f->pool, "zero", 0), -EINVAL);
	assert_int_equal(pool_create(f->pool, "odd", 4 * MiB + 512), -EINVAL);
}

static void delete_is_idempotent(void **state)
{
	struct fixture *f = *state;
	struct pool_entry e;

	assert_int_equal(pool_create(f->pool, "r", 4 * MiB), 0);
	assert_int_equal(pool_delete(f->pool, "r"), 0);
	assert_int_equal(pool_stat(f->pool, "r", &e), -ENOENT);
	assert_int_equal(pool_delete(f->pool, "r"), 0);
}

/*
 * A crash between create and rename leaves only a temporary: never listed,
 * never counted, removed by the next pool_open().
 */
static void crash_leftovers_are_never_replicas(void **state)
{
	struct fixture *f = *state;
	struct pool_entry *entries;
	struct pool_capacity cap;
	char path[PATH_MAX];
	struct pool *reopened;
	size_t count;
	int fd;

	assert_int_equal(pool_create(f->pool, "b", 4 * MiB), 0);
	assert_int_equal(pool_create(f->pool, "a", 4 * MiB), 0);
	file_path(f, ".tmp.c.deadbeef", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 32 * MiB), 0);
	close(fd);

	assert_int_equal(pool_list(f->pool, &entries, &count), 0);
	assert_int_equal(count, 2);
	assert_string_equal(entries[0].name, "a");
	assert_string_equal(entries[1].name, "b");
	free(entries);
	assert_int_equal(pool_capacity(f->pool, &cap), 0);
	assert_int_equal(cap.used, 8 * MiB);

	assert_int_equal(pool_open(f->dir, 64 * MiB, &reopened), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	pool_free(reopened);
}

/* ext4 cannot reflink: a clear -EOPNOTSUPP and nothing left behind. */
static void reflink_without_support_is_eopnotsupp(void **state)
{
	struct fixture *f = *state;
	struct pool_entry *entries;
	struct statfs sf;
	size_t count;

	assert_int_equal(statfs(f->dir, &sf), 0);
	if (sf.f_type != 0xEF53) /* EXT4_SUPER_MAGIC */
		skip();
	assert_int_equal(pool_create(f->pool, "r", 4 * MiB), 0);
	assert_int_equal(pool_snapshot(f->pool, "r", "s"), -EOPNOTSUPP);
	assert_int_equal(pool_clone(f->pool, "r", "c", 8 * MiB), -EOPNOTSUPP);
	assert_int_equal(pool_snapshot(f->pool, "missing", "s"), -ENOENT);
	assert_int_equal(pool_clone(f->pool, "r", "c", 2 * MiB), -EINVAL);
	assert_int_equal(pool_snapshot(f->pool, "r", "r"), -EEXIST);
	assert_int_equal(pool_list(f->pool, &entries, &count), 0);
	assert_int_equal(count, 1);
	free(entries);
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep '^\\.tmp')\"", f->dir);
		assert_int_equal(system(cmd), 0);
	}
}

static void open_checks_its_arguments(void **state)
{
	struct pool *pool;

	assert_int_equal(pool_open("relative", MiB, &pool), -EINVAL);
	assert_int_equal(pool_open("/tmp", 0, &pool), -EINVAL);
	assert_int_equal(pool_open("/nonexistent/atomblk-pool", MiB, &pool), -ENOENT);
	pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(create_makes_a_sparse_file_of_the_size, setup,
						teardown),
		cmocka_unit_test_setup_teardown(capacity_and_free_space_are_enforced, setup,
						teardown),
		cmocka_unit_test_setup_teardown(expand_only_grows, setup, teardown),
		cmocka_unit_test_setup_teardown(names_are_validated, setup, teardown),
		cmocka_unit_test_setup_teardown(delete_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(crash_leftovers_are_never_replicas, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reflink_without_support_is_eopnotsupp, setup,
						teardown),
		cmocka_unit_test(open_checks_its_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
