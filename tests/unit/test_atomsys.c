// SPDX-License-Identifier: GPL-2.0
/* atomsys: the atom's sysfs status read from captured fixture trees. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/atomsys.h"
#include "lib/roots.h"

/* Fixtures: $ATOMBLK_FIXTURES or tests/unit/fixtures (run from the repository root). */
static void use_sys_fixture(const char *name)
{
	const char *base = getenv("ATOMBLK_FIXTURES") ?: "tests/unit/fixtures";
	char path[PATH_MAX], abs[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", base, name);
	assert_non_null(realpath(path, abs));
	assert_int_equal(roots_set(ROOT_SYS, abs), 0);
}

static int reset(void **state)
{
	roots_reset();
	return 0;
}

static void module_status_is_read_from_kernel_atom(void **state)
{
	struct atomsys_module m;

	use_sys_fixture("sys-atom");
	assert_int_equal(atomsys_module_read(&m), 0);
	assert_int_equal(m.abi_version, 1);
	assert_string_equal(m.client_name, "atom_client");
	assert_string_equal(m.client_version, "0.1.0-a");
	assert_int_equal(m.generation, 7);
	assert_int_equal(m.ndisks, 3);
	assert_true(atomsys_client_attached(&m));
}

static void no_atom_module_is_enoent(void **state)
{
	struct atomsys_module m;
	struct atomsys_disk *disks;
	size_t count = 99;

	use_sys_fixture("sys-no-atom");
	assert_int_equal(atomsys_module_read(&m), -ENOENT);
	assert_int_equal(atomsys_disks_list(&disks, &count), 0);
	assert_int_equal(count, 0);
	free(disks);
}

static void a_value_that_does_not_parse_is_ebadmsg(void **state)
{
	struct atomsys_module m;

	use_sys_fixture("sys-bad");
	assert_int_equal(atomsys_module_read(&m), -EBADMSG);
}

static void each_disk_state_is_recognised(void **state)
{
	struct atomsys_disk d;

	use_sys_fixture("sys-atom");
	assert_int_equal(atomsys_disk_read("atom0", &d), 0);
	assert_string_equal(d.volume_id, "vol-a");
	assert_int_equal(d.state, ATOMSYS_DISK_ATTACHED);
	assert_int_equal(d.held_requests, 0);
	assert_int_equal(d.last_pause_us, 1520);

	assert_int_equal(atomsys_disk_read("atom2", &d), 0);
	assert_int_equal(d.state, ATOMSYS_DISK_HELD);
	assert_int_equal(d.held_requests, 17);

	assert_int_equal(atomsys_disk_read("atom10", &d), 0);
	assert_int_equal(d.state, ATOMSYS_DISK_ABNORMAL);
	assert_int_equal(d.last_pause_us, 300000123);
	assert_string_equal(atomsys_disk_state_name(d.state), "abnormal");
}

static void disk_names_are_validated_before_any_path_is_built(void **state)
{
	struct atomsys_disk d;

	use_sys_fixture("sys-atom");
	assert_int_equal(atomsys_disk_read("loop0", &d), -EINVAL);
	assert_int_equal(atomsys_disk_read("atom", &d), -EINVAL);
	assert_int_equal(atomsys_disk_read("atom0/../atom2", &d), -EINVAL);
	assert_int_equal(atomsys_disk_read("atom7", &d), -ENOENT);
}

static void disks_are_listed_in_numeric_order_without_other_devices(void **state)
{
	struct atomsys_disk *disks;
	size_t count;

	use_sys_fixture("sys-atom");
	assert_int_equal(atomsys_disks_list(&disks, &count), 0);
	assert_int_equal(count, 3);
	assert_string_equal(disks[0].name, "atom0");
	assert_string_equal(disks[1].name, "atom2");
	assert_string_equal(disks[2].name, "atom10");
	free(disks);
}

static void a_volume_is_found_by_its_id(void **state)
{
	struct atomsys_disk d;

	use_sys_fixture("sys-atom");
	assert_int_equal(atomsys_disk_find("vol-c", &d), 0);
	assert_string_equal(d.name, "atom10");
	assert_int_equal(atomsys_disk_find("vol-zzz", &d), -ENOENT);
}

/* The hold override is written to (and read from) block/atomN/atom/hold_secs. */
static void the_per_disk_hold_is_written_and_read_back(void **state)
{
	char dir[] = "/tmp/atomsys-hold-XXXXXX", path[PATH_MAX], cmd[PATH_MAX + 64];
	FILE *f;
	int secs = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/block/atom3/atom", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
	strcat(path, "/hold_secs");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("-1\n", f);
	fclose(f);
	assert_int_equal(roots_set(ROOT_SYS, dir), 0);

	assert_int_equal(atomsys_disk_hold("atom3", &secs), 0);
	assert_int_equal(secs, ATOMSYS_HOLD_DEFAULT);
	assert_int_equal(atomsys_disk_set_hold("atom3", 5), 0);
	assert_int_equal(atomsys_disk_hold("atom3", &secs), 0);
	assert_int_equal(secs, 5);
	assert_int_equal(atomsys_disk_set_hold("atom3", 0), 0);
	assert_int_equal(atomsys_disk_hold("atom3", &secs), 0);
	assert_int_equal(secs, 0);
	/* bad input changes nothing */
	assert_int_equal(atomsys_disk_set_hold("atom3", -2), -EINVAL);
	assert_int_equal(atomsys_disk_set_hold("../atom3", 5), -EINVAL);
	assert_int_equal(atomsys_disk_set_hold("atom4", 5), -ENOENT);
	assert_int_equal(atomsys_disk_hold("atom3", &secs), 0);
	assert_int_equal(secs, 0);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(module_status_is_read_from_kernel_atom, reset),
		cmocka_unit_test_teardown(no_atom_module_is_enoent, reset),
		cmocka_unit_test_teardown(a_value_that_does_not_parse_is_ebadmsg, reset),
		cmocka_unit_test_teardown(each_disk_state_is_recognised, reset),
		cmocka_unit_test_teardown(disk_names_are_validated_before_any_path_is_built, reset),
		cmocka_unit_test_teardown(disks_are_listed_in_numeric_order_without_other_devices,
					  reset),
		cmocka_unit_test_teardown(a_volume_is_found_by_its_id, reset),
		cmocka_unit_test_teardown(the_per_disk_hold_is_written_and_read_back, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
