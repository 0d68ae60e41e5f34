// SPDX-License-Identifier: GPL-2.0
/*
 * mounts: lookups in a captured mountinfo file, option parsing, and real
 * tmpfs/bind mounts under /tmp when the test may mount (skipped otherwise).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/mounts.h"

static char mountinfo[PATH_MAX];

static int find_fixture(void **state)
{
	const char *base = getenv("ATOMBLK_FIXTURES") ?: "tests/unit/fixtures";

	snprintf(mountinfo, sizeof(mountinfo), "%s/mountinfo-node", base);
	return access(mountinfo, R_OK);
}

#define STAGING "/var/lib/kubelet/plugins/kubernetes.io/csi/csi.atomblk.io/abc/globalmount"
#define TARGET_RO "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pv1/mount"
#define TARGET_BLOCK "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pv2/p2"

static void a_mount_is_found_by_its_target(void **state)
{
	struct mount_entry e;

	assert_int_equal(mounts_find_target(mountinfo, STAGING, &e), 0);
	assert_string_equal(e.source, "/dev/atom0");
	assert_string_equal(e.fstype, "ext4");
	assert_string_equal(e.root, "/");
	assert_int_equal(e.devno, makedev(254, 0));
	assert_false(e.readonly);

	assert_int_equal(mounts_find_target(mountinfo, TARGET_RO, &e), 0);
	assert_true(e.readonly);
	assert_true(mounts_is_mountpoint(mountinfo, TARGET_RO));
}

static void the_topmost_of_stacked_mounts_wins(void **state)
{
	struct mount_entry e;

	assert_int_equal(mounts_find_target(mountinfo, "/mnt/stack", &e), 0);
	assert_string_equal(e.fstype, "tmpfs");
}

static void escaped_targets_are_decoded(void **state)
{
	struct mount_entry e;

	assert_int_equal(mounts_find_target(mountinfo, "/mnt/with space", &e), 0);
	assert_string_equal(e.target, "/mnt/with space");
}

static void an_unmounted_path_is_enoent(void **state)
{
	struct mount_entry e;

	assert_int_equal(mounts_find_target(mountinfo, "/var/lib/kubelet/pods/p9/mount", &e),
			 -ENOENT);
	assert_int_equal(mounts_find_target(mountinfo, STAGING "/sub", &e), -ENOENT);
	assert_false(mounts_is_mountpoint(mountinfo, "/var/lib/kubelet"));
	assert_false(mounts_is_mountpoint("/nonexistent/mountinfo", "/"));
}

static void a_device_s_filesystems_and_bound_nodes_are_listed(void **state)
{
	struct mount_entry *list;
	size_t n;

	assert_int_equal(mounts_list_device(mountinfo, makedev(254, 0), "atom0", &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].target, STAGING);
	assert_string_equal(list[1].target, TARGET_RO);
	assert_string_equal(list[2].target, "/mnt/stack");
	free(list);

	/* atom1 carries a raw block volume: only its device node is bound. */
	assert_int_equal(mounts_list_device(mountinfo, makedev(254, 16), "atom1", &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].target, TARGET_BLOCK);
	assert_string_equal(list[0].root, "/atom1");
	free(list);

	/* "/atom1" must not match "/atom10". */
	assert_int_equal(mounts_list_device(mountinfo, makedev(254, 32), "atom1", &list, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(list[i].target, "/mnt/other-node");
	free(list);
}

static void options_split_into_flags_and_filesystem_data(void **state)
{
	unsigned long flags;
	char *data;

	assert_int_equal(mounts_parse_options("noatime,nodiscard,ro,data=ordered", &flags, &data),
			 0);
	assert_int_equal(flags, MS_NOATIME | MS_RDONLY);
	assert_non_null(data);
	assert_string_equal(data, "nodiscard,data=ordered");
	free(data);

	assert_int_equal(mounts_parse_options("", &flags, &data), 0);
	assert_int_equal(flags, 0);
	assert_null(data);
	assert_int_equal(mounts_parse_options("noexec,nosuid", &flags, &data), 0);
	assert_int_equal(flags, MS_NOEXEC | MS_NOSUID);
	assert_null(data);
}

static void options_only_mount8_or_a_bind_understands_are_refused(void **state)
{
	unsigned long flags;
	char *data;

	assert_int_equal(mounts_parse_options("user", &flags, &data), -EINVAL);
	assert_int_equal(mounts_parse_options("noatime,bind", &flags, &data), -EINVAL);
	assert_int_equal(mounts_parse_options("remount", &flags, &data), -EINVAL);
	assert_int_equal(mounts_parse_options("move", &flags, &data), -EINVAL);
}

/* ---- real mounts (need CAP_SYS_ADMIN) ---- */

struct live {
	char dir[64];
	char src[96];
	char dst[96];
	char file[96];
	char node[96];
};

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));

	strcpy(l->dir, "/tmp/atomblk-mounts-XXXXXX");
	if (!mkdtemp(l->dir))
		return -1;
	snprintf(l->src, sizeof(l->src), "%s/src", l->dir);
	snprintf(l->dst, sizeof(l->dst), "%s/dst", l->dir);
	snprintf(l->file, sizeof(l->file), "%s/src/hello", l->dir);
	snprintf(l->node, sizeof(l->node), "%s/node", l->dir);
	mkdir(l->src, 0700);
	mkdir(l->dst, 0700);
	*state = l;
	return 0;
}

