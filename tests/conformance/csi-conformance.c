// SPDX-License-Identifier: GPL-2.0
/*
 * csi-conformance — a CSI v1.12.0 conformance suite run against a live plugin.
 *
 *   csi-conformance --endpoint unix:///path [--node-only | --controller]
 *                   [--staging-dir D] [--target-dir D] [--size BYTES]
 *                   [--param KEY=VALUE]... [--fs-type FS] [--timeout SECS]
 *
 * It talks CSI only (gRPC, the spec's own messages built from JSON), so it
 * knows nothing of the plugin's internals: any CSI plugin can be checked.
 * Every case prints one line:
 *
 *   PASS name: expected CODE got CODE[: note]
 *   FAIL name: expected CODE got CODE: details
 *   SKIP name: why (a capability the plugin does not advertise)
 *
 * and the exit status is 1 when any case failed (2 for usage errors).
 *
 * What is expected comes from the spec (spec.md of CSI v1.12.0); each group
 * of cases names its section. Where the spec allows more than one code, the
 * case accepts each of them and says which one it got. Where the spec names
 * none (it only requires a non-OK status), the case says so and accepts any
 * error. Capabilities are read first (GetPluginCapabilities,
 * ControllerGetCapabilities, NodeGetCapabilities): an RPC the plugin does
 * not advertise is skipped with a note, since the spec only requires an
 * advertised RPC to be implemented.
 *
 * Everything the suite creates is named csi-conformance-<pid>-* and is
 * deleted at the end (unpublished, unstaged, snapshots, then volumes); the
 * cleanup is a case of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "csi.pb-c.h"
#include "lib/pbjson.h"
#include "lib/rpc_client.h"

#define MiB (1024LL * 1024)
#define MAX_OBJECTS 64 /* volumes and snapshots the suite may create */
#define MAX_PAGES 1000 /* a pagination walk longer than this is a loop */

/* gRPC status codes (grpc/status.h), named as the spec names them. */
enum code {
	ANY_ERROR = -1, /* the spec requires a non-OK status, no particular one */
	OK = 0,
	CANCELLED = 1,
	UNKNOWN = 2,
	INVALID_ARGUMENT = 3,
	DEADLINE_EXCEEDED = 4,
	NOT_FOUND = 5,
	ALREADY_EXISTS = 6,
	PERMISSION_DENIED = 7,
	RESOURCE_EXHAUSTED = 8,
	FAILED_PRECONDITION = 9,
	ABORTED = 10,
	OUT_OF_RANGE = 11,
	UNIMPLEMENTED = 12,
	INTERNAL = 13,
	UNAVAILABLE = 14,
	DATA_LOSS = 15,
	UNAUTHENTICATED = 16,
	NO_CALL = 100, /* the call could not be made or its reply not decoded */
};

static const char *const code_names[] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
};

static const char *code_name(int code)
{
	if (code == ANY_ERROR)
		return "an error";
	if (code >= 0 && code < (int)(sizeof(code_names) / sizeof(code_names[0])))
		return code_names[code];
	return code == NO_CALL ? "no reply" : "code?";
}

/* Which services the plugin under test serves. */
enum scope {
	SCOPE_ALL, /* Identity, Controller and Node (one process, or --mode all) */
	SCOPE_NODE, /* --node-only: Identity and Node */
	SCOPE_CONTROLLER, /* --controller: Identity and Controller */
};

/* A volume the suite made, and where it is staged/published (for cleanup). */
struct object {
	char *id;
	char *staged; /* staging path, or NULL */
	char *published; /* target path, or NULL */
};

struct conf {
	struct rpc_client *rpc;
	int64_t timeout_ms;
	enum scope scope;
	char staging_dir[1024];
	char target_dir[1024];
	long long size; /* bytes of each volume the suite creates */
	const char *fs_type; /* "" = the plugin's default */
	json_t *params; /* CreateVolume parameters (object) */
	char prefix[64]; /* csi-conformance-<pid> */

	/* What the plugin advertises. */
	bool controller_service; /* PluginCapability CONTROLLER_SERVICE */
	bool topology; /* VOLUME_ACCESSIBILITY_CONSTRAINTS */
	unsigned long ctrl_caps; /* bit n: ControllerServiceCapability.RPC.Type n */
	unsigned long node_caps; /* bit n: NodeServiceCapability.RPC.Type n */

	struct object volumes[MAX_OBJECTS];
	size_t nvolumes;
	char *snapshots[MAX_OBJECTS];
	size_t nsnapshots;

	unsigned int passed, failed, skipped;
};

/* ---- output ---------------------------------------------------------------- */

static void line(struct conf *c, const char *verdict, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void line(struct conf *c, const char *verdict, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (!strcmp(verdict, "PASS"))
		c->passed++;
	else if (!strcmp(verdict, "FAIL"))
		c->failed++;
	else
		c->skipped++;
	printf("%s %s: ", verdict, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#define pass(c, name, ...) line(c, "PASS", name, __VA_ARGS__)
#define fail(c, name, ...) line(c, "FAIL", name, __VA_ARGS__)
#define skip(c, name, ...) line(c, "SKIP", name, __VA_ARGS__)

/* ---- calls ------------------------------------------------------------------- */

static const ProtobufCServiceDescriptor *const services[] = {
	&csi__v1__identity__descriptor,
	&csi__v1__controller__descriptor,
	&csi__v1__node__descriptor,
};

static const ProtobufCMethodDescriptor *method_find(const char *name,
						    const ProtobufCServiceDescriptor **ret_service)
{
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		for (unsigned int j = 0; j < services[i]->n_methods; j++) {
			if (!strcmp(services[i]->methods[j].name, name)) {
				*ret_service = services[i];
				return &services[i]->methods[j];
			}
		}
	}
	return NULL;
}

/* The outcome of one call: its status, and the reply as JSON when OK. */
struct result {
	int code;
	char details[1024];
	json_t *reply; /* NULL unless code is OK */
};

static void result_clear(struct result *r)
{
	json_decref(r->reply);
	r->reply = NULL;
}

/* call() - @method (a CSI RPC name) with the JSON request @req (consumed). */
static void call(struct conf *c, const char *method, json_t *req, struct result *ret)
{
	const ProtobufCServiceDescriptor *service;
	const ProtobufCMethodDescriptor *m = method_find(method, &service);
	char path[256], err[PBJSON_ERR_MAX];
	ProtobufCMessage *msg = NULL;
	struct rpc_reply reply = {};
	uint8_t *buf = NULL;
	size_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->code = NO_CALL;
	if (!m || !req) {
		snprintf(ret->details, sizeof(ret->details), "%s: %s", method,
			 m ? "out of memory" : "no such CSI method");
		goto out;
	}
	r = pbjson_message_from_json(m->input, req, &msg, err, sizeof(err));
	if (r < 0) {
		snprintf(ret->details, sizeof(ret->details), "bad request: %s",
			 r == -EINVAL ? err : strerror(-r));
		goto out;
	}
	len = protobuf_c_message_get_packed_size(msg);
	buf = malloc(len ? len : 1);
	if (!buf)
		goto out;
	protobuf_c_message_pack(msg, buf);
	snprintf(path, sizeof(path), "/%s/%s", service->name, m->name);
	r = rpc_client_call(c->rpc, path, buf, len, c->timeout_ms, &reply);
	if (r < 0) {
		snprintf(ret->details, sizeof(ret->details), "call failed: %s", strerror(-r));
		goto out;
	}
	ret->code = reply.status;
	snprintf(ret->details, sizeof(ret->details), "%s", reply.details ? reply.details : "");
	if (reply.status == OK) {
		ProtobufCMessage *out =
			protobuf_c_message_unpack(m->output, NULL, reply.len, reply.data);

		if (!out || pbjson_message_to_json(out, &ret->reply, err, sizeof(err)) < 0) {
			ret->code = NO_CALL;
			snprintf(ret->details, sizeof(ret->details),
				 "cannot decode the %zu-byte %s", reply.len, m->output->name);
		}
		pbjson_message_free(out);
	}
out:
	rpc_reply_clear(&reply);
	pbjson_message_free(msg);
	free(buf);
	json_decref(req);
}

/*
 * expect() - one case: @method with @req (consumed) must answer @want, or one
 * of the codes in @also (a -1-terminated list, or NULL). Prints the case's
 * line. Returns the reply when the call answered OK and @ret_reply is given
 * (json_decref() it), and whether the case passed.
 */
static bool expect(struct conf *c, const char *name, const char *method, json_t *req, int want,
		   const int *also, json_t **ret_reply)
{
	struct result r;
	bool ok;

	call(c, method, req, &r);
	ok = r.code != NO_CALL && (r.code == want || (want == ANY_ERROR && r.code != OK));
	for (; also && *also >= 0 && !ok; also++)
		ok = r.code == *also;
	if (ok && r.code != want && want != ANY_ERROR)
		pass(c, name, "expected %s got %s (the spec allows it)%s%s", code_name(want),
		     code_name(r.code), r.details[0] ? ": " : "", r.details);
	else if (ok)
		pass(c, name, "expected %s got %s", code_name(want), code_name(r.code));
	else
		fail(c, name, "expected %s got %s: %s", code_name(want), code_name(r.code),
		     r.details[0] ? r.details : "(no message)");
	if (ret_reply && r.code == OK) {
		*ret_reply = r.reply;
		r.reply = NULL;
	} else if (ret_reply) {
		*ret_reply = NULL;
	}
	result_clear(&r);
	return ok;
}

/* A call whose outcome is not a case of its own (setup, cleanup). */
static int quiet_call(struct conf *c, const char *method, json_t *req, json_t **ret_reply)
{
	struct result r;

	call(c, method, req, &r);
	if (ret_reply) {
		*ret_reply = r.reply;
		r.reply = NULL;
	}
	if (r.code != OK)
		fprintf(stderr, "csi-conformance: %s: %s: %s\n", method, code_name(r.code),
			r.details);
	result_clear(&r);
	return r.code;
}

/* ---- JSON helpers ---------------------------------------------------------------- */

/* A string at a "/"-separated path of objects, or NULL. */
static const char *jstr(json_t *j, const char *path)
{
	char buf[256], *save = NULL, *key;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, "/", &save); key && j; key = strtok_r(NULL, "/", &save))
		j = json_object_get(j, key);
	return json_string_value(j);
}

