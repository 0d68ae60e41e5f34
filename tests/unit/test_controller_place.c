// SPDX-License-Identifier: GPL-2.0
/*
 * The Controller's pure decisions: ids, parameters, sizes, capabilities,
 * topology, placement, capacity and pagination.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "csi/controller_place.h"
#include "csi/csi.h"

static void ids_are_a_prefix_and_32_hex_digits_of_the_names_sha256(void **state)
{
	char id[CTRL_ID_LEN + 1], again[CTRL_ID_LEN + 1], other[CTRL_ID_LEN + 1];

	/* printf abc | sha256sum: ba7816bf8f01cfea414140de5dae2223b00361a3... */
	ctrl_id_from_name(CTRL_VOLUME_PREFIX, "abc", id);
	assert_string_equal(id, "v-ba7816bf8f01cfea414140de5dae2223");
	ctrl_id_from_name(CTRL_VOLUME_PREFIX, "abc", again);
	assert_string_equal(id, again);
	ctrl_id_from_name(CTRL_SNAPSHOT_PREFIX, "abc", other);
	assert_string_equal(other, "s-ba7816bf8f01cfea414140de5dae2223");
	assert_true(ctrl_id_valid(CTRL_VOLUME_PREFIX, id));
	assert_false(ctrl_id_valid(CTRL_SNAPSHOT_PREFIX, id));
	assert_false(ctrl_id_valid(CTRL_VOLUME_PREFIX, "v-BA7816BF8F01CFEA414140DE5DAE2223"));
	assert_false(ctrl_id_valid(CTRL_VOLUME_PREFIX, "v-ba7816bf"));
	assert_false(ctrl_id_valid(CTRL_VOLUME_PREFIX, "pvc-1"));
	assert_false(ctrl_id_valid(CTRL_VOLUME_PREFIX, NULL));
}

static void parameters_default_and_accept_the_charts_keys(void **state)
{
	const struct ctrl_kv chart[] = {
		{ "replicas", "2" },
		{ "csi.storage.k8s.io/fstype", "xfs" },
		{ "transport", "rdma" },
		{ "holdSeconds", "0" },
		{ "csi.storage.k8s.io/pvc/name", "data" },
	};
	struct ctrl_params p;
	char msg[CTRL_MSG_MAX];

	assert_int_equal(ctrl_params_parse(NULL, 0, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.replicas, 1);
	assert_int_equal(p.transport, VOLCTX_TRANSPORT_AUTO);
	assert_int_equal(p.hold_seconds, 300);
	assert_int_equal(ctrl_params_parse(chart, 5, &p, msg, sizeof(msg)), 0);
	assert_int_equal(p.replicas, 2);
	assert_int_equal(p.transport, VOLCTX_TRANSPORT_RDMA);
	assert_int_equal(p.hold_seconds, 0);
}

static void bad_parameters_are_refused_naming_the_key(void **state)
{
	static const struct {
		struct ctrl_kv kv;
		const char *needle;
	} cases[] = {
		{ { "replicas", "0" }, "replicas" },
		{ { "replicas", "4" }, "replicas" },
		{ { "replicas", "02" }, "replicas" },
		{ { "replicas", "" }, "replicas" },
		{ { "transport", "TCP" }, "transport" },
		{ { "holdSeconds", "86401" }, "holdSeconds" },
		{ { "holdSeconds", "-1" }, "holdSeconds" },
		{ { "fsType", "ext4" }, "unknown parameter \"fsType\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctrl_params p;
		char msg[CTRL_MSG_MAX] = "";

		assert_int_equal(ctrl_params_parse(&cases[i].kv, 1, &p, msg, sizeof(msg)), -EINVAL);
		assert_non_null(strstr(msg, cases[i].needle));
	}
}

static void sizes_round_up_default_to_1gib_and_respect_the_limit(void **state)
{
	char msg[CTRL_MSG_MAX];
	uint64_t size;

	assert_int_equal(ctrl_size_pick(0, 0, 0, &size, msg, sizeof(msg)), 0);
	assert_true(size == 1ULL << 30);
	assert_int_equal(ctrl_size_pick(1, 0, 0, &size, msg, sizeof(msg)), 0);
	assert_true(size == 4096);
	assert_int_equal(ctrl_size_pick(10000, 20000, 0, &size, msg, sizeof(msg)), 0);
	assert_true(size == 12288);
	/* no limit given: the default, lowered to a smaller limit */
	assert_int_equal(ctrl_size_pick(0, 1 << 20, 0, &size, msg, sizeof(msg)), 0);
	assert_true(size == 1 << 20);
	/* a clone takes at least its source's size */
	assert_int_equal(ctrl_size_pick(4096, 0, 2ULL << 30, &size, msg, sizeof(msg)), 0);
	assert_true(size == 2ULL << 30);
	assert_int_equal(ctrl_size_pick(0, 0, 3ULL << 30, &size, msg, sizeof(msg)), 0);
	assert_true(size == 3ULL << 30);

	assert_int_equal(ctrl_size_pick(8192, 4096, 0, &size, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "exceeds limit_bytes"));
	assert_int_equal(ctrl_size_pick(-1, 0, 0, &size, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctrl_size_pick(4097, 8000, 0, &size, msg, sizeof(msg)), -ERANGE);
	assert_int_equal(ctrl_size_pick(0, 100, 0, &size, msg, sizeof(msg)), -ERANGE);
	assert_int_equal(ctrl_size_pick(0, 1 << 20, 2 << 20, &size, msg, sizeof(msg)), -ERANGE);
	assert_int_equal(ctrl_size_pick(INT64_MAX, 0, 0, &size, msg, sizeof(msg)), -ERANGE);

	assert_true(ctrl_size_in_range(4096, 0, 0));
	assert_true(ctrl_size_in_range(4096, 4096, 4096));
	assert_false(ctrl_size_in_range(4096, 8192, 0));
	assert_false(ctrl_size_in_range(8192, 0, 4096));
}

static void capabilities_block_mount_single_node_only(void **state)
{
	Csi__V1__VolumeCapability__AccessMode mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__INIT;
	Csi__V1__VolumeCapability__MountVolume mount =
		CSI__V1__VOLUME_CAPABILITY__MOUNT_VOLUME__INIT;
	Csi__V1__VolumeCapability__BlockVolume block =
		CSI__V1__VOLUME_CAPABILITY__BLOCK_VOLUME__INIT;
	Csi__V1__VolumeCapability cap = CSI__V1__VOLUME_CAPABILITY__INIT;
	char msg[CTRL_MSG_MAX];

	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "access_mode"));
	cap.access_mode = &mode;
	mode.mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER;
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "access type"));
	cap.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
	cap.block = &block;
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), 0);
	cap.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
	cap.mount = &mount;
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), 0);
	mount.fs_type = "xfs";
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), 0);
	mount.fs_type = "btrfs";
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "btrfs"));
	mount.fs_type = "ext4";
	mode.mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER;
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), 0);
	mode.mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER;
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not supported"));
	mode.mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY;
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), -EINVAL);
	mode.mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN;
	assert_int_equal(csi_capability_check(&cap, msg, sizeof(msg)), -EINVAL);
}

