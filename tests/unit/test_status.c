// SPDX-License-Identifier: GPL-2.0
/* status_from_errno() and status_name(): the one errno -> gRPC mapping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lib/status.h"

static void zero_is_ok(void **state)
{
	assert_int_equal(status_from_errno(0), GRPC_STATUS_OK);
}

static void negative_and_positive_errno_map_the_same(void **state)
{
	for (int e = 1; e < 134; e++)
		assert_int_equal(status_from_errno(-e), status_from_errno(e));
}

static void csi_spec_cases_get_the_spec_codes(void **state)
{
	static const struct {
		int err;
		grpc_status_code code;
	} cases[] = {
		{ EINVAL, GRPC_STATUS_INVALID_ARGUMENT },
		{ EBADMSG, GRPC_STATUS_INVALID_ARGUMENT },
		{ ENOENT, GRPC_STATUS_NOT_FOUND },
		{ ENODEV, GRPC_STATUS_NOT_FOUND },
		{ ENXIO, GRPC_STATUS_NOT_FOUND },
		{ EEXIST, GRPC_STATUS_ALREADY_EXISTS },
		{ EBUSY, GRPC_STATUS_FAILED_PRECONDITION },
		{ ENOTEMPTY, GRPC_STATUS_FAILED_PRECONDITION },
		{ EINPROGRESS, GRPC_STATUS_ABORTED },
		{ EALREADY, GRPC_STATUS_ABORTED },
		{ EAGAIN, GRPC_STATUS_UNAVAILABLE },
		{ ECONNREFUSED, GRPC_STATUS_UNAVAILABLE },
		{ ENOSPC, GRPC_STATUS_RESOURCE_EXHAUSTED },
		{ EDQUOT, GRPC_STATUS_RESOURCE_EXHAUSTED },
		{ ERANGE, GRPC_STATUS_OUT_OF_RANGE },
		{ EOPNOTSUPP, GRPC_STATUS_UNIMPLEMENTED },
		{ ENOTSUP, GRPC_STATUS_UNIMPLEMENTED },
		{ ENOSYS, GRPC_STATUS_UNIMPLEMENTED },
		{ ETIMEDOUT, GRPC_STATUS_DEADLINE_EXCEEDED },
		{ EPERM, GRPC_STATUS_PERMISSION_DENIED },
		{ EACCES, GRPC_STATUS_PERMISSION_DENIED },
		{ ECANCELED, GRPC_STATUS_CANCELLED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("errno %d\n", cases[i].err);
		assert_int_equal(status_from_errno(-cases[i].err), cases[i].code);
	}
}

static void unexpected_errors_are_internal(void **state)
{
	assert_int_equal(status_from_errno(-EIO), GRPC_STATUS_INTERNAL);
	assert_int_equal(status_from_errno(-ENOMEM), GRPC_STATUS_INTERNAL);
	assert_int_equal(status_from_errno(-EBADF), GRPC_STATUS_INTERNAL);
	assert_int_equal(status_from_errno(-100000), GRPC_STATUS_INTERNAL);
}

static void no_errno_ever_maps_to_ok_or_unknown(void **state)
{
	for (int e = 1; e < 134; e++) {
		assert_int_not_equal(status_from_errno(-e), GRPC_STATUS_OK);
		assert_int_not_equal(status_from_errno(-e), GRPC_STATUS_UNKNOWN);
	}
}

static void status_names_are_the_canonical_grpc_names(void **state)
{
	assert_string_equal(status_name(GRPC_STATUS_OK), "OK");
	assert_string_equal(status_name(GRPC_STATUS_INVALID_ARGUMENT), "INVALID_ARGUMENT");
	assert_string_equal(status_name(GRPC_STATUS_NOT_FOUND), "NOT_FOUND");
	assert_string_equal(status_name(GRPC_STATUS_ABORTED), "ABORTED");
	assert_string_equal(status_name(GRPC_STATUS_UNIMPLEMENTED), "UNIMPLEMENTED");
	assert_string_equal(status_name(GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
	for (int code = 0; code <= GRPC_STATUS_UNAUTHENTICATED; code++)
		assert_string_not_equal(status_name(code), "UNKNOWN_STATUS");
}

static void out_of_range_codes_have_a_placeholder_name(void **state)
{
	assert_string_equal(status_name(17), "UNKNOWN_STATUS");
	assert_string_equal(status_name(-1), "UNKNOWN_STATUS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zero_is_ok),
		cmocka_unit_test(negative_and_positive_errno_map_the_same),
		cmocka_unit_test(csi_spec_cases_get_the_spec_codes),
		cmocka_unit_test(unexpected_errors_are_internal),
		cmocka_unit_test(no_errno_ever_maps_to_ok_or_unknown),
		cmocka_unit_test(status_names_are_the_canonical_grpc_names),
		cmocka_unit_test(out_of_range_codes_have_a_placeholder_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