/* An int64 at a path (proto3 JSON writes them as strings); 0 when absent. */
static long long jint(json_t *j, const char *path)
{
	char buf[256], *save = NULL, *key;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, "/", &save); key && j; key = strtok_r(NULL, "/", &save))
		j = json_object_get(j, key);
	if (json_is_integer(j))
		return json_integer_value(j);
	return json_is_string(j) ? strtoll(json_string_value(j), NULL, 10) : 0;
}

static json_t *jget(json_t *j, const char *path)
{
	char buf[256], *save = NULL, *key;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, "/", &save); key && j; key = strtok_r(NULL, "/", &save))
		j = json_object_get(j, key);
	return j;
}

/* A VolumeCapability: mount with @fs ("" = default) or block, and @mode. */
static json_t *cap_mount(const char *fs, const char *mode)
{
	return json_pack("{s:{s:s}, s:{s:s}}", "mount", "fsType", fs, "accessMode", "mode", mode);
}

static json_t *capacity(long long required, long long limit)
{
	json_t *j = json_object();

	if (required)
		json_object_set_new(j, "requiredBytes", json_sprintf("%lld", required));
	if (limit)
		json_object_set_new(j, "limitBytes", json_sprintf("%lld", limit));
	return j;
}

static void name_of(struct conf *c, const char *what, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s", c->prefix, what);
}

/* A CreateVolumeRequest for @what with the suite's size, capability and parameters. */
static json_t *create_req(struct conf *c, const char *what, long long required, long long limit)
{
	char name[128];

	name_of(c, what, name, sizeof(name));
	return json_pack("{s:s, s:o, s:[o], s:O}", "name", name, "capacityRange",
			 capacity(required, limit), "volumeCapabilities",
			 cap_mount(c->fs_type, "SINGLE_NODE_WRITER"), "parameters", c->params);
}

static bool has_ctrl(struct conf *c, int cap)
{
	return c->ctrl_caps & (1UL << cap);
}

static bool has_node(struct conf *c, int cap)
{
	return c->node_caps & (1UL << cap);
}

static bool serves_controller(struct conf *c)
{
	return c->scope != SCOPE_NODE;
}

static bool serves_node(struct conf *c)
{
	return c->scope != SCOPE_CONTROLLER;
}

/* ---- bookkeeping for cleanup ----------------------------------------------------------- */

static struct object *volume_track(struct conf *c, const char *id)
{
	for (size_t i = 0; i < c->nvolumes; i++)
		if (!strcmp(c->volumes[i].id, id))
			return &c->volumes[i];
	if (c->nvolumes == MAX_OBJECTS)
		return NULL;
	c->volumes[c->nvolumes].id = strdup(id);
	return &c->volumes[c->nvolumes++];
}

static void volume_untrack(struct conf *c, const char *id)
{
	for (size_t i = 0; i < c->nvolumes; i++) {
		if (strcmp(c->volumes[i].id, id))
			continue;
		free(c->volumes[i].id);
		free(c->volumes[i].staged);
		free(c->volumes[i].published);
		c->volumes[i] = c->volumes[--c->nvolumes];
		return;
	}
}

static void snapshot_track(struct conf *c, const char *id)
{
	for (size_t i = 0; i < c->nsnapshots; i++)
		if (!strcmp(c->snapshots[i], id))
			return;
	if (c->nsnapshots < MAX_OBJECTS)
		c->snapshots[c->nsnapshots++] = strdup(id);
}

static void snapshot_untrack(struct conf *c, const char *id)
{
	for (size_t i = 0; i < c->nsnapshots; i++) {
		if (strcmp(c->snapshots[i], id))
			continue;
		free(c->snapshots[i]);
		c->snapshots[i] = c->snapshots[--c->nsnapshots];
		return;
	}
}

/*
 * A reply that created something is tracked for cleanup, whatever the case
 * expected: a plugin that wrongly accepts a bad CreateVolume must not leak.
 */
static void track_reply(struct conf *c, const char *method, json_t *reply)
{
	const char *id;

	if (!reply)
		return;
	if (!strcmp(method, "CreateVolume") && (id = jstr(reply, "volume/volumeId")))
		volume_track(c, id);
	if (!strcmp(method, "CreateSnapshot") && (id = jstr(reply, "snapshot/snapshotId")))
		snapshot_track(c, id);
}

/* expect() for calls that may create objects: anything created is tracked. */
static bool expect_tracked(struct conf *c, const char *name, const char *method, json_t *req,
			   int want, const int *also, json_t **ret_reply)
{
	json_t *reply = NULL;
	bool ok = expect(c, name, method, req, want, also, &reply);

	track_reply(c, method, reply);
	if (ret_reply)
		*ret_reply = reply;
	else
		json_decref(reply);
	return ok;
}

/* ---- Identity -------------------------------------------------------------------------- */

/*
 * spec "GetPluginInfo": name (REQUIRED, domain name notation, at most 63
 * characters) and vendor_version (REQUIRED). "GetPluginCapabilities" and
 * "Probe": a plugin MUST implement them.
 */
static void identity_cases(struct conf *c)
{
	json_t *reply, *caps, *cap;
	const char *name, *version;
	size_t i;

	if (expect(c, "identity/GetPluginInfo", "GetPluginInfo", json_object(), OK, NULL, &reply)) {
		name = jstr(reply, "name");
		version = jstr(reply, "vendorVersion");
		if (!name || !*name || strlen(name) > 63)
			fail(c, "identity/GetPluginInfo-name", "name '%s' is not 1-63 characters",
			     name ? name : "");
		else
			pass(c, "identity/GetPluginInfo-name", "name %s", name);
		if (!version || !*version)
			fail(c, "identity/GetPluginInfo-vendor-version", "vendor_version missing");
		else
			pass(c, "identity/GetPluginInfo-vendor-version", "vendor_version %s",
			     version);
	}
	json_decref(reply);

	if (expect(c, "identity/GetPluginCapabilities", "GetPluginCapabilities", json_object(), OK,
		   NULL, &reply)) {
		caps = json_object_get(reply, "capabilities");
		json_array_foreach(caps, i, cap) {
			const char *type = jstr(cap, "service/type");

			if (type && !strcmp(type, "CONTROLLER_SERVICE"))
				c->controller_service = true;
			if (type && !strcmp(type, "VOLUME_ACCESSIBILITY_CONSTRAINTS"))
				c->topology = true;
		}
	}
	json_decref(reply);

	/* spec "Probe": ready is OPTIONAL; when set false the plugin is still initializing. */
	if (expect(c, "identity/Probe", "Probe", json_object(), OK, NULL, &reply) &&
	    json_is_false(json_object_get(reply, "ready")))
		fail(c, "identity/Probe-ready", "the plugin answers not ready");
	json_decref(reply);
}

/* Record every RPC-type capability of a Get*Capabilities reply by its enum number. */
static unsigned long caps_of(json_t *reply, const ProtobufCEnumDescriptor *e, char *list,
			     size_t size)
{
	unsigned long bits = 0;
	json_t *cap;
	size_t i;

	list[0] = '\0';
	json_array_foreach(json_object_get(reply, "capabilities"), i, cap) {
		const char *type = jstr(cap, "rpc/type");
		const ProtobufCEnumValue *v =
			type ? protobuf_c_enum_descriptor_get_value_by_name(e, type) : NULL;

		if (!v || v->value < 0 || v->value >= (int)(8 * sizeof(bits)))
			continue;
		bits |= 1UL << v->value;
		snprintf(list + strlen(list), size - strlen(list), "%s%s", list[0] ? "," : "",
			 type);
	}
	return bits;
}

