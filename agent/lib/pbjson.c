// SPDX-License-Identifier: GPL-2.0
/*
 * pbjson — JSON <-> protobuf-c through message descriptors (see pbjson.h).
 *
 * protobuf-c lays a message out as a C struct whose members the field
 * descriptors locate: the value at field->offset, and at
 * field->quantifier_offset the element count (repeated), the has_ flag
 * (proto2 optional) or the oneof case. Everything below reads and writes
 * messages through those offsets only, so it works for any generated type.
 *
 * Messages built here use malloc for every string, byte array, array and
 * sub-message, exactly like protobuf_c_message_unpack() with the default
 * allocator, so protobuf_c_message_free_unpacked() frees either. A message
 * under construction is kept consistent at every step (counts raised only
 * after an element is complete, oneof cases set only after their value) so
 * an error anywhere can free it as it stands.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/pbjson.h"

/* Conversion state: the field path so far, for error messages. */
struct pbjson_ctx {
	char path[512]; /* "volumeCapabilities[0].accessMode" */
	size_t path_len; /* strlen(path) */
	char *err; /* caller's error buffer, or NULL */
	size_t err_size;
};

#define MEMBER(msg, offset) ((void *)((char *)(msg) + (offset)))
#define CMEMBER(msg, offset) ((const void *)((const char *)(msg) + (offset)))

static int ctx_fail(struct pbjson_ctx *cx, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ctx_fail(struct pbjson_ctx *cx, int r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!cx->err || !cx->err_size)
		return r;
	n = snprintf(cx->err, cx->err_size, "%s: ", cx->path_len ? cx->path : "(top level)");
	if (n < 0 || (size_t)n >= cx->err_size)
		return r;
	va_start(ap, fmt);
	vsnprintf(cx->err + n, cx->err_size - n, fmt, ap);
	va_end(ap);
	return r;
}

