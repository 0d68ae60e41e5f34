// SPDX-License-Identifier: GPL-2.0
/*
 * rpc_client without a server: argument checks, NULL-safe frees, and calls
 * to an endpoint where nothing listens completing as UNAVAILABLE (status,
 * not a local error). Calls against the real agent are in tests/grpc.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <grpc/status.h>

#include "lib/rpc_client.h"

#define PROBE "/csi.v1.Identity/Probe"

static void test_bad_arguments_are_refused_with_einval(void **state)
{
	struct rpc_client *c = NULL;
	struct rpc_reply reply = { 0 };
	uint8_t byte = 0;

	assert_int_equal(rpc_client_new(NULL, &c), -EINVAL);
	assert_int_equal(rpc_client_new("", &c), -EINVAL);
	assert_int_equal(rpc_client_new("unix:/nonexistent/x.sock", NULL), -EINVAL);
	assert_int_equal(rpc_client_new("unix:/nonexistent/x.sock", &c), 0);
	assert_int_equal(rpc_client_call(NULL, PROBE, NULL, 0, 100, &reply), -EINVAL);
	assert_int_equal(rpc_client_call(c, NULL, NULL, 0, 100, &reply), -EINVAL);
	assert_int_equal(rpc_client_call(c, "csi.v1.Identity/Probe", NULL, 0, 100, &reply),
			 -EINVAL);
	assert_int_equal(rpc_client_call(c, PROBE, NULL, 1, 100, &reply), -EINVAL);
	assert_int_equal(rpc_client_call(c, PROBE, &byte, 1, 100, NULL), -EINVAL);
	assert_null(rpc_client_free(c));
}

static void test_frees_are_null_safe(void **state)
{
	struct rpc_reply reply = { 0 };

	assert_null(rpc_client_free(NULL));
	rpc_reply_clear(NULL);
	rpc_reply_clear(&reply);
	reply.details = strdup("x");
	reply.data = malloc(3);
	reply.len = 3;
	rpc_reply_clear(&reply);
	assert_null(reply.details);
	assert_null(reply.data);
	assert_int_equal(reply.len, 0);
}

static void test_nothing_listening_completes_as_unavailable(void **state)
{
	struct rpc_client *c = NULL;
	struct rpc_reply reply = { 0 };

	assert_int_equal(rpc_client_new("unix:/nonexistent/dir/csi.sock", &c), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rpc_client_call(c, PROBE, NULL, 0, 5000, &reply), 0);
		assert_int_equal(reply.status, GRPC_STATUS_UNAVAILABLE);
		assert_non_null(reply.details);
		assert_non_null(strstr(reply.details, "/nonexistent/dir/csi.sock"));
		assert_null(reply.data);
		assert_int_equal(reply.len, 0);
		rpc_reply_clear(&reply);
	}
	rpc_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments_are_refused_with_einval),
		cmocka_unit_test(test_frees_are_null_safe),
		cmocka_unit_test(test_nothing_listening_completes_as_unavailable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