static void capability_cases(struct conf *c)
{
	char list[1024];
	json_t *reply;

	if (serves_controller(c)) {
		/* spec "ControllerGetCapabilities": a Controller Plugin MUST implement it. */
		if (!c->controller_service)
			fail(c, "controller/advertised",
			     "GetPluginCapabilities lacks CONTROLLER_SERVICE but a controller is under test");
		if (expect(c, "controller/ControllerGetCapabilities", "ControllerGetCapabilities",
			   json_object(), OK, NULL, &reply)) {
			c->ctrl_caps = caps_of(
				reply,
				&csi__v1__controller_service_capability__rpc__type__descriptor,
				list, sizeof(list));
			printf("INFO controller capabilities: %s\n", list);
		}
		json_decref(reply);
	}
	if (serves_node(c)) {
		/* spec "NodeGetCapabilities", "NodeGetInfo": node_id REQUIRED. */
		if (expect(c, "node/NodeGetCapabilities", "NodeGetCapabilities", json_object(), OK,
			   NULL, &reply)) {
			c->node_caps = caps_of(
				reply, &csi__v1__node_service_capability__rpc__type__descriptor,
				list, sizeof(list));
			printf("INFO node capabilities: %s\n", list);
		}
		json_decref(reply);
		if (expect(c, "node/NodeGetInfo", "NodeGetInfo", json_object(), OK, NULL, &reply)) {
			const char *id = jstr(reply, "nodeId");

			if (!id || !*id)
				fail(c, "node/NodeGetInfo-node-id", "node_id missing");
			else
				pass(c, "node/NodeGetInfo-node-id", "node_id %s", id);
			/* spec "NodeGetInfo": accessible_topology needs VOLUME_ACCESSIBILITY_CONSTRAINTS. */
			if (json_object_get(reply, "accessibleTopology") && !c->topology)
				fail(c, "node/NodeGetInfo-topology",
				     "accessible_topology set without VOLUME_ACCESSIBILITY_CONSTRAINTS");
			else if (json_object_get(reply, "accessibleTopology"))
				pass(c, "node/NodeGetInfo-topology",
				     "accessible_topology with VOLUME_ACCESSIBILITY_CONSTRAINTS");
		}
		json_decref(reply);
	}
}

/* ---- required fields ---------------------------------------------------------------------- */

/*
 * spec "Error Scheme": "Missing required field | 3 INVALID_ARGUMENT", and
 * "REQUIRED vs. OPTIONAL": a repeated or map field listed as REQUIRED MUST
 * contain at least 1 element. @base is a request with every field set
 * (consumed); each field in @fields is removed in turn. Anything a broken
 * plugin creates anyway is tracked for cleanup.
 */
static void required_fields(struct conf *c, const char *method, json_t *base,
			    const char *const *fields)
{
	char name[256];

	for (; *fields; fields++) {
		json_t *req = json_deep_copy(base);

		json_object_del(req, *fields);
		snprintf(name, sizeof(name), "required/%s-without-%s", method, *fields);
		expect_tracked(c, name, method, req, INVALID_ARGUMENT, NULL, NULL);
	}
	json_decref(base);
}

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- Controller ------------------------------------------------------------------------------ */

enum {
	CTRL_CREATE_DELETE_VOLUME = 1,
	CTRL_PUBLISH_UNPUBLISH = 2,
	CTRL_LIST_VOLUMES = 3,
	CTRL_GET_CAPACITY = 4,
	CTRL_CREATE_DELETE_SNAPSHOT = 5,
	CTRL_LIST_SNAPSHOTS = 6,
	CTRL_CLONE_VOLUME = 7,
	CTRL_EXPAND_VOLUME = 9,
	CTRL_VOLUME_CONDITION = 11,
	CTRL_GET_VOLUME = 12
};
enum {
	NODE_STAGE_UNSTAGE = 1,
	NODE_GET_VOLUME_STATS = 2,
	NODE_EXPAND_VOLUME = 3,
	NODE_VOLUME_CONDITION = 4
};

/* The ids the controller cases make and the node cases reuse. */
struct fixture {
	char vol_a[256]; /* the main volume, "" when it could not be made */
	json_t *ctx_a; /* its volume_context */
	char vol_b[256]; /* a second volume (other snapshot source) */
	char vol_gone[256]; /* a real id of a volume deleted again: unknown now */
	char snap_1[256], snap_2[256], snap_gone[256];
};

/* make_volume() - CreateVolume @what as a case @name; its id into @id ("" on failure). */
static bool make_volume(struct conf *c, const char *name, const char *what, json_t *req_extra,
			char *id, size_t size, json_t **ret_ctx)
{
	json_t *req = create_req(c, what, c->size, 0), *reply = NULL;
	bool ok;

	id[0] = '\0';
	if (req_extra)
		json_object_update(req, req_extra);
	json_decref(req_extra);
	ok = expect_tracked(c, name, "CreateVolume", req, OK, NULL, &reply);
	if (ok) {
		const char *vid = jstr(reply, "volume/volumeId");
		long long cap = jint(reply, "volume/capacityBytes");

		if (!vid || !*vid) {
			fail(c, name, "CreateVolumeResponse without volume_id");
			ok = false;
		} else {
			snprintf(id, size, "%s", vid);
		}
		/* spec "CapacityRange": the volume MUST be at least required_bytes big. */
		if (cap && cap < c->size) {
			fail(c, name, "capacity_bytes %lld < required %lld", cap, c->size);
			ok = false;
		}
		if (ret_ctx) {
			*ret_ctx =
				json_object_get(json_object_get(reply, "volume"), "volumeContext");
			*ret_ctx = *ret_ctx ? json_incref(*ret_ctx) : json_object();
		}
	}
	json_decref(reply);
	return ok && id[0];
}

/* delete_volume_quietly() - DeleteVolume outside of a case; untracked when OK. */
static int delete_volume_quietly(struct conf *c, const char *id)
{
	int code = quiet_call(c, "DeleteVolume", json_pack("{s:s}", "volumeId", id), NULL);

	if (code == OK)
		volume_untrack(c, id);
	return code;
}

/*
 * spec "CreateVolume": idempotent by name ("MUST reply 0 OK with the
 * corresponding CreateVolumeResponse"); "CreateVolume Errors": ALREADY_EXISTS
 * for an incompatible repeat, OUT_OF_RANGE for an unsupported capacity_range.
 * Error Scheme: INVALID_ARGUMENT for an invalid or unsupported field.
 */