/* Append ".name" or "[i]" or "[\"key\"]" to the path; returns the old length. */
static size_t ctx_push(struct pbjson_ctx *cx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static size_t ctx_push(struct pbjson_ctx *cx, const char *fmt, ...)
{
	size_t old = cx->path_len;
	va_list ap;
	int n;

	if (old >= sizeof(cx->path) - 1)
		return old;
	va_start(ap, fmt);
	n = vsnprintf(cx->path + old, sizeof(cx->path) - old, fmt, ap);
	va_end(ap);
	if (n < 0)
		cx->path[old] = '\0';
	else
		cx->path_len = strlen(cx->path);
	return old;
}

static size_t ctx_push_field(struct pbjson_ctx *cx, const char *name)
{
	return ctx_push(cx, cx->path_len ? ".%s" : "%s", name);
}

static void ctx_pop(struct pbjson_ctx *cx, size_t old)
{
	cx->path_len = old;
	cx->path[old] = '\0';
}

int pbjson_json_name(const char *field_name, char *buf, size_t size)
{
	bool upper = false;
	size_t n = 0;

	for (const char *p = field_name; *p; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		if (n + 1 >= size)
			return -ENAMETOOLONG;
		buf[n++] = upper && *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p;
		upper = false;
	}
	if (n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

/* --- well-known types and maps ----------------------------------------- */

static bool is_timestamp(const ProtobufCMessageDescriptor *d)
{
	return !strcmp(d->name, "google.protobuf.Timestamp");
}

/* google.protobuf.{Double,Float,Int64,UInt64,Int32,UInt32,Bool,String,Bytes}Value */
static bool is_wrapper(const ProtobufCMessageDescriptor *d)
{
	static const char *const wrappers[] = {
		"DoubleValue", "FloatValue", "Int64Value",  "UInt64Value", "Int32Value",
		"UInt32Value", "BoolValue",  "StringValue", "BytesValue",
	};
	const char *prefix = "google.protobuf.";

	if (strncmp(d->name, prefix, strlen(prefix)) || d->n_fields != 1 || d->fields[0].id != 1)
		return false;
	for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++)
		if (!strcmp(d->name + strlen(prefix), wrappers[i]))
			return true;
	return false;
}

/*
 * protoc turns `map<K, V> some_field` into a repeated nested message
 * "<Parent>.SomeFieldEntry" with fields key = 1 and value = 2; protobuf-c
 * keeps no map flag, so recognise that exact shape (protoc refuses a user
 * message of the same name).
 */
static bool is_map_field(const ProtobufCMessageDescriptor *parent,
			 const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *entry;
	char expected[256];
	size_t n;
	bool upper = true;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	entry = f->descriptor;
	if (entry->n_fields != 2 || entry->fields[0].id != 1 || entry->fields[1].id != 2 ||
	    strcmp(entry->fields[0].name, "key") || strcmp(entry->fields[1].name, "value"))
		return false;
	n = snprintf(expected, sizeof(expected), "%s.", parent->name);
	for (const char *p = f->name; *p && n + 7 < sizeof(expected); p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		expected[n++] = upper && *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p;
		upper = false;
	}
	strcpy(expected + n, "Entry");
	return !strcmp(entry->name, expected);
}

static const ProtobufCFieldDescriptor *field_by_id(const ProtobufCMessageDescriptor *d, uint32_t id)
{
	for (unsigned int i = 0; i < d->n_fields; i++)
		if (d->fields[i].id == id)
			return &d->fields[i];
	return NULL;
}

size_t pbjson_value_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* --- base64 ---------------------------------------------------------------- */

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *data, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		*p++ = base64_alphabet[(v >> 18) & 63];
		*p++ = base64_alphabet[(v >> 12) & 63];
		*p++ = i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=';
		*p++ = i + 2 < len ? base64_alphabet[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe alphabet, padding optional. Return 0 or -EINVAL/-ENOMEM. */
static int base64_decode(const char *s, size_t len, ProtobufCBinaryData *ret)
{
	uint32_t acc = 0;
	size_t bits = 0, n = 0;
	uint8_t *out;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	out = malloc(len * 3 / 4 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = base64_value(s[i]);

		if (v < 0) {
			free(out);
			return -EINVAL;
		}
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (acc >> bits) & 0xff;
		}
	}
	ret->data = out;
	ret->len = n;
	return 0;
}

/* --- Timestamp (RFC 3339) ----------------------------------------------------- */

#define TIMESTAMP_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TIMESTAMP_MAX_SECONDS 253402300799LL /* 9999-12-31T23:59:59Z */

static int timestamp_to_json(struct pbjson_ctx *cx, const ProtobufCMessage *m, json_t **ret)
{
	const ProtobufCFieldDescriptor *fs = field_by_id(m->descriptor, 1),
				       *fn = field_by_id(m->descriptor, 2);
	int64_t seconds = *(const int64_t *)CMEMBER(m, fs->offset);
	int32_t nanos = *(const int32_t *)CMEMBER(m, fn->offset);
	char buf[64], frac[16] = "";
	time_t t = seconds;
	struct tm tm;

	if (seconds < TIMESTAMP_MIN_SECONDS || seconds > TIMESTAMP_MAX_SECONDS || nanos < 0 ||
	    nanos > 999999999 || !gmtime_r(&t, &tm))
		return ctx_fail(cx, -EINVAL,
				"timestamp out of range (seconds %" PRId64 ", nanos %" PRId32 ")",
				seconds, nanos);
	/* 0, 3, 6 or 9 fractional digits, as the mapping asks. */
	if (nanos % 1000000 == 0 && nanos)
		snprintf(frac, sizeof(frac), ".%03d", nanos / 1000000);
	else if (nanos % 1000 == 0 && nanos)
		snprintf(frac, sizeof(frac), ".%06d", nanos / 1000);
	else if (nanos)
		snprintf(frac, sizeof(frac), ".%09d", nanos);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	*ret = json_string(buf);
	return *ret ? 0 : -ENOMEM;
}

/* Parse exactly @n decimal digits. */
static bool parse_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + (*p)[i] - '0';
	}
	*p += n;
	*ret = v;
	return true;
}

