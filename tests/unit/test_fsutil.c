// SPDX-License-Identifier: GPL-2.0
/*
 * fsutil + fsprobe: tools run without a shell with their stderr captured;
 * real mkfs.ext4/mkfs.xfs/resize2fs on image files, probed with libblkid.
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
#include <unistd.h>

#include <cmocka.h>

#include "lib/fsprobe.h"
#include "lib/fsutil.h"

struct images {
	char dir[64];
	char img[96];
};

static int setup(void **state)
{
	struct images *im = calloc(1, sizeof(*im));

	strcpy(im->dir, "/tmp/atomblk-fsutil-XXXXXX");
	if (!mkdtemp(im->dir))
		return -1;
	snprintf(im->img, sizeof(im->img), "%s/disk.img", im->dir);
	*state = im;
	return 0;
}

static int teardown(void **state)
{
	struct images *im = *state;

	unlink(im->img);
	rmdir(im->dir);
	free(im);
	return 0;
}

/* A sparse image file of @mb MiB. */
static void make_image(const char *path, int mb)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)mb << 20), 0);
	close(fd);
}

static void exit_status_and_stderr_are_reported(void **state)
{
	const char *const argv[] = { "sh", "-c",
				     "echo to-stdout; echo first >&2; echo 'the error' >&2; exit 3",
				     NULL };
	char err[FSUTIL_ERR_MAX];
	int status;

	assert_int_equal(fsutil_run(argv, &status, err, sizeof(err)), 0);
	assert_int_equal(status, 3);
	assert_string_equal(err, "first the error");
}

static void arguments_reach_the_program_unparsed(void **state)
{
	const char *const argv[] = { "sh", "-c",	   "[ \"$1\" = 'a b;$(false)' ] || exit 9",
				     "sh", "a b;$(false)", NULL };
	int status;

	assert_int_equal(fsutil_run(argv, &status, NULL, 0), 0);
	assert_int_equal(status, 0);
}

static void a_missing_program_is_enoent(void **state)
{
	const char *const argv[] = { "atomblk-no-such-tool", NULL };
	int status = -1;

	assert_int_equal(fsutil_run(argv, &status, NULL, 0), -ENOENT);
	assert_int_equal(status, -1);
}

static void a_killed_program_reports_128_plus_the_signal(void **state)
{
	const char *const argv[] = { "sh", "-c", "kill -9 $$", NULL };
	int status;

	assert_int_equal(fsutil_run(argv, &status, NULL, 0), 0);
	assert_int_equal(status, 128 + 9);
}

static void long_stderr_keeps_its_tail(void **state)
{
	const char *const argv[] = {
		"sh", "-c", "i=0; while [ $i -lt 500 ]; do echo line-$i >&2; i=$((i+1)); done", NULL
	};
	char err[64];
	int status;

	assert_int_equal(fsutil_run(argv, &status, err, sizeof(err)), 0);
	assert_true(strlen(err) >= sizeof(err) - 2); /* full, less a trimmed newline */
	assert_non_null(strstr(err, "line-499"));
	assert_null(strstr(err, "line-0 "));
}

static void a_blank_image_probes_as_blank(void **state)
{
	struct images *im = *state;
	char type[FSPROBE_TYPE_MAX] = "x";

	make_image(im->img, 16);
	assert_int_equal(fsprobe_type(im->img, type), 0);
	assert_string_equal(type, "");
}