static void create_volume_cases(struct conf *c, struct fixture *f)
{
	static const int out_of_range_or_exhausted[] = { RESOURCE_EXHAUSTED, -1 };
	static const int invalid_or_out_of_range[] = { OUT_OF_RANGE, -1 };
	json_t *reply = NULL, *req;
	char id2[256];
	bool mnmw_supported = false;

	make_volume(c, "controller/CreateVolume", "a", NULL, f->vol_a, sizeof(f->vol_a), &f->ctx_a);
	if (!f->vol_a[0])
		return;
	make_volume(c, "controller/CreateVolume-same-request-again", "a", NULL, id2, sizeof(id2),
		    NULL);
	if (id2[0] && strcmp(id2, f->vol_a))
		fail(c, "controller/CreateVolume-idempotent", "second volume_id %s != %s", id2,
		     f->vol_a);
	else if (id2[0])
		pass(c, "controller/CreateVolume-idempotent", "same volume_id %s", id2);

	/* Same name, another capacity: 2x the size, with a limit the first does not meet. */
	expect_tracked(c, "controller/CreateVolume-same-name-other-capacity", "CreateVolume",
		       create_req(c, "a", 2 * c->size, 2 * c->size), ALREADY_EXISTS, NULL, NULL);

	required_fields(c, "CreateVolume", create_req(c, "required", c->size, 0),
			FIELDS("name", "volumeCapabilities"));

	/* limit_bytes < required_bytes: no volume can satisfy it: an invalid field (Error Scheme). */
	expect_tracked(c, "controller/CreateVolume-limit-below-required", "CreateVolume",
		       create_req(c, "limit-below", 2 * c->size, c->size), INVALID_ARGUMENT,
		       invalid_or_out_of_range, NULL);
	/* spec "CapacityRange": "The value of this field MUST NOT be negative." */
	req = create_req(c, "negative", 0, 0);
	json_object_set_new(req, "capacityRange", json_pack("{s:s}", "requiredBytes", "-1"));
	expect_tracked(c, "controller/CreateVolume-negative-capacity", "CreateVolume", req,
		       INVALID_ARGUMENT, invalid_or_out_of_range, NULL);
	/* 1 EiB: "Unsupported capacity_range | 11 OUT_OF_RANGE". */
	expect_tracked(c, "controller/CreateVolume-unsatisfiable-capacity", "CreateVolume",
		       create_req(c, "huge", 1LL << 60, 0), OUT_OF_RANGE, out_of_range_or_exhausted,
		       NULL);

	/*
	 * An access mode the plugin does not support: "If ANY of the specified
	 * volume capabilities are not supported by the SP, the call MUST return
	 * the appropriate gRPC error code" (CreateVolumeRequest), INVALID_ARGUMENT
	 * by the Error Scheme. Whether it is supported, ValidateVolumeCapabilities
	 * says ("confirmed only if all the volume capabilities ... are supported").
	 */
	req = json_pack("{s:s, s:[o]}", "volumeId", f->vol_a, "volumeCapabilities",
			cap_mount(c->fs_type, "MULTI_NODE_MULTI_WRITER"));
	if (expect(c, "controller/ValidateVolumeCapabilities-multi-node-multi-writer",
		   "ValidateVolumeCapabilities", req, OK, NULL, &reply))
		mnmw_supported = json_object_get(reply, "confirmed") != NULL;
	json_decref(reply);
	req = create_req(c, "mnmw", c->size, 0);
	json_object_set_new(req, "volumeCapabilities",
			    json_pack("[o]", cap_mount(c->fs_type, "MULTI_NODE_MULTI_WRITER")));
	if (mnmw_supported)
		expect_tracked(c, "controller/CreateVolume-multi-node-multi-writer", "CreateVolume",
			       req, OK, NULL, NULL);
	else
		expect_tracked(c, "controller/CreateVolume-unsupported-access-mode", "CreateVolume",
			       req, INVALID_ARGUMENT, NULL, NULL);
	/* An access mode UNKNOWN (0) is no access mode: an invalid field. */
	req = create_req(c, "unknown-mode", c->size, 0);
	json_object_set_new(req, "volumeCapabilities",
			    json_pack("[o]", cap_mount(c->fs_type, "UNKNOWN")));
	expect_tracked(c, "controller/CreateVolume-access-mode-unknown", "CreateVolume", req,
		       INVALID_ARGUMENT, NULL, NULL);
}

/*
 * An id that is well-formed for this plugin but names nothing: a volume
 * made and deleted again. spec "DeleteVolume": "If a volume corresponding
 * to the specified volume_id does not exist ... the Plugin MUST reply 0 OK"
 * — so deleting it twice is OK both times.
 */
static void delete_volume_cases(struct conf *c, struct fixture *f)
{
	if (!make_volume(c, "controller/CreateVolume-to-delete", "gone", NULL, f->vol_gone,
			 sizeof(f->vol_gone), NULL))
		return;
	if (expect(c, "controller/DeleteVolume", "DeleteVolume",
		   json_pack("{s:s}", "volumeId", f->vol_gone), OK, NULL, NULL))
		volume_untrack(c, f->vol_gone);
	expect(c, "controller/DeleteVolume-unknown-id", "DeleteVolume",
	       json_pack("{s:s}", "volumeId", f->vol_gone), OK, NULL, NULL);
	required_fields(c, "DeleteVolume", json_pack("{s:s}", "volumeId", f->vol_gone),
			FIELDS("volumeId"));
}

/* spec "ValidateVolumeCapabilities" and its Errors: "Volume does not exist | 5 NOT_FOUND". */
static void validate_cases(struct conf *c, struct fixture *f)
{
	json_t *reply = NULL;

	if (expect(c, "controller/ValidateVolumeCapabilities", "ValidateVolumeCapabilities",
		   json_pack("{s:s, s:O, s:[o]}", "volumeId", f->vol_a, "volumeContext", f->ctx_a,
			     "volumeCapabilities", cap_mount(c->fs_type, "SINGLE_NODE_WRITER")),
		   OK, NULL, &reply)) {
		/* The capability the volume was created with is supported: confirmed. */
		if (!json_object_get(reply, "confirmed"))
			fail(c, "controller/ValidateVolumeCapabilities-confirmed",
			     "the creation capability is not confirmed: %s",
			     jstr(reply, "message") ?: "");
		else
			pass(c, "controller/ValidateVolumeCapabilities-confirmed", "confirmed");
	}
	json_decref(reply);
	if (f->vol_gone[0])
		expect(c, "controller/ValidateVolumeCapabilities-unknown-id",
		       "ValidateVolumeCapabilities",
		       json_pack("{s:s, s:[o]}", "volumeId", f->vol_gone, "volumeCapabilities",
				 cap_mount(c->fs_type, "SINGLE_NODE_WRITER")),
		       NOT_FOUND, NULL, NULL);
	required_fields(c, "ValidateVolumeCapabilities",
			json_pack("{s:s, s:[o]}", "volumeId", f->vol_a, "volumeCapabilities",
				  cap_mount(c->fs_type, "SINGLE_NODE_WRITER")),
			FIELDS("volumeId", "volumeCapabilities"));
}

/*
 * spec "ControllerExpandVolume": MUST be idempotent; capacity_bytes
 * REQUIRED in the response; Errors: "Volume does not exist | 5 NOT_FOUND".
 */
static void expand_cases(struct conf *c, struct fixture *f)
{
	long long grown = c->size + 16 * MiB;
	json_t *reply = NULL;
	int i;

	if (!has_ctrl(c, CTRL_EXPAND_VOLUME)) {
		skip(c, "controller/ControllerExpandVolume", "EXPAND_VOLUME not advertised");
		return;
	}
	for (i = 0; i < 2; i++) {
		if (expect(c,
			   i ? "controller/ControllerExpandVolume-again" :
			       "controller/ControllerExpandVolume",
			   "ControllerExpandVolume",
			   json_pack("{s:s, s:o}", "volumeId", f->vol_a, "capacityRange",
				     capacity(grown, 0)),
			   OK, NULL, &reply) &&
		    jint(reply, "capacityBytes") < grown)
			fail(c, "controller/ControllerExpandVolume-capacity",
			     "capacity_bytes %lld < %lld", jint(reply, "capacityBytes"), grown);
		json_decref(reply);
	}
	if (f->vol_gone[0])
		expect(c, "controller/ControllerExpandVolume-unknown-id", "ControllerExpandVolume",
		       json_pack("{s:s, s:o}", "volumeId", f->vol_gone, "capacityRange",
				 capacity(grown, 0)),
		       NOT_FOUND, NULL, NULL);
	required_fields(
		c, "ControllerExpandVolume",
		json_pack("{s:s, s:o}", "volumeId", f->vol_a, "capacityRange", capacity(grown, 0)),
		FIELDS("volumeId", "capacityRange"));
}

/*
 * spec "ControllerGetVolume": status REQUIRED; volume_condition MUST be set
 * with VOLUME_CONDITION; Errors: "Volume does not exist | 5 NOT_FOUND".
 */
static void get_volume_cases(struct conf *c, struct fixture *f)
{
	json_t *reply = NULL;

	if (!has_ctrl(c, CTRL_GET_VOLUME)) {
		skip(c, "controller/ControllerGetVolume", "GET_VOLUME not advertised");
		return;
	}
	if (expect(c, "controller/ControllerGetVolume", "ControllerGetVolume",
		   json_pack("{s:s}", "volumeId", f->vol_a), OK, NULL, &reply)) {
		const char *id = jstr(reply, "volume/volumeId");

		if (!id || strcmp(id, f->vol_a))
			fail(c, "controller/ControllerGetVolume-id", "volume_id '%s'", id ?: "");
		if (has_ctrl(c, CTRL_VOLUME_CONDITION) && !jget(reply, "status/volumeCondition"))
			fail(c, "controller/ControllerGetVolume-condition",
			     "VOLUME_CONDITION advertised, no status.volume_condition");
		else if (has_ctrl(c, CTRL_VOLUME_CONDITION))
			pass(c, "controller/ControllerGetVolume-condition",
			     "abnormal=%s message=\"%s\"",
			     json_is_true(jget(reply, "status/volumeCondition/abnormal")) ? "true" :
											    "false",
			     jstr(reply, "status/volumeCondition/message") ?: "");
	}
	json_decref(reply);
	if (f->vol_gone[0])
		expect(c, "controller/ControllerGetVolume-unknown-id", "ControllerGetVolume",
		       json_pack("{s:s}", "volumeId", f->vol_gone), NOT_FOUND, NULL, NULL);
	required_fields(c, "ControllerGetVolume", json_pack("{s:s}", "volumeId", f->vol_a),
			FIELDS("volumeId"));
}

/*
 * Walk a List* RPC one entry per page (spec "ListVolumes"/"ListSnapshots":
 * "the Plugin MUST NOT return more entries than this number ... MUST set
 * next_token"); every id of @want must be seen. @id_path picks an entry's id.
 */
