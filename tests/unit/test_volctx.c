// SPDX-License-Identifier: GPL-2.0
/*
 * volctx: what the controller writes the node reads back unchanged, and
 * every malformed volume context is refused with a message naming the key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/volctx.h"

/* A volume context as a small key/value table. */
struct map {
	const char *keys[8];
	const char *values[8];
	size_t n;
};

static const char *map_get(void *m, const char *key)
{
	struct map *map = m;

	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return map->values[i];
	return NULL;
}

static void map_set(struct map *m, const char *key, const char *value)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!strcmp(m->keys[i], key)) {
			m->values[i] = value;
			return;
		}
	}
	m->keys[m->n] = key;
	m->values[m->n++] = value;
}

static void map_unset(struct map *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!strcmp(m->keys[i], key)) {
			m->keys[i] = m->keys[m->n - 1];
			m->values[i] = m->values[m->n - 1];
			m->n--;
			return;
		}
	}
}

static const char two_legs[] =
	"[{\"node\":\"n1\",\"target\":\"10.0.0.1:9443\",\"replica\":\"v-0123\","
	"\"nqn\":\"nqn.2026-11.io.atomblk:v-0123\",\"addresses\":[{\"trtype\":\"tcp\","
	"\"adrfam\":\"ipv4\",\"traddr\":\"10.0.0.1\",\"trsvcid\":\"4420\"}]},"
	"{\"node\":\"n2\",\"target\":\"\",\"replica\":\"v-0123\",\"nqn\":\"nqn.x:v-0123\","
	"\"addresses\":[{\"trtype\":\"tcp\",\"adrfam\":\"ipv6\",\"traddr\":\"fd00::2\","
	"\"trsvcid\":\"4420\"},{\"trtype\":\"rdma\",\"adrfam\":\"ipv6\",\"traddr\":\"fd00::2\","
	"\"trsvcid\":\"4420\"}],\"future\":1}]";

static void valid_mirror(struct map *m)
{
	memset(m, 0, sizeof(*m));
	map_set(m, VOLCTX_KEY_LAYOUT, "mirror");
	map_set(m, VOLCTX_KEY_SIZE, "1073741824");
	map_set(m, VOLCTX_KEY_TRANSPORT, "auto");
	map_set(m, VOLCTX_KEY_HOLD, "300");
	map_set(m, VOLCTX_KEY_REPLICAS, two_legs);
	map_set(m, "csi.storage.k8s.io/pv/name", "pv-1"); /* the CO's own keys are fine */
}

static void a_mirror_context_parses_into_its_legs(void **state)
{
	struct map m;
	struct volctx v;
	char msg[256];

	valid_mirror(&m);
	assert_int_equal(volctx_parse(map_get, &m, &v, msg, sizeof(msg)), 0);
	assert_int_equal(v.layout, ATOMBLK_LAYOUT_MIRROR);
	assert_true(v.size == 1073741824ULL);
	assert_int_equal(v.transport, VOLCTX_TRANSPORT_AUTO);
	assert_int_equal(v.hold_seconds, 300);
	assert_int_equal(v.nlegs, 2);
	assert_string_equal(v.legs[0].node, "n1");
	assert_string_equal(v.legs[0].target, "10.0.0.1:9443");
	assert_string_equal(v.legs[0].replica, "v-0123");
	assert_string_equal(v.legs[0].nqn, "nqn.2026-11.io.atomblk:v-0123");
	assert_int_equal(v.legs[0].naddrs, 1);
	assert_string_equal(v.legs[0].addrs[0].traddr, "10.0.0.1");
	assert_string_equal(v.legs[1].target, ""); /* in-process storage role */
	assert_int_equal(v.legs[1].naddrs, 2);
	assert_string_equal(v.legs[1].addrs[1].trtype, "rdma");
	assert_string_equal(v.legs[1].addrs[1].adrfam, "ipv6");
}