/* Three zones, four nodes: a, b in zone 1, c in 2, d in 3. */
static const struct ctrl_kv topo_a[] = { { "zone", "1" }, { "node", "a" } };
static const struct ctrl_kv topo_b[] = { { "zone", "1" }, { "node", "b" } };
static const struct ctrl_kv topo_c[] = { { "zone", "2" }, { "node", "c" } };
static const struct ctrl_kv topo_d[] = { { "zone", "3" }, { "node", "d" } };

static void candidates(struct ctrl_candidate c[4])
{
	const struct ctrl_candidate init[4] = {
		{ "a", { topo_a, 2 }, 100, true },
		{ "b", { topo_b, 2 }, 300, true },
		{ "c", { topo_c, 2 }, 200, true },
		{ "d", { topo_d, 2 }, 50, true },
	};

	memcpy(c, init, sizeof(init));
}

static void a_segment_matches_when_every_key_matches(void **state)
{
	const struct ctrl_kv zone1[] = { { "zone", "1" } },
			     zone1_b[] = { { "zone", "1" }, { "node", "b" } },
			     other[] = { { "rack", "1" } };
	struct ctrl_segment a = { topo_a, 2 }, s1 = { zone1, 1 }, s1b = { zone1_b, 2 },
			    so = { other, 1 }, empty = { NULL, 0 };

	assert_true(ctrl_segment_matches(&a, &s1));
	assert_false(ctrl_segment_matches(&a, &s1b));
	assert_false(ctrl_segment_matches(&a, &so));
	assert_true(ctrl_segment_matches(&a, &empty));
}

