// SPDX-License-Identifier: GPL-2.0
/*
 * pbjson: JSON <-> protobuf-c.
 *
 * 1. Every message type reachable from the CSI services (requests,
 *    responses, and recursively every message field, wrappers and Timestamp
 *    included) is built generically with every field set, once per oneof
 *    member, then packed -> JSON -> message -> packed; the bytes must be
 *    equal and the JSON must carry one key per set field. The same runs over
 *    google/protobuf/descriptor.proto's types for proto2 labels, bytes,
 *    floating point and unsigned types CSI does not use.
 * 2. Hand-written cases for each mapping rule and for each input error.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csi.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "lib/pbjson.h"

#define MAX_TYPES 512
#define MAX_DEPTH 5

#define MEMBER(msg, offset) ((void *)((char *)(msg) + (offset)))

static const ProtobufCServiceDescriptor *const csi_services[] = {
	&csi__v1__identity__descriptor,
	&csi__v1__controller__descriptor,
	&csi__v1__group_controller__descriptor,
	&csi__v1__snapshot_metadata__descriptor,
	&csi__v1__node__descriptor,
};

/* --- building populated messages ----------------------------------------------- */

static ProtobufCMessage *build_message(const ProtobufCMessageDescriptor *d, unsigned int variant,
				       int depth, unsigned int *counter);

/*
 * A non-default value for one element of @f, different on every call
 * (@counter), with signs, large 64-bit values and non-ASCII text.
 */
static void build_value(const ProtobufCFieldDescriptor *f, void *p, unsigned int variant, int depth,
			unsigned int *counter, const char *key_prefix)
{
	unsigned int k = ++*counter;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_SINT32:
		*(int32_t *)p = k % 2 ? -(int32_t)(1000 + k) : INT32_MAX - (int32_t)k;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*(uint32_t *)p = UINT32_MAX - k;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		/* beyond 2^53, where JSON numbers lose precision */
		*(int64_t *)p = (k % 2 ? -1 : 1) * (INT64_C(0x123456789abcdef) + k);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *)p = UINT64_MAX - k;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		*(float *)p = 0.25f * k;
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *)p = -1.0 / 3 * k;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)p = 1;
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;

		/* some non-zero value of the enum, varying */
		*(int *)p = ed->values[ed->n_values > 1 ? 1 + k % (ed->n_values - 1) : 0].value;
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		assert_true(asprintf((char **)p, "%s%s-é✓-%u", key_prefix ?: "", f->name, k) > 0);
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = p;

		b->len = 1 + k % 7; /* every padding case */
		b->data = malloc(b->len);
		assert_non_null(b->data);
		for (size_t i = 0; i < b->len; i++)
			b->data[i] = (uint8_t)(0xf0 + k + i * 37);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		*(ProtobufCMessage **)p = build_message(f->descriptor, variant, depth + 1, counter);
		break;
	}
}

/* Number of oneof groups' members before @f in its group (0 for the first). */
static unsigned int oneof_member_index(const ProtobufCMessageDescriptor *d,
				       const ProtobufCFieldDescriptor *f,
				       unsigned int *ret_group_size)
{
	unsigned int index = 0, size = 0;

	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *g = &d->fields[i];

		if (!(g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
		    g->quantifier_offset != f->quantifier_offset)
			continue;
		if (g == f)
			index = size;
		size++;
	}
	*ret_group_size = size;
	return index;
}

static bool is_timestamp(const ProtobufCMessageDescriptor *d)
{
	return !strcmp(d->name, "google.protobuf.Timestamp");
}

/*
 * A message of type @d with every field set; for each oneof, member number
 * (@variant mod group size). Below MAX_DEPTH message fields stay unset
 * (descriptor.proto is recursive).
 */