static void format_then_parse_gives_the_same_volume(void **state)
{
	struct volctx in = {
		.layout = ATOMBLK_LAYOUT_MIRROR,
		.size = 5ULL << 30,
		.transport = VOLCTX_TRANSPORT_RDMA,
		.hold_seconds = 0,
		.nlegs = 3,
	}, out;
	const char *keys[VOLCTX_KEYS];
	char *values[VOLCTX_KEYS], msg[256];
	struct map m = {};

	for (size_t i = 0; i < 3; i++) {
		struct volctx_leg *leg = &in.legs[i];

		snprintf(leg->node, sizeof(leg->node), "node-%zu", i);
		snprintf(leg->target, sizeof(leg->target), i ? "10.0.0.%zu:9443" : "", i);
		snprintf(leg->replica, sizeof(leg->replica), "v-abc");
		snprintf(leg->nqn, sizeof(leg->nqn), "nqn.2026-11.io.atomblk:v-abc");
		snprintf(leg->addrs[0].trtype, sizeof(leg->addrs[0].trtype), "tcp");
		snprintf(leg->addrs[0].adrfam, sizeof(leg->addrs[0].adrfam), "ipv4");
		snprintf(leg->addrs[0].traddr, sizeof(leg->addrs[0].traddr), "10.0.0.%zu", i);
		snprintf(leg->addrs[0].trsvcid, sizeof(leg->addrs[0].trsvcid), "4420");
		leg->naddrs = 1;
	}
	assert_int_equal(volctx_format(&in, keys, values), VOLCTX_KEYS);
	for (size_t i = 0; i < VOLCTX_KEYS; i++)
		map_set(&m, keys[i], values[i]);
	assert_string_equal(map_get(&m, VOLCTX_KEY_LAYOUT), "mirror");
	assert_string_equal(map_get(&m, VOLCTX_KEY_TRANSPORT), "rdma");
	assert_int_equal(volctx_parse(map_get, &m, &out, msg, sizeof(msg)), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	for (size_t i = 0; i < VOLCTX_KEYS; i++)
		free(values[i]);
}

static void a_context_without_replicas_is_not_a_volctx(void **state)
{
	struct map m;
	struct volctx v;
	char msg[256];

	valid_mirror(&m);
	map_unset(&m, VOLCTX_KEY_REPLICAS);
	assert_int_equal(volctx_parse(map_get, &m, &v, msg, sizeof(msg)), -ENOENT);
}

static void format_refuses_what_parse_would_refuse(void **state)
{
	struct volctx v = { .layout = ATOMBLK_LAYOUT_MIRROR, .size = 4096, .nlegs = 1 };
	const char *keys[VOLCTX_KEYS];
	char *values[VOLCTX_KEYS];

	snprintf(v.legs[0].node, sizeof(v.legs[0].node), "n");
	snprintf(v.legs[0].replica, sizeof(v.legs[0].replica), "r");
	snprintf(v.legs[0].nqn, sizeof(v.legs[0].nqn), "q");
	v.legs[0].naddrs = 1;
	assert_int_equal(volctx_format(&v, keys, values), -EINVAL); /* a mirror of one leg */
	v.layout = ATOMBLK_LAYOUT_LINEAR;
	v.legs[0].naddrs = 0;
	assert_int_equal(volctx_format(&v, keys, values), -EINVAL); /* no address */
}

/* Each case: a key set to a bad value (NULL: removed) and words the message must hold. */
static void every_malformed_input_is_refused_naming_the_key(void **state)
{
	static const struct {
		const char *key, *value, *needle;
	} cases[] = {
		{ VOLCTX_KEY_LAYOUT, NULL, VOLCTX_KEY_LAYOUT " is missing" },
		{ VOLCTX_KEY_LAYOUT, "raid5", "not linear or mirror" },
		{ VOLCTX_KEY_LAYOUT, "linear", "linear takes exactly one leg" },
		{ VOLCTX_KEY_SIZE, NULL, VOLCTX_KEY_SIZE " is missing" },
		{ VOLCTX_KEY_SIZE, "0", VOLCTX_KEY_SIZE },
		{ VOLCTX_KEY_SIZE, "-4096", VOLCTX_KEY_SIZE },
		{ VOLCTX_KEY_SIZE, "4097", "multiple of 512" },
		{ VOLCTX_KEY_SIZE, "99999999999999999999999", VOLCTX_KEY_SIZE },
		{ VOLCTX_KEY_SIZE, "0x1000", VOLCTX_KEY_SIZE },
		{ VOLCTX_KEY_TRANSPORT, NULL, VOLCTX_KEY_TRANSPORT " is missing" },
		{ VOLCTX_KEY_TRANSPORT, "fc", "not tcp, rdma or auto" },
		{ VOLCTX_KEY_HOLD, NULL, VOLCTX_KEY_HOLD " is missing" },
		{ VOLCTX_KEY_HOLD, "86401", VOLCTX_KEY_HOLD },
		{ VOLCTX_KEY_HOLD, "5m", VOLCTX_KEY_HOLD },
		{ VOLCTX_KEY_REPLICAS, "", "not JSON" },
		{ VOLCTX_KEY_REPLICAS, "{\"node\":\"n\"}", "not a JSON array" },
		{ VOLCTX_KEY_REPLICAS, "[]", "1 to 3 legs" },
		{ VOLCTX_KEY_REPLICAS, "[1,2,3,4]", "1 to 3 legs" },
		{ VOLCTX_KEY_REPLICAS, "[1,2]", "leg 0 is not an object" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\",\"addresses\":[]},{}]",
		  "leg 0: \"node\" is missing" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":5,\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\"},{}]",
		  "\"node\" is not a string" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"../x\",\"nqn\":\"q\"},{}]",
		  "is not a replica id" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"\"},{}]",
		  "\"nqn\" is empty" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\"},{}]",
		  "\"addresses\" is missing" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\",\"addresses\":[]},{}]",
		  "1 or 2 addresses" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\",\"addresses\":"
		  "[{\"trtype\":\"fc\",\"adrfam\":\"ipv4\",\"traddr\":\"1.2.3.4\",\"trsvcid\":\"1\"}]},{}]",
		  "trtype \"fc\"" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\",\"addresses\":"
		  "[{\"trtype\":\"tcp\",\"adrfam\":\"ib\",\"traddr\":\"1.2.3.4\",\"trsvcid\":\"1\"}]},{}]",
		  "adrfam \"ib\"" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\",\"addresses\":"
		  "[{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"1.2.3.4\",\"trsvcid\":\"70000\"}]},{}]",
		  "is not a port" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\",\"addresses\":"
		  "[{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"1.2.3.4\",\"trsvcid\":\"1\"}]},"
		  "{\"node\":\"a\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\",\"addresses\":"
		  "[{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"1.2.3.4\",\"trsvcid\":\"1\"}]}]",
		  "on the same node" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\",\"node\":\"b\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\"},{}]",
		  "not JSON" },
		{ VOLCTX_KEY_REPLICAS,
		  "[{\"node\":\"a\\nb\",\"target\":\"\",\"replica\":\"r\",\"nqn\":\"q\"},{}]",
		  "control characters" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct volctx v;
		char msg[256] = "";
		struct map m;

		valid_mirror(&m);
		if (cases[i].value)
			map_set(&m, cases[i].key, cases[i].value);
		else
			map_unset(&m, cases[i].key);
		print_message("case %zu: %s\n", i, cases[i].needle);
		assert_int_equal(volctx_parse(map_get, &m, &v, msg, sizeof(msg)), -EINVAL);
		print_message("  -> %s\n", msg);
		assert_non_null(strstr(msg, cases[i].needle));
	}
}

static void transport_names_round_trip(void **state)
{
	enum volctx_transport t;

	for (int i = VOLCTX_TRANSPORT_AUTO; i <= VOLCTX_TRANSPORT_RDMA; i++) {
		assert_int_equal(volctx_transport_parse(volctx_transport_name(i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(volctx_transport_parse("TCP", &t), -EINVAL);
	assert_int_equal(volctx_transport_parse(NULL, &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_mirror_context_parses_into_its_legs),
		cmocka_unit_test(format_then_parse_gives_the_same_volume),
		cmocka_unit_test(a_context_without_replicas_is_not_a_volctx),
		cmocka_unit_test(format_refuses_what_parse_would_refuse),
		cmocka_unit_test(every_malformed_input_is_refused_naming_the_key),
		cmocka_unit_test(transport_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
