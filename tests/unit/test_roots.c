// SPDX-License-Identifier: GPL-2.0
/* roots: defaults, overrides, path joining and the "lies under" check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/roots.h"

static int reset(void **state)
{
	roots_reset();
	return 0;
}

static void defaults_are_the_host_paths(void **state)
{
	assert_string_equal(roots_get(ROOT_SYS), "/sys");
	assert_string_equal(roots_get(ROOT_DEV), "/dev");
	assert_string_equal(roots_get(ROOT_PROC), "/proc");
	assert_string_equal(roots_get(ROOT_KUBELET), "/var/lib/kubelet");
	assert_string_equal(roots_get(ROOT_STATE), "/var/lib/atomblk");
}

static void set_drops_trailing_slashes_and_reset_restores(void **state)
{
	assert_int_equal(roots_set(ROOT_SYS, "/tmp/fixture/sys//"), -EINVAL); /* empty component */
	assert_int_equal(roots_set(ROOT_SYS, "/tmp/fixture/sys/"), 0);
	assert_string_equal(roots_get(ROOT_SYS), "/tmp/fixture/sys");
	roots_reset();
	assert_string_equal(roots_get(ROOT_SYS), "/sys");
}

static void set_refuses_relative_and_dotted_paths(void **state)
{
	assert_int_equal(roots_set(ROOT_KUBELET, "var/lib/kubelet"), -EINVAL);
	assert_int_equal(roots_set(ROOT_KUBELET, "/var/lib/../kubelet"), -EINVAL);
	assert_int_equal(roots_set(ROOT_KUBELET, "/var/./lib"), -EINVAL);
	assert_int_equal(roots_set(ROOT_KUBELET, ""), -EINVAL);
	assert_string_equal(roots_get(ROOT_KUBELET), "/var/lib/kubelet");
}

static void path_joins_under_the_root_and_reports_overflow(void **state)
{
	char buf[64], tiny[8];

	assert_int_equal(roots_path(ROOT_SYS, "kernel/atom/generation", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/kernel/atom/generation");
	assert_int_equal(roots_path(ROOT_DEV, "/atom0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/atom0");
	assert_int_equal(roots_path(ROOT_SYS, "kernel", tiny, sizeof(tiny)), -ENAMETOOLONG);
}

static void root_slash_joins_without_a_double_slash(void **state)
{
	char buf[64];

	assert_int_equal(roots_set(ROOT_DEV, "/"), 0);
	assert_string_equal(roots_get(ROOT_DEV), "");
	assert_int_equal(roots_path(ROOT_DEV, "atom0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/atom0");
	assert_true(roots_contains(ROOT_DEV, "/anything"));
	assert_false(roots_contains(ROOT_DEV, "/"));
}

static void contains_accepts_only_normal_paths_strictly_below(void **state)
{
	assert_true(roots_contains(ROOT_KUBELET, "/var/lib/kubelet/pods/x/volumes/mount"));
	assert_true(roots_contains(ROOT_KUBELET, "/var/lib/kubelet/plugins/"));
	assert_false(roots_contains(ROOT_KUBELET, "/var/lib/kubelet"));
	assert_false(roots_contains(ROOT_KUBELET, "/var/lib/kubelet/"));
	assert_false(roots_contains(ROOT_KUBELET, "/var/lib/kubelet-evil/x"));
	assert_false(roots_contains(ROOT_KUBELET, "/var/lib/kubelet/../../../etc"));
	assert_false(roots_contains(ROOT_KUBELET, "/var/lib/kubelet/pods/./x"));
	assert_false(roots_contains(ROOT_KUBELET, "/var/lib/kubelet//pods"));
	assert_false(roots_contains(ROOT_KUBELET, "var/lib/kubelet/pods"));
	assert_false(roots_contains(ROOT_KUBELET, "/etc/passwd"));
	assert_false(roots_contains(ROOT_KUBELET, ""));
}

static void normal_absolute_paths_are_recognised(void **state)
{
	assert_true(path_is_normal_absolute("/"));
	assert_true(path_is_normal_absolute("/dev/loop0"));
	assert_true(path_is_normal_absolute("/a/..b/c."));
	assert_false(path_is_normal_absolute("/a/.."));
	assert_false(path_is_normal_absolute("//a"));
	assert_false(path_is_normal_absolute("a"));
	assert_false(path_is_normal_absolute(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(defaults_are_the_host_paths, reset),
		cmocka_unit_test_setup(set_drops_trailing_slashes_and_reset_restores, reset),
		cmocka_unit_test_setup(set_refuses_relative_and_dotted_paths, reset),
		cmocka_unit_test_setup(path_joins_under_the_root_and_reports_overflow, reset),
		cmocka_unit_test_setup_teardown(root_slash_joins_without_a_double_slash, reset,
						reset),
		cmocka_unit_test_setup(contains_accepts_only_normal_paths_strictly_below, reset),
		cmocka_unit_test(normal_absolute_paths_are_recognised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