static ProtobufCMessage *build_message(const ProtobufCMessageDescriptor *d, unsigned int variant,
				       int depth, unsigned int *counter)
{
	ProtobufCMessage *m;

	if (depth > MAX_DEPTH)
		return NULL;
	m = malloc(d->sizeof_message);
	assert_non_null(m);
	d->message_init(m);

	if (is_timestamp(d)) {
		*(int64_t *)MEMBER(m, d->fields[0].offset) = 1700000000 + *counter;
		*(int32_t *)MEMBER(m, d->fields[1].offset) =
			(int32_t)(123456789 - 1000 * (++*counter % 3));
		return m;
	}
	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		void *p = MEMBER(m, f->offset);

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = 2, size = pbjson_value_size(f->type);
			char *array = calloc(n, size);
			bool entry =
				f->type == PROTOBUF_C_TYPE_MESSAGE &&
				strstr(((const ProtobufCMessageDescriptor *)f->descriptor)->name,
				       "Entry");

			assert_non_null(array);
			for (size_t k = 0; k < n; k++)
				build_value(f, array + k * size, variant, depth, counter,
					    entry ? "key" : NULL);
			*(char **)p = array;
			*(size_t *)MEMBER(m, f->quantifier_offset) = n;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth + 1 > MAX_DEPTH)
				*(size_t *)MEMBER(m, f->quantifier_offset) = 0, free(array),
						     *(char **)p = NULL;
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			unsigned int size, index = oneof_member_index(d, f, &size);

			if (index != variant % size)
				continue;
			build_value(f, p, variant, depth, counter, NULL);
			if (f->type != PROTOBUF_C_TYPE_MESSAGE || *(ProtobufCMessage **)p)
				*(uint32_t *)MEMBER(m, f->quantifier_offset) = f->id;
			continue;
		}
		build_value(f, p, variant, depth, counter, NULL);
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    f->type != PROTOBUF_C_TYPE_STRING)
			*(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
	}
	return m;
}

/* Largest oneof group of @d: how many variants cover every member. */
static unsigned int oneof_variants(const ProtobufCMessageDescriptor *d)
{
	unsigned int most = 1, size;

	for (unsigned int i = 0; i < d->n_fields; i++)
		if (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			oneof_member_index(d, &d->fields[i], &size);
			if (size > most)
				most = size;
		}
	return most;
}

/* --- enumerating message types ------------------------------------------------------ */

struct type_set {
	const ProtobufCMessageDescriptor *v[MAX_TYPES];
	size_t n;
};

static void type_set_add(struct type_set *s, const ProtobufCMessageDescriptor *d)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == d)
			return;
	assert_true(s->n < MAX_TYPES);
	s->v[s->n++] = d;
	for (unsigned int i = 0; i < d->n_fields; i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			type_set_add(s, d->fields[i].descriptor);
}

static void csi_types(struct type_set *s)
{
	for (size_t i = 0; i < sizeof(csi_services) / sizeof(csi_services[0]); i++)
		for (unsigned int j = 0; j < csi_services[i]->n_methods; j++) {
			type_set_add(s, csi_services[i]->methods[j].input);
			type_set_add(s, csi_services[i]->methods[j].output);
		}
}

/* --- the round trip -------------------------------------------------------------------- */

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len + 1);

	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), len);
	*ret_len = len;
	return buf;
}

/* Fields of @m that are set, as the JSON output should list them. */
static size_t count_set_fields(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	size_t n = 0;

	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			n += *(size_t *)MEMBER(m, f->quantifier_offset) > 0;
		else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
			n += *(uint32_t *)MEMBER(m, f->quantifier_offset) == f->id;
		else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
			n += *(ProtobufCMessage **)MEMBER(m, f->offset) != NULL;
		else
			n++; /* build_message sets every scalar to a non-default value */
	}
	return n;
}