static bool parse_char(const char **p, char c)
{
	if (**p != c && !(c == 'T' && **p == 't'))
		return false;
	(*p)++;
	return true;
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" -> seconds, nanos. */
static bool rfc3339_parse(const char *s, int64_t *ret_seconds, int32_t *ret_nanos)
{
	int year, mon, mday, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
	int32_t nanos = 0;
	const char *p = s;
	struct tm tm = { 0 }, check;
	time_t t;

	if (!parse_digits(&p, 4, &year) || !parse_char(&p, '-') || !parse_digits(&p, 2, &mon) ||
	    !parse_char(&p, '-') || !parse_digits(&p, 2, &mday) || !parse_char(&p, 'T') ||
	    !parse_digits(&p, 2, &hour) || !parse_char(&p, ':') || !parse_digits(&p, 2, &min) ||
	    !parse_char(&p, ':') || !parse_digits(&p, 2, &sec))
		return false;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits == 9)
				return false;
			nanos = nanos * 10 + (*p - '0');
		}
		if (!digits)
			return false;
		for (; digits < 9; digits++)
			nanos *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!parse_digits(&p, 2, &off_h) || !parse_char(&p, ':') ||
		    !parse_digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
			return false;
	} else {
		return false;
	}
	if (*p || year < 1 || mon < 1 || mon > 12 || mday < 1 || hour > 23 || min > 59 || sec > 59)
		return false;

	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises 02-30 into March: reject dates that moved. */
	if (!gmtime_r(&t, &check) || check.tm_mday != mday || check.tm_mon != mon - 1)
		return false;
	t -= sign * (off_h * 3600 + off_m * 60);
	if (t < TIMESTAMP_MIN_SECONDS || t > TIMESTAMP_MAX_SECONDS)
		return false;
	*ret_seconds = t;
	*ret_nanos = nanos;
	return true;
}

/* --- message -> JSON --------------------------------------------------------------- */

static int message_to_json(struct pbjson_ctx *cx, const ProtobufCMessage *m, json_t **ret);

/* One value of field @f's type, stored at @p. */
static int value_to_json(struct pbjson_ctx *cx, const ProtobufCFieldDescriptor *f, const void *p,
			 json_t **ret)
{
	char buf[32];
	json_t *j = NULL;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		j = json_integer(*(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		j = json_integer(*(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)p);
		j = json_string(buf);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)p);
		j = json_string(buf);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		double d =
			f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;

		if (isnan(d))
			j = json_string("NaN");
		else if (isinf(d))
			j = json_string(d > 0 ? "Infinity" : "-Infinity");
		else
			j = json_real(d);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		j = json_boolean(*(const protobuf_c_boolean *)p);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, v);

		/* A value this build does not know stays a number. */
		j = ev ? json_string(ev->name) : json_integer(v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p ?: "";

		j = json_string(s);
		if (!j)
			return ctx_fail(cx, -EINVAL, "string is not valid UTF-8");
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		char *s = base64_encode(b->data, b->len);

		if (!s)
			return -ENOMEM;
		j = json_string(s);
		free(s);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

		if (sub)
			return message_to_json(cx, sub, ret);
		j = json_object(); /* a map value left unset */
		break;
	}
	}
	if (!j)
		return -ENOMEM;
	*ret = j;
	return 0;
}

/* A map key as JSON object key: strings as is, integers and bools spelled out. */
static int map_key_string(const ProtobufCFieldDescriptor *kf, const void *p, char *buf, size_t size,
			  const char **ret)
{
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING:
		*ret = *(char *const *)p ?: "";
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		*ret = *(const protobuf_c_boolean *)p ? "true" : "false";
		return 0;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(buf, size, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(buf, size, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, size, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, size, "%" PRIu64, *(const uint64_t *)p);
		break;
	default:
		return -EINVAL;
	}
	*ret = buf;
	return 0;
}

static int map_to_json(struct pbjson_ctx *cx, const ProtobufCFieldDescriptor *f,
		       ProtobufCMessage *const *entries, size_t n, json_t **ret)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	json_t *obj = json_object();
	int r = 0;

	if (!obj)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		const ProtobufCMessage *e = entries[i];
		const char *key;
		char buf[32];
		json_t *v;
		size_t old;

		if (!e)
			continue;
		r = map_key_string(kf, CMEMBER(e, kf->offset), buf, sizeof(buf), &key);
		if (r < 0)
			break;
		old = ctx_push(cx, "[\"%s\"]", key);
		r = value_to_json(cx, vf, CMEMBER(e, vf->offset), &v);
		if (r == 0 && json_object_set_new(obj, key, v) < 0)
			r = ctx_fail(cx, -EINVAL, "map key is not valid UTF-8");
		ctx_pop(cx, old);
	}
	if (r < 0) {
		json_decref(obj);
		return r;
	}
	*ret = obj;
	return 0;
}

