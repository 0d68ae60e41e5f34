// SPDX-License-Identifier: GPL-2.0
/*
 * volctl: what can be checked without the client module — sizing, names,
 * input checks before any ioctl, and how a missing or wrong control device
 * is reported. The ioctls themselves run in the VM (tests/vm/cases/node-flow.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/roots.h"
#include "lib/volctl.h"

static char devdir[64];

static int setup(void **state)
{
	strcpy(devdir, "/tmp/atomblk-volctl-XXXXXX");
	if (!mkdtemp(devdir))
		return -1;
	return roots_set(ROOT_DEV, devdir);
}

static int teardown(void **state)
{
	char ctl[128];

	snprintf(ctl, sizeof(ctl), "%s/atomblk-ctl", devdir);
	unlink(ctl);
	rmdir(devdir);
	roots_reset();
	return 0;
}

#define MiB (1024ULL * 1024)

static void linear_capacity_sums_legs_rounded_to_4k(void **state)
{
	const uint64_t sizes[] = { 64 * MiB + 100, 32 * MiB };

	assert_int_equal(volctl_layout_capacity(ATOMBLK_LAYOUT_LINEAR, sizes, 2), 96 * MiB);
	assert_int_equal(volctl_layout_capacity(ATOMBLK_LAYOUT_LINEAR, sizes, 0), 0);
}

static void mirror_capacity_is_the_smallest_leg_and_needs_2_or_3(void **state)
{
	const uint64_t sizes[] = { 64 * MiB, 48 * MiB + 4095, 80 * MiB, 80 * MiB };

	assert_int_equal(volctl_layout_capacity(ATOMBLK_LAYOUT_MIRROR, sizes, 2), 48 * MiB);
	assert_int_equal(volctl_layout_capacity(ATOMBLK_LAYOUT_MIRROR, sizes, 3), 48 * MiB);
	assert_int_equal(volctl_layout_capacity(ATOMBLK_LAYOUT_MIRROR, sizes, 1), 0);
	assert_int_equal(volctl_layout_capacity(ATOMBLK_LAYOUT_MIRROR, sizes, 4), 0);
}

static void layout_names_round_trip(void **state)
{
	enum atomblk_layout l;

	assert_int_equal(volctl_layout_parse("mirror", &l), 0);
	assert_int_equal(l, ATOMBLK_LAYOUT_MIRROR);
	assert_string_equal(volctl_layout_name(l), "mirror");
	assert_int_equal(volctl_layout_parse("linear", &l), 0);
	assert_string_equal(volctl_layout_name(l), "linear");
	assert_int_equal(volctl_layout_parse("stripe", &l), -EINVAL);
	assert_string_equal(volctl_volume_state_name(ATOMBLK_VOLUME_DEGRADED), "degraded");
}

static void no_control_device_means_no_client(void **state)
{
	struct atomblk_status st;
	struct atomblk_list_entry *list;
	size_t n;

	assert_int_equal(volctl_status("vol-1", &st), -ENOTCONN);
	assert_int_equal(volctl_remove("vol-1"), -ENOTCONN);
	assert_int_equal(volctl_resize("vol-1", 4096), -ENOTCONN);
	assert_int_equal(volctl_list(&list, &n), -ENOTCONN);
}

static void bad_input_is_refused_before_any_call(void **state)
{
	char id64[65], leg[300], disk[ATOMBLK_DISK_NAME_MAX];
	struct volctl_spec spec = { .id = "vol-1",
				    .size = 4096,
				    .layout = ATOMBLK_LAYOUT_LINEAR,
				    .nr_legs = 1,
				    .legs = { "/dev/loop0" } };

	memset(id64, 'v', 64);
	id64[64] = '\0';
	memset(leg, 'l', sizeof(leg) - 1);
	leg[0] = '/';
	leg[sizeof(leg) - 1] = '\0';
	/* No device exists: reaching the ioctl would say -ENOTCONN instead. */
	assert_int_equal(volctl_remove(id64), -ENAMETOOLONG);
	assert_int_equal(volctl_remove(""), -EINVAL);
	spec.nr_legs = 0;
	assert_int_equal(volctl_create(&spec, disk), -EINVAL);
	spec.nr_legs = ATOMBLK_LEGS_MAX + 1;
	assert_int_equal(volctl_create(&spec, disk), -EINVAL);
	spec.nr_legs = 1;
	spec.legs[0] = leg;
	assert_int_equal(volctl_create(&spec, disk), -ENAMETOOLONG);
	spec.legs[0] = "/dev/loop0";
	assert_int_equal(volctl_create(&spec, disk), -ENOTCONN);
}

static void a_missing_leg_is_only_for_mirrors_with_a_present_leg(void **state)
{
	char disk[ATOMBLK_DISK_NAME_MAX];
	struct volctl_spec spec = { .id = "vol-1",
				    .size = 4096,
				    .layout = ATOMBLK_LAYOUT_LINEAR,
				    .nr_legs = 2,
				    .legs = { "/dev/loop0", "" } };

	/* Refused before any call; reaching the ioctl would say -ENOTCONN. */
	assert_int_equal(volctl_create(&spec, disk), -EINVAL);
	spec.layout = ATOMBLK_LAYOUT_MIRROR;
	spec.legs[0] = NULL;
	assert_int_equal(volctl_create(&spec, disk), -EINVAL);
	spec.legs[1] = "/dev/loop1";
	assert_int_equal(volctl_create(&spec, disk), -ENOTCONN);
}

static void worker_legs_are_only_for_legs_the_volume_has(void **state)
{
	char disk[ATOMBLK_DISK_NAME_MAX];
	struct volctl_spec spec = { .id = "vol-1",
				    .size = 4096,
				    .layout = ATOMBLK_LAYOUT_MIRROR,
				    .nr_legs = 2,
				    .legs = { "/dev/loop0", "/dev/loop1" },
				    .worker_legs = 1u << 2 };

	/* Refused before any call; reaching the ioctl would say -ENOTCONN. */
	assert_int_equal(volctl_create(&spec, disk), -EINVAL);
	spec.worker_legs = 3;
	assert_int_equal(volctl_create(&spec, disk), -ENOTCONN);
}

static void a_control_file_that_is_not_the_device_fails_the_ioctl(void **state)
{
	struct atomblk_status st;
	char ctl[128];
	int fd;

	snprintf(ctl, sizeof(ctl), "%s/atomblk-ctl", devdir);
	fd = open(ctl, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(volctl_status("vol-1", &st), -ENOTTY);
}

static void device_size_needs_a_block_device(void **state)
{
	uint64_t size;

	assert_int_equal(volctl_device_size("/dev/null", &size), -ENOTBLK);
	assert_int_equal(volctl_device_size("/nonexistent", &size), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linear_capacity_sums_legs_rounded_to_4k),
		cmocka_unit_test(mirror_capacity_is_the_smallest_leg_and_needs_2_or_3),
		cmocka_unit_test(layout_names_round_trip),
		cmocka_unit_test_setup_teardown(no_control_device_means_no_client, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_input_is_refused_before_any_call, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_missing_leg_is_only_for_mirrors_with_a_present_leg, setup, teardown),
		cmocka_unit_test_setup_teardown(worker_legs_are_only_for_legs_the_volume_has, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_control_file_that_is_not_the_device_fails_the_ioctl, setup, teardown),
		cmocka_unit_test(device_size_needs_a_block_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