/* Round-trip @d in every oneof variant; return the number of checks made. */
static unsigned int round_trip_type(const ProtobufCMessageDescriptor *d)
{
	unsigned int variants = oneof_variants(d), counter = 0;

	for (unsigned int v = 0; v < variants; v++) {
		char err[PBJSON_ERR_MAX];
		ProtobufCMessage *orig = build_message(d, v, 0, &counter), *back = NULL;
		uint8_t *bytes1, *bytes2;
		size_t len1, len2;
		json_t *json = NULL, *json2 = NULL;
		char *text;

		bytes1 = pack(orig, &len1);
		/* and through the wire: what atomctl sees comes from unpack */
		pbjson_message_free(orig);
		orig = protobuf_c_message_unpack(d, NULL, len1, bytes1);
		assert_non_null(orig);

		if (pbjson_message_to_json(orig, &json, err, sizeof(err)) < 0)
			fail_msg("%s: to JSON: %s", d->name, err);
		if (json_is_object(json) && count_set_fields(orig) != json_object_size(json))
			fail_msg("%s: %zu fields set, %zu JSON keys", d->name,
				 count_set_fields(orig), json_object_size(json));
		/* through text, as atomctl does */
		text = json_dumps(json, JSON_ENCODE_ANY | JSON_COMPACT);
		assert_non_null(text);
		json_decref(json);
		json = json_loads(text, JSON_DECODE_ANY, NULL);
		assert_non_null(json);

		if (pbjson_message_from_json(d, json, &back, err, sizeof(err)) < 0)
			fail_msg("%s: from JSON: %s\n%s", d->name, err, text);
		bytes2 = pack(back, &len2);
		if (len1 != len2 || memcmp(bytes1, bytes2, len1))
			fail_msg("%s (variant %u): %zu bytes in, %zu bytes back; JSON was %s",
				 d->name, v, len1, len2, text);
		assert_int_equal(pbjson_message_to_json(back, &json2, err, sizeof(err)), 0);
		assert_true(json_equal(json, json2));

		free(text);
		json_decref(json);
		json_decref(json2);
		free(bytes1);
		free(bytes2);
		pbjson_message_free(orig);
		pbjson_message_free(back);
	}
	return variants;
}

static void test_every_csi_message_type_round_trips_with_every_field_set(void **state)
{
	struct type_set types = { 0 };
	unsigned int checks = 0;
	size_t csi = 0;

	csi_types(&types);
	for (size_t i = 0; i < types.n; i++) {
		checks += round_trip_type(types.v[i]);
		csi += !strncmp(types.v[i]->name, "csi.v1.", 7);
	}
	/* 32 RPCs: 64 request/response types, plus every nested type they use */
	assert_true(csi > 100);
	print_message("# %zu message types (%zu csi.v1), %u round trips\n", types.n, csi, checks);
}

static void test_descriptor_proto_types_round_trip_proto2_bytes_and_floats(void **state)
{
	struct type_set types = { 0 };
	unsigned int checks = 0;

	type_set_add(&types, &google__protobuf__file_descriptor_set__descriptor);
	type_set_add(&types, &google__protobuf__uint64_value__descriptor);
	type_set_add(&types, &google__protobuf__bytes_value__descriptor);
	type_set_add(&types, &google__protobuf__float_value__descriptor);
	type_set_add(&types, &google__protobuf__double_value__descriptor);
	type_set_add(&types, &google__protobuf__uint32_value__descriptor);
	type_set_add(&types, &google__protobuf__int32_value__descriptor);
	type_set_add(&types, &google__protobuf__string_value__descriptor);
	for (size_t i = 0; i < types.n; i++)
		checks += round_trip_type(types.v[i]);
	assert_true(types.n > 20);
	print_message("# %zu message types, %u round trips\n", types.n, checks);
}

/* --- mapping rules, by hand ------------------------------------------------------------ */

/* JSON text of @m, compact with sorted keys. Caller frees. */
static char *to_text(const ProtobufCMessage *m)
{
	char err[PBJSON_ERR_MAX];
	json_t *j;
	char *s;

	if (pbjson_message_to_json(m, &j, err, sizeof(err)) < 0)
		fail_msg("to JSON: %s", err);
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	assert_non_null(s);
	return s;
}

/* Parse @text into a message of type @d; fail the test on error. */
static ProtobufCMessage *from_text(const ProtobufCMessageDescriptor *d, const char *text)
{
	char err[PBJSON_ERR_MAX];
	ProtobufCMessage *m = NULL;
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!j)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	if (pbjson_message_from_json(d, j, &m, err, sizeof(err)) < 0)
		fail_msg("from JSON %s: %s", text, err);
	json_decref(j);
	return m;
}

/* Parsing @text must fail with -EINVAL and an error containing @expected. */
static void expect_error(const ProtobufCMessageDescriptor *d, const char *text,
			 const char *expected)
{
	char err[PBJSON_ERR_MAX];
	ProtobufCMessage *m = NULL;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	assert_non_null(j);
	if (pbjson_message_from_json(d, j, &m, err, sizeof(err)) != -EINVAL)
		fail_msg("%s was accepted as %s", text, d->name);
	assert_null(m);
	if (!strstr(err, expected))
		fail_msg("error for %s: got \"%s\", expected it to contain \"%s\"", text, err,
			 expected);
	json_decref(j);
}

