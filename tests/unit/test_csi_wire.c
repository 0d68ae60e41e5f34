// SPDX-License-Identifier: GPL-2.0
/*
 * proto/csi.proto must be wire-identical to the published CSI spec v1.12.0.
 *
 * The build compiles proto/csi.proto into a descriptor set
 * ($(O)/proto/csi.desc, protoc --include_imports). This test reads it with
 * the protobuf-c code generated from google/protobuf/descriptor.proto, dumps
 * every field, map, enum value and RPC of package csi.v1 in the columns of
 * tests/proto/csi-v1.12.0-wire.tsv (read from the spec's own descriptor) and
 * requires the two lists to be equal, line for line (order aside).
 *
 * It also checks the protobuf-c descriptors compiled into the agent
 * (csi.pb-c.c) against the same list, since those are what go on the wire.
 *
 * Paths: $ATOMBLK_CSI_DESC (default: <build>/proto/csi.desc next to this
 * program's <build>/tests/unit/) and $ATOMBLK_CSI_WIRE_TSV (default:
 * tests/proto/csi-v1.12.0-wire.tsv under the current directory).
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "csi.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

#define WIRE_TSV_DEFAULT "tests/proto/csi-v1.12.0-wire.tsv"
#define CSI_PACKAGE "csi.v1"

/* A growable list of dump lines. */
struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = s;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Compare two line lists as multisets; print what is missing from @ours and
 * what @ours has in excess. Return the number of differing lines.
 */
static size_t lines_diff(struct lines *expected, struct lines *ours, const char *what)
{
	size_t i = 0, j = 0, bad = 0;

	qsort(expected->v, expected->n, sizeof(char *), cmp_str);
	qsort(ours->v, ours->n, sizeof(char *), cmp_str);
	while (i < expected->n || j < ours->n) {
		int c = i == expected->n ? 1 :
			j == ours->n	 ? -1 :
					   strcmp(expected->v[i], ours->v[j]);

		if (c == 0) {
			i++, j++;
			continue;
		}
		if (bad++ < 40)
			fprintf(stderr, "%s: %s: %s\n", what, c < 0 ? "missing " : "unexpected",
				c < 0 ? expected->v[i] : ours->v[j]);
		if (c < 0)
			i++;
		else
			j++;
	}
	if (bad)
		fprintf(stderr, "%s: %zu differing lines (expected %zu, got %zu)\n", what, bad,
			expected->n, ours->n);
	return bad;
}

static void read_tsv(struct lines *l)
{
	const char *path = getenv("ATOMBLK_CSI_WIRE_TSV") ?: WIRE_TSV_DEFAULT;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		fail_msg(
			"cannot open %s: %m (run from the source tree or set ATOMBLK_CSI_WIRE_TSV)",
			path);
	/* The first line is the column header. */
	assert_true(getline(&line, &cap, f) > 0);
	assert_true(!strncmp(line, "kind\t", 5));
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n)
			lines_add(l, "%s", line);
	}
	free(line);
	fclose(f);
}

/* "TYPE_INT64" -> "int64", "LABEL_REPEATED" -> "repeated". */
static const char *enum_short_name(const ProtobufCEnumDescriptor *d, int value, char *buf,
				   size_t size)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
	const char *s;
	size_t i;

	assert_non_null(v);
	s = strchr(v->name, '_');
	s = s ? s + 1 : v->name;
	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return buf;
}

static const char *field_type_name(int type, char *buf, size_t size)
{
	return enum_short_name(&google__protobuf__field_descriptor_proto__type__descriptor, type,
			       buf, size);
}

static void dump_enum(struct lines *l, const char *scope,
		      const Google__Protobuf__EnumDescriptorProto *e)
{
	for (size_t i = 0; i < e->n_value; i++)
		lines_add(l, "enum\t%s.%s\t%s\t%d\t\t\t\t", scope, e->name, e->value[i]->name,
			  e->value[i]->number);
}

static void dump_message(struct lines *l, const char *scope,
			 const Google__Protobuf__DescriptorProto *m)
{
	char full[512], t1[32], t2[32];

	snprintf(full, sizeof(full), "%s.%s", scope, m->name);
	if (m->options && m->options->has_map_entry && m->options->map_entry) {
		const Google__Protobuf__FieldDescriptorProto *key = NULL, *value = NULL;

		for (size_t i = 0; i < m->n_field; i++) {
			if (m->field[i]->number == 1)
				key = m->field[i];
			else if (m->field[i]->number == 2)
				value = m->field[i];
		}
		assert_non_null(key);
		assert_non_null(value);
		lines_add(l, "map\t%s\t%s\t%s %s\t\t\t\t", full,
			  field_type_name(key->type, t1, sizeof(t1)),
			  field_type_name(value->type, t2, sizeof(t2)), value->type_name ?: "");
		return;
	}
	for (size_t i = 0; i < m->n_field; i++) {
		const Google__Protobuf__FieldDescriptorProto *f = m->field[i];
		char oneof[128] = "";

		if (f->has_oneof_index) {
			assert_true((size_t)f->oneof_index < m->n_oneof_decl);
			snprintf(oneof, sizeof(oneof), "oneof %s",
				 m->oneof_decl[f->oneof_index]->name);
		}
		lines_add(l, "field\t%s\t%s\t%d\t%s\t%s\t%s\t%s", full, f->name, f->number,
			  enum_short_name(
				  &google__protobuf__field_descriptor_proto__label__descriptor,
				  f->label, t1, sizeof(t1)),
			  field_type_name(f->type, t2, sizeof(t2)), f->type_name ?: "", oneof);
	}
	for (size_t i = 0; i < m->n_nested_type; i++)
		dump_message(l, full, m->nested_type[i]);
	for (size_t i = 0; i < m->n_enum_type; i++)
		dump_enum(l, full, m->enum_type[i]);
}

