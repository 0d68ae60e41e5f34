// SPDX-License-Identifier: GPL-2.0
/*
 * kmods: modinfo of module files (fixture objects with a .modinfo section,
 * read through libkmod), vermagic checks, loaded modules from a fixture
 * sysfs tree.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/kmods.h"
#include "lib/roots.h"

static const char *fixture(const char *name)
{
	static char path[PATH_MAX];
	const char *base = getenv("ATOMBLK_FIXTURES") ?: "tests/unit/fixtures";

	snprintf(path, sizeof(path), "%s/kmods/%s", base, name);
	return path;
}

static int reset(void **state)
{
	roots_reset();
	return 0;
}

static void modinfo_of_a_client_build_is_read(void **state)
{
	struct kmods_info info;

	assert_int_equal(kmods_file_info(fixture("client-0.2.0.elf"), &info), 0);
	assert_string_equal(info.name, "atom_client");
	assert_string_equal(info.version, "0.2.0");
	assert_string_equal(info.vermagic, "6.1.0-56-amd64 SMP preempt mod_unload modversions ");
	assert_true(info.has_atom_abi);
	assert_int_equal(info.atom_abi, 1);
}

static void a_build_without_the_abi_tag_says_so(void **state)
{
	struct kmods_info info;

	assert_int_equal(kmods_file_info(fixture("client-no-abi.elf"), &info), 0);
	assert_string_equal(info.version, "0.1.9");
	assert_false(info.has_atom_abi);
}

static void a_malformed_abi_tag_is_refused(void **state)
{
	struct kmods_info info;

	assert_int_equal(kmods_file_info(fixture("client-bad-abi.elf"), &info), -EBADMSG);
}

static void files_that_are_not_modules_are_refused(void **state)
{
	struct kmods_info info;

	assert_int_equal(kmods_file_info(fixture("does-not-exist.elf"), &info), -ENOENT);
	assert_true(kmods_file_info(fixture("not-a-module.elf"), &info) < 0);
}

static void modinfo_pairs_fold_into_the_info(void **state)
{
	struct kmods_info info = {};
	char long_value[KMODS_VERSION_MAX + 8];

	assert_int_equal(kmods_info_add(&info, "version", "1.2.3"), 0);
	assert_int_equal(kmods_info_add(&info, "srcversion", "ABCDEF"), 0);
	assert_int_equal(kmods_info_add(&info, "atom_abi", "7"), 0);
	assert_string_equal(info.version, "1.2.3");
	assert_int_equal(info.atom_abi, 7);
	assert_int_equal(kmods_info_add(&info, "atom_abi", "-1"), -EBADMSG);
	assert_int_equal(kmods_info_add(&info, "atom_abi", ""), -EBADMSG);
	assert_int_equal(kmods_info_add(&info, "atom_abi", "99999999999"), -EBADMSG);
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_equal(kmods_info_add(&info, "version", long_value), -ENAMETOOLONG);
	assert_string_equal(info.version, "1.2.3");
}

static void vermagic_is_matched_on_the_kernel_release(void **state)
{
	char release[64];

	assert_true(kmods_vermagic_matches("6.1.0-56-amd64 SMP preempt", "6.1.0-56-amd64"));
	assert_false(kmods_vermagic_matches("6.1.0-56-amd64 SMP preempt", "6.1.0-56"));
	assert_false(kmods_vermagic_matches("6.1.0-56-amd64 SMP", "6.12.117+deb12-amd64"));
	assert_false(kmods_vermagic_matches("", "6.1.0-56-amd64"));
	assert_int_equal(
		kmods_vermagic_release("6.12.117+deb12-amd64 SMP", release, sizeof(release)), 0);
	assert_string_equal(release, "6.12.117+deb12-amd64");
	assert_int_equal(kmods_vermagic_release("6.1.0-56-amd64 SMP", release, 4), -ENAMETOOLONG);
	assert_int_equal(kmods_vermagic_release(" SMP", release, sizeof(release)), -EBADMSG);
}

static void loaded_modules_are_read_from_sysfs(void **state)
{
	char abs[PATH_MAX], version[KMODS_VERSION_MAX];

	assert_non_null(realpath(fixture("sys"), abs));
	assert_int_equal(roots_set(ROOT_SYS, abs), 0);
	assert_true(kmods_is_loaded("atom"));
	assert_true(kmods_is_loaded("atom_client"));
	assert_int_equal(kmods_loaded_version("atom_client", version, sizeof(version)), 0);
	assert_string_equal(version, "0.1.0-b");
	/* Loaded but versionless, going away, built in, absent, bad names. */
	assert_int_equal(kmods_loaded_version("atom", version, sizeof(version)), -ENOENT);
	assert_false(kmods_is_loaded("going_away"));
	assert_int_equal(kmods_loaded_version("going_away", version, sizeof(version)), -ENOENT);
	assert_false(kmods_is_loaded("builtin"));
	assert_false(kmods_is_loaded("absent"));
	assert_false(kmods_is_loaded("../module/atom"));
	assert_false(kmods_is_loaded(""));
	assert_int_equal(kmods_remove("absent"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(modinfo_of_a_client_build_is_read, reset),
		cmocka_unit_test_teardown(a_build_without_the_abi_tag_says_so, reset),
		cmocka_unit_test_teardown(a_malformed_abi_tag_is_refused, reset),
		cmocka_unit_test_teardown(files_that_are_not_modules_are_refused, reset),
		cmocka_unit_test_teardown(modinfo_pairs_fold_into_the_info, reset),
		cmocka_unit_test_teardown(vermagic_is_matched_on_the_kernel_release, reset),
		cmocka_unit_test_teardown(loaded_modules_are_read_from_sysfs, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