static void assert_text(const ProtobufCMessage *m, const char *expected)
{
	char *s = to_text(m);

	assert_string_equal(s, expected);
	free(s);
}

static void test_field_names_are_lower_camel_case_and_proto_names_are_accepted(void **state)
{
	Csi__V1__CapacityRange range = CSI__V1__CAPACITY_RANGE__INIT;
	Csi__V1__CreateVolumeRequest req = CSI__V1__CREATE_VOLUME_REQUEST__INIT;
	Csi__V1__CreateVolumeRequest *back;
	char json_name[32];

	range.required_bytes = INT64_C(1) << 40;
	range.limit_bytes = -5;
	req.name = "pvc-1";
	req.capacity_range = &range;
	assert_text(
		&req.base,
		"{\"capacityRange\":{\"limitBytes\":\"-5\",\"requiredBytes\":\"1099511627776\"},"
		"\"name\":\"pvc-1\"}");

	back = (Csi__V1__CreateVolumeRequest *)from_text(
		&csi__v1__create_volume_request__descriptor,
		"{\"capacity_range\":{\"required_bytes\":1099511627776,\"limitBytes\":\"-5\"},\"name\":\"pvc-1\"}");
	assert_non_null(back->capacity_range);
	assert_int_equal(back->capacity_range->required_bytes, INT64_C(1) << 40);
	assert_int_equal(back->capacity_range->limit_bytes, -5);
	assert_string_equal(back->name, "pvc-1");
	pbjson_message_free(&back->base);

	assert_int_equal(pbjson_json_name("accessible_topology", json_name, sizeof(json_name)), 0);
	assert_string_equal(json_name, "accessibleTopology");
	assert_int_equal(pbjson_json_name("a_very_long_field_name_indeed", json_name, 8),
			 -ENAMETOOLONG);
}

static void test_defaults_are_omitted_and_int64_extremes_survive(void **state)
{
	Csi__V1__CapacityRange range = CSI__V1__CAPACITY_RANGE__INIT;
	Csi__V1__CapacityRange *back;

	assert_text(&range.base, "{}");
	range.required_bytes = INT64_MIN;
	range.limit_bytes = INT64_MAX;
	assert_text(
		&range.base,
		"{\"limitBytes\":\"9223372036854775807\",\"requiredBytes\":\"-9223372036854775808\"}");
	back = (Csi__V1__CapacityRange *)from_text(
		&csi__v1__capacity_range__descriptor,
		"{\"limitBytes\":\"9223372036854775807\",\"requiredBytes\":\"-9223372036854775808\"}");
	assert_true(back->required_bytes == INT64_MIN);
	assert_true(back->limit_bytes == INT64_MAX);
	pbjson_message_free(&back->base);
	/* an integral JSON real is a number too; null means default */
	back = (Csi__V1__CapacityRange *)from_text(&csi__v1__capacity_range__descriptor,
						   "{\"requiredBytes\":1e3,\"limitBytes\":null}");
	assert_int_equal(back->required_bytes, 1000);
	assert_int_equal(back->limit_bytes, 0);
	pbjson_message_free(&back->base);
}

static void test_enums_are_names_and_numbers_are_accepted(void **state)
{
	Csi__V1__VolumeCapability__AccessMode mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__INIT;
	Csi__V1__VolumeCapability__AccessMode *back;

	mode.mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER;
	assert_text(&mode.base, "{\"mode\":\"SINGLE_NODE_MULTI_WRITER\"}");
	back = (Csi__V1__VolumeCapability__AccessMode *)from_text(
		&csi__v1__volume_capability__access_mode__descriptor,
		"{\"mode\":\"MULTI_NODE_READER_ONLY\"}");
	assert_int_equal(back->mode,
			 CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY);
	pbjson_message_free(&back->base);
	back = (Csi__V1__VolumeCapability__AccessMode *)from_text(
		&csi__v1__volume_capability__access_mode__descriptor, "{\"mode\":1}");
	assert_int_equal(back->mode,
			 CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER);
	pbjson_message_free(&back->base);
	/* a value from a newer peer stays a number */
	mode.mode = 99;
	assert_text(&mode.base, "{\"mode\":99}");
}