static void dump_file(struct lines *l, const Google__Protobuf__FileDescriptorProto *fd)
{
	const char *scope = "." CSI_PACKAGE;

	for (size_t i = 0; i < fd->n_message_type; i++)
		dump_message(l, scope, fd->message_type[i]);
	for (size_t i = 0; i < fd->n_enum_type; i++)
		dump_enum(l, scope, fd->enum_type[i]);
	for (size_t i = 0; i < fd->n_service; i++) {
		const Google__Protobuf__ServiceDescriptorProto *s = fd->service[i];

		for (size_t j = 0; j < s->n_method; j++)
			lines_add(l, "rpc\t%s.%s\t%s\t\t\t\t%s -> %s\t", scope, s->name,
				  s->method[j]->name, s->method[j]->input_type,
				  s->method[j]->output_type);
	}
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*ret_len = len;
	return buf;
}

static void descriptor_set_path(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (getenv("ATOMBLK_CSI_DESC")) {
		snprintf(buf, size, "%s", getenv("ATOMBLK_CSI_DESC"));
		return;
	}
	/* <build>/tests/unit/test_csi_wire -> <build>/proto/csi.desc */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(buf, size, "%s/../../proto/csi.desc", dirname(exe));
}

/* The compiled proto/csi.proto has exactly the spec's fields, maps, enum values and RPCs. */
static void test_csi_proto_descriptor_matches_spec_v1_12_wire_facts(void **state)
{
	struct lines expected = { 0 }, ours = { 0 };
	Google__Protobuf__FileDescriptorSet *set;
	char path[PATH_MAX + 32];
	size_t len = 0, files = 0;
	char *data;

	read_tsv(&expected);
	assert_int_equal(expected.n, 315);

	descriptor_set_path(path, sizeof(path));
	data = slurp(path, &len);
	if (!data)
		fail_msg("cannot read descriptor set %s: %m", path);
	set = google__protobuf__file_descriptor_set__unpack(NULL, len, (uint8_t *)data);
	assert_non_null(set);
	for (size_t i = 0; i < set->n_file; i++) {
		if (!set->file[i]->package || strcmp(set->file[i]->package, CSI_PACKAGE))
			continue;
		assert_string_equal(set->file[i]->syntax, "proto3");
		dump_file(&ours, set->file[i]);
		files++;
	}
	assert_int_equal(files, 1);
	assert_int_equal(lines_diff(&expected, &ours, path), 0);

	google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
	free(data);
	lines_free(&expected);
	lines_free(&ours);
}

/*
 * protobuf-c's own descriptors, as linked into the agent: every field's
 * number, label and type, every enum value and every RPC as listed. (Oneof
 * names and map-ness are not kept by protobuf-c; the test above has them.)
 */
