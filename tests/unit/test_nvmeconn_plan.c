// SPDX-License-Identifier: GPL-2.0
/*
 * nvmeconn_leg_plan: a parsed volume context's legs mapped to how the node
 * reaches each storage node and the controller's loss policy.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/nvmeconn.h"
#include "lib/volctx.h"

struct ctx {
	const char *keys[5];
	const char *values[5];
};

static const char *ctx_get(void *map, const char *key)
{
	struct ctx *c = map;

	for (int i = 0; i < 5; i++)
		if (c->keys[i] && !strcmp(c->keys[i], key))
			return c->values[i];
	return NULL;
}

#define LEGS                                                                              \
	"[{\"node\":\"node-a\",\"target\":\"\",\"replica\":\"pvc-1.0\","                  \
	"\"nqn\":\"nqn.2024-01.io.atomblk:pvc-1.0\",\"addresses\":[{\"trtype\":\"tcp\","  \
	"\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.2\",\"trsvcid\":\"4420\"}]},"           \
	"{\"node\":\"node-b\",\"target\":\"127.0.0.3:9100\",\"replica\":\"pvc-1.1\","     \
	"\"nqn\":\"nqn.2024-01.io.atomblk:pvc-1.1\",\"addresses\":[{\"trtype\":\"tcp\","  \
	"\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.3\",\"trsvcid\":\"4420\"},{\"trtype\":" \
	"\"rdma\",\"adrfam\":\"ipv4\",\"traddr\":\"10.9.0.3\",\"trsvcid\":\"4421\"}]}]"

static void parse(struct volctx *v, const char *layout, const char *hold, const char *legs)
{
	struct ctx c = {
		{ VOLCTX_KEY_LAYOUT, VOLCTX_KEY_SIZE, VOLCTX_KEY_TRANSPORT, VOLCTX_KEY_HOLD,
		  VOLCTX_KEY_REPLICAS },
		{ layout, "1073741824", "auto", hold, legs },
	};
	char msg[256] = "";

	assert_int_equal(volctx_parse(ctx_get, &c, v, msg, sizeof(msg)), 0);
}

static void a_mirror_leg_fails_io_fast_and_keeps_reconnecting(void **state)
{
	struct nvmeconn_leg_plan p;
	struct volctx v;
	char msg[256];

	parse(&v, "mirror", "30", LEGS);
	assert_int_equal(v.nlegs, 2);
	assert_int_equal(nvmeconn_leg_plan(&v, 1, "node-x", false, true, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.route, NVMECONN_ROUTE_REMOTE);
	assert_int_equal(p.fast_io_fail_tmo, 5);
	assert_int_equal(p.ctrl_loss_tmo, 600);
	assert_int_equal(p.reconnect_delay, 2);

	parse(&v, "mirror", "3", LEGS);
	assert_int_equal(nvmeconn_leg_plan(&v, 1, "node-x", false, true, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.fast_io_fail_tmo, 3);

	parse(&v, "mirror", "0", LEGS);
	assert_int_equal(nvmeconn_leg_plan(&v, 1, "node-x", false, true, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.fast_io_fail_tmo, 1);
	assert_int_equal(p.reconnect_delay, 1);

	parse(&v, "mirror", "3600", LEGS);
	assert_int_equal(nvmeconn_leg_plan(&v, 1, "node-x", false, true, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.ctrl_loss_tmo, 3600);
}

static void a_single_replica_waits_the_hold_time(void **state)
{
	const char *one = "[{\"node\":\"node-b\",\"target\":\"127.0.0.3:9100\",\"replica\":"
			  "\"pvc-2.0\",\"nqn\":\"nqn.2024-01.io.atomblk:pvc-2.0\",\"addresses\":"
			  "[{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.3\","
			  "\"trsvcid\":\"4420\"}]}]";
	struct nvmeconn_leg_plan p;
	struct volctx v;
	char msg[256];

	parse(&v, "linear", "45", one);
	assert_int_equal(nvmeconn_leg_plan(&v, 0, "node-x", false, true, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.ctrl_loss_tmo, 45);
	assert_int_equal(p.fast_io_fail_tmo, -1);
	assert_int_equal(p.reconnect_delay, 2);

	parse(&v, "linear", "0", one);
	assert_int_equal(nvmeconn_leg_plan(&v, 0, "node-x", false, true, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.ctrl_loss_tmo, 1);
}

static void the_own_storage_role_is_called_in_process(void **state)
{
	struct nvmeconn_leg_plan p;
	struct volctx v;
	char msg[256];

	parse(&v, "mirror", "30", LEGS);
	/* node-a has no target address: only reachable in-process, on node-a itself. */
	assert_int_equal(nvmeconn_leg_plan(&v, 0, "node-a", true, false, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.route, NVMECONN_ROUTE_LOCAL);
	/* On node-a without a storage role in this process: refused, and said why. */
	assert_int_equal(nvmeconn_leg_plan(&v, 0, "node-a", false, true, &p, msg, sizeof(msg)),
			 -EBUSY);
	assert_non_null(strstr(msg, "no target API address"));
	/* node-b from node-a: remote even though node-a has a storage role. */
	assert_int_equal(nvmeconn_leg_plan(&v, 1, "node-a", true, true, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.route, NVMECONN_ROUTE_REMOTE);
}

static void a_remote_leg_without_tls_material_is_refused(void **state)
{
	struct nvmeconn_leg_plan p;
	struct volctx v;
	char msg[256];

	parse(&v, "mirror", "30", LEGS);
	assert_int_equal(nvmeconn_leg_plan(&v, 1, "node-x", true, false, &p, msg, sizeof(msg)),
			 -EBUSY);
	assert_non_null(strstr(msg, "no TLS material"));
	assert_non_null(strstr(msg, "node-b"));
	assert_int_equal(nvmeconn_leg_plan(&v, 2, "node-x", true, true, &p, msg, sizeof(msg)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_mirror_leg_fails_io_fast_and_keeps_reconnecting),
		cmocka_unit_test(a_single_replica_waits_the_hold_time),
		cmocka_unit_test(the_own_storage_role_is_called_in_process),
		cmocka_unit_test(a_remote_leg_without_tls_material_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
