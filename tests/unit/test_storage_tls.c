// SPDX-License-Identifier: GPL-2.0
/*
 * The target API's TLS material (lib/tls.h): the three PEM files of a
 * directory are read; a missing file is named, a file that is not PEM (or
 * empty, or a directory) is refused; rpc_client_new_tls() refuses
 * incomplete material.
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

#include "lib/rpc_client.h"
#include "lib/tls.h"

#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nMIGkey\n-----END PRIVATE KEY-----\n"

struct fixture {
	char dir[64];
};

static void put(struct fixture *f, const char *name, const char *text)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/atomblk-tls-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	put(f, "ca.crt", CA_PEM);
	put(f, "tls.crt", CERT_PEM);
	put(f, "tls.key", KEY_PEM);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void the_three_pem_files_are_read(void **state)
{
	struct fixture *f = *state;
	struct tls_files t = {};
	const char *missing = "x";

	assert_int_equal(tls_files_load(f->dir, &t, &missing), 0);
	assert_null(missing);
	assert_string_equal(t.ca, CA_PEM);
	assert_string_equal(t.cert, CERT_PEM);
	assert_string_equal(t.key, KEY_PEM);
	tls_files_clear(&t);
	assert_null(t.ca);
	assert_null(t.key);
	tls_files_clear(NULL);
}

static void a_missing_file_is_named(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { "ca.crt", "tls.crt", "tls.key" };
	struct tls_files t = {};
	const char *missing = NULL;
	char path[128];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		assert_int_equal(rename(path, "/tmp/atomblk-tls-unit-aside"), 0);
		assert_int_equal(tls_files_load(f->dir, &t, &missing), -ENOENT);
		assert_non_null(missing);
		assert_string_equal(missing, names[i]);
		assert_null(t.ca);
		assert_int_equal(rename("/tmp/atomblk-tls-unit-aside", path), 0);
	}
	assert_int_equal(tls_files_load("/nonexistent/atomblk-tls", &t, &missing), -ENOENT);
	assert_string_equal(missing, "ca.crt");
}

static void a_file_that_is_not_pem_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tls_files t = {};
	const char *missing = NULL;
	char path[128];

	put(f, "tls.crt", "this is not a certificate\n");
	assert_int_equal(tls_files_load(f->dir, &t, &missing), -EINVAL);
	assert_string_equal(missing, "tls.crt");
	assert_null(t.ca);

	put(f, "tls.crt", CERT_PEM);
	put(f, "tls.key", ""); /* empty */
	assert_int_equal(tls_files_load(f->dir, &t, &missing), -EINVAL);
	assert_string_equal(missing, "tls.key");

	snprintf(path, sizeof(path), "%s/ca.crt", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0); /* a directory where the CA should be */
	assert_int_not_equal(tls_files_load(f->dir, &t, &missing), 0);
	assert_string_equal(missing, "ca.crt");
}

static void rpc_client_new_tls_refuses_incomplete_material(void **state)
{
	struct fixture *f = *state;
	struct tls_files t = {};
	struct rpc_client *c = NULL;
	const char *missing;

	assert_int_equal(rpc_client_new_tls("127.0.0.1:1", &t, &c), -EINVAL);
	assert_int_equal(tls_files_load(f->dir, &t, &missing), 0);
	assert_int_equal(rpc_client_new_tls("", &t, &c), -EINVAL);
	assert_int_equal(rpc_client_new_tls("127.0.0.1:1", NULL, &c), -EINVAL);
	assert_null(c);
	tls_files_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_three_pem_files_are_read, setup, teardown),
		cmocka_unit_test_setup_teardown(a_missing_file_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(a_file_that_is_not_pem_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(rpc_client_new_tls_refuses_incomplete_material,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