static void list_walk(struct conf *c, const char *name, const char *method, json_t *filter,
		      const char *id_path, const char *const *want, size_t nwant)
{
	char token[1024] = "", seen_list[4096] = "";
	size_t found = 0, pages = 0, entries = 0;
	bool bad = false;

	for (pages = 0; pages < MAX_PAGES; pages++) {
		json_t *req = json_deep_copy(filter), *reply = NULL, *e;
		const char *next;
		size_t i;

		json_object_set_new(req, "maxEntries", json_integer(1));
		if (token[0])
			json_object_set_new(req, "startingToken", json_string(token));
		if (quiet_call(c, method, req, &reply) != OK) {
			fail(c, name, "page %zu failed (see stderr)", pages + 1);
			json_decref(reply);
			return;
		}
		if (json_array_size(json_object_get(reply, "entries")) > 1) {
			fail(c, name, "page %zu has %zu entries with max_entries 1", pages + 1,
			     json_array_size(json_object_get(reply, "entries")));
			bad = true;
		}
		json_array_foreach(json_object_get(reply, "entries"), i, e) {
			const char *id = jstr(e, id_path);

			entries++;
			for (size_t w = 0; id && w < nwant; w++)
				if (want[w] && !strcmp(id, want[w]))
					found |= 1UL << w;
		}
		next = jstr(reply, "nextToken");
		snprintf(token, sizeof(token), "%s", next ? next : "");
		json_decref(reply);
		if (!token[0])
			break;
	}
	for (size_t w = 0; w < nwant; w++)
		if (want[w] && !(found & (1UL << w)))
			snprintf(seen_list + strlen(seen_list),
				 sizeof(seen_list) - strlen(seen_list), " %s", want[w]);
	if (pages == MAX_PAGES)
		fail(c, name, "still a next_token after %d pages", MAX_PAGES);
	else if (seen_list[0])
		fail(c, name, "not listed:%s (%zu entries in %zu pages)", seen_list, entries,
		     pages + 1);
	else if (!bad)
		pass(c, name, "%zu entries in %zu pages of 1, all of ours listed", entries,
		     pages + 1);
}

/* spec "ListVolumes Errors": "Invalid starting_token | 10 ABORTED". */
static void list_volumes_cases(struct conf *c, struct fixture *f)
{
	const char *want[] = { f->vol_a, f->vol_b[0] ? f->vol_b : NULL };

	if (!has_ctrl(c, CTRL_LIST_VOLUMES)) {
		skip(c, "controller/ListVolumes", "LIST_VOLUMES not advertised");
		return;
	}
	expect(c, "controller/ListVolumes", "ListVolumes", json_object(), OK, NULL, NULL);
	list_walk(c, "controller/ListVolumes-pagination", "ListVolumes", json_object(),
		  "volume/volumeId", want, 2);
	expect(c, "controller/ListVolumes-bogus-starting-token", "ListVolumes",
	       json_pack("{s:s}", "startingToken", "csi-conformance-no-such-token"), ABORTED, NULL,
	       NULL);
	/* "The value of this field MUST NOT be negative": an invalid field. */
	expect(c, "controller/ListVolumes-negative-max-entries", "ListVolumes",
	       json_pack("{s:i}", "maxEntries", -1), INVALID_ARGUMENT, NULL, NULL);
}

/* spec "GetCapacity": available_capacity REQUIRED, MUST NOT be negative. */
static void capacity_cases(struct conf *c)
{
	json_t *reply = NULL;

	if (!has_ctrl(c, CTRL_GET_CAPACITY)) {
		skip(c, "controller/GetCapacity", "GET_CAPACITY not advertised");
		return;
	}
	if (expect(c, "controller/GetCapacity", "GetCapacity", json_object(), OK, NULL, &reply)) {
		if (jint(reply, "availableCapacity") < 0)
			fail(c, "controller/GetCapacity-not-negative", "available_capacity %lld",
			     jint(reply, "availableCapacity"));
		else
			pass(c, "controller/GetCapacity-not-negative", "available_capacity %lld",
			     jint(reply, "availableCapacity"));
	}
	json_decref(reply);
	expect(c, "controller/GetCapacity-with-capabilities-and-parameters", "GetCapacity",
	       json_pack("{s:[o], s:O}", "volumeCapabilities",
			 cap_mount(c->fs_type, "SINGLE_NODE_WRITER"), "parameters", c->params),
	       OK, NULL, NULL);
}

/* make_snapshot() - CreateSnapshot as a case; its id into @id ("" on failure). */
static bool make_snapshot(struct conf *c, const char *name, const char *what, const char *source,
			  char *id, size_t size)
{
	char sname[128];
	json_t *reply = NULL;
	bool ok;

	id[0] = '\0';
	name_of(c, what, sname, sizeof(sname));
	ok = expect_tracked(c, name, "CreateSnapshot",
			    json_pack("{s:s, s:s}", "sourceVolumeId", source, "name", sname), OK,
			    NULL, &reply);
	if (ok) {
		const char *sid = jstr(reply, "snapshot/snapshotId");
		const char *src = jstr(reply, "snapshot/sourceVolumeId");

		/* spec "Snapshot": snapshot_id, source_volume_id, creation_time REQUIRED. */
		if (!sid || !*sid || !src || strcmp(src, source) ||
		    !jget(reply, "snapshot/creationTime")) {
			fail(c, name, "snapshot_id '%s', source_volume_id '%s', creation_time %s",
			     sid ?: "", src ?: "",
			     jget(reply, "snapshot/creationTime") ? "set" : "missing");
			ok = false;
		}
		if (sid)
			snprintf(id, size, "%s", sid);
	}
	json_decref(reply);
	return ok && id[0];
}

/*
 * spec "CreateSnapshot": idempotent by name; Errors: "Snapshot already exists
 * but is incompatible | 6 ALREADY_EXISTS". An unknown source has no row in
 * the table: the call MUST fail ("unable to complete ... non-ok"); NOT_FOUND
 * is what the Error Scheme's spirit asks and is accepted, any error passes.
 * spec "DeleteSnapshot": unknown id -> "MUST reply 0 OK".
 * spec "CreateVolume Errors": "Source does not exist | 5 NOT_FOUND",
 * "Unsupported capacity_range | 11 OUT_OF_RANGE" (a volume smaller than
 * the source snapshot).
 */