static void placement_prefers_then_most_free_on_distinct_nodes(void **state)
{
	const struct ctrl_kv zone2[] = { { "zone", "2" } }, zone1[] = { { "zone", "1" } },
			     zone3[] = { { "zone", "3" } };
	struct ctrl_segment pref[] = { { zone2, 1 } }, req[] = { { zone1, 1 }, { zone3, 1 } };
	struct ctrl_candidate c[4];
	size_t chosen[3], q;

	candidates(c);
	/* most free first: b (300), c (200), a (100) */
	assert_int_equal(ctrl_place(c, 4, NULL, 0, NULL, 0, 10, 3, chosen, &q), 3);
	assert_int_equal(chosen[0], 1);
	assert_int_equal(chosen[1], 2);
	assert_int_equal(chosen[2], 0);
	/* the preferred zone first */
	assert_int_equal(ctrl_place(c, 4, NULL, 0, pref, 1, 10, 2, chosen, &q), 2);
	assert_int_equal(chosen[0], 2);
	assert_int_equal(chosen[1], 1);
	/* requisite restricts to zones 1 and 3: b, a, d */
	assert_int_equal(ctrl_place(c, 4, req, 2, NULL, 0, 10, 3, chosen, &q), 3);
	assert_int_equal(chosen[0], 1);
	assert_int_equal(chosen[1], 0);
	assert_int_equal(chosen[2], 3);
	/* capacity: only b and c hold 150 */
	assert_int_equal(ctrl_place(c, 4, NULL, 0, NULL, 0, 150, 3, chosen, &q), -ENOSPC);
	assert_int_equal(q, 2);
	/* ineligible nodes (already holding a leg, lacking the source) are skipped */
	c[1].eligible = false;
	assert_int_equal(ctrl_place(c, 4, NULL, 0, NULL, 0, 10, 1, chosen, &q), 1);
	assert_int_equal(chosen[0], 2);
	assert_int_equal(ctrl_place(c, 4, req, 2, NULL, 0, 10, 3, chosen, &q), -ENOSPC);
	assert_int_equal(q, 2);
}

static void capacity_divides_by_replicas_and_takes_the_nth_largest_node(void **state)
{
	const uint64_t avail[] = { 100, 300, 200, 50 };
	uint64_t a, m;

	ctrl_capacity(avail, 4, 1, &a, &m);
	assert_true(a == 650 && m == 300);
	ctrl_capacity(avail, 4, 2, &a, &m);
	assert_true(a == 325 && m == 200);
	ctrl_capacity(avail, 4, 3, &a, &m);
	assert_true(a == 216 && m == 100);
	ctrl_capacity(avail, 2, 3, &a, &m);
	assert_true(a == 133 && m == 0); /* too few nodes for 3 replicas */
	ctrl_capacity(NULL, 0, 1, &a, &m);
	assert_true(a == 0 && m == 0);
}

static void pages_continue_at_the_token_and_survive_deletions(void **state)
{
	const char *ids[] = {
		"v-00000000000000000000000000000001", "v-00000000000000000000000000000002",
		"v-00000000000000000000000000000003", "v-00000000000000000000000000000005",
		"v-00000000000000000000000000000006",
	};
	const char *next;
	size_t start, count;

	assert_int_equal(ctrl_page(ids, 5, 0, "", CTRL_VOLUME_PREFIX, &start, &count, &next), 0);
	assert_true(start == 0 && count == 5 && !next);
	assert_int_equal(ctrl_page(ids, 5, 2, NULL, CTRL_VOLUME_PREFIX, &start, &count, &next), 0);
	assert_true(start == 0 && count == 2);
	assert_string_equal(next, ids[2]);
	assert_int_equal(ctrl_page(ids, 5, 2, next, CTRL_VOLUME_PREFIX, &start, &count, &next), 0);
	assert_true(start == 2 && count == 2);
	assert_string_equal(next, ids[4]);
	assert_int_equal(ctrl_page(ids, 5, 2, next, CTRL_VOLUME_PREFIX, &start, &count, &next), 0);
	assert_true(start == 4 && count == 1 && !next);
	/* the token's volume was deleted meanwhile: start at the next one */
	assert_int_equal(ctrl_page(ids, 5, 2, "v-00000000000000000000000000000004",
				   CTRL_VOLUME_PREFIX, &start, &count, &next),
			 0);
	assert_true(start == 3 && count == 2 && !next);
	assert_int_equal(ctrl_page(ids, 5, 2, "v-00000000000000000000000000000009",
				   CTRL_VOLUME_PREFIX, &start, &count, &next),
			 0);
	assert_true(count == 0 && !next);
	assert_int_equal(ctrl_page(ids, 5, 2, "garbage", CTRL_VOLUME_PREFIX, &start, &count, &next),
			 -ENOENT);
	assert_int_equal(ctrl_page(ids, 5, 2, ids[1], CTRL_SNAPSHOT_PREFIX, &start, &count, &next),
			 -ENOENT);
	assert_int_equal(ctrl_page(ids, 5, -1, NULL, CTRL_VOLUME_PREFIX, &start, &count, &next),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_are_a_prefix_and_32_hex_digits_of_the_names_sha256),
		cmocka_unit_test(parameters_default_and_accept_the_charts_keys),
		cmocka_unit_test(bad_parameters_are_refused_naming_the_key),
		cmocka_unit_test(sizes_round_up_default_to_1gib_and_respect_the_limit),
		cmocka_unit_test(capabilities_block_mount_single_node_only),
		cmocka_unit_test(a_segment_matches_when_every_key_matches),
		cmocka_unit_test(placement_prefers_then_most_free_on_distinct_nodes),
		cmocka_unit_test(capacity_divides_by_replicas_and_takes_the_nth_largest_node),
		cmocka_unit_test(pages_continue_at_the_token_and_survive_deletions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