/* Whether a proto3 singular field holds its default (and so is left out). */
static bool value_is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;

		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p == NULL;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0 && !signbit(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0 && !signbit(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)p;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *)p == 0;
	default: {
		static const uint8_t zero[8];

		return !memcmp(p, zero, pbjson_value_size(f->type));
	}
	}
}

/* Whether @f is present in @m (repeated fields: non-empty). */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const void *p = CMEMBER(m, f->offset);

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)CMEMBER(m, f->quantifier_offset) > 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)CMEMBER(m, f->quantifier_offset) == f->id &&
		       (f->type != PROTOBUF_C_TYPE_MESSAGE || *(ProtobufCMessage *const *)p);
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
		/* proto2: strings and messages by pointer, scalars by has_ flag */
		if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
			return *(void *const *)p != NULL;
		return *(const protobuf_c_boolean *)CMEMBER(m, f->quantifier_offset);
	}
	return !value_is_default(f, p);
}

static int message_to_json(struct pbjson_ctx *cx, const ProtobufCMessage *m, json_t **ret)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *obj;
	int r = 0;

	if (is_wrapper(d))
		return value_to_json(cx, &d->fields[0], CMEMBER(m, d->fields[0].offset), ret);
	if (is_timestamp(d))
		return timestamp_to_json(cx, m, ret);

	obj = json_object();
	if (!obj)
		return -ENOMEM;
	for (unsigned int i = 0; i < d->n_fields && r == 0; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = CMEMBER(m, f->offset);
		char name[128];
		json_t *v = NULL;
		size_t old;

		if (!field_present(m, f))
			continue;
		r = pbjson_json_name(f->name, name, sizeof(name));
		if (r < 0)
			break;
		old = ctx_push_field(cx, name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset);
			const char *array = *(const char *const *)p;

			if (is_map_field(d, f)) {
				r = map_to_json(cx, f, (ProtobufCMessage *const *)array, n, &v);
			} else {
				v = json_array();
				if (!v)
					r = -ENOMEM;
				for (size_t k = 0; k < n && r == 0; k++) {
					size_t old_k = ctx_push(cx, "[%zu]", k);
					json_t *e;

					r = value_to_json(
						cx, f, array + k * pbjson_value_size(f->type), &e);
					if (r == 0 && json_array_append_new(v, e) < 0)
						r = -ENOMEM;
					ctx_pop(cx, old_k);
				}
			}
		} else {
			r = value_to_json(cx, f, p, &v);
		}
		if (r == 0 && json_object_set_new(obj, name, v) < 0)
			r = -ENOMEM;
		else if (r < 0)
			json_decref(v);
		ctx_pop(cx, old);
	}
	if (r < 0) {
		json_decref(obj);
		return r;
	}
	*ret = obj;
	return 0;
}

int pbjson_message_to_json(const ProtobufCMessage *msg, json_t **ret, char *err, size_t err_size)
{
	struct pbjson_ctx cx = { .err = err, .err_size = err_size };

	if (err && err_size)
		err[0] = '\0';
	if (!msg || !ret)
		return -EINVAL;
	return message_to_json(&cx, msg, ret);
}

/* --- JSON -> message ---------------------------------------------------------------- */

static int message_from_json(struct pbjson_ctx *cx, const ProtobufCMessageDescriptor *d,
			     const json_t *j, ProtobufCMessage **ret);

static const char *json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/*
 * An integer from a JSON number (integral) or a decimal string, within
 * [min, max]; unsigned values above INT64_MAX only as strings.
 */