static void test_bytes_are_base64_in_any_alphabet_and_padding(void **state)
{
	static const uint8_t raw[] = { 0xfb, 0xff, 0x00, 'h', 'i' };
	Google__Protobuf__BytesValue bv = GOOGLE__PROTOBUF__BYTES_VALUE__INIT;
	Google__Protobuf__BytesValue *back;
	static const char *const inputs[] = { "\"+/8AaGk=\"", "\"-_8AaGk=\"", "\"+/8AaGk\"" };

	bv.value.data = (uint8_t *)raw;
	bv.value.len = sizeof(raw);
	assert_text(&bv.base, "\"+/8AaGk=\"");
	for (size_t i = 0; i < 3; i++) {
		back = (Google__Protobuf__BytesValue *)from_text(
			&google__protobuf__bytes_value__descriptor, inputs[i]);
		assert_int_equal(back->value.len, sizeof(raw));
		assert_memory_equal(back->value.data, raw, sizeof(raw));
		pbjson_message_free(&back->base);
	}
	expect_error(&google__protobuf__bytes_value__descriptor, "\"a!b=\"", "invalid base64");
	expect_error(&google__protobuf__bytes_value__descriptor, "\"abcde\"", "invalid base64");
}

static void test_wrappers_are_bare_values_and_false_is_still_present(void **state)
{
	Google__Protobuf__BoolValue f = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;
	Csi__V1__ProbeResponse probe = CSI__V1__PROBE_RESPONSE__INIT;
	Google__Protobuf__Int64Value size = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
	Csi__V1__GetCapacityResponse cap = CSI__V1__GET_CAPACITY_RESPONSE__INIT;
	Csi__V1__ProbeResponse *back;

	assert_text(&probe.base, "{}");
	probe.ready = &f;
	assert_text(&probe.base, "{\"ready\":false}");
	back = (Csi__V1__ProbeResponse *)from_text(&csi__v1__probe_response__descriptor,
						   "{\"ready\":false}");
	assert_non_null(back->ready);
	assert_false(back->ready->value);
	pbjson_message_free(&back->base);
	back = (Csi__V1__ProbeResponse *)from_text(&csi__v1__probe_response__descriptor,
						   "{\"ready\":null}");
	assert_null(back->ready);
	pbjson_message_free(&back->base);

	size.value = 42;
	cap.maximum_volume_size = &size;
	cap.available_capacity = 7;
	assert_text(&cap.base, "{\"availableCapacity\":\"7\",\"maximumVolumeSize\":\"42\"}");
	expect_error(&csi__v1__probe_response__descriptor, "{\"ready\":{\"value\":true}}",
		     "ready: expected true or false, got an object");
}

static void test_timestamps_are_rfc3339(void **state)
{
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Csi__V1__Snapshot snap = CSI__V1__SNAPSHOT__INIT;
	Csi__V1__Snapshot *back;

	snap.creation_time = &ts;
	ts.seconds = 1700000000;
	assert_text(&snap.base, "{\"creationTime\":\"2023-11-14T22:13:20Z\"}");
	ts.nanos = 500000000;
	assert_text(&snap.base, "{\"creationTime\":\"2023-11-14T22:13:20.500Z\"}");
	ts.nanos = 1000;
	assert_text(&snap.base, "{\"creationTime\":\"2023-11-14T22:13:20.000001Z\"}");
	ts.nanos = 1;
	assert_text(&snap.base, "{\"creationTime\":\"2023-11-14T22:13:20.000000001Z\"}");

	back = (Csi__V1__Snapshot *)from_text(
		&csi__v1__snapshot__descriptor,
		"{\"creationTime\":\"2023-11-14T23:13:20.25+01:00\"}");
	assert_int_equal(back->creation_time->seconds, 1700000000);
	assert_int_equal(back->creation_time->nanos, 250000000);
	pbjson_message_free(&back->base);
	back = (Csi__V1__Snapshot *)from_text(&csi__v1__snapshot__descriptor,
					      "{\"creationTime\":\"1970-01-01T00:00:00Z\"}");
	assert_non_null(back->creation_time);
	assert_int_equal(back->creation_time->seconds, 0);
	pbjson_message_free(&back->base);

	expect_error(&csi__v1__snapshot__descriptor, "{\"creationTime\":\"2023-02-30T00:00:00Z\"}",
		     "creationTime: \"2023-02-30T00:00:00Z\" is not an RFC 3339 timestamp");
	expect_error(&csi__v1__snapshot__descriptor, "{\"creationTime\":\"2023-11-14 22:13:20\"}",
		     "is not an RFC 3339 timestamp");
	expect_error(&csi__v1__snapshot__descriptor, "{\"creationTime\":1700000000}",
		     "expected an RFC 3339 timestamp string, got a number");
	ts.nanos = 1000000000;
	{
		char err[PBJSON_ERR_MAX];
		json_t *j = NULL;

		assert_int_equal(pbjson_message_to_json(&snap.base, &j, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "creationTime: timestamp out of range"));
	}
}

