// SPDX-License-Identifier: GPL-2.0
/* rdmasel: a leg's address from the volume's transport policy and a reachability probe. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/rdmasel.h"

static const struct nvmet_address both[] = {
	{ "tcp", "ipv4", "127.0.0.2", "4420" },
	{ "rdma", "ipv4", "10.9.0.2", "4421" },
};
static const struct nvmet_address tcp_only[] = { { "tcp", "ipv4", "127.0.0.2", "4420" } };
static const struct nvmet_address rdma_only[] = { { "rdma", "ipv4", "10.9.0.2", "4421" } };

static int probes;

static int probe_reachable(const struct nvmet_address *addr, int timeout_ms, char *msg,
			   size_t msg_size)
{
	probes++;
	assert_string_equal(addr->trtype, "rdma");
	snprintf(msg, msg_size, "over rxe0");
	return 0;
}

static int probe_no_device(const struct nvmet_address *addr, int timeout_ms, char *msg,
			   size_t msg_size)
{
	probes++;
	snprintf(msg, msg_size, "no RDMA device");
	return -ENODEV;
}

static int setup(void **state)
{
	probes = 0;
	return 0;
}

static void tcp_takes_the_tcp_address_without_probing(void **state)
{
	const struct nvmet_address *a;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_TCP, both, 2, probe_reachable, &a, why,
					sizeof(why)),
			 0);
	assert_ptr_equal(a, &both[0]);
	assert_int_equal(probes, 0);
	assert_non_null(strstr(why, "tcp 127.0.0.2:4420"));
}

static void tcp_without_a_tcp_address_is_an_error(void **state)
{
	const struct nvmet_address *a;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_TCP, rdma_only, 1, probe_reachable, &a,
					why, sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "no tcp address"));
}

static void auto_takes_rdma_when_reachable(void **state)
{
	const struct nvmet_address *a;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_AUTO, both, 2, probe_reachable, &a, why,
					sizeof(why)),
			 0);
	assert_ptr_equal(a, &both[1]);
	assert_int_equal(probes, 1);
	assert_non_null(strstr(why, "rdma 10.9.0.2:4421"));
}

static void auto_falls_back_to_tcp_and_says_why(void **state)
{
	const struct nvmet_address *a;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_AUTO, both, 2, probe_no_device, &a, why,
					sizeof(why)),
			 0);
	assert_ptr_equal(a, &both[0]);
	assert_non_null(strstr(why, "tcp 127.0.0.2:4420"));
	assert_non_null(strstr(why, "no RDMA device"));
}

static void auto_without_an_rdma_address_does_not_probe(void **state)
{
	const struct nvmet_address *a;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_AUTO, tcp_only, 1, probe_reachable, &a,
					why, sizeof(why)),
			 0);
	assert_ptr_equal(a, &tcp_only[0]);
	assert_int_equal(probes, 0);
	assert_non_null(strstr(why, "no rdma address"));
}

static void rdma_required_and_unreachable_is_an_error(void **state)
{
	const struct nvmet_address *a = NULL;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_RDMA, both, 2, probe_no_device, &a, why,
					sizeof(why)),
			 -EHOSTUNREACH);
	assert_null(a);
	assert_non_null(strstr(why, "not reachable"));
	assert_non_null(strstr(why, "no RDMA device"));
}

static void rdma_required_without_an_rdma_address_is_an_error(void **state)
{
	const struct nvmet_address *a = NULL;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_RDMA, tcp_only, 1, probe_reachable, &a,
					why, sizeof(why)),
			 -ENOENT);
	assert_null(a);
	assert_non_null(strstr(why, "no rdma address"));
}

static void rdma_required_and_reachable(void **state)
{
	const struct nvmet_address *a;
	char why[256];

	assert_int_equal(rdmasel_choose(VOLCTX_TRANSPORT_RDMA, rdma_only, 1, probe_reachable, &a,
					why, sizeof(why)),
			 0);
	assert_ptr_equal(a, &rdma_only[0]);
}

static void the_real_probe_refuses_a_name_that_is_no_address(void **state)
{
	const struct nvmet_address bad = { "rdma", "ipv4", "storage-1", "4420" };
	char msg[128];

	assert_int_equal(rdmasel_probe(&bad, 100, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not an IP address"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(tcp_takes_the_tcp_address_without_probing, setup),
		cmocka_unit_test_setup(tcp_without_a_tcp_address_is_an_error, setup),
		cmocka_unit_test_setup(auto_takes_rdma_when_reachable, setup),
		cmocka_unit_test_setup(auto_falls_back_to_tcp_and_says_why, setup),
		cmocka_unit_test_setup(auto_without_an_rdma_address_does_not_probe, setup),
		cmocka_unit_test_setup(rdma_required_and_unreachable_is_an_error, setup),
		cmocka_unit_test_setup(rdma_required_without_an_rdma_address_is_an_error, setup),
		cmocka_unit_test_setup(rdma_required_and_reachable, setup),
		cmocka_unit_test(the_real_probe_refuses_a_name_that_is_no_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