static int json_to_int(struct pbjson_ctx *cx, const json_t *j, bool is_unsigned, int64_t min,
		       int64_t max, uint64_t *ret)
{
	if (json_is_integer(j)) {
		json_int_t v = json_integer_value(j);

		if (v < min || (v > max && !is_unsigned) ||
		    (is_unsigned && (uint64_t)v > (uint64_t)max))
			return ctx_fail(cx, -EINVAL, "%lld is out of range", (long long)v);
		*ret = (uint64_t)v;
		return 0;
	}
	if (json_is_real(j)) {
		double d = json_real_value(j);

		/* every double beyond 2^53 is integral; below, truncation tells */
		bool integral = isfinite(d) &&
				((d < 0 ? -d : d) >= 9007199254740992.0 || (double)(int64_t)d == d);

		if (!integral || d < (double)min || d >= 18446744073709551616.0 ||
		    (!is_unsigned && d >= 9223372036854775808.0) ||
		    (!is_unsigned && d > (double)max) || (is_unsigned && d > (double)(uint64_t)max))
			return ctx_fail(cx, -EINVAL, "%g is not an integer in range", d);
		*ret = is_unsigned ? (uint64_t)d : (uint64_t)(int64_t)d;
		return 0;
	}
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end;

		errno = 0;
		if (is_unsigned) {
			unsigned long long v;

			if (*s == '-' || *s == '+' || *s == ' ' || !*s)
				goto bad;
			v = strtoull(s, &end, 10);
			if (errno || *end || v > (uint64_t)max)
				goto bad;
			*ret = v;
		} else {
			long long v;

			if (*s == '+' || *s == ' ' || !*s)
				goto bad;
			v = strtoll(s, &end, 10);
			if (errno || *end || v < min || v > max)
				goto bad;
			*ret = (uint64_t)v;
		}
		return 0;
bad:
		return ctx_fail(cx, -EINVAL, "\"%s\" is not an integer in range", s);
	}
	return ctx_fail(cx, -EINVAL, "expected an integer, got %s", json_type_name(j));
}

static int json_to_double(struct pbjson_ctx *cx, const json_t *j, double *ret)
{
	if (json_is_number(j)) {
		*ret = json_number_value(j);
		return 0;
	}
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end;

		if (!strcmp(s, "NaN")) {
			*ret = NAN;
			return 0;
		}
		if (!strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
			*ret = s[0] == '-' ? -INFINITY : INFINITY;
			return 0;
		}
		errno = 0;
		*ret = strtod(s, &end);
		if (*s && !*end && !errno && isfinite(*ret))
			return 0;
		return ctx_fail(cx, -EINVAL, "\"%s\" is not a number", s);
	}
	return ctx_fail(cx, -EINVAL, "expected a number, got %s", json_type_name(j));
}

/* Store the JSON value @j as one value of field @f's type at @p. */
static int value_from_json(struct pbjson_ctx *cx, const ProtobufCFieldDescriptor *f,
			   const json_t *j, void *p)
{
	uint64_t u = 0;
	double d = 0;
	int r;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		r = json_to_int(cx, j, false, INT32_MIN, INT32_MAX, &u);
		if (r == 0)
			*(int32_t *)p = (int32_t)(int64_t)u;
		return r;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		r = json_to_int(cx, j, true, 0, UINT32_MAX, &u);
		if (r == 0)
			*(uint32_t *)p = (uint32_t)u;
		return r;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		r = json_to_int(cx, j, false, INT64_MIN, INT64_MAX, &u);
		if (r == 0)
			*(int64_t *)p = (int64_t)u;
		return r;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		r = json_to_int(cx, j, true, 0, (int64_t)UINT64_MAX, &u);
		if (r == 0)
			*(uint64_t *)p = u;
		return r;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		r = json_to_double(cx, j, &d);
		if (r < 0)
			return r;
		if (f->type == PROTOBUF_C_TYPE_DOUBLE)
			*(double *)p = d;
		else if (isfinite(d) && (d > 3.4028234663852886e38 || d < -3.4028234663852886e38))
			return ctx_fail(cx, -EINVAL, "%g is out of range for a float", d);
		else
			*(float *)p = (float)d;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j))
			return ctx_fail(cx, -EINVAL, "expected true or false, got %s",
					json_type_name(j));
		*(protobuf_c_boolean *)p = json_is_true(j);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;

		if (json_is_string(j)) {
			const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(
				ed, json_string_value(j));

			if (!ev)
				return ctx_fail(cx, -EINVAL, "unknown enum value \"%s\" for %s",
						json_string_value(j), ed->name);
			*(int *)p = ev->value;
			return 0;
		}
		if (json_is_integer(j)) {
			/* proto3 enums are open: any int32 number is accepted. */
			r = json_to_int(cx, j, false, INT32_MIN, INT32_MAX, &u);
			if (r == 0)
				*(int *)p = (int)(int64_t)u;
			return r;
		}
		return ctx_fail(cx, -EINVAL, "expected an enum name of %s, got %s", ed->name,
				json_type_name(j));
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *s;

		if (!json_is_string(j))
			return ctx_fail(cx, -EINVAL, "expected a string, got %s",
					json_type_name(j));
		if (strlen(json_string_value(j)) != json_string_length(j))
			return ctx_fail(cx, -EINVAL, "string contains a NUL character");
		s = strdup(json_string_value(j));
		if (!s)
			return -ENOMEM;
		*(char **)p = s;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES:
		if (!json_is_string(j))
			return ctx_fail(cx, -EINVAL, "expected a base64 string, got %s",
					json_type_name(j));
		r = base64_decode(json_string_value(j), json_string_length(j), p);
		if (r == -EINVAL)
			return ctx_fail(cx, r, "invalid base64");
		return r;
	case PROTOBUF_C_TYPE_MESSAGE:
		return message_from_json(cx, f->descriptor, j, p);
	}
	return ctx_fail(cx, -EINVAL, "unsupported field type %d", f->type);
}