static void snapshot_cases(struct conf *c, struct fixture *f)
{
	char again[256], clone[256], sname[128];
	json_t *reply = NULL, *req;

	if (!has_ctrl(c, CTRL_CREATE_DELETE_SNAPSHOT)) {
		skip(c, "controller/CreateSnapshot", "CREATE_DELETE_SNAPSHOT not advertised");
		return;
	}
	if (!make_snapshot(c, "controller/CreateSnapshot", "s1", f->vol_a, f->snap_1,
			   sizeof(f->snap_1)))
		return;
	if (make_snapshot(c, "controller/CreateSnapshot-same-request-again", "s1", f->vol_a, again,
			  sizeof(again))) {
		if (strcmp(again, f->snap_1))
			fail(c, "controller/CreateSnapshot-idempotent",
			     "second snapshot_id %s != %s", again, f->snap_1);
		else
			pass(c, "controller/CreateSnapshot-idempotent", "same snapshot_id %s",
			     again);
	}
	if (f->vol_b[0]) {
		name_of(c, "s1", sname, sizeof(sname));
		expect_tracked(c, "controller/CreateSnapshot-same-name-other-source",
			       "CreateSnapshot",
			       json_pack("{s:s, s:s}", "sourceVolumeId", f->vol_b, "name", sname),
			       ALREADY_EXISTS, NULL, NULL);
		make_snapshot(c, "controller/CreateSnapshot-second-volume", "s2", f->vol_b,
			      f->snap_2, sizeof(f->snap_2));
	}
	if (f->vol_gone[0]) {
		name_of(c, "s-of-gone", sname, sizeof(sname));
		expect_tracked(
			c, "controller/CreateSnapshot-unknown-source", "CreateSnapshot",
			json_pack("{s:s, s:s}", "sourceVolumeId", f->vol_gone, "name", sname),
			NOT_FOUND, (const int[]){ INVALID_ARGUMENT, FAILED_PRECONDITION, -1 },
			NULL);
	}
	name_of(c, "required-snap", sname, sizeof(sname));
	required_fields(c, "CreateSnapshot",
			json_pack("{s:s, s:s}", "sourceVolumeId", f->vol_a, "name", sname),
			FIELDS("sourceVolumeId", "name"));

	/* An unknown snapshot id: one made and deleted again. */
	if (make_snapshot(c, "controller/CreateSnapshot-to-delete", "s-gone", f->vol_a,
			  f->snap_gone, sizeof(f->snap_gone))) {
		if (expect(c, "controller/DeleteSnapshot", "DeleteSnapshot",
			   json_pack("{s:s}", "snapshotId", f->snap_gone), OK, NULL, NULL))
			snapshot_untrack(c, f->snap_gone);
		expect(c, "controller/DeleteSnapshot-unknown-id", "DeleteSnapshot",
		       json_pack("{s:s}", "snapshotId", f->snap_gone), OK, NULL, NULL);
		req = create_req(c, "from-gone", c->size, 0);
		json_object_set_new(req, "volumeContentSource",
				    json_pack("{s:{s:s}}", "snapshot", "snapshotId", f->snap_gone));
		expect_tracked(c, "controller/CreateVolume-from-unknown-snapshot", "CreateVolume",
			       req, NOT_FOUND, NULL, NULL);
	}
	required_fields(c, "DeleteSnapshot", json_pack("{s:s}", "snapshotId", f->snap_1),
			FIELDS("snapshotId"));

	/* A volume from the snapshot, and one smaller than it (OUT_OF_RANGE). */
	make_volume(c, "controller/CreateVolume-from-snapshot", "from-s1",
		    json_pack("{s:{s:{s:s}}}", "volumeContentSource", "snapshot", "snapshotId",
			      f->snap_1),
		    clone, sizeof(clone), NULL);
	req = create_req(c, "from-s1-small", c->size / 2, c->size / 2);
	json_object_set_new(req, "volumeContentSource",
			    json_pack("{s:{s:s}}", "snapshot", "snapshotId", f->snap_1));
	expect_tracked(c, "controller/CreateVolume-smaller-than-snapshot", "CreateVolume", req,
		       OUT_OF_RANGE, NULL, NULL);
	json_decref(reply);

	if (!has_ctrl(c, CTRL_LIST_SNAPSHOTS)) {
		skip(c, "controller/ListSnapshots", "LIST_SNAPSHOTS not advertised");
		return;
	}
	{
		const char *want[] = { f->snap_1, f->snap_2[0] ? f->snap_2 : NULL };

		list_walk(c, "controller/ListSnapshots-pagination", "ListSnapshots", json_object(),
			  "snapshot/snapshotId", want, 2);
	}
	/* spec "ListSnapshotsRequest": snapshot_id / source_volume_id filter the list. */
	if (expect(c, "controller/ListSnapshots-by-snapshot-id", "ListSnapshots",
		   json_pack("{s:s}", "snapshotId", f->snap_1), OK, NULL, &reply)) {
		json_t *e = json_array_get(json_object_get(reply, "entries"), 0);

		if (json_array_size(json_object_get(reply, "entries")) != 1 ||
		    strcmp(jstr(e, "snapshot/snapshotId") ?: "", f->snap_1))
			fail(c, "controller/ListSnapshots-by-snapshot-id-entries",
			     "%zu entries, expected only %s",
			     json_array_size(json_object_get(reply, "entries")), f->snap_1);
	}
	json_decref(reply);
	if (f->snap_gone[0] &&
	    expect(c, "controller/ListSnapshots-by-unknown-snapshot-id", "ListSnapshots",
		   json_pack("{s:s}", "snapshotId", f->snap_gone), OK, NULL, &reply) &&
	    json_array_size(json_object_get(reply, "entries")))
		fail(c, "controller/ListSnapshots-by-unknown-snapshot-id-entries",
		     "a deleted snapshot listed");
	json_decref(reply);
	if (f->snap_2[0] &&
	    expect(c, "controller/ListSnapshots-by-source-volume", "ListSnapshots",
		   json_pack("{s:s}", "sourceVolumeId", f->vol_b), OK, NULL, &reply)) {
		json_t *e;
		size_t i;
		bool has2 = false, other = false;

		json_array_foreach(json_object_get(reply, "entries"), i, e) {
			if (!strcmp(jstr(e, "snapshot/snapshotId") ?: "", f->snap_2))
				has2 = true;
			if (strcmp(jstr(e, "snapshot/sourceVolumeId") ?: "", f->vol_b))
				other = true;
		}
		if (!has2 || other)
			fail(c, "controller/ListSnapshots-by-source-volume-entries",
			     "%s of volume b missing or another volume's snapshot listed",
			     f->snap_2);
	}
	json_decref(reply);
	reply = NULL;
	expect(c, "controller/ListSnapshots-bogus-starting-token", "ListSnapshots",
	       json_pack("{s:s}", "startingToken", "csi-conformance-no-such-token"), ABORTED, NULL,
	       NULL);
}

/* spec "CreateVolume": "From an existing volume. When plugin supports cloning ... CLONE_VOLUME". */
static void clone_cases(struct conf *c, struct fixture *f)
{
	char clone[256];
	json_t *req;

	if (!has_ctrl(c, CTRL_CLONE_VOLUME)) {
		skip(c, "controller/CreateVolume-from-volume", "CLONE_VOLUME not advertised");
		return;
	}
	make_volume(
		c, "controller/CreateVolume-from-volume", "clone-of-a",
		json_pack("{s:{s:{s:s}}}", "volumeContentSource", "volume", "volumeId", f->vol_a),
		clone, sizeof(clone), NULL);
	if (!f->vol_gone[0])
		return;
	req = create_req(c, "clone-of-gone", c->size, 0);
	json_object_set_new(req, "volumeContentSource",
			    json_pack("{s:{s:s}}", "volume", "volumeId", f->vol_gone));
	/* "Source does not exist | 5 NOT_FOUND" */
	expect_tracked(c, "controller/CreateVolume-from-unknown-volume", "CreateVolume", req,
		       NOT_FOUND, NULL, NULL);
}

static void controller_cases(struct conf *c, struct fixture *f)
{
	if (!has_ctrl(c, CTRL_CREATE_DELETE_VOLUME)) {
		skip(c, "controller/CreateVolume",
		     "CREATE_DELETE_VOLUME not advertised: no volume cases");
		return;
	}
	create_volume_cases(c, f);
	if (!f->vol_a[0]) {
		fail(c, "controller/fixture",
		     "no volume could be created: the other controller cases need one");
		return;
	}
	make_volume(c, "controller/CreateVolume-second", "b", NULL, f->vol_b, sizeof(f->vol_b),
		    NULL);
	delete_volume_cases(c, f);
	validate_cases(c, f);
	expand_cases(c, f);
	get_volume_cases(c, f);
	capacity_cases(c);
	snapshot_cases(c, f);
	clone_cases(c, f);
	list_volumes_cases(c, f);
	/*
	 * spec "ControllerPublishVolume": MUST be implemented only with
	 * PUBLISH_UNPUBLISH_VOLUME; without it the CO never calls it.
	 */
	if (!has_ctrl(c, CTRL_PUBLISH_UNPUBLISH))
		skip(c, "controller/ControllerPublishVolume",
		     "PUBLISH_UNPUBLISH_VOLUME not advertised");
}

/* ---- Node ------------------------------------------------------------------------------------ */

static void path_of(char *buf, size_t size, const char *dir, const char *what)
{
	snprintf(buf, size, "%s/%s", dir, what);
}

/*
 * Node cases that need no volume: required fields (Error Scheme) and
 * unknown ids. spec "NodeUnstageVolume": "If the volume corresponding to
 * the volume_id is not staged to the staging_target_path, the Plugin MUST
 * reply 0 OK." "NodeUnpublishVolume": MUST be idempotent, and its Errors
 * table names "Volume does not exist | 5 NOT_FOUND": either is accepted.
 * "NodeGetVolumeStats Errors" and "NodeExpandVolume Errors": "Volume does
 * not exist | 5 NOT_FOUND". "NodePublishVolume Errors": NOT_FOUND for a
 * volume that does not exist, FAILED_PRECONDITION for one not staged.
 */
