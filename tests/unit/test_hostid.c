// SPDX-License-Identifier: GPL-2.0
/* hostid: created once, the same on every later read, malformed files refused and kept. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/hostid.h"
#include "lib/roots.h"

struct fixture {
	char dir[64];
	char state[96]; /* the state directory, not created: hostid_load makes it */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/atomblk-hostid-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	if (roots_set(ROOT_STATE, f->state) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	roots_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void write_state_file(const struct fixture *f, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	mkdir(f->state, 0700);
	snprintf(path, sizeof(path), "%s/%s", f->state, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void read_state_file(const struct fixture *f, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->state, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, (int)size, fp));
	fclose(fp);
}

static void first_use_creates_a_uuid_and_the_nqn_made_from_it(void **state)
{
	struct fixture *f = *state;
	char msg[256] = "", text[512], want[512];
	struct hostid h;

	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), 0);
	assert_true(hostid_uuid_valid(h.id));
	assert_int_equal(h.id[14], '4'); /* version 4: random */
	snprintf(want, sizeof(want), "nqn.2014-08.org.nvmexpress:uuid:%s", h.id);
	assert_string_equal(h.nqn, want);

	read_state_file(f, "hostid", text, sizeof(text));
	snprintf(want, sizeof(want), "%s\n", h.id);
	assert_string_equal(text, want);
	read_state_file(f, "hostnqn", text, sizeof(text));
	snprintf(want, sizeof(want), "%s\n", h.nqn);
	assert_string_equal(text, want);
}

static void later_reads_return_the_same_identity(void **state)
{
	struct hostid a, b;
	char msg[256];

	assert_int_equal(hostid_load(&a, msg, sizeof(msg)), 0);
	assert_int_equal(hostid_load(&b, msg, sizeof(msg)), 0);
	assert_string_equal(a.id, b.id);
	assert_string_equal(a.nqn, b.nqn);
}

static void two_nodes_get_different_ids(void **state)
{
	struct fixture *f = *state;
	struct hostid a, b;
	char msg[256], cmd[160];

	assert_int_equal(hostid_load(&a, msg, sizeof(msg)), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->state);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(hostid_load(&b, msg, sizeof(msg)), 0);
	assert_string_not_equal(a.id, b.id);
}

static void an_operator_set_nqn_is_kept(void **state)
{
	struct fixture *f = *state;
	struct hostid h;
	char msg[256];

	write_state_file(f, "hostid", "5C4B3A29-1111-4222-8333-444455556666\n");
	write_state_file(f, "hostnqn", "nqn.2024-01.io.example:node-7\n");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), 0);
	assert_string_equal(h.id, "5c4b3a29-1111-4222-8333-444455556666");
	assert_string_equal(h.nqn, "nqn.2024-01.io.example:node-7");
}

static void a_host_id_without_nqn_gets_the_nqn_derived_from_it(void **state)
{
	struct fixture *f = *state;
	struct hostid h;
	char msg[256];

	/* A crash between the two files: the id was written first. */
	write_state_file(f, "hostid", "5c4b3a29-1111-4222-8333-444455556666");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), 0);
	assert_string_equal(h.nqn,
			    "nqn.2014-08.org.nvmexpress:uuid:5c4b3a29-1111-4222-8333-444455556666");
}

static void a_malformed_host_id_is_an_error_and_stays(void **state)
{
	struct fixture *f = *state;
	char msg[256] = "", text[512];
	struct hostid h;

	write_state_file(f, "hostid", "not-a-uuid\n");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "hostid"));
	assert_non_null(strstr(msg, "not a UUID"));
	read_state_file(f, "hostid", text, sizeof(text));
	assert_string_equal(text, "not-a-uuid\n");
}

static void a_host_id_of_two_lines_or_too_long_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct hostid h;
	char msg[256];

	write_state_file(
		f, "hostid",
		"5c4b3a29-1111-4222-8333-444455556666\n5c4b3a29-1111-4222-8333-444455556666\n");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), -EBADMSG);
	write_state_file(f, "hostid", "5c4b3a29-1111-4222-8333-4444555566667\n");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), -EBADMSG);
	write_state_file(f, "hostid", "");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), -EBADMSG);
}

static void a_malformed_nqn_is_an_error_and_stays(void **state)
{
	struct fixture *f = *state;
	char msg[256] = "", text[512];
	struct hostid h;

	write_state_file(f, "hostid", "5c4b3a29-1111-4222-8333-444455556666\n");
	write_state_file(f, "hostnqn", "host one\n");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "not an NQN"));
	read_state_file(f, "hostnqn", text, sizeof(text));
	assert_string_equal(text, "host one\n");
}

static void an_nqn_without_its_host_id_is_an_error_not_a_new_id(void **state)
{
	struct fixture *f = *state;
	char msg[256] = "", path[PATH_MAX];
	struct hostid h;

	write_state_file(f, "hostnqn",
			 "nqn.2014-08.org.nvmexpress:uuid:"
			 "5c4b3a29-1111-4222-8333-444455556666\n");
	assert_int_equal(hostid_load(&h, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "missing"));
	snprintf(path, sizeof(path), "%s/hostid", f->state);
	assert_int_equal(access(path, F_OK), -1);
}

static void uuid_and_nqn_checks(void **state)
{
	assert_true(hostid_uuid_valid("5c4b3a29-1111-4222-8333-444455556666"));
	assert_false(hostid_uuid_valid("5c4b3a29-1111-4222-8333-44445555666"));
	assert_false(hostid_uuid_valid("5c4b3a29-1111-4222-8333-4444555566667"));
	assert_false(hostid_uuid_valid("5c4b3a29x1111-4222-8333-444455556666"));
	assert_false(hostid_uuid_valid("gc4b3a29-1111-4222-8333-444455556666"));
	assert_true(hostid_nqn_valid("nqn.2014-08.org.nvmexpress:uuid:x"));
	assert_false(hostid_nqn_valid("nqn."));
	assert_false(hostid_nqn_valid("iqn.2014-08.org"));
	assert_false(hostid_nqn_valid("nqn.a b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(first_use_creates_a_uuid_and_the_nqn_made_from_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(later_reads_return_the_same_identity, setup,
						teardown),
		cmocka_unit_test_setup_teardown(two_nodes_get_different_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(an_operator_set_nqn_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(a_host_id_without_nqn_gets_the_nqn_derived_from_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_malformed_host_id_is_an_error_and_stays, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_host_id_of_two_lines_or_too_long_is_an_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_malformed_nqn_is_an_error_and_stays, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_nqn_without_its_host_id_is_an_error_not_a_new_id,
						setup, teardown),
		cmocka_unit_test(uuid_and_nqn_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