static void mkfs_ext4_creates_what_the_probe_sees_and_resize2fs_grows_it(void **state)
{
	struct images *im = *state;
	char type[FSPROBE_TYPE_MAX], err[FSUTIL_ERR_MAX];
	const char *const blocks[] = {
		"sh", "-c",    "dumpe2fs -h \"$1\" 2>/dev/null | grep -q '^Block count: *32768$'",
		"sh", im->img, NULL
	};
	uint64_t size;
	int status;

	make_image(im->img, 16);
	assert_int_equal(fsutil_mkfs("ext4", im->img, err, sizeof(err)), 0);
	assert_int_equal(fsprobe_type(im->img, type), 0);
	assert_string_equal(type, "ext4");

	make_image(im->img, 0); /* truncate to 0 then... */
	make_image(im->img, 16);
	assert_int_equal(fsprobe_type(im->img, type), 0);
	assert_string_equal(type, ""); /* truncation wiped it: the probe really reads */

	assert_int_equal(fsutil_mkfs("ext4", im->img, err, sizeof(err)), 0);
	assert_int_equal(truncate(im->img, 32 << 20), 0);
	assert_int_equal(fsutil_grow("ext4", im->img, "/unused", err, sizeof(err)), 0);
	assert_int_equal(fsutil_run(blocks, &status, NULL, 0), 0);
	assert_int_equal(status, 0); /* 32 MiB of 1 KiB blocks */

	/* The superblock's size outlives a smaller view of the device. */
	assert_int_equal(fsprobe_fs_size(im->img, "ext4", &size), 0);
	assert_int_equal(size, 32 << 20);
	assert_int_equal(truncate(im->img, 16 << 20), 0);
	assert_int_equal(fsprobe_fs_size(im->img, "ext4", &size), 0);
	assert_int_equal(size, 32 << 20);
	assert_int_equal(fsprobe_fs_size(im->img, "xfs", &size), -EBADMSG);
	assert_int_equal(fsprobe_fs_size(im->img, "vfat", &size), -EOPNOTSUPP);
}

static void mkfs_xfs_creates_xfs_and_refuses_to_overwrite_a_filesystem(void **state)
{
	struct images *im = *state;
	char type[FSPROBE_TYPE_MAX], err[FSUTIL_ERR_MAX];
	uint64_t size;

	make_image(im->img, 320); /* mkfs.xfs's minimum is 300 MiB */
	assert_int_equal(fsutil_mkfs("xfs", im->img, err, sizeof(err)), 0);
	assert_int_equal(fsprobe_type(im->img, type), 0);
	assert_string_equal(type, "xfs");
	assert_int_equal(fsprobe_fs_size(im->img, "xfs", &size), 0);
	assert_true(size > 300ULL << 20 && size <= 320ULL << 20);
	/* The second safety net: mkfs.xfs without -f keeps existing data. */
	assert_int_equal(fsutil_mkfs("xfs", im->img, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "existing filesystem"));
}

static void other_signatures_are_named(void **state)
{
	struct images *im = *state;
	const char *const mkswap[] = { "mkswap", im->img, NULL };
	char type[FSPROBE_TYPE_MAX];
	int status;

	make_image(im->img, 16);
	assert_int_equal(fsutil_run(mkswap, &status, NULL, 0), 0);
	assert_int_equal(status, 0);
	assert_int_equal(fsprobe_type(im->img, type), 0);
	assert_string_equal(type, "swap");
}

static void unsupported_filesystems_and_missing_devices_fail(void **state)
{
	char type[FSPROBE_TYPE_MAX], err[FSUTIL_ERR_MAX];

	assert_false(fsutil_fs_supported("btrfs"));
	assert_true(fsutil_fs_supported("xfs"));
	assert_int_equal(fsutil_mkfs("btrfs", "/dev/null", err, sizeof(err)), -EOPNOTSUPP);
	assert_int_equal(fsutil_grow("vfat", "/dev/null", "/", err, sizeof(err)), -EOPNOTSUPP);
	assert_int_equal(fsprobe_type("/nonexistent/device", type), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exit_status_and_stderr_are_reported),
		cmocka_unit_test(arguments_reach_the_program_unparsed),
		cmocka_unit_test(a_missing_program_is_enoent),
		cmocka_unit_test(a_killed_program_reports_128_plus_the_signal),
		cmocka_unit_test(long_stderr_keeps_its_tail),
		cmocka_unit_test_setup_teardown(a_blank_image_probes_as_blank, setup, teardown),
		cmocka_unit_test_setup_teardown(
			mkfs_ext4_creates_what_the_probe_sees_and_resize2fs_grows_it, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			mkfs_xfs_creates_xfs_and_refuses_to_overwrite_a_filesystem, setup,
			teardown),
		cmocka_unit_test_setup_teardown(other_signatures_are_named, setup, teardown),
		cmocka_unit_test(unsupported_filesystems_and_missing_devices_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