static void node_unknown_cases(struct conf *c, const char *unknown)
{
	char stg[1200], tgt[1200];
	json_t *cap = cap_mount(c->fs_type, "SINGLE_NODE_WRITER");

	path_of(stg, sizeof(stg), c->staging_dir, "unknown");
	path_of(tgt, sizeof(tgt), c->target_dir, "unknown");
	mkdir(stg, 0750);

	if (has_node(c, NODE_STAGE_UNSTAGE)) {
		required_fields(c, "NodeStageVolume",
				json_pack("{s:s, s:s, s:O}", "volumeId", unknown,
					  "stagingTargetPath", stg, "volumeCapability", cap),
				FIELDS("volumeId", "stagingTargetPath", "volumeCapability"));
		required_fields(
			c, "NodeUnstageVolume",
			json_pack("{s:s, s:s}", "volumeId", unknown, "stagingTargetPath", stg),
			FIELDS("volumeId", "stagingTargetPath"));
		expect(c, "node/NodeUnstageVolume-unknown-id", "NodeUnstageVolume",
		       json_pack("{s:s, s:s}", "volumeId", unknown, "stagingTargetPath", stg), OK,
		       NULL, NULL);
		expect(c, "node/NodePublishVolume-not-staged", "NodePublishVolume",
		       json_pack("{s:s, s:s, s:s, s:O}", "volumeId", unknown, "stagingTargetPath",
				 stg, "targetPath", tgt, "volumeCapability", cap),
		       NOT_FOUND, (const int[]){ FAILED_PRECONDITION, -1 }, NULL);
	} else {
		skip(c, "node/NodeStageVolume", "STAGE_UNSTAGE_VOLUME not advertised");
	}
	required_fields(c, "NodePublishVolume",
			json_pack("{s:s, s:s, s:s, s:O}", "volumeId", unknown, "stagingTargetPath",
				  stg, "targetPath", tgt, "volumeCapability", cap),
			FIELDS("volumeId", "targetPath", "volumeCapability"));
	required_fields(c, "NodeUnpublishVolume",
			json_pack("{s:s, s:s}", "volumeId", unknown, "targetPath", tgt),
			FIELDS("volumeId", "targetPath"));
	expect(c, "node/NodeUnpublishVolume-unknown-id", "NodeUnpublishVolume",
	       json_pack("{s:s, s:s}", "volumeId", unknown, "targetPath", tgt), OK,
	       (const int[]){ NOT_FOUND, -1 }, NULL);
	if (has_node(c, NODE_GET_VOLUME_STATS) || has_node(c, NODE_VOLUME_CONDITION)) {
		required_fields(c, "NodeGetVolumeStats",
				json_pack("{s:s, s:s}", "volumeId", unknown, "volumePath", stg),
				FIELDS("volumeId", "volumePath"));
		expect(c, "node/NodeGetVolumeStats-unknown-id", "NodeGetVolumeStats",
		       json_pack("{s:s, s:s}", "volumeId", unknown, "volumePath", stg), NOT_FOUND,
		       NULL, NULL);
	} else {
		skip(c, "node/NodeGetVolumeStats", "GET_VOLUME_STATS not advertised");
	}
	if (has_node(c, NODE_EXPAND_VOLUME)) {
		required_fields(c, "NodeExpandVolume",
				json_pack("{s:s, s:s}", "volumeId", unknown, "volumePath", stg),
				FIELDS("volumeId", "volumePath"));
		expect(c, "node/NodeExpandVolume-unknown-id", "NodeExpandVolume",
		       json_pack("{s:s, s:s}", "volumeId", unknown, "volumePath", stg), NOT_FOUND,
		       NULL, NULL);
	} else {
		skip(c, "node/NodeExpandVolume", "EXPAND_VOLUME not advertised");
	}
	rmdir(stg);
	json_decref(cap);
}

/*
 * A volume's life on the node: stage, publish, stats, expand, unpublish,
 * unstage, each repeated (every Node RPC MUST be idempotent), with the
 * spec's incompatible repeats: "NodeStageVolume Errors" and "NodePublishVolume
 * Errors": "Volume published but is incompatible | 6 ALREADY_EXISTS".
 */
static void node_lifecycle_cases(struct conf *c, struct fixture *f)
{
	char stg[1200], tgt[1200];
	const char *other_fs = strcmp(c->fs_type, "xfs") ? "xfs" : "ext4";
	json_t *cap = cap_mount(c->fs_type, "SINGLE_NODE_WRITER"), *reply = NULL;
	struct object *o = volume_track(c, f->vol_a);
	long long grown = c->size + 32 * MiB;
	int i;

	path_of(stg, sizeof(stg), c->staging_dir, "a");
	path_of(tgt, sizeof(tgt), c->target_dir, "a");
	if (mkdir(stg, 0750) < 0 && errno != EEXIST) {
		fail(c, "node/lifecycle", "mkdir %s: %s", stg, strerror(errno));
		goto out;
	}
	for (i = 0; i < 2; i++)
		if (expect(c, i ? "node/NodeStageVolume-again" : "node/NodeStageVolume",
			   "NodeStageVolume",
			   json_pack("{s:s, s:s, s:O, s:O}", "volumeId", f->vol_a,
				     "stagingTargetPath", stg, "volumeCapability", cap,
				     "volumeContext", f->ctx_a),
			   OK, NULL, NULL) &&
		    o && !o->staged)
			o->staged = strdup(stg);
	if (!o || !o->staged)
		goto out;
	expect(c, "node/NodeStageVolume-other-fs-type", "NodeStageVolume",
	       json_pack("{s:s, s:s, s:o, s:O}", "volumeId", f->vol_a, "stagingTargetPath", stg,
			 "volumeCapability", cap_mount(other_fs, "SINGLE_NODE_WRITER"),
			 "volumeContext", f->ctx_a),
	       ALREADY_EXISTS, NULL, NULL);
	for (i = 0; i < 2; i++)
		if (expect(c, i ? "node/NodePublishVolume-again" : "node/NodePublishVolume",
			   "NodePublishVolume",
			   json_pack("{s:s, s:s, s:s, s:O, s:O}", "volumeId", f->vol_a,
				     "stagingTargetPath", stg, "targetPath", tgt,
				     "volumeCapability", cap, "volumeContext", f->ctx_a),
			   OK, NULL, NULL) &&
		    !o->published)
			o->published = strdup(tgt);
	if (o->published)
		expect(c, "node/NodePublishVolume-same-target-readonly", "NodePublishVolume",
		       json_pack("{s:s, s:s, s:s, s:O, s:b, s:O}", "volumeId", f->vol_a,
				 "stagingTargetPath", stg, "targetPath", tgt, "volumeCapability",
				 cap, "readonly", 1, "volumeContext", f->ctx_a),
		       ALREADY_EXISTS, NULL, NULL);
	if (o->published &&
	    (has_node(c, NODE_GET_VOLUME_STATS) || has_node(c, NODE_VOLUME_CONDITION))) {
		if (expect(c, "node/NodeGetVolumeStats", "NodeGetVolumeStats",
			   json_pack("{s:s, s:s, s:s}", "volumeId", f->vol_a, "volumePath", tgt,
				     "stagingTargetPath", stg),
			   OK, NULL, &reply)) {
			/* spec "NodeGetVolumeStatsResponse": volume_condition MUST be set with VOLUME_CONDITION. */
			if (has_node(c, NODE_VOLUME_CONDITION) &&
			    !json_object_get(reply, "volumeCondition"))
				fail(c, "node/NodeGetVolumeStats-condition",
				     "VOLUME_CONDITION advertised, none reported");
			else if (has_node(c, NODE_VOLUME_CONDITION))
				pass(c, "node/NodeGetVolumeStats-condition",
				     "abnormal=%s message=\"%s\"",
				     json_is_true(jget(reply, "volumeCondition/abnormal")) ?
					     "true" :
					     "false",
				     jstr(reply, "volumeCondition/message") ?: "");
		}
		json_decref(reply);
	}
	/* spec "ControllerExpandVolume": node_expansion_required -> NodeExpandVolume MUST be called. */
	if (o->published && has_ctrl(c, CTRL_EXPAND_VOLUME) && has_node(c, NODE_EXPAND_VOLUME)) {
		bool node_needed = true;

		if (expect(c, "node/ControllerExpandVolume-while-published",
			   "ControllerExpandVolume",
			   json_pack("{s:s, s:o, s:O}", "volumeId", f->vol_a, "capacityRange",
				     capacity(grown, 0), "volumeCapability", cap),
			   OK, NULL, &reply))
			node_needed = json_is_true(json_object_get(reply, "nodeExpansionRequired"));
		json_decref(reply);
		for (i = 0; node_needed && i < 2; i++) {
			if (expect(c, i ? "node/NodeExpandVolume-again" : "node/NodeExpandVolume",
				   "NodeExpandVolume",
				   json_pack("{s:s, s:s, s:s, s:o, s:O}", "volumeId", f->vol_a,
					     "volumePath", tgt, "stagingTargetPath", stg,
					     "capacityRange", capacity(grown, 0),
					     "volumeCapability", cap),
				   OK, NULL, &reply) &&
			    jint(reply, "capacityBytes") && jint(reply, "capacityBytes") < grown)
				fail(c, "node/NodeExpandVolume-capacity",
				     "capacity_bytes %lld < %lld", jint(reply, "capacityBytes"),
				     grown);
			json_decref(reply);
		}
	}
	if (o->published) {
		for (i = 0; i < 2; i++)
			expect(c, i ? "node/NodeUnpublishVolume-again" : "node/NodeUnpublishVolume",
			       "NodeUnpublishVolume",
			       json_pack("{s:s, s:s}", "volumeId", f->vol_a, "targetPath", tgt), OK,
			       NULL, NULL);
		free(o->published);
		o->published = NULL;
		/* SP "MUST delete the file or directory it created at this path" (NodeUnpublishVolumeRequest). */
		if (access(tgt, F_OK) == 0)
			fail(c, "node/NodeUnpublishVolume-removes-target", "%s still exists", tgt);
		else
			pass(c, "node/NodeUnpublishVolume-removes-target", "%s gone", tgt);
	}
	for (i = 0; i < 2; i++)
		expect(c, i ? "node/NodeUnstageVolume-again" : "node/NodeUnstageVolume",
		       "NodeUnstageVolume",
		       json_pack("{s:s, s:s}", "volumeId", f->vol_a, "stagingTargetPath", stg), OK,
		       NULL, NULL);
	free(o->staged);
	o->staged = NULL;
out:
	rmdir(stg);
	json_decref(cap);
}