static void test_oneof_members_map_to_one_key_and_two_are_refused(void **state)
{
	Csi__V1__VolumeCapability__BlockVolume block =
		CSI__V1__VOLUME_CAPABILITY__BLOCK_VOLUME__INIT;
	Csi__V1__VolumeCapability cap = CSI__V1__VOLUME_CAPABILITY__INIT;
	Csi__V1__VolumeCapability *back;

	cap.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
	cap.block = &block;
	assert_text(&cap.base, "{\"block\":{}}");
	back = (Csi__V1__VolumeCapability *)from_text(
		&csi__v1__volume_capability__descriptor,
		"{\"mount\":{\"fsType\":\"xfs\",\"mountFlags\":[\"noatime\",\"nodev\"]},"
		"\"accessMode\":{\"mode\":\"SINGLE_NODE_WRITER\"}}");
	assert_int_equal(back->access_type_case, CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT);
	assert_string_equal(back->mount->fs_type, "xfs");
	assert_int_equal(back->mount->n_mount_flags, 2);
	assert_string_equal(back->mount->mount_flags[1], "nodev");
	pbjson_message_free(&back->base);

	expect_error(&csi__v1__volume_capability__descriptor, "{\"block\":{},\"mount\":{}}",
		     "mount: only one member of a oneof may be set; \"block\" is already");
}

static void test_maps_are_objects(void **state)
{
	Csi__V1__NodeStageVolumeRequest *back;
	char *text;

	back = (Csi__V1__NodeStageVolumeRequest *)from_text(
		&csi__v1__node_stage_volume_request__descriptor,
		"{\"volumeId\":\"v1\",\"volumeContext\":{\"a\":\"1\",\"b\":\"2\"},\"secrets\":{}}");
	assert_int_equal(back->n_volume_context, 2);
	assert_string_equal(back->volume_context[1]->key, "b");
	assert_string_equal(back->volume_context[1]->value, "2");
	assert_int_equal(back->n_secrets, 0);
	text = to_text(&back->base);
	assert_string_equal(text,
			    "{\"volumeContext\":{\"a\":\"1\",\"b\":\"2\"},\"volumeId\":\"v1\"}");
	free(text);
	pbjson_message_free(&back->base);

	expect_error(&csi__v1__node_stage_volume_request__descriptor,
		     "{\"volumeContext\":{\"a\":1}}",
		     "volumeContext[\"a\"]: expected a string, got a number");
	expect_error(&csi__v1__node_stage_volume_request__descriptor, "{\"volumeContext\":[\"a\"]}",
		     "volumeContext: expected an object (map), got an array");
}

/* --- input errors ---------------------------------------------------------------------- */

static void test_unknown_fields_are_refused_with_their_path(void **state)
{
	expect_error(&csi__v1__create_volume_request__descriptor, "{\"name\":\"x\",\"bogus\":1}",
		     "(top level): unknown field \"bogus\" in csi.v1.CreateVolumeRequest");
	expect_error(&csi__v1__create_volume_request__descriptor,
		     "{\"volumeCapabilities\":[{},{\"accessMode\":{\"mod\":1}}]}",
		     "volumeCapabilities[1].accessMode: unknown field \"mod\" in "
		     "csi.v1.VolumeCapability.AccessMode");
	/* both spellings of one field */
	expect_error(&csi__v1__create_volume_request__descriptor,
		     "{\"capacityRange\":{\"requiredBytes\":\"1\",\"required_bytes\":\"1\"}}",
		     "capacityRange.required_bytes: field given twice");
}

