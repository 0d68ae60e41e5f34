// SPDX-License-Identifier: GPL-2.0
/*
 * lib/nvmet's host list and size announce on a plain directory tree shaped
 * like nvmet's configfs (the kernel's own behaviour is tested in the VM,
 * tests/vm/cases/81-storage-target.sh): hosts are allowed and disallowed
 * idempotently, a host entry goes with its last subsystem, bad NQNs and
 * unknown replicas are refused, revalidate_size is written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/nvmet.h"

#define HOST_A "nqn.2026-11.io.atomblk:host:a"
#define HOST_B "nqn.2026-11.io.atomblk:host:b"
#define SUBSYS "/subsystems/" NVMET_NQN_PREFIX

struct fixture {
	char root[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char cmd[512];

	strcpy(f->root, "/tmp/atomblk-nvmet-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	/* two exported replicas, r1 and r2, as nvmet_export() leaves them */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && mkdir -p hosts ports '." SUBSYS "r1/allowed_hosts' '." SUBSYS
		 "r1/namespaces/1' '." SUBSYS "r2/allowed_hosts' '." SUBSYS "r2/namespaces/1'",
		 f->root);
	if (system(cmd))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static bool exists(struct fixture *f, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", f->root, rel);
	return lstat(path, &st) == 0;
}

static size_t host_count(struct fixture *f, const char *name)
{
	char **hosts;
	size_t n;

	assert_int_equal(nvmet_list_hosts(f->root, name, &hosts, &n), 0);
	nvmet_hosts_free(hosts, n);
	return n;
}

static void hosts_are_allowed_and_disallowed_idempotently(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(host_count(f, "r1"), 0);
	assert_int_equal(nvmet_allow_host(f->root, "r1", HOST_A), 0);
	assert_int_equal(nvmet_allow_host(f->root, "r1", HOST_A), 0);
	assert_int_equal(nvmet_allow_host(f->root, "r1", HOST_B), 0);
	assert_int_equal(host_count(f, "r1"), 2);
	assert_true(exists(f, "/hosts/" HOST_A));
	assert_true(exists(f, SUBSYS "r1/allowed_hosts/" HOST_A));

	assert_int_equal(nvmet_disallow_host(f->root, "r1", HOST_A), 0);
	assert_int_equal(nvmet_disallow_host(f->root, "r1", HOST_A), 0);
	assert_int_equal(host_count(f, "r1"), 1);
	assert_false(exists(f, SUBSYS "r1/allowed_hosts/" HOST_A));
	assert_false(exists(f, "/hosts/" HOST_A)); /* no subsystem allows it any more */
}

static void a_host_entry_stays_while_another_subsystem_allows_it(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(nvmet_allow_host(f->root, "r1", HOST_A), 0);
	assert_int_equal(nvmet_allow_host(f->root, "r2", HOST_A), 0);
	assert_int_equal(nvmet_disallow_host(f->root, "r1", HOST_A), 0);
	assert_true(exists(f, "/hosts/" HOST_A));
	assert_true(exists(f, SUBSYS "r2/allowed_hosts/" HOST_A));
}

static void bad_nqns_and_unknown_replicas_are_refused(void **state)
{
	struct fixture *f = *state;
	char **hosts;
	size_t n;

	assert_int_equal(nvmet_allow_host(f->root, "r1", "host-a"), -EINVAL);
	assert_int_equal(nvmet_allow_host(f->root, "r1", "nqn.a/b"), -EINVAL);
	assert_int_equal(nvmet_allow_host(f->root, "../r1", HOST_A), -EINVAL);
	assert_int_equal(nvmet_allow_host(f->root, "r9", HOST_A), -ENOENT);
	assert_false(exists(f, "/hosts/" HOST_A));
	assert_int_equal(nvmet_disallow_host(f->root, "r9", HOST_A), 0); /* nothing to take */
	assert_int_equal(nvmet_list_hosts(f->root, "r9", &hosts, &n), -ENOENT);
	assert_true(nvmet_host_nqn_is_valid(HOST_A));
	assert_false(nvmet_host_nqn_is_valid("nqn."));
}

static void revalidate_size_writes_the_namespace_attribute(void **state)
{
	struct fixture *f = *state;
	char path[256], buf[8] = "";
	FILE *fp;

	assert_int_equal(nvmet_revalidate_size(f->root, "r1"), 0);
	snprintf(path, sizeof(path), "%s" SUBSYS "r1/namespaces/1/revalidate_size", f->root);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "1");
	assert_int_equal(nvmet_revalidate_size(f->root, "r9"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hosts_are_allowed_and_disallowed_idempotently,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_host_entry_stays_while_another_subsystem_allows_it, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_nqns_and_unknown_replicas_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(revalidate_size_writes_the_namespace_attribute,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