/* A JSON object key -> a map key of @kf's type at @p. */
static int map_key_from_string(struct pbjson_ctx *cx, const ProtobufCFieldDescriptor *kf,
			       const char *key, void *p)
{
	json_t *j;
	int r;

	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		if (strcmp(key, "true") && strcmp(key, "false"))
			return ctx_fail(cx, -EINVAL, "map key must be \"true\" or \"false\"");
		*(protobuf_c_boolean *)p = !strcmp(key, "true");
		return 0;
	}
	/* Strings stay strings; integer keys are decimal strings. */
	j = json_string(key);
	if (!j)
		return -ENOMEM;
	r = value_from_json(cx, kf, j, p);
	json_decref(j);
	return r;
}

static int map_from_json(struct pbjson_ctx *cx, const ProtobufCFieldDescriptor *f, const json_t *j,
			 ProtobufCMessage **entries, size_t *n)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)j, key, value) {
		ProtobufCMessage *e = malloc(ed->sizeof_message);
		size_t old = ctx_push(cx, "[\"%s\"]", key);
		int r;

		if (!e)
			return -ENOMEM;
		ed->message_init(e);
		r = map_key_from_string(cx, kf, key, MEMBER(e, kf->offset));
		if (r == 0 && !json_is_null(value))
			r = value_from_json(cx, vf, value, MEMBER(e, vf->offset));
		if (r < 0) {
			protobuf_c_message_free_unpacked(e, NULL);
			return r;
		}
		ctx_pop(cx, old);
		entries[(*n)++] = e;
	}
	return 0;
}

static const ProtobufCFieldDescriptor *field_by_json_key(const ProtobufCMessageDescriptor *d,
							 const char *key)
{
	char name[128];

	for (unsigned int i = 0; i < d->n_fields; i++) {
		if (!strcmp(d->fields[i].name, key))
			return &d->fields[i];
		if (pbjson_json_name(d->fields[i].name, name, sizeof(name)) == 0 &&
		    !strcmp(name, key))
			return &d->fields[i];
	}
	return NULL;
}