static void test_wrong_json_types_are_refused_with_their_path(void **state)
{
	const ProtobufCMessageDescriptor *d = &csi__v1__create_volume_request__descriptor;

	expect_error(d, "{\"name\":5}", "name: expected a string, got a number");
	expect_error(
		d, "[]",
		"(top level): expected an object for csi.v1.CreateVolumeRequest, got an array");
	expect_error(d, "{\"volumeCapabilities\":{}}",
		     "volumeCapabilities: expected an array, got an object");
	expect_error(d, "{\"volumeCapabilities\":[null]}",
		     "volumeCapabilities[0]: null is not allowed");
	expect_error(d, "{\"capacityRange\":{\"requiredBytes\":\"12x\"}}",
		     "capacityRange.requiredBytes: \"12x\" is not an integer in range");
	expect_error(d, "{\"capacityRange\":{\"requiredBytes\":1.5}}",
		     "capacityRange.requiredBytes: 1.5 is not an integer in range");
	expect_error(d, "{\"capacityRange\":{\"requiredBytes\":\"9223372036854775808\"}}",
		     "is not an integer in range");
	expect_error(d, "{\"capacityRange\":{\"requiredBytes\":true}}",
		     "expected an integer, got a boolean");
	expect_error(&csi__v1__list_volumes_request__descriptor, "{\"maxEntries\":[1]}",
		     "maxEntries: expected an integer, got an array");
	expect_error(&csi__v1__list_volumes_request__descriptor, "{\"maxEntries\":-2147483649}",
		     "maxEntries: -2147483649 is out of range");
	expect_error(&csi__v1__volume_condition__descriptor, "{\"abnormal\":\"yes\"}",
		     "abnormal: expected true or false, got a string");
	expect_error(&google__protobuf__int32_value__descriptor, "2147483648",
		     "2147483648 is out of range");
	expect_error(&google__protobuf__uint64_value__descriptor, "\"-1\"",
		     "\"-1\" is not an integer in range");
	expect_error(&csi__v1__create_volume_request__descriptor, "{\"name\":\"a\\u0000b\"}",
		     "name: string contains a NUL character");
}

static void test_bad_enum_names_are_refused_with_their_path(void **state)
{
	expect_error(&csi__v1__create_volume_request__descriptor,
		     "{\"volumeCapabilities\":[{\"accessMode\":{\"mode\":\"RWX\"}}]}",
		     "volumeCapabilities[0].accessMode.mode: unknown enum value \"RWX\" for "
		     "csi.v1.VolumeCapability.AccessMode.Mode");
	expect_error(
		&csi__v1__volume_capability__access_mode__descriptor, "{\"mode\":true}",
		"mode: expected an enum name of csi.v1.VolumeCapability.AccessMode.Mode, got a boolean");
}

static void test_null_arguments_and_frees_are_safe(void **state)
{
	ProtobufCMessage *m = NULL;
	json_t *j = json_object();

	assert_null(pbjson_message_free(NULL));
	assert_int_equal(pbjson_message_from_json(NULL, j, &m, NULL, 0), -EINVAL);
	assert_int_equal(pbjson_message_to_json(NULL, &j, NULL, 0), -EINVAL);
	/* no error buffer: still refused */
	json_object_set_new(j, "bogus", json_true());
	assert_int_equal(
		pbjson_message_from_json(&csi__v1__probe_request__descriptor, j, &m, NULL, 0),
		-EINVAL);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_csi_message_type_round_trips_with_every_field_set),
		cmocka_unit_test(test_descriptor_proto_types_round_trip_proto2_bytes_and_floats),
		cmocka_unit_test(
			test_field_names_are_lower_camel_case_and_proto_names_are_accepted),
		cmocka_unit_test(test_defaults_are_omitted_and_int64_extremes_survive),
		cmocka_unit_test(test_enums_are_names_and_numbers_are_accepted),
		cmocka_unit_test(test_bytes_are_base64_in_any_alphabet_and_padding),
		cmocka_unit_test(test_wrappers_are_bare_values_and_false_is_still_present),
		cmocka_unit_test(test_timestamps_are_rfc3339),
		cmocka_unit_test(test_oneof_members_map_to_one_key_and_two_are_refused),
		cmocka_unit_test(test_maps_are_objects),
		cmocka_unit_test(test_unknown_fields_are_refused_with_their_path),
		cmocka_unit_test(test_wrong_json_types_are_refused_with_their_path),
		cmocka_unit_test(test_bad_enum_names_are_refused_with_their_path),
		cmocka_unit_test(test_null_arguments_and_frees_are_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