static const char *pbc_type_name(ProtobufCType t)
{
	static const char *const names[] = {
		[PROTOBUF_C_TYPE_INT32] = "int32",	 [PROTOBUF_C_TYPE_SINT32] = "sint32",
		[PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
		[PROTOBUF_C_TYPE_SINT64] = "sint64",	 [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
		[PROTOBUF_C_TYPE_UINT32] = "uint32",	 [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
		[PROTOBUF_C_TYPE_UINT64] = "uint64",	 [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
		[PROTOBUF_C_TYPE_FLOAT] = "float",	 [PROTOBUF_C_TYPE_DOUBLE] = "double",
		[PROTOBUF_C_TYPE_BOOL] = "bool",	 [PROTOBUF_C_TYPE_ENUM] = "enum",
		[PROTOBUF_C_TYPE_STRING] = "string",	 [PROTOBUF_C_TYPE_BYTES] = "bytes",
		[PROTOBUF_C_TYPE_MESSAGE] = "message",
	};
	return names[t];
}

static bool seen_before(const void **seen, size_t n, const void *p)
{
	for (size_t i = 0; i < n; i++)
		if (seen[i] == p)
			return true;
	return false;
}

/* Dump one message and, recursively, every csi.v1 message and enum it uses. */
static void pbc_dump_message(struct lines *l, const ProtobufCMessageDescriptor *m,
			     const void **seen, size_t *n_seen)
{
	if (seen_before(seen, *n_seen, m) ||
	    strncmp(m->name, CSI_PACKAGE ".", strlen(CSI_PACKAGE) + 1))
		return;
	seen[(*n_seen)++] = m;
	for (unsigned int i = 0; i < m->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &m->fields[i];
		const char *tn = "";

		if (f->type == PROTOBUF_C_TYPE_MESSAGE)
			tn = ((const ProtobufCMessageDescriptor *)f->descriptor)->name;
		else if (f->type == PROTOBUF_C_TYPE_ENUM)
			tn = ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
		/* Map entries: compared by their key/value fields. */
		lines_add(l, "%s\t%s\t%u\t%s\t%s\t%s%s", m->name, f->name, f->id,
			  f->label == PROTOBUF_C_LABEL_REPEATED ? "repeated" : "optional",
			  pbc_type_name(f->type), *tn ? "." : "", tn);
		if (f->type == PROTOBUF_C_TYPE_MESSAGE)
			pbc_dump_message(l, f->descriptor, seen, n_seen);
		if (f->type == PROTOBUF_C_TYPE_ENUM && !seen_before(seen, *n_seen, f->descriptor)) {
			const ProtobufCEnumDescriptor *e = f->descriptor;

			seen[(*n_seen)++] = e;
			for (unsigned int j = 0; j < e->n_values; j++)
				lines_add(l, "enum\t.%s\t%s\t%d", e->name, e->values[j].name,
					  e->values[j].value);
		}
	}
}

static const ProtobufCServiceDescriptor *const csi_services[] = {
	&csi__v1__identity__descriptor,
	&csi__v1__controller__descriptor,
	&csi__v1__group_controller__descriptor,
	&csi__v1__snapshot_metadata__descriptor,
	&csi__v1__node__descriptor,
};

static void test_generated_protobuf_c_descriptors_match_spec_wire_facts(void **state)
{
	struct lines tsv = { 0 }, expected = { 0 }, ours = { 0 };
	const void *seen[512];
	size_t n_seen = 0;

	read_tsv(&tsv);
	/* Reduce the spec list to what protobuf-c knows: map rows become key/value fields. */
	for (size_t i = 0; i < tsv.n; i++) {
		char kind[16], scope[256], name[128], num[64], label[16], type[16], tn[256];
		char *cols[8] = { 0 }, *save, *dup = strdup(tsv.v[i]), *p = dup;
		int c = 0;

		for (; c < 8 && (cols[c] = strsep(&p, "\t")); c++)
			;
		snprintf(kind, sizeof(kind), "%s", cols[0]);
		snprintf(scope, sizeof(scope), "%s", cols[1] + 1);
		snprintf(name, sizeof(name), "%s", cols[2]);
		snprintf(num, sizeof(num), "%s", cols[3]);
		if (!strcmp(kind, "field")) {
			snprintf(label, sizeof(label), "%s", cols[4]);
			snprintf(type, sizeof(type), "%s", cols[5]);
			snprintf(tn, sizeof(tn), "%s", cols[6]);
			lines_add(&expected, "%s\t%s\t%s\t%s\t%s\t%s", scope, name, num, label,
				  type, tn);
		} else if (!strcmp(kind, "map")) {
			char *vt = strtok_r(num, " ", &save), *vtn = strtok_r(NULL, " ", &save);

			lines_add(&expected, "%s\tkey\t1\toptional\t%s\t", scope, name);
			lines_add(&expected, "%s\tvalue\t2\toptional\t%s\t%s", scope, vt,
				  vtn ?: "");
		} else if (!strcmp(kind, "enum")) {
			lines_add(&expected, "enum\t.%s\t%s\t%s", scope, name, num);
		} else if (!strcmp(kind, "rpc")) {
			lines_add(&expected, "rpc\t.%s\t%s\t%s", scope, name, cols[6]);
		}
		free(dup);
	}

	for (size_t i = 0; i < sizeof(csi_services) / sizeof(csi_services[0]); i++) {
		const ProtobufCServiceDescriptor *s = csi_services[i];

		for (unsigned int j = 0; j < s->n_methods; j++) {
			const ProtobufCMethodDescriptor *m = &s->methods[j];
			char path[256];

			lines_add(&ours, "rpc\t.%s\t%s\t.%s -> .%s", s->name, m->name,
				  m->input->name, m->output->name);
			/* The method path the server and client use. */
			snprintf(path, sizeof(path), "/%s/%s", s->name, m->name);
			assert_non_null(strstr(path, "/csi.v1."));
			pbc_dump_message(&ours, m->input, seen, &n_seen);
			pbc_dump_message(&ours, m->output, seen, &n_seen);
		}
	}
	assert_int_equal(lines_diff(&expected, &ours, "csi.pb-c.c"), 0);
	lines_free(&tsv);
	lines_free(&expected);
	lines_free(&ours);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csi_proto_descriptor_matches_spec_v1_12_wire_facts),
		cmocka_unit_test(test_generated_protobuf_c_descriptors_match_spec_wire_facts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