/* Set field @f of @m from @j (not null). */
static int field_from_json(struct pbjson_ctx *cx, const ProtobufCMessageDescriptor *d,
			   ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const json_t *j)
{
	void *p = MEMBER(m, f->offset);
	size_t *n, size = pbjson_value_size(f->type);
	int r;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		bool map = is_map_field(d, f);
		size_t count = map ? json_object_size(j) : json_array_size(j);
		char *array;

		if (map && !json_is_object(j))
			return ctx_fail(cx, -EINVAL, "expected an object (map), got %s",
					json_type_name(j));
		if (!map && !json_is_array(j))
			return ctx_fail(cx, -EINVAL, "expected an array, got %s",
					json_type_name(j));
		if (count == 0)
			return 0;
		array = calloc(count, size);
		if (!array)
			return -ENOMEM;
		/* Owned by the message from here on, with n counting complete elements. */
		*(char **)p = array;
		n = MEMBER(m, f->quantifier_offset);
		*n = 0;
		if (map)
			return map_from_json(cx, f, j, (ProtobufCMessage **)array, n);
		for (size_t i = 0; i < count; i++) {
			size_t old = ctx_push(cx, "[%zu]", i);
			const json_t *e = json_array_get(j, i);

			if (json_is_null(e))
				r = ctx_fail(cx, -EINVAL, "null is not allowed in an array");
			else
				r = value_from_json(cx, f, e, array + i * size);
			if (r < 0)
				return r;
			ctx_pop(cx, old);
			(*n)++;
		}
		return 0;
	}

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *oneof_case = MEMBER(m, f->quantifier_offset);

		if (*oneof_case) {
			const ProtobufCFieldDescriptor *other = field_by_id(d, *oneof_case);
			char name[128] = "?";

			if (other)
				pbjson_json_name(other->name, name, sizeof(name));
			return ctx_fail(cx, -EINVAL,
					"only one member of a oneof may be set; \"%s\" is already",
					name);
		}
		r = value_from_json(cx, f, j, p);
		if (r == 0)
			*oneof_case = f->id;
		return r;
	}

	r = value_from_json(cx, f, j, p);
	/* proto2 optional scalars have a has_ flag */
	if (r == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
	    f->type != PROTOBUF_C_TYPE_STRING)
		*(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
	return r;
}

static int message_from_json(struct pbjson_ctx *cx, const ProtobufCMessageDescriptor *d,
			     const json_t *j, ProtobufCMessage **ret)
{
	ProtobufCMessage *m;
	bool *seen = NULL;
	const char *key;
	json_t *value;
	int r = 0;

	m = malloc(d->sizeof_message);
	if (!m)
		return -ENOMEM;
	d->message_init(m);

	if (is_wrapper(d)) {
		r = value_from_json(cx, &d->fields[0], j, MEMBER(m, d->fields[0].offset));
		goto out;
	}
	if (is_timestamp(d)) {
		const ProtobufCFieldDescriptor *fs = field_by_id(d, 1), *fn = field_by_id(d, 2);

		if (!json_is_string(j))
			r = ctx_fail(cx, -EINVAL, "expected an RFC 3339 timestamp string, got %s",
				     json_type_name(j));
		else if (!rfc3339_parse(json_string_value(j), MEMBER(m, fs->offset),
					MEMBER(m, fn->offset)))
			r = ctx_fail(
				cx, -EINVAL,
				"\"%s\" is not an RFC 3339 timestamp (like 2024-05-01T12:00:00Z)",
				json_string_value(j));
		goto out;
	}
	if (!json_is_object(j)) {
		r = ctx_fail(cx, -EINVAL, "expected an object for %s, got %s", d->name,
			     json_type_name(j));
		goto out;
	}
	seen = calloc(d->n_fields + 1, sizeof(*seen));
	if (!seen) {
		r = -ENOMEM;
		goto out;
	}
	json_object_foreach((json_t *)j, key, value) {
		const ProtobufCFieldDescriptor *f = field_by_json_key(d, key);
		size_t old;

		if (!f) {
			r = ctx_fail(cx, -EINVAL, "unknown field \"%s\" in %s", key, d->name);
			break;
		}
		old = ctx_push_field(cx, key);
		if (seen[f - d->fields]) {
			r = ctx_fail(cx, -EINVAL,
				     "field given twice (as \"%s\" and its other spelling)",
				     f->name);
			break;
		}
		seen[f - d->fields] = true;
		/* null means "the default" for every field */
		if (!json_is_null(value))
			r = field_from_json(cx, d, m, f, value);
		if (r < 0)
			break;
		ctx_pop(cx, old);
	}
out:
	free(seen);
	if (r < 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return r;
	}
	*ret = m;
	return 0;
}

int pbjson_message_from_json(const ProtobufCMessageDescriptor *desc, const json_t *json,
			     ProtobufCMessage **ret, char *err, size_t err_size)
{
	struct pbjson_ctx cx = { .err = err, .err_size = err_size };

	if (err && err_size)
		err[0] = '\0';
	if (!desc || !json || !ret)
		return -EINVAL;
	return message_from_json(&cx, desc, json, ret);
}

ProtobufCMessage *pbjson_message_free(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
	return NULL;
}