static void node_cases(struct conf *c, struct fixture *f)
{
	char unknown[256];

	/* In a node-only run nothing names a volume: any id is unknown there. */
	snprintf(unknown, sizeof(unknown), "%s",
		 f->vol_gone[0] ? f->vol_gone : "csi-conformance-no-such-volume");
	node_unknown_cases(c, unknown);
	if (c->scope != SCOPE_ALL || !f->vol_a[0]) {
		skip(c, "node/lifecycle",
		     "needs the Controller to create a volume (no --node-only)");
		return;
	}
	if (!has_node(c, NODE_STAGE_UNSTAGE)) {
		skip(c, "node/lifecycle", "STAGE_UNSTAGE_VOLUME not advertised");
		return;
	}
	node_lifecycle_cases(c, f);
}

/* ---- cleanup ------------------------------------------------------------------------------------ */

/*
 * Undo everything, in the CO's order: unpublish, unstage, delete snapshots,
 * delete volumes; then no listed volume or snapshot carries one of our ids.
 */
static void cleanup(struct conf *c)
{
	char left[2048] = "";
	size_t i;

	for (i = 0; i < c->nvolumes; i++) {
		struct object *o = &c->volumes[i];

		if (o->published && quiet_call(c, "NodeUnpublishVolume",
					       json_pack("{s:s, s:s}", "volumeId", o->id,
							 "targetPath", o->published),
					       NULL) != OK)
			snprintf(left + strlen(left), sizeof(left) - strlen(left), " published:%s",
				 o->id);
		if (o->staged && quiet_call(c, "NodeUnstageVolume",
					    json_pack("{s:s, s:s}", "volumeId", o->id,
						      "stagingTargetPath", o->staged),
					    NULL) != OK)
			snprintf(left + strlen(left), sizeof(left) - strlen(left), " staged:%s",
				 o->id);
		if (o->staged)
			rmdir(o->staged);
	}
	while (c->nsnapshots) {
		char *id = strdup(c->snapshots[0]);

		if (quiet_call(c, "DeleteSnapshot", json_pack("{s:s}", "snapshotId", id), NULL) !=
		    OK)
			snprintf(left + strlen(left), sizeof(left) - strlen(left), " snapshot:%s",
				 id);
		snapshot_untrack(c, id);
		free(id);
	}
	while (c->nvolumes) {
		char *id = strdup(c->volumes[0].id);

		if (delete_volume_quietly(c, id) != OK) {
			snprintf(left + strlen(left), sizeof(left) - strlen(left), " volume:%s",
				 id);
			volume_untrack(c, id);
		}
		free(id);
	}
	if (left[0])
		fail(c, "cleanup", "could not remove:%s", left);
	else
		pass(c, "cleanup", "everything the suite created is deleted");
}

/* After cleanup, List* must not show any of our objects (names carry the prefix; ids do not). */
static void cleanup_check(struct conf *c, char *const *ids, size_t nids)
{
	json_t *reply = NULL, *e;
	size_t i;

	if (has_ctrl(c, CTRL_LIST_VOLUMES) &&
	    quiet_call(c, "ListVolumes", json_object(), &reply) == OK) {
		json_array_foreach(json_object_get(reply, "entries"), i, e)
			for (size_t k = 0; k < nids; k++)
				if (!strcmp(jstr(e, "volume/volumeId") ?: "", ids[k]))
					fail(c, "cleanup/ListVolumes", "%s still listed", ids[k]);
	}
	json_decref(reply);
	reply = NULL;
	if (has_ctrl(c, CTRL_LIST_SNAPSHOTS) &&
	    quiet_call(c, "ListSnapshots", json_object(), &reply) == OK) {
		json_array_foreach(json_object_get(reply, "entries"), i, e)
			for (size_t k = 0; k < nids; k++)
				if (!strcmp(jstr(e, "snapshot/snapshotId") ?: "", ids[k]))
					fail(c, "cleanup/ListSnapshots", "%s still listed", ids[k]);
	}
	json_decref(reply);
}

/* ---- main ------------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: csi-conformance --endpoint unix:///path [--node-only | --controller]\n"
		   "                       [--staging-dir DIR] [--target-dir DIR] [--size BYTES]\n"
		   "                       [--param KEY=VALUE]... [--fs-type FS] [--timeout SECS]\n"
		   "Runs CSI v1.12.0 conformance cases against a live plugin; one line per case,\n"
		   "exit 1 when any failed. Staging/target paths are made below the given\n"
		   "directories (default /var/lib/kubelet/csi-conformance/{staging,target}).\n");
}

static int mkdir_p(const char *path)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "endpoint", required_argument, NULL, 'e' },
					      { "node-only", no_argument, NULL, 'n' },
					      { "controller", no_argument, NULL, 'c' },
					      { "staging-dir", required_argument, NULL, 's' },
					      { "target-dir", required_argument, NULL, 't' },
					      { "size", required_argument, NULL, 'z' },
					      { "param", required_argument, NULL, 'p' },
					      { "fs-type", required_argument, NULL, 'f' },
					      { "timeout", required_argument, NULL, 'T' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct conf c = { .timeout_ms = 120000, .size = 32 * MiB, .fs_type = "" };
	struct fixture f = {};
	const char *endpoint = NULL;
	char *ids[8];
	size_t nids = 0;
	int opt;

	c.params = json_object();
	snprintf(c.staging_dir, sizeof(c.staging_dir), "/var/lib/kubelet/csi-conformance/staging");
	snprintf(c.target_dir, sizeof(c.target_dir), "/var/lib/kubelet/csi-conformance/target");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *eq;

		switch (opt) {
		case 'e':
			endpoint = optarg;
			break;
		case 'n':
			c.scope = SCOPE_NODE;
			break;
		case 'c':
			c.scope = SCOPE_CONTROLLER;
			break;
		case 's':
			snprintf(c.staging_dir, sizeof(c.staging_dir), "%s", optarg);
			break;
		case 't':
			snprintf(c.target_dir, sizeof(c.target_dir), "%s", optarg);
			break;
		case 'z':
			c.size = strtoll(optarg, NULL, 0);
			if (c.size < 2 * MiB) {
				fprintf(stderr, "csi-conformance: --size %s: at least 2 MiB\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				fprintf(stderr, "csi-conformance: --param %s: KEY=VALUE expected\n",
					optarg);
				return 2;
			}
			*eq = '\0';
			json_object_set_new(c.params, optarg, json_string(eq + 1));
			break;
		case 'f':
			c.fs_type = optarg;
			break;
		case 'T':
			c.timeout_ms = (int64_t)(strtod(optarg, NULL) * 1000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!endpoint || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (rpc_client_new(endpoint, &c.rpc) < 0) {
		fprintf(stderr, "csi-conformance: cannot open a channel to %s\n", endpoint);
		return 2;
	}
	if (serves_node(&c) && (mkdir_p(c.staging_dir) < 0 || mkdir_p(c.target_dir) < 0)) {
		fprintf(stderr, "csi-conformance: cannot make %s or %s: %s\n", c.staging_dir,
			c.target_dir, strerror(errno));
		return 2;
	}
	snprintf(c.prefix, sizeof(c.prefix), "csi-conformance-%d", (int)getpid());

	identity_cases(&c);
	capability_cases(&c);
	if (serves_controller(&c))
		controller_cases(&c, &f);
	if (serves_node(&c))
		node_cases(&c, &f);

	/* Remember every id we made: after cleanup none may be listed. */
	for (size_t i = 0; i < c.nvolumes && nids < 8; i++)
		ids[nids++] = strdup(c.volumes[i].id);
	for (size_t i = 0; i < c.nsnapshots && nids < 8; i++)
		ids[nids++] = strdup(c.snapshots[i]);
	cleanup(&c);
	cleanup_check(&c, ids, nids);
	while (nids)
		free(ids[--nids]);

	printf("%u passed, %u failed, %u skipped\n", c.passed, c.failed, c.skipped);
	json_decref(c.params);
	json_decref(f.ctx_a);
	rpc_client_free(c.rpc);
	return c.failed ? 1 : 0;
}