static int live_teardown(void **state)
{
	struct live *l = *state;

	umount2(l->dst, MNT_DETACH);
	umount2(l->node, MNT_DETACH);
	umount2(l->src, MNT_DETACH);
	unlink(l->file);
	unlink(l->node);
	rmdir(l->src);
	rmdir(l->dst);
	rmdir(l->dir);
	free(l);
	return 0;
}

static void a_tmpfs_is_mounted_found_bound_read_only_and_unmounted(void **state)
{
	struct live *l = *state;
	struct mount_entry e;
	FILE *fp;

	if (mounts_mount("atomblk-test", l->src, "tmpfs", MS_NOSUID, "size=1m") == -EPERM)
		skip();
	assert_int_equal(mounts_find_target(NULL, l->src, &e), 0);
	assert_string_equal(e.fstype, "tmpfs");
	assert_string_equal(e.source, "atomblk-test");
	fp = fopen(l->file, "w");
	assert_non_null(fp);
	fclose(fp);

	assert_int_equal(mounts_bind(l->src, l->dst, true, MS_NOEXEC), 0);
	assert_int_equal(mounts_find_target(NULL, l->dst, &e), 0);
	assert_true(e.readonly);
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/hello", l->dst);
		assert_int_equal(access(path, F_OK), 0);
		assert_null(fopen(path, "w")); /* EROFS */
	}
	assert_int_equal(mounts_umount(l->dst), 0);
	assert_false(mounts_is_mountpoint(NULL, l->dst));
	assert_int_equal(mounts_umount(l->dst), 0); /* not mounted: still fine */
	assert_int_equal(mounts_umount(l->src), 0);
}

static void a_device_node_is_bound_on_a_file(void **state)
{
	struct live *l = *state;
	struct mount_entry e;
	FILE *fp = fopen(l->node, "w");

	assert_non_null(fp);
	fclose(fp);
	if (mounts_bind("/dev/null", l->node, false, 0) == -EPERM)
		skip();
	assert_int_equal(mounts_find_target(NULL, l->node, &e), 0);
	assert_string_equal(e.root, "/null");
	assert_int_equal(mounts_umount(l->node), 0);
}

int main(void)
{
	const struct CMUnitTest fixture_tests[] = {
		cmocka_unit_test(a_mount_is_found_by_its_target),
		cmocka_unit_test(the_topmost_of_stacked_mounts_wins),
		cmocka_unit_test(escaped_targets_are_decoded),
		cmocka_unit_test(an_unmounted_path_is_enoent),
		cmocka_unit_test(a_device_s_filesystems_and_bound_nodes_are_listed),
		cmocka_unit_test(options_split_into_flags_and_filesystem_data),
		cmocka_unit_test(options_only_mount8_or_a_bind_understands_are_refused),
	};
	const struct CMUnitTest live_tests[] = {
		cmocka_unit_test_setup_teardown(
			a_tmpfs_is_mounted_found_bound_read_only_and_unmounted, live_setup,
			live_teardown),
		cmocka_unit_test_setup_teardown(a_device_node_is_bound_on_a_file, live_setup,
						live_teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("mountinfo", fixture_tests, find_fixture, NULL);
	return failed + cmocka_run_group_tests_name("live", live_tests, NULL, NULL);
}
