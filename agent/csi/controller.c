// SPDX-License-Identifier: GPL-2.0
/*
 * CSI Controller service: volumes made of replicas on storage nodes.
 *
 * Stateless: the storage nodes' replicas and their labels are the truth.
 * Every call finds the storage nodes afresh (lib/storage_set.h), asks them
 * what they hold (ListReplicas) and acts; nothing is remembered between
 * calls, so a controller can be restarted, or moved, at any time.
 *
 * Ids (128 bits of SHA-256 are enough to never collide by chance; the name
 * label catches the impossible case):
 *   volume id     "v-" + the first 32 hex digits of SHA-256(CreateVolume name)
 *   snapshot id   "s-" + the same of the CreateSnapshot name
 * A volume's replica on a storage node has the volume id as its pool id
 * (one replica per node per volume); a snapshot's file on a node has the
 * snapshot id. Ids of other shapes are not ours: lookups answer NOT_FOUND
 * and deletes OK without asking anybody.
 *
 * Labels on every replica of a volume:
 *   atomblk.io/volume-name    the CreateVolume name
 *   atomblk.io/volume-id      the volume id (ListVolumes lists by this key)
 *   atomblk.io/replicas       how many replicas the volume has (1-3)
 *   atomblk.io/index          this replica's leg position (0-based)
 *   atomblk.io/transport      tcp, rdma or auto
 *   atomblk.io/hold-seconds   the hold policy
 *   atomblk.io/source         "snapshot:<id>" or "volume:<id>"; absent: empty volume
 * Labels on every file of a snapshot (one per node holding a replica of
 * the source volume; Replica.source_id is the source volume's id):
 *   atomblk.io/snapshot-name  the CreateSnapshot name (ListSnapshots lists by this key)
 *   atomblk.io/replicas       how many files the snapshot has
 * The size is each replica's size_bytes (the smallest counts).
 *
 * Idempotency: CreateVolume with the name of an existing volume compares
 * replicas, transport, hold, source and size range (ALREADY_EXISTS when
 * they differ) and completes missing replicas when every storage node
 * answered, so that a retry after a crash converges. A call that fails
 * half-way deletes the replicas it created itself. Deletes succeed for
 * unknown ids, but answer UNAVAILABLE while a storage node that may hold a
 * replica does not answer: reporting success would leak it.
 *
 * Topology: a volume is network storage reachable from every node, so
 * volumes report no accessible_topology; requirements only choose the
 * storage nodes that hold the replicas (requisite restricts, preferred
 * orders: the consuming node first when it is a storage node too).
 *
 * A second call on the same volume (or snapshot) id while one runs gets
 * ABORTED (lib/vollock.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csi.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "csi/controller_place.h"
#include "csi/csi.h"
#include "lib/log.h"
#include "lib/status.h"
#include "lib/storage_set.h"
#include "lib/volctx.h"
#include "lib/vollock.h"

#define LABEL_NAME "atomblk.io/volume-name"
#define LABEL_VOLUME "atomblk.io/volume-id"
#define LABEL_REPLICAS "atomblk.io/replicas"
#define LABEL_INDEX "atomblk.io/index"
#define LABEL_TRANSPORT "atomblk.io/transport"
#define LABEL_HOLD "atomblk.io/hold-seconds"
#define LABEL_SOURCE "atomblk.io/source"
#define LABEL_SNAPSHOT_NAME "atomblk.io/snapshot-name"

#define SOURCE_LABEL_MAX 64 /* "snapshot:" + an id */
#define CALL_TIMEOUT_MS 30000 /* create, delete, expand, snapshot on one node */
#define LIST_TIMEOUT_MS 10000 /* ListReplicas on one node */

struct csi_controller {
	struct storage_set *set; /* where the storage nodes are */
	struct vollock *locks; /* volume and snapshot ids with a call in progress */
};

/* ---- replies ------------------------------------------------------------------ */

/* A failure with an explicit gRPC code (one a storage node gave us). */
static grpc_status_code fail_code(char **ret_details, grpc_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static grpc_status_code fail_code(char **ret_details, grpc_status_code code, const char *fmt, ...)
{
	va_list ap;

	free(*ret_details);
	va_start(ap, fmt);
	if (vasprintf(ret_details, fmt, ap) < 0)
		*ret_details = NULL;
	va_end(ap);
	return code;
}

static grpc_status_code fail_busy(char **ret_details, const char *id)
{
	return status_fail(ret_details, -EALREADY, "an operation on %s is already in progress", id);
}

static void *zalloc(const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = malloc(desc->sizeof_message);

	if (m)
		protobuf_c_message_init(desc, m);
	return m;
}

/* A deep copy of @m (malloc'd, freed with protobuf_c_message_free_unpacked()). */
static ProtobufCMessage *message_copy(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	ProtobufCMessage *copy;

	if (!buf)
		return NULL;
	protobuf_c_message_pack(m, buf);
	copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	return copy;
}

/* A map entry (key, value) of any map type: every protobuf-c map entry has this layout. */
struct map_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

/* Append (@key, @value) to a map field (*@entries, *@n) of entry type @desc. */
static int map_add(const ProtobufCMessageDescriptor *desc, size_t *n, void *entries,
		   const char *key, const char *value)
{
	struct map_entry ***array = entries, **grown, *e;

	grown = realloc(*array, (*n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*array = grown;
	e = zalloc(desc);
	if (!e)
		return -ENOMEM;
	e->key = strdup(key);
	e->value = strdup(value);
	grown[(*n)++] = e;
	return e->key && e->value ? 0 : -ENOMEM;
}

/* The request map (*@entries, @n) as ctrl_kv pairs (pointing into it); free the array. */
static struct ctrl_kv *map_kv(size_t n, void *const *entries)
{
	struct ctrl_kv *kv = calloc(n ? n : 1, sizeof(*kv));

	for (size_t i = 0; kv && i < n; i++) {
		const struct map_entry *e = entries[i];

		kv[i].key = e->key;
		kv[i].value = e->value;
	}
	return kv;
}

/* ---- storage node calls and lookups ------------------------------------------ */

static const char *node_name(const struct storage_node *node)
{
	if (node->info)
		return node->info->node_id;
	return node->address[0] ? node->address : "local";
}

/* One call on @node; a node without a connection is UNAVAILABLE. */
static grpc_status_code node_call(const struct storage_node *node, enum target_method method,
				  const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				  char **ret_details, int timeout_ms)
{
	*ret_resp = NULL;
	*ret_details = NULL;
	if (!node->conn) {
		*ret_details = strdup(node->error ? node->error : "no connection");
		return GRPC_STATUS_UNAVAILABLE;
	}
	return target_call(node->conn, method, req, ret_resp, ret_details, timeout_ms);
}

static const char *label_get(const Atomblk__Target__V1__Replica *r, const char *key)
{
	for (size_t i = 0; i < r->n_labels; i++)
		if (!strcmp(r->labels[i]->key, key))
			return r->labels[i]->value;
	return NULL;
}

/* A replica or snapshot file found on a node. */
struct found {
	struct storage_node *node;
	const Atomblk__Target__V1__Replica *rep;
};

/* What the storage nodes of a view hold of one kind. */
struct lookup {
	struct found *items;
	size_t n;
	Atomblk__Target__V1__ListReplicasResponse **resps; /* owned, one per node asked */
	size_t nresps;
	size_t unanswered; /* nodes that could not be asked (plus an unresolved name) */
	char why[CTRL_MSG_MAX]; /* who did not answer and why */
};

static void lookup_clear(struct lookup *l)
{
	for (size_t i = 0; i < l->nresps; i++)
		protobuf_c_message_free_unpacked(&l->resps[i]->base, NULL);
	free(l->resps);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static void lookup_note(struct lookup *l, const char *who, const char *why)
{
	size_t len = strlen(l->why);

	l->unanswered++;
	snprintf(l->why + len, sizeof(l->why) - len, "%s%s: %s", len ? "; " : "", who,
		 why ? why : "no answer");
}

/*
 * lookup_run() - every replica (@snapshots false) or snapshot file (true)
 * with id @id and/or label @label_key on the answering nodes of @v.
 */
static int lookup_run(struct storage_view *v, const char *id, const char *label_key, bool snapshots,
		      struct lookup *ret)
{
	Atomblk__Target__V1__ListReplicasRequest req =
		ATOMBLK__TARGET__V1__LIST_REPLICAS_REQUEST__INIT;
	size_t i, j;

	memset(ret, 0, sizeof(*ret));
	req.id = (char *)(id ? id : "");
	req.label_key = (char *)(label_key ? label_key : "");
	ret->resps = calloc(v->n ? v->n : 1, sizeof(*ret->resps));
	if (!ret->resps)
		return -ENOMEM;
	if (v->resolve_error)
		lookup_note(ret, "storage service", v->resolve_error);
	for (i = 0; i < v->n; i++) {
		struct storage_node *node = &v->nodes[i];
		Atomblk__Target__V1__ListReplicasResponse *resp;
		ProtobufCMessage *m;
		grpc_status_code code;
		struct found *grown;
		char *details;

		if (!node->info) {
			lookup_note(ret, node->address[0] ? node->address : "local", node->error);
			continue;
		}
		code = node_call(node, TARGET_LIST_REPLICAS, &req.base, &m, &details,
				 LIST_TIMEOUT_MS);
		if (code != GRPC_STATUS_OK) {
			lookup_note(ret, node_name(node), details);
			free(details);
			continue;
		}
		free(details);
		resp = (Atomblk__Target__V1__ListReplicasResponse *)m;
		ret->resps[ret->nresps++] = resp;
		grown = realloc(ret->items, (ret->n + resp->n_replicas + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		ret->items = grown;
		for (j = 0; j < resp->n_replicas; j++) {
			const Atomblk__Target__V1__Replica *r = resp->replicas[j];

			if (!r->snapshot != !snapshots || (id && strcmp(r->id, id)))
				continue;
			ret->items[ret->n].node = node;
			ret->items[ret->n].rep = r;
			ret->n++;
		}
	}
	return 0;
}

static bool lookup_complete(const struct lookup *l)
{
	return l->unanswered == 0;
}

/* ---- volumes as the replicas describe them ---------------------------------- */

struct volume {
	const char *id;
	const char *name;
	struct ctrl_params params;
	const char *source; /* label value, "" for none */
	uint64_t size; /* the smallest replica */
	uint64_t size_max; /* the largest (after a half-done expand) */
	size_t nfound;
	struct found legs[CTRL_REPLICAS_MAX]; /* by index; .rep NULL: not found */
};

static bool label_number(const Atomblk__Target__V1__Replica *r, const char *key, unsigned int max,
			 unsigned int *ret)
{
	const char *s = label_get(r, key);
	char *end;
	unsigned long v;

	if (!s || !s[0])
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*ret = (unsigned int)v;
	return true;
}

/*
 * volume_from() - the volume that the replicas @items (all of one id)
 * make. Return: 0; -EIO with @msg when a replica's labels are not ours or
 * disagree with the others'.
 */
static int volume_from(const struct found *items, size_t n, struct volume *ret, char *msg,
		       size_t msg_size)
{
	struct volume v = {};

	for (size_t i = 0; i < n; i++) {
		const Atomblk__Target__V1__Replica *r = items[i].rep;
		struct ctrl_params p = {};
		const char *name = label_get(r, LABEL_NAME),
			   *transport = label_get(r, LABEL_TRANSPORT);
		const char *source = label_get(r, LABEL_SOURCE);
		unsigned int index;

		if (!name || !label_number(r, LABEL_REPLICAS, CTRL_REPLICAS_MAX, &p.replicas) ||
		    !p.replicas || !label_number(r, LABEL_INDEX, CTRL_REPLICAS_MAX - 1, &index) ||
		    index >= p.replicas || !transport ||
		    volctx_transport_parse(transport, &p.transport) < 0 ||
		    !label_number(r, LABEL_HOLD, CTRL_HOLD_SECONDS_MAX, &p.hold_seconds)) {
			snprintf(msg, msg_size,
				 "replica %s on storage node %s lacks this controller's labels",
				 r->id, node_name(items[i].node));
			return -EIO;
		}
		if (!source)
			source = "";
		if (i == 0) {
			v.id = r->id;
			v.name = name;
			v.params = p;
			v.source = source;
			v.size = r->size_bytes;
		} else if (strcmp(v.name, name) || v.params.replicas != p.replicas ||
			   v.params.transport != p.transport ||
			   v.params.hold_seconds != p.hold_seconds || strcmp(v.source, source)) {
			snprintf(msg, msg_size, "the replicas of %s disagree (storage node %s)",
				 r->id, node_name(items[i].node));
			return -EIO;
		}
		if (v.legs[index].rep) {
			snprintf(msg, msg_size,
				 "two replicas of %s claim leg %u (storage nodes %s, %s)", r->id,
				 index, node_name(v.legs[index].node), node_name(items[i].node));
			return -EIO;
		}
		v.legs[index] = items[i];
		v.nfound++;
		if (r->size_bytes < v.size)
			v.size = r->size_bytes;
		if (r->size_bytes > v.size_max)
			v.size_max = r->size_bytes;
	}
	*ret = v;
	return 0;
}

static void leg_addresses(const struct found *f, struct volctx_leg *leg)
{
	const Atomblk__Target__V1__NvmeAddress *const *addrs = (void *)f->rep->addresses;
	size_t n = f->rep->n_addresses;

	if (!n && f->node->info) {
		addrs = (void *)f->node->info->addresses;
		n = f->node->info->n_addresses;
	}
	for (size_t i = 0; i < n && leg->naddrs < 2; i++) {
		struct nvmet_address *a = &leg->addrs[leg->naddrs++];

		snprintf(a->trtype, sizeof(a->trtype), "%s", addrs[i]->trtype);
		snprintf(a->adrfam, sizeof(a->adrfam), "%s", addrs[i]->adrfam);
		snprintf(a->traddr, sizeof(a->traddr), "%s", addrs[i]->traddr);
		snprintf(a->trsvcid, sizeof(a->trsvcid), "%s", addrs[i]->trsvcid);
	}
}

/* The volume context of @v (every leg found), added to @vol. */
static int volume_context_add(const struct volume *v, Csi__V1__Volume *vol)
{
	const char *keys[VOLCTX_KEYS];
	char *values[VOLCTX_KEYS];
	struct volctx ctx = {
		.layout = v->params.replicas > 1 ? ATOMBLK_LAYOUT_MIRROR : ATOMBLK_LAYOUT_LINEAR,
		.size = v->size,
		.transport = v->params.transport,
		.hold_seconds = v->params.hold_seconds,
		.nlegs = v->params.replicas,
	};
	int n, r = 0;

	for (unsigned int i = 0; i < v->params.replicas; i++) {
		const struct found *f = &v->legs[i];
		struct volctx_leg *leg = &ctx.legs[i];

		if (!f->rep)
			return -ENOENT;
		snprintf(leg->node, sizeof(leg->node), "%s", f->node->info->node_id);
		snprintf(leg->target, sizeof(leg->target), "%s", f->node->address);
		snprintf(leg->replica, sizeof(leg->replica), "%s", f->rep->id);
		snprintf(leg->nqn, sizeof(leg->nqn), "%s", f->rep->nqn);
		leg_addresses(f, leg);
	}
	n = volctx_format(&ctx, keys, values);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (r == 0)
			r = map_add(&csi__v1__volume__volume_context_entry__descriptor,
				    &vol->n_volume_context, &vol->volume_context, keys[i],
				    values[i]);
		free(values[i]);
	}
	return r;
}

static Csi__V1__VolumeContentSource *content_source_from_label(const char *label)
{
	Csi__V1__VolumeContentSource *cs;

	if (!label[0])
		return NULL;
	cs = zalloc(&csi__v1__volume_content_source__descriptor);
	if (!cs)
		return NULL;
	if (!strncmp(label, "snapshot:", 9)) {
		cs->type_case = CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_SNAPSHOT;
		cs->snapshot = zalloc(&csi__v1__volume_content_source__snapshot_source__descriptor);
		if (cs->snapshot)
			cs->snapshot->snapshot_id = strdup(label + 9);
	} else if (!strncmp(label, "volume:", 7)) {
		cs->type_case = CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_VOLUME;
		cs->volume = zalloc(&csi__v1__volume_content_source__volume_source__descriptor);
		if (cs->volume)
			cs->volume->volume_id = strdup(label + 7);
	}
	return cs;
}

/*
 * The CSI Volume of @v; its context only when every leg was found (a node
 * cannot stage a volume whose legs are unknown). No accessible_topology:
 * network storage, reachable from every node.
 */
static Csi__V1__Volume *volume_csi(const struct volume *v)
{
	Csi__V1__Volume *vol = zalloc(&csi__v1__volume__descriptor);

	if (!vol)
		return NULL;
	vol->volume_id = strdup(v->id);
	vol->capacity_bytes = (int64_t)v->size;
	vol->content_source = content_source_from_label(v->source);
	if (!vol->volume_id || (v->source[0] && !vol->content_source) ||
	    (v->nfound == v->params.replicas && volume_context_add(v, vol) < 0)) {
		protobuf_c_message_free_unpacked(&vol->base, NULL);
		return NULL;
	}
	return vol;
}

static Csi__V1__VolumeCondition *volume_condition(const struct volume *v, const struct lookup *l)
{
	Csi__V1__VolumeCondition *cond = zalloc(&csi__v1__volume_condition__descriptor);
	int r;

	if (!cond)
		return NULL;
	cond->abnormal = v->nfound < v->params.replicas;
	if (!cond->abnormal)
		r = asprintf(&cond->message, "all %u replicas present", v->params.replicas);
	else if (!lookup_complete(l))
		r = asprintf(&cond->message,
			     "%zu of %u replicas found; storage nodes did not answer: %s",
			     v->nfound, v->params.replicas, l->why);
	else
		r = asprintf(&cond->message, "%zu of %u replicas found", v->nfound,
			     v->params.replicas);
	if (r < 0) {
		cond->message = NULL;
		protobuf_c_message_free_unpacked(&cond->base, NULL);
		return NULL;
	}
	return cond;
}

/* Take the view; UNAVAILABLE when no storage node answered at all. */
static grpc_status_code view_take(struct csi_controller *c, struct storage_view **ret,
				  char **ret_details)
{
	struct storage_view *v;
	char why[CTRL_MSG_MAX] = "";
	size_t len = 0;

	if (storage_set_view(c->set, &v) < 0)
		return status_fail(ret_details, -ENOMEM, "out of memory");
	if (v->answered) {
		*ret = v;
		return GRPC_STATUS_OK;
	}
	if (v->resolve_error)
		len += (size_t)snprintf(why, sizeof(why), "%s", v->resolve_error);
	for (size_t i = 0; i < v->n && len < sizeof(why); i++)
		len += (size_t)snprintf(why + len, sizeof(why) - len, "%s%s: %s", len ? "; " : "",
					v->nodes[i].address[0] ? v->nodes[i].address : "local",
					v->nodes[i].error ? v->nodes[i].error : "no answer");
	storage_view_free(c->set, v);
	return status_fail(ret_details, -EAGAIN, "no storage node answered%s%s", why[0] ? ": " : "",
			   why);
}

/* ---- CreateVolume ------------------------------------------------------------ */

/* A CreateVolume in progress: what it asked and what it made. */
struct create {
	const Csi__V1__CreateVolumeRequest *req;
	struct storage_view *view;
	const char *id;
	struct ctrl_params params;
	char source_label[SOURCE_LABEL_MAX]; /* "" or "snapshot:<id>" / "volume:<id>" */
	const char *source_id; /* the pool id replicas are cloned from, or NULL */
	bool source_snapshot;
	struct ctrl_segment *requisite, *preferred;
	size_t nrequisite, npreferred;
	struct ctrl_kv *segment_kv; /* storage of requisite and preferred */
	Atomblk__Target__V1__Replica *created[CTRL_REPLICAS_MAX]; /* replies we own */
	struct storage_node *created_on[CTRL_REPLICAS_MAX];
	size_t ncreated;
};

static void create_clear(struct create *cr)
{
	for (size_t i = 0; i < cr->ncreated; i++)
		protobuf_c_message_free_unpacked(&cr->created[i]->base, NULL);
	free(cr->requisite);
	free(cr->preferred);
	free(cr->segment_kv);
}

/* The requirements' segments as ctrl_segments (pointing into the request). */
static int create_topology(struct create *cr)
{
	const Csi__V1__TopologyRequirement *t = cr->req->accessibility_requirements;
	size_t total = 0, used = 0, i, j;

	if (!t)
		return 0;
	for (i = 0; i < t->n_requisite; i++)
		total += t->requisite[i]->n_segments;
	for (i = 0; i < t->n_preferred; i++)
		total += t->preferred[i]->n_segments;
	cr->segment_kv = calloc(total + 1, sizeof(*cr->segment_kv));
	cr->requisite = calloc(t->n_requisite + 1, sizeof(*cr->requisite));
	cr->preferred = calloc(t->n_preferred + 1, sizeof(*cr->preferred));
	if (!cr->segment_kv || !cr->requisite || !cr->preferred)
		return -ENOMEM;
	for (i = 0; i < t->n_requisite; i++) {
		cr->requisite[i].kv = &cr->segment_kv[used];
		cr->requisite[i].n = t->requisite[i]->n_segments;
		for (j = 0; j < t->requisite[i]->n_segments; j++, used++) {
			cr->segment_kv[used].key = t->requisite[i]->segments[j]->key;
			cr->segment_kv[used].value = t->requisite[i]->segments[j]->value;
		}
	}
	for (i = 0; i < t->n_preferred; i++) {
		cr->preferred[i].kv = &cr->segment_kv[used];
		cr->preferred[i].n = t->preferred[i]->n_segments;
		for (j = 0; j < t->preferred[i]->n_segments; j++, used++) {
			cr->segment_kv[used].key = t->preferred[i]->segments[j]->key;
			cr->segment_kv[used].value = t->preferred[i]->segments[j]->value;
		}
	}
	cr->nrequisite = t->n_requisite;
	cr->npreferred = t->n_preferred;
	return 0;
}

/* Undo: delete the replicas this call created (best effort, logged). */
static void create_undo(struct create *cr)
{
	Atomblk__Target__V1__DeleteReplicaRequest req =
		ATOMBLK__TARGET__V1__DELETE_REPLICA_REQUEST__INIT;
	ProtobufCMessage *resp;
	char *details;

	req.id = (char *)cr->id;
	for (size_t i = 0; i < cr->ncreated; i++) {
		if (node_call(cr->created_on[i], TARGET_DELETE_REPLICA, &req.base, &resp, &details,
			      CALL_TIMEOUT_MS) != GRPC_STATUS_OK)
			log_warn("cannot delete a replica of a failed CreateVolume",
				 "volume_id=%s storage_node=%s error=\"%s\"", cr->id,
				 node_name(cr->created_on[i]), details ? details : "");
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		free(details);
	}
}

/* Create leg @index of @size bytes on @node. */
static grpc_status_code create_replica(struct create *cr, struct storage_node *node,
				       unsigned int index, uint64_t size, char **ret_details)
{
	Atomblk__Target__V1__CreateReplicaRequest req =
		ATOMBLK__TARGET__V1__CREATE_REPLICA_REQUEST__INIT;
	Atomblk__Target__V1__CreateReplicaRequest__LabelsEntry entries[7], *labels[7];
	char replicas[12], idx[12], hold[16];
	const char *kv[7][2] = {
		{ LABEL_NAME, cr->req->name },
		{ LABEL_VOLUME, cr->id },
		{ LABEL_REPLICAS, replicas },
		{ LABEL_INDEX, idx },
		{ LABEL_TRANSPORT, volctx_transport_name(cr->params.transport) },
		{ LABEL_HOLD, hold },
		{ LABEL_SOURCE, cr->source_label },
	};
	ProtobufCMessage *resp;
	grpc_status_code code;
	char *details;
	size_t n = cr->source_label[0] ? 7 : 6;

	snprintf(replicas, sizeof(replicas), "%u", cr->params.replicas);
	snprintf(idx, sizeof(idx), "%u", index);
	snprintf(hold, sizeof(hold), "%u", cr->params.hold_seconds);
	for (size_t i = 0; i < n; i++) {
		atomblk__target__v1__create_replica_request__labels_entry__init(&entries[i]);
		entries[i].key = (char *)kv[i][0];
		entries[i].value = (char *)kv[i][1];
		labels[i] = &entries[i];
	}
	req.id = (char *)cr->id;
	req.size_bytes = size;
	req.n_labels = n;
	req.labels = labels;
	req.source_id = (char *)(cr->source_id ? cr->source_id : "");
	code = node_call(node, TARGET_CREATE_REPLICA, &req.base, &resp, &details, CALL_TIMEOUT_MS);
	if (code != GRPC_STATUS_OK) {
		code = fail_code(ret_details, code,
				 "cannot create replica %u of %s on storage node %s: %s", index,
				 cr->id, node_name(node), details ? details : "failed");
		free(details);
		return code;
	}
	free(details);
	cr->created[cr->ncreated] = (Atomblk__Target__V1__Replica *)resp;
	cr->created_on[cr->ncreated] = node;
	cr->ncreated++;
	return GRPC_STATUS_OK;
}

/*
 * Place and create the legs of @v that are missing, @size bytes each, on
 * nodes that hold no leg of it yet and, for a clone, hold the source
 * (@holders, indexed like the view; NULL: any node). The new legs go into @v.
 */
static grpc_status_code create_missing(struct create *cr, struct volume *v, const bool *holders,
				       uint64_t size, bool view_complete, char **ret_details)
{
	struct storage_view *view = cr->view;
	struct ctrl_candidate *cands = calloc(view->n + 1, sizeof(*cands));
	struct ctrl_kv *topo = NULL;
	size_t chosen[CTRL_REPLICAS_MAX], qualified = 0, nholders = 0, ntopo = 0, i, k;
	unsigned int missing = v->params.replicas - (unsigned int)v->nfound;
	grpc_status_code code = GRPC_STATUS_OK;
	int r;

	for (i = 0; i < view->n; i++)
		ntopo += view->nodes[i].info ? view->nodes[i].info->n_topology : 0;
	topo = calloc(ntopo + 1, sizeof(*topo));
	if (!cands || !topo) {
		code = status_fail(ret_details, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0, ntopo = 0; i < view->n; i++) {
		struct storage_node *node = &view->nodes[i];
		bool holds_leg = false;

		cands[i].node_id = node->info ? node->info->node_id : "";
		if (!node->info)
			continue;
		cands[i].topology.kv = &topo[ntopo];
		cands[i].topology.n = node->info->n_topology;
		for (k = 0; k < node->info->n_topology; k++, ntopo++) {
			topo[ntopo].key = node->info->topology[k]->key;
			topo[ntopo].value = node->info->topology[k]->value;
		}
		cands[i].available = node->info->capacity_available;
		for (k = 0; k < CTRL_REPLICAS_MAX; k++)
			holds_leg |= v->legs[k].rep && v->legs[k].node == node;
		cands[i].eligible = !holds_leg && (!holders || holders[i]);
		nholders += holders && holders[i] && !holds_leg;
	}
	if (holders && nholders < missing) {
		if (!view_complete)
			code = status_fail(
				ret_details, -EAGAIN,
				"the source %s is on %zu answering storage node(s), %u needed; "
				"some storage nodes did not answer",
				cr->source_id, nholders, missing);
		else
			code = status_fail(
				ret_details, -EINVAL,
				"the source %s is on %zu storage node(s) without a replica of "
				"this volume: a clone's replicas are reflinks next to the source, "
				"so %u replica(s) cannot be made (ask for fewer replicas)",
				cr->source_id, nholders, missing);
		goto out;
	}
	r = ctrl_place(cands, view->n, cr->requisite, cr->nrequisite, cr->preferred, cr->npreferred,
		       size, missing, chosen, &qualified);
	if (r == -ENOSPC) {
		code = status_fail(
			ret_details, -ENOSPC,
			"%u storage node(s) with %" PRIu64 " bytes free%s needed, %zu found%s",
			missing, size, cr->nrequisite ? " in the requisite topology" : "",
			qualified, view_complete ? "" : " (some storage nodes did not answer)");
		goto out;
	}
	if (r < 0) {
		code = status_fail(ret_details, r, "cannot place replicas");
		goto out;
	}
	for (i = 0, k = 0; i < v->params.replicas && code == GRPC_STATUS_OK; i++) {
		if (v->legs[i].rep)
			continue;
		code = create_replica(cr, &view->nodes[chosen[k++]], (unsigned int)i, size,
				      ret_details);
		if (code == GRPC_STATUS_OK) {
			v->legs[i].node = cr->created_on[cr->ncreated - 1];
			v->legs[i].rep = cr->created[cr->ncreated - 1];
			v->nfound++;
		}
	}
out:
	free(cands);
	free(topo);
	return code;
}

/*
 * Find the content source: the nodes holding it (@holders, by view index)
 * and its size. NOT_FOUND when no answering node has it and all answered.
 */
static grpc_status_code create_find_source(struct create *cr, bool *holders, uint64_t *ret_size,
					   char **ret_details)
{
	struct lookup l;
	grpc_status_code code = GRPC_STATUS_OK;

	*ret_size = 0;
	if (lookup_run(cr->view, cr->source_id, NULL, cr->source_snapshot, &l) < 0) {
		lookup_clear(&l);
		return status_fail(ret_details, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < l.n; i++) {
		holders[l.items[i].node - cr->view->nodes] = true;
		if (l.items[i].rep->size_bytes > *ret_size)
			*ret_size = l.items[i].rep->size_bytes;
	}
	if (!l.n && !lookup_complete(&l))
		code = status_fail(
			ret_details, -EAGAIN,
			"cannot tell whether %s %s exists: storage nodes did not answer: %s",
			cr->source_snapshot ? "snapshot" : "volume", cr->source_id, l.why);
	else if (!l.n)
		code = status_fail(ret_details, -ENOENT, "the content source %s %s does not exist",
				   cr->source_snapshot ? "snapshot" : "volume", cr->source_id);
	lookup_clear(&l);
	return code;
}

static grpc_status_code create_reply(const struct volume *v, ProtobufCMessage **ret_resp,
				     char **ret_details)
{
	Csi__V1__CreateVolumeResponse *resp = zalloc(&csi__v1__create_volume_response__descriptor);

	if (!resp)
		return status_fail(ret_details, -ENOMEM, "out of memory");
	*ret_resp = &resp->base;
	resp->volume = volume_csi(v);
	if (!resp->volume)
		return status_fail(ret_details, -ENOMEM, "cannot describe volume %s", v->id);
	return GRPC_STATUS_OK;
}

/* The volume exists (some replicas found): compatible? complete it. */
static grpc_status_code create_existing(struct create *cr, struct lookup *l,
					ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__CapacityRange *range = cr->req->capacity_range;
	char msg[CTRL_MSG_MAX];
	bool *holders = NULL;
	grpc_status_code code;
	struct volume v;
	uint64_t source_size;

	if (volume_from(l->items, l->n, &v, msg, sizeof(msg)) < 0)
		return status_fail(ret_details, -EIO, "%s", msg);
	if (strcmp(v.name, cr->req->name))
		return status_fail(ret_details, -EEXIST, "volume id %s is taken by volume \"%s\"",
				   v.id, v.name);
	if (v.params.replicas != cr->params.replicas ||
	    v.params.transport != cr->params.transport ||
	    v.params.hold_seconds != cr->params.hold_seconds)
		return status_fail(
			ret_details, -EEXIST,
			"volume \"%s\" exists with replicas=%u transport=%s holdSeconds=%u", v.name,
			v.params.replicas, volctx_transport_name(v.params.transport),
			v.params.hold_seconds);
	if (strcmp(v.source, cr->source_label))
		return status_fail(ret_details, -EEXIST,
				   "volume \"%s\" exists with content source \"%s\"", v.name,
				   v.source[0] ? v.source : "none");
	if (!ctrl_size_in_range(v.size, range ? range->required_bytes : 0,
				range ? range->limit_bytes : 0) ||
	    (!range && v.size < CTRL_SIZE_DEFAULT))
		return status_fail(ret_details, -EEXIST,
				   "volume \"%s\" exists with %" PRIu64
				   " bytes, outside the requested range",
				   v.name, v.size);
	if (v.nfound < v.params.replicas) {
		/* A crash half-way through an earlier call: make the rest. */
		if (!lookup_complete(l))
			return status_fail(
				ret_details, -EAGAIN,
				"volume \"%s\" has %zu of %u replicas and storage nodes did not "
				"answer (%s): retry later",
				v.name, v.nfound, v.params.replicas, l->why);
		if (cr->source_id) {
			holders = calloc(cr->view->n + 1, sizeof(*holders));
			if (!holders)
				return status_fail(ret_details, -ENOMEM, "out of memory");
			code = create_find_source(cr, holders, &source_size, ret_details);
			if (code != GRPC_STATUS_OK) {
				free(holders);
				return code;
			}
		}
		code = create_missing(cr, &v, holders, v.size_max, true, ret_details);
		free(holders);
		if (code != GRPC_STATUS_OK) {
			create_undo(cr);
			return code;
		}
		log_info("volume completed", "volume_id=%s name=\"%s\" replicas=%u created=%zu",
			 v.id, v.name, v.params.replicas, cr->ncreated);
	}
	return create_reply(&v, ret_resp, ret_details);
}

/* No replica of the volume exists: place and create them all. */
static grpc_status_code create_fresh(struct create *cr, bool view_complete,
				     ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__CapacityRange *range = cr->req->capacity_range;
	struct volume v = {
		.id = cr->id,
		.name = cr->req->name,
		.params = cr->params,
		.source = cr->source_label,
	};
	uint64_t source_size = 0, size;
	char msg[CTRL_MSG_MAX];
	bool *holders = NULL;
	grpc_status_code code;
	int r;

	if (cr->source_id) {
		holders = calloc(cr->view->n + 1, sizeof(*holders));
		if (!holders)
			return status_fail(ret_details, -ENOMEM, "out of memory");
		code = create_find_source(cr, holders, &source_size, ret_details);
		if (code != GRPC_STATUS_OK)
			goto out;
	}
	r = ctrl_size_pick(range ? range->required_bytes : 0, range ? range->limit_bytes : 0,
			   source_size, &size, msg, sizeof(msg));
	if (r < 0) {
		code = status_fail(ret_details, r, "%s", msg);
		goto out;
	}
	code = create_missing(cr, &v, holders, size, view_complete, ret_details);
	if (code != GRPC_STATUS_OK) {
		create_undo(cr);
		goto out;
	}
	v.size = v.size_max = size;
	log_info("volume created",
		 "volume_id=%s name=\"%s\" replicas=%u size=%" PRIu64 " transport=%s source=%s",
		 v.id, v.name, v.params.replicas, size, volctx_transport_name(v.params.transport),
		 v.source[0] ? v.source : "none");
	code = create_reply(&v, ret_resp, ret_details);
out:
	free(holders);
	return code;
}

/* The content source of the request into @cr; INVALID_ARGUMENT / NOT_FOUND as the spec says. */
static grpc_status_code create_source(struct create *cr, char **ret_details)
{
	const Csi__V1__VolumeContentSource *cs = cr->req->volume_content_source;
	const char *id;

	if (!cs)
		return GRPC_STATUS_OK;
	switch (cs->type_case) {
	case CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_SNAPSHOT:
		id = cs->snapshot ? cs->snapshot->snapshot_id : "";
		if (!id[0])
			return status_fail(
				ret_details, -EINVAL,
				"volume_content_source.snapshot.snapshot_id is required");
		if (!ctrl_id_valid(CTRL_SNAPSHOT_PREFIX, id))
			return status_fail(ret_details, -ENOENT, "snapshot %s does not exist", id);
		cr->source_snapshot = true;
		snprintf(cr->source_label, sizeof(cr->source_label), "snapshot:%s", id);
		break;
	case CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_VOLUME:
		id = cs->volume ? cs->volume->volume_id : "";
		if (!id[0])
			return status_fail(ret_details, -EINVAL,
					   "volume_content_source.volume.volume_id is required");
		if (!ctrl_id_valid(CTRL_VOLUME_PREFIX, id))
			return status_fail(ret_details, -ENOENT, "volume %s does not exist", id);
		if (!strcmp(id, cr->id))
			return status_fail(ret_details, -EINVAL,
					   "a volume cannot be cloned from itself");
		snprintf(cr->source_label, sizeof(cr->source_label), "volume:%s", id);
		break;
	default:
		return status_fail(ret_details, -EINVAL,
				   "volume_content_source has neither snapshot nor volume");
	}
	cr->source_id = strchr(cr->source_label, ':') + 1;
	return GRPC_STATUS_OK;
}

/* Every capability of @caps is one the volumes serve (INVALID_ARGUMENT otherwise). */
static grpc_status_code capabilities_check(Csi__V1__VolumeCapability *const *caps, size_t n,
					   char **ret_details)
{
	char msg[CTRL_MSG_MAX];

	if (!n)
		return status_fail(ret_details, -EINVAL, "volume_capabilities are required");
	for (size_t i = 0; i < n; i++)
		if (csi_capability_check(caps[i], msg, sizeof(msg)) < 0)
			return status_fail(ret_details, -EINVAL, "%s", msg);
	return GRPC_STATUS_OK;
}

/* Parse a request's parameters map (entries of any map type). */
static int params_parse(size_t n, void *const *entries, struct ctrl_params *ret, char *msg,
			size_t msg_size)
{
	struct ctrl_kv *kv = map_kv(n, entries);
	int r;

	if (!kv) {
		snprintf(msg, msg_size, "out of memory");
		return -ENOMEM;
	}
	r = ctrl_params_parse(kv, n, ret, msg, msg_size);
	free(kv);
	return r;
}

static grpc_status_code controller_create_volume(void *userdata, const ProtobufCMessage *msg,
						 ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__CreateVolumeRequest *req = (const Csi__V1__CreateVolumeRequest *)msg;
	const Csi__V1__CapacityRange *range = req->capacity_range;
	struct csi_controller *c = userdata;
	struct create cr = { .req = req };
	char why[CTRL_MSG_MAX], id[CTRL_ID_LEN + 1];
	struct lookup l = {};
	grpc_status_code code;
	uint64_t size;
	int r;

	if (!req->name[0])
		return status_fail(ret_details, -EINVAL, "name is required");
	code = capabilities_check(req->volume_capabilities, req->n_volume_capabilities,
				  ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	r = params_parse(req->n_parameters, (void *const *)req->parameters, &cr.params, why,
			 sizeof(why));
	if (r < 0)
		return status_fail(ret_details, r, "%s", why);
	/* The range alone (a clone's source size is checked once known). */
	r = ctrl_size_pick(range ? range->required_bytes : 0, range ? range->limit_bytes : 0, 0,
			   &size, why, sizeof(why));
	if (r < 0)
		return status_fail(ret_details, r, "%s", why);
	ctrl_id_from_name(CTRL_VOLUME_PREFIX, req->name, id);
	cr.id = id;
	code = create_source(&cr, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	if (create_topology(&cr) < 0) {
		create_clear(&cr);
		return status_fail(ret_details, -ENOMEM, "out of memory");
	}
	if (vollock_try(c->locks, id) < 0) {
		create_clear(&cr);
		return fail_busy(ret_details, req->name);
	}
	code = view_take(c, &cr.view, ret_details);
	if (code == GRPC_STATUS_OK) {
		if (lookup_run(cr.view, id, NULL, false, &l) < 0)
			code = status_fail(ret_details, -ENOMEM, "out of memory");
		else if (l.n)
			code = create_existing(&cr, &l, ret_resp, ret_details);
		else
			code = create_fresh(&cr, lookup_complete(&l), ret_resp, ret_details);
		lookup_clear(&l);
		storage_view_free(c->set, cr.view);
	}
	create_clear(&cr);
	vollock_release(c->locks, id);
	return code;
}

/* ---- DeleteVolume, DeleteSnapshot ---------------------------------------------- */

/*
 * Delete every replica (or snapshot file) @l found. Success needs every
 * copy accounted for: when nodes did not answer and fewer copies than the
 * labels' count were found, one may be on them: UNAVAILABLE (retry).
 */
static grpc_status_code delete_found(struct lookup *l, const char *id, bool snapshots,
				     char **ret_details)
{
	Atomblk__Target__V1__DeleteReplicaRequest rreq =
		ATOMBLK__TARGET__V1__DELETE_REPLICA_REQUEST__INIT;
	Atomblk__Target__V1__DeleteSnapshotRequest sreq =
		ATOMBLK__TARGET__V1__DELETE_SNAPSHOT_REQUEST__INIT;
	grpc_status_code code = GRPC_STATUS_OK, c;
	unsigned int count = 0, n;
	ProtobufCMessage *resp;
	char *details;

	rreq.id = sreq.id = (char *)id;
	for (size_t i = 0; i < l->n; i++) {
		if (label_number(l->items[i].rep, LABEL_REPLICAS, CTRL_REPLICAS_MAX, &n) &&
		    n > count)
			count = n;
		c = node_call(l->items[i].node,
			      snapshots ? TARGET_DELETE_SNAPSHOT : TARGET_DELETE_REPLICA,
			      snapshots ? &sreq.base : &rreq.base, &resp, &details,
			      CALL_TIMEOUT_MS);
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		if (c != GRPC_STATUS_OK && code == GRPC_STATUS_OK)
			code = fail_code(ret_details, c, "cannot delete %s on storage node %s: %s",
					 id, node_name(l->items[i].node),
					 details ? details : "failed");
		free(details);
	}
	if (code != GRPC_STATUS_OK)
		return code;
	if (!lookup_complete(l) && (l->n == 0 || l->n < count))
		return status_fail(
			ret_details, -EAGAIN,
			"%s: %zu cop%s deleted, but storage nodes that may hold more did not "
			"answer (%s): retry later",
			id, l->n, l->n == 1 ? "y" : "ies", l->why);
	if (l->n)
		log_info(snapshots ? "snapshot deleted" : "volume deleted", "id=%s copies=%zu", id,
			 l->n);
	return GRPC_STATUS_OK;
}

static grpc_status_code delete_common(struct csi_controller *c, const char *id, bool snapshots,
				      char **ret_details)
{
	struct storage_view *view;
	grpc_status_code code;
	struct lookup l;

	if (vollock_try(c->locks, id) < 0)
		return fail_busy(ret_details, id);
	code = view_take(c, &view, ret_details);
	if (code == GRPC_STATUS_OK) {
		if (lookup_run(view, id, NULL, snapshots, &l) < 0)
			code = status_fail(ret_details, -ENOMEM, "out of memory");
		else
			code = delete_found(&l, id, snapshots, ret_details);
		lookup_clear(&l);
		storage_view_free(c->set, view);
	}
	vollock_release(c->locks, id);
	return code;
}

static grpc_status_code controller_delete_volume(void *userdata, const ProtobufCMessage *msg,
						 ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__DeleteVolumeRequest *req = (const Csi__V1__DeleteVolumeRequest *)msg;
	grpc_status_code code;

	if (!req->volume_id[0])
		return status_fail(ret_details, -EINVAL, "volume_id is required");
	/* Not an id of ours: nothing of it can exist. */
	if (ctrl_id_valid(CTRL_VOLUME_PREFIX, req->volume_id)) {
		code = delete_common(userdata, req->volume_id, false, ret_details);
		if (code != GRPC_STATUS_OK)
			return code;
	}
	return status_reply_empty(&csi__v1__delete_volume_response__descriptor, ret_resp);
}

static grpc_status_code controller_delete_snapshot(void *userdata, const ProtobufCMessage *msg,
						   ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__DeleteSnapshotRequest *req = (const Csi__V1__DeleteSnapshotRequest *)msg;
	grpc_status_code code;

	if (!req->snapshot_id[0])
		return status_fail(ret_details, -EINVAL, "snapshot_id is required");
	if (ctrl_id_valid(CTRL_SNAPSHOT_PREFIX, req->snapshot_id)) {
		code = delete_common(userdata, req->snapshot_id, true, ret_details);
		if (code != GRPC_STATUS_OK)
			return code;
	}
	return status_reply_empty(&csi__v1__delete_snapshot_response__descriptor, ret_resp);
}

/* ---- one volume: find it ---------------------------------------------------------- */

/*
 * Find volume @id: @ret (pointing into @l, which the caller clears).
 * NOT_FOUND when no answering node has a replica and all answered;
 * UNAVAILABLE when some did not.
 */
static grpc_status_code volume_find(struct storage_view *view, const char *id, struct lookup *l,
				    struct volume *ret, char **ret_details)
{
	char msg[CTRL_MSG_MAX];

	if (lookup_run(view, id, NULL, false, l) < 0)
		return status_fail(ret_details, -ENOMEM, "out of memory");
	if (!l->n && !lookup_complete(l))
		return status_fail(
			ret_details, -EAGAIN,
			"volume %s: no replica found and storage nodes did not answer (%s)", id,
			l->why);
	if (!l->n)
		return status_fail(ret_details, -ENOENT, "volume %s does not exist", id);
	if (volume_from(l->items, l->n, ret, msg, sizeof(msg)) < 0)
		return status_fail(ret_details, -EIO, "%s", msg);
	return GRPC_STATUS_OK;
}

/* ---- ControllerExpandVolume ---------------------------------------------------- */

/*
 * Grow every replica. node_expansion_required is true for block volumes
 * too: the node's atom disk was assembled at the old size and only
 * NodeExpandVolume grows it (and, for a mount, the filesystem). A replica
 * that grew stays grown if another fails; a retry grows the rest.
 */
static grpc_status_code expand_replicas(struct volume *v, uint64_t size, char **ret_details)
{
	Atomblk__Target__V1__ExpandReplicaRequest req =
		ATOMBLK__TARGET__V1__EXPAND_REPLICA_REQUEST__INIT;
	grpc_status_code code;
	ProtobufCMessage *resp;
	char *details;

	req.id = (char *)v->id;
	req.size_bytes = size;
	for (unsigned int i = 0; i < v->params.replicas; i++) {
		if (v->legs[i].rep->size_bytes >= size)
			continue;
		code = node_call(v->legs[i].node, TARGET_EXPAND_REPLICA, &req.base, &resp, &details,
				 CALL_TIMEOUT_MS);
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		if (code != GRPC_STATUS_OK) {
			code = fail_code(ret_details, code,
					 "cannot grow replica %u of %s on storage node %s: %s", i,
					 v->id, node_name(v->legs[i].node),
					 details ? details : "failed");
			free(details);
			return code;
		}
		free(details);
	}
	return GRPC_STATUS_OK;
}

static grpc_status_code controller_expand_volume(void *userdata, const ProtobufCMessage *msg,
						 ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__ControllerExpandVolumeRequest *req =
		(const Csi__V1__ControllerExpandVolumeRequest *)msg;
	const Csi__V1__CapacityRange *range = req->capacity_range;
	Csi__V1__ControllerExpandVolumeResponse *resp;
	struct csi_controller *c = userdata;
	struct storage_view *view;
	char why[CTRL_MSG_MAX];
	struct lookup l = {};
	grpc_status_code code;
	struct volume v;
	uint64_t size;
	int r;

	if (!req->volume_id[0])
		return status_fail(ret_details, -EINVAL, "volume_id is required");
	if (!range)
		return status_fail(ret_details, -EINVAL, "capacity_range is required");
	if (req->volume_capability &&
	    csi_capability_check(req->volume_capability, why, sizeof(why)) < 0)
		return status_fail(ret_details, -EINVAL, "%s", why);
	r = ctrl_size_pick(range->required_bytes, range->limit_bytes, 0, &size, why, sizeof(why));
	if (r < 0)
		return status_fail(ret_details, r, "%s", why);
	if (!ctrl_id_valid(CTRL_VOLUME_PREFIX, req->volume_id))
		return status_fail(ret_details, -ENOENT, "volume %s does not exist",
				   req->volume_id);
	if (vollock_try(c->locks, req->volume_id) < 0)
		return fail_busy(ret_details, req->volume_id);
	code = view_take(c, &view, ret_details);
	if (code != GRPC_STATUS_OK)
		goto out_unlock;
	code = volume_find(view, req->volume_id, &l, &v, ret_details);
	if (code != GRPC_STATUS_OK)
		goto out;
	if (v.nfound < v.params.replicas) {
		code = status_fail(
			ret_details, lookup_complete(&l) ? -EBUSY : -EAGAIN,
			"volume %s has %zu of %u replicas%s%s: all must grow together", v.id,
			v.nfound, v.params.replicas,
			lookup_complete(&l) ? "" : "; storage nodes did not answer: ", l.why);
		goto out;
	}
	/* Never shrink: a size already reached is success. */
	if (v.size_max > size)
		size = v.size_max;
	if (range->limit_bytes && size > (uint64_t)range->limit_bytes) {
		code = status_fail(ret_details, -ERANGE,
				   "volume %s already holds %" PRIu64
				   " bytes, above limit_bytes %" PRId64,
				   v.id, size, range->limit_bytes);
		goto out;
	}
	code = expand_replicas(&v, size, ret_details);
	if (code != GRPC_STATUS_OK)
		goto out;
	if (size > v.size)
		log_info("volume expanded", "volume_id=%s size=%" PRIu64, v.id, size);
	resp = zalloc(&csi__v1__controller_expand_volume_response__descriptor);
	if (!resp) {
		code = status_fail(ret_details, -ENOMEM, "out of memory");
		goto out;
	}
	resp->capacity_bytes = (int64_t)size;
	resp->node_expansion_required = true;
	*ret_resp = &resp->base;
out:
	lookup_clear(&l);
	storage_view_free(c->set, view);
out_unlock:
	vollock_release(c->locks, req->volume_id);
	return code;
}

/* ---- ValidateVolumeCapabilities -------------------------------------------------- */

/* Why the request's parameters or context do not describe @v ("" if they do). */
static void validate_match(const Csi__V1__ValidateVolumeCapabilitiesRequest *req,
			   const struct volume *v, char *why, size_t why_size)
{
	struct ctrl_params p;
	Csi__V1__Volume *vol;

	why[0] = '\0';
	for (size_t i = 0; i < req->n_volume_capabilities; i++)
		if (csi_capability_check(req->volume_capabilities[i], why, why_size) < 0)
			return;
	if (req->n_parameters) {
		if (params_parse(req->n_parameters, (void *const *)req->parameters, &p, why,
				 why_size) < 0)
			return;
		if (p.replicas != v->params.replicas || p.transport != v->params.transport ||
		    p.hold_seconds != v->params.hold_seconds) {
			snprintf(why, why_size, "the parameters differ from the volume's");
			return;
		}
	}
	if (!req->n_volume_context)
		return;
	vol = volume_csi(v);
	if (!vol) {
		snprintf(why, why_size, "the volume context cannot be checked now");
		return;
	}
	for (size_t i = 0; i < req->n_volume_context && !why[0]; i++) {
		const char *key = req->volume_context[i]->key, *value = NULL;

		for (size_t j = 0; j < vol->n_volume_context; j++)
			if (!strcmp(vol->volume_context[j]->key, key))
				value = vol->volume_context[j]->value;
		if (!value || strcmp(value, req->volume_context[i]->value))
			snprintf(why, why_size, "volume_context %s differs from the volume's", key);
	}
	protobuf_c_message_free_unpacked(&vol->base, NULL);
}

static grpc_status_code validate_reply(const Csi__V1__ValidateVolumeCapabilitiesRequest *req,
				       const char *why, ProtobufCMessage **ret_resp)
{
	Csi__V1__ValidateVolumeCapabilitiesResponse *resp =
		zalloc(&csi__v1__validate_volume_capabilities_response__descriptor);
	Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed *conf;
	size_t i;
	int r = 0;

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	*ret_resp = &resp->base;
	if (why[0]) {
		resp->message = strdup(why);
		return resp->message ? GRPC_STATUS_OK : GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	conf = zalloc(&csi__v1__validate_volume_capabilities_response__confirmed__descriptor);
	if (!conf)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	resp->confirmed = conf;
	conf->volume_capabilities =
		calloc(req->n_volume_capabilities, sizeof(*conf->volume_capabilities));
	if (!conf->volume_capabilities)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	for (i = 0; i < req->n_volume_capabilities; i++) {
		conf->volume_capabilities[i] = (Csi__V1__VolumeCapability *)message_copy(
			&req->volume_capabilities[i]->base);
		if (!conf->volume_capabilities[i])
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		conf->n_volume_capabilities++;
	}
	for (i = 0; i < req->n_volume_context && r == 0; i++)
		r = map_add(
			&csi__v1__validate_volume_capabilities_response__confirmed__volume_context_entry__descriptor,
			&conf->n_volume_context, &conf->volume_context, req->volume_context[i]->key,
			req->volume_context[i]->value);
	for (i = 0; i < req->n_parameters && r == 0; i++)
		r = map_add(
			&csi__v1__validate_volume_capabilities_response__confirmed__parameters_entry__descriptor,
			&conf->n_parameters, &conf->parameters, req->parameters[i]->key,
			req->parameters[i]->value);
	return r < 0 ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_OK;
}

static grpc_status_code controller_validate(void *userdata, const ProtobufCMessage *msg,
					    ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__ValidateVolumeCapabilitiesRequest *req =
		(const Csi__V1__ValidateVolumeCapabilitiesRequest *)msg;
	struct csi_controller *c = userdata;
	struct storage_view *view;
	char why[CTRL_MSG_MAX];
	struct lookup l = {};
	grpc_status_code code;
	struct volume v;

	if (!req->volume_id[0])
		return status_fail(ret_details, -EINVAL, "volume_id is required");
	if (!req->n_volume_capabilities)
		return status_fail(ret_details, -EINVAL, "volume_capabilities are required");
	if (!ctrl_id_valid(CTRL_VOLUME_PREFIX, req->volume_id))
		return status_fail(ret_details, -ENOENT, "volume %s does not exist",
				   req->volume_id);
	code = view_take(c, &view, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	code = volume_find(view, req->volume_id, &l, &v, ret_details);
	if (code == GRPC_STATUS_OK) {
		validate_match(req, &v, why, sizeof(why));
		code = validate_reply(req, why, ret_resp);
	}
	lookup_clear(&l);
	storage_view_free(c->set, view);
	return code;
}

/* ---- ControllerGetVolume, ListVolumes ------------------------------------------ */

static grpc_status_code controller_get_volume(void *userdata, const ProtobufCMessage *msg,
					      ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__ControllerGetVolumeRequest *req =
		(const Csi__V1__ControllerGetVolumeRequest *)msg;
	Csi__V1__ControllerGetVolumeResponse *resp;
	struct csi_controller *c = userdata;
	struct storage_view *view;
	struct lookup l = {};
	grpc_status_code code;
	struct volume v;

	if (!req->volume_id[0])
		return status_fail(ret_details, -EINVAL, "volume_id is required");
	if (!ctrl_id_valid(CTRL_VOLUME_PREFIX, req->volume_id))
		return status_fail(ret_details, -ENOENT, "volume %s does not exist",
				   req->volume_id);
	code = view_take(c, &view, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	code = volume_find(view, req->volume_id, &l, &v, ret_details);
	if (code == GRPC_STATUS_OK) {
		resp = zalloc(&csi__v1__controller_get_volume_response__descriptor);
		if (resp) {
			*ret_resp = &resp->base;
			resp->volume = volume_csi(&v);
			resp->status = zalloc(
				&csi__v1__controller_get_volume_response__volume_status__descriptor);
			if (resp->status)
				resp->status->volume_condition = volume_condition(&v, &l);
		}
		if (!resp || !resp->volume || !resp->status || !resp->status->volume_condition)
			code = status_fail(ret_details, -ENOMEM, "out of memory");
	}
	lookup_clear(&l);
	storage_view_free(c->set, view);
	return code;
}

static int found_compare(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	return strcmp(x->rep->id, y->rep->id);
}

/* Items of one id: @l's items sorted by id, grouped. */
struct group {
	size_t start, n;
};

/* Sort @l by id and group it; *@ret_ids: the ids, sorted (pointing into @l). */
static int groups_make(struct lookup *l, struct group **ret, const char ***ret_ids, size_t *ret_n)
{
	struct group *groups = calloc(l->n + 1, sizeof(*groups));
	const char **ids = calloc(l->n + 1, sizeof(*ids));
	size_t n = 0;

	if (!groups || !ids) {
		free(groups);
		free(ids);
		return -ENOMEM;
	}
	qsort(l->items, l->n, sizeof(*l->items), found_compare);
	for (size_t i = 0; i < l->n; i++) {
		if (n && !strcmp(ids[n - 1], l->items[i].rep->id)) {
			groups[n - 1].n++;
			continue;
		}
		ids[n] = l->items[i].rep->id;
		groups[n].start = i;
		groups[n].n = 1;
		n++;
	}
	*ret = groups;
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

static Csi__V1__ListVolumesResponse__Entry *list_entry(const struct lookup *l,
						       const struct group *g)
{
	Csi__V1__ListVolumesResponse__Entry *e;
	char msg[CTRL_MSG_MAX];
	struct volume v;

	if (volume_from(&l->items[g->start], g->n, &v, msg, sizeof(msg)) < 0) {
		log_warn("ListVolumes skips a volume", "error=\"%s\"", msg);
		return NULL;
	}
	e = zalloc(&csi__v1__list_volumes_response__entry__descriptor);
	if (!e)
		return NULL;
	e->volume = volume_csi(&v);
	e->status = zalloc(&csi__v1__list_volumes_response__volume_status__descriptor);
	if (e->status)
		e->status->volume_condition = volume_condition(&v, l);
	if (!e->volume || !e->status || !e->status->volume_condition) {
		protobuf_c_message_free_unpacked(&e->base, NULL);
		return NULL;
	}
	return e;
}

static grpc_status_code page_check(int32_t max_entries, const char *token, const char *prefix,
				   char **ret_details)
{
	if (max_entries < 0)
		return status_fail(ret_details, -EINVAL, "max_entries must not be negative");
	if (token[0] && !ctrl_id_valid(prefix, token))
		return fail_code(ret_details, GRPC_STATUS_ABORTED,
				 "starting_token \"%s\" is not one this plugin gave", token);
	return GRPC_STATUS_OK;
}

static grpc_status_code controller_list_volumes(void *userdata, const ProtobufCMessage *msg,
						ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__ListVolumesRequest *req = (const Csi__V1__ListVolumesRequest *)msg;
	struct csi_controller *c = userdata;
	Csi__V1__ListVolumesResponse *resp = NULL;
	struct group *groups = NULL;
	const char **ids = NULL, *next;
	size_t n, start, count, i;
	struct storage_view *view;
	struct lookup l = {};
	grpc_status_code code;

	code = page_check(req->max_entries, req->starting_token, CTRL_VOLUME_PREFIX, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	code = view_take(c, &view, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	if (lookup_run(view, NULL, LABEL_VOLUME, false, &l) < 0 ||
	    groups_make(&l, &groups, &ids, &n) < 0) {
		code = status_fail(ret_details, -ENOMEM, "out of memory");
		goto out;
	}
	ctrl_page(ids, n, req->max_entries, req->starting_token, CTRL_VOLUME_PREFIX, &start, &count,
		  &next);
	resp = zalloc(&csi__v1__list_volumes_response__descriptor);
	if (!resp || !(resp->entries = calloc(count + 1, sizeof(*resp->entries))) ||
	    (next && !(resp->next_token = strdup(next)))) {
		code = status_fail(ret_details, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = start; i < start + count; i++) {
		Csi__V1__ListVolumesResponse__Entry *e = list_entry(&l, &groups[i]);

		if (e)
			resp->entries[resp->n_entries++] = e;
	}
	*ret_resp = &resp->base;
	resp = NULL;
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(groups);
	free(ids);
	lookup_clear(&l);
	storage_view_free(c->set, view);
	return code;
}

/* ---- GetCapacity -------------------------------------------------------------- */

static grpc_status_code controller_get_capacity(void *userdata, const ProtobufCMessage *msg,
						ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__GetCapacityRequest *req = (const Csi__V1__GetCapacityRequest *)msg;
	struct csi_controller *c = userdata;
	Csi__V1__GetCapacityResponse *resp;
	struct ctrl_segment segment = {}, topology;
	struct ctrl_kv *seg_kv = NULL, topo_kv[32];
	uint64_t *available = NULL, avail = 0, max = 0;
	struct storage_view *view = NULL;
	struct ctrl_params params;
	char why[CTRL_MSG_MAX];
	bool supported = true;
	size_t n = 0;
	int r;

	r = params_parse(req->n_parameters, (void *const *)req->parameters, &params, why,
			 sizeof(why));
	if (r < 0)
		return status_fail(ret_details, r, "%s", why);
	/* Capabilities no volume can have: no capacity for them. */
	for (size_t i = 0; i < req->n_volume_capabilities; i++)
		supported &=
			csi_capability_check(req->volume_capabilities[i], why, sizeof(why)) == 0;
	if (supported) {
		grpc_status_code code = view_take(c, &view, ret_details);

		if (code != GRPC_STATUS_OK)
			return code;
		if (req->accessible_topology) {
			segment.n = req->accessible_topology->n_segments;
			seg_kv = map_kv(segment.n,
					(void *const *)req->accessible_topology->segments);
			segment.kv = seg_kv;
		}
		available = calloc(view->n + 1, sizeof(*available));
		if (!available || (req->accessible_topology && !seg_kv)) {
			free(seg_kv);
			free(available);
			storage_view_free(c->set, view);
			return status_fail(ret_details, -ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < view->n; i++) {
			const Atomblk__Target__V1__GetInfoResponse *info = view->nodes[i].info;

			if (!info)
				continue;
			topology.kv = topo_kv;
			topology.n = info->n_topology < 32 ? info->n_topology : 32;
			for (size_t k = 0; k < topology.n; k++) {
				topo_kv[k].key = info->topology[k]->key;
				topo_kv[k].value = info->topology[k]->value;
			}
			if (ctrl_segment_matches(&topology, &segment))
				available[n++] = info->capacity_available;
		}
		ctrl_capacity(available, n, params.replicas, &avail, &max);
		free(seg_kv);
		free(available);
		storage_view_free(c->set, view);
	}
	resp = zalloc(&csi__v1__get_capacity_response__descriptor);
	if (!resp)
		return status_fail(ret_details, -ENOMEM, "out of memory");
	*ret_resp = &resp->base;
	resp->available_capacity = avail > INT64_MAX ? INT64_MAX : (int64_t)avail;
	resp->maximum_volume_size = zalloc(&google__protobuf__int64_value__descriptor);
	if (!resp->maximum_volume_size)
		return status_fail(ret_details, -ENOMEM, "out of memory");
	resp->maximum_volume_size->value = max > INT64_MAX ? INT64_MAX : (int64_t)max;
	return GRPC_STATUS_OK;
}

/* ---- ControllerGetCapabilities -------------------------------------------------- */

/* Exactly what this service answers; everything else is UNIMPLEMENTED. */
static const Csi__V1__ControllerServiceCapability__RPC__Type controller_capabilities[] = {
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_VOLUME,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_SNAPSHOT,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_SNAPSHOTS,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CLONE_VOLUME,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_VOLUMES,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__GET_CAPACITY,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME,
	CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__VOLUME_CONDITION,
};

#define CONTROLLER_CAPABILITIES \
	(sizeof(controller_capabilities) / sizeof(controller_capabilities[0]))

static grpc_status_code controller_get_capabilities(void *userdata, const ProtobufCMessage *msg,
						    ProtobufCMessage **ret_resp, char **ret_details)
{
	Csi__V1__ControllerGetCapabilitiesResponse *resp =
		zalloc(&csi__v1__controller_get_capabilities_response__descriptor);

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	*ret_resp = &resp->base;
	resp->capabilities = calloc(CONTROLLER_CAPABILITIES, sizeof(*resp->capabilities));
	if (!resp->capabilities)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	for (size_t i = 0; i < CONTROLLER_CAPABILITIES; i++) {
		Csi__V1__ControllerServiceCapability *cap =
			zalloc(&csi__v1__controller_service_capability__descriptor);

		if (!cap)
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		resp->capabilities[resp->n_capabilities++] = cap;
		cap->rpc = zalloc(&csi__v1__controller_service_capability__rpc__descriptor);
		if (!cap->rpc)
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		cap->type_case = CSI__V1__CONTROLLER_SERVICE_CAPABILITY__TYPE_RPC;
		cap->rpc->type = controller_capabilities[i];
	}
	return GRPC_STATUS_OK;
}

/* ---- snapshots ---------------------------------------------------------------- */

/* The CSI snapshot of the files @items (one id). */
static Csi__V1__Snapshot *snapshot_csi(const struct found *items, size_t n)
{
	Csi__V1__Snapshot *s = zalloc(&csi__v1__snapshot__descriptor);
	const Atomblk__Target__V1__Replica *first = items[0].rep;

	if (!s)
		return NULL;
	s->snapshot_id = strdup(first->id);
	s->source_volume_id = strdup(first->source_id);
	s->creation_time = zalloc(&google__protobuf__timestamp__descriptor);
	if (!s->snapshot_id || !s->source_volume_id || !s->creation_time) {
		protobuf_c_message_free_unpacked(&s->base, NULL);
		return NULL;
	}
	s->creation_time->seconds = first->created_seconds;
	s->creation_time->nanos = first->created_nanos;
	for (size_t i = 0; i < n; i++) {
		const Atomblk__Target__V1__Replica *r = items[i].rep;

		if ((int64_t)r->size_bytes > s->size_bytes)
			s->size_bytes = (int64_t)r->size_bytes;
		if (r->created_seconds < s->creation_time->seconds ||
		    (r->created_seconds == s->creation_time->seconds &&
		     r->created_nanos < s->creation_time->nanos)) {
			s->creation_time->seconds = r->created_seconds;
			s->creation_time->nanos = r->created_nanos;
		}
	}
	s->ready_to_use = true; /* a reflink copy is complete when it exists */
	return s;
}

/* A CreateSnapshot in progress. */
struct snap {
	const char *id; /* snapshot id */
	const char *name;
	struct found items[CTRL_REPLICAS_MAX * 2]; /* every file: found, then created */
	size_t n;
	Atomblk__Target__V1__Replica *created[CTRL_REPLICAS_MAX]; /* replies we own */
	size_t ncreated;
};

static void snap_undo(struct snap *s)
{
	Atomblk__Target__V1__DeleteSnapshotRequest req =
		ATOMBLK__TARGET__V1__DELETE_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *resp;
	char *details;

	req.id = (char *)s->id;
	for (size_t i = s->n - s->ncreated; i < s->n; i++) {
		if (node_call(s->items[i].node, TARGET_DELETE_SNAPSHOT, &req.base, &resp, &details,
			      CALL_TIMEOUT_MS) != GRPC_STATUS_OK)
			log_warn("cannot delete a file of a failed CreateSnapshot",
				 "snapshot_id=%s storage_node=%s error=\"%s\"", s->id,
				 node_name(s->items[i].node), details ? details : "");
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		free(details);
	}
}

/* Snapshot every leg of @v whose node has no file of the snapshot yet. */
static grpc_status_code snap_make(struct snap *s, const struct volume *v, char **ret_details)
{
	Atomblk__Target__V1__CreateSnapshotRequest req =
		ATOMBLK__TARGET__V1__CREATE_SNAPSHOT_REQUEST__INIT;
	Atomblk__Target__V1__CreateSnapshotRequest__LabelsEntry entries[2], *labels[2];
	grpc_status_code code;
	ProtobufCMessage *resp;
	char count[12], *details;

	snprintf(count, sizeof(count), "%u", v->params.replicas);
	for (size_t i = 0; i < 2; i++) {
		atomblk__target__v1__create_snapshot_request__labels_entry__init(&entries[i]);
		labels[i] = &entries[i];
	}
	entries[0].key = LABEL_SNAPSHOT_NAME;
	entries[0].value = (char *)s->name;
	entries[1].key = LABEL_REPLICAS;
	entries[1].value = count;
	req.id = (char *)s->id;
	req.source_id = (char *)v->id;
	req.n_labels = 2;
	req.labels = labels;
	for (unsigned int i = 0; i < v->params.replicas; i++) {
		bool has = false;

		for (size_t k = 0; k < s->n && !has; k++)
			has = s->items[k].node == v->legs[i].node;
		if (has)
			continue;
		code = node_call(v->legs[i].node, TARGET_CREATE_SNAPSHOT, &req.base, &resp,
				 &details, CALL_TIMEOUT_MS);
		if (code != GRPC_STATUS_OK) {
			code = fail_code(ret_details, code,
					 "cannot snapshot replica %u of %s on storage node %s: %s",
					 i, v->id, node_name(v->legs[i].node),
					 details ? details : "failed");
			free(details);
			snap_undo(s);
			return code;
		}
		free(details);
		s->created[s->ncreated++] = (Atomblk__Target__V1__Replica *)resp;
		s->items[s->n].node = v->legs[i].node;
		s->items[s->n].rep = (Atomblk__Target__V1__Replica *)resp;
		s->n++;
	}
	return GRPC_STATUS_OK;
}

static grpc_status_code snapshot_params_check(const Csi__V1__CreateSnapshotRequest *req,
					      char **ret_details)
{
	for (size_t i = 0; i < req->n_parameters; i++)
		if (strncmp(req->parameters[i]->key, "csi.storage.k8s.io/", 19))
			return status_fail(ret_details, -EINVAL,
					   "unknown parameter \"%s\" (snapshots take none)",
					   req->parameters[i]->key);
	return GRPC_STATUS_OK;
}

/* The snapshot exists (@sl found files of it): same source? complete it. */
static grpc_status_code snapshot_existing(struct storage_view *view, struct snap *s,
					  const struct lookup *sl, const char *source,
					  char **ret_details)
{
	const char *name = label_get(sl->items[0].rep, LABEL_SNAPSHOT_NAME);
	unsigned int count = 0;
	grpc_status_code code;
	struct lookup vl;
	struct volume v;

	if (!name || strcmp(name, s->name))
		return status_fail(ret_details, -EEXIST,
				   "snapshot id %s is taken by snapshot \"%s\"", s->id,
				   name ? name : "?");
	if (strcmp(sl->items[0].rep->source_id, source))
		return status_fail(ret_details, -EEXIST, "snapshot \"%s\" exists for volume %s",
				   s->name, sl->items[0].rep->source_id);
	for (size_t i = 0; i < sl->n && i < CTRL_REPLICAS_MAX * 2; i++)
		s->items[s->n++] = sl->items[i];
	label_number(sl->items[0].rep, LABEL_REPLICAS, CTRL_REPLICAS_MAX, &count);
	if (s->n >= count)
		return GRPC_STATUS_OK;
	if (!lookup_complete(sl))
		return status_fail(
			ret_details, -EAGAIN,
			"snapshot \"%s\" has %zu of %u files and storage nodes did not answer "
			"(%s): retry later",
			s->name, s->n, count, sl->why);
	/* Finish what a crashed call started, if the volume is still whole. */
	code = volume_find(view, source, &vl, &v, ret_details);
	if (code == GRPC_STATUS_OK && v.nfound == v.params.replicas)
		code = snap_make(s, &v, ret_details);
	else
		code = GRPC_STATUS_OK; /* what exists is a usable snapshot */
	lookup_clear(&vl);
	return code;
}

static grpc_status_code snapshot_fresh(struct storage_view *view, struct snap *s,
				       const char *source, char **ret_details)
{
	grpc_status_code code;
	struct lookup vl;
	struct volume v;

	if (!ctrl_id_valid(CTRL_VOLUME_PREFIX, source))
		return status_fail(ret_details, -ENOENT, "volume %s does not exist", source);
	code = volume_find(view, source, &vl, &v, ret_details);
	if (code == GRPC_STATUS_OK && v.nfound < v.params.replicas)
		code = status_fail(ret_details, lookup_complete(&vl) ? -EBUSY : -EAGAIN,
				   "volume %s has %zu of %u replicas: a snapshot needs them all",
				   source, v.nfound, v.params.replicas);
	if (code == GRPC_STATUS_OK)
		code = snap_make(s, &v, ret_details);
	if (code == GRPC_STATUS_OK)
		log_info("snapshot created", "snapshot_id=%s name=\"%s\" volume_id=%s files=%zu",
			 s->id, s->name, source, s->n);
	lookup_clear(&vl);
	return code;
}

static grpc_status_code controller_create_snapshot(void *userdata, const ProtobufCMessage *msg,
						   ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__CreateSnapshotRequest *req = (const Csi__V1__CreateSnapshotRequest *)msg;
	struct csi_controller *c = userdata;
	Csi__V1__CreateSnapshotResponse *resp;
	char id[CTRL_ID_LEN + 1];
	struct snap s = { .id = id, .name = req->name };
	struct storage_view *view;
	struct lookup sl = {};
	grpc_status_code code;

	if (!req->source_volume_id[0])
		return status_fail(ret_details, -EINVAL, "source_volume_id is required");
	if (!req->name[0])
		return status_fail(ret_details, -EINVAL, "name is required");
	code = snapshot_params_check(req, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	ctrl_id_from_name(CTRL_SNAPSHOT_PREFIX, req->name, id);
	if (vollock_try(c->locks, id) < 0)
		return fail_busy(ret_details, req->name);
	code = view_take(c, &view, ret_details);
	if (code != GRPC_STATUS_OK)
		goto out_unlock;
	if (lookup_run(view, id, NULL, true, &sl) < 0)
		code = status_fail(ret_details, -ENOMEM, "out of memory");
	else if (sl.n)
		code = snapshot_existing(view, &s, &sl, req->source_volume_id, ret_details);
	else
		code = snapshot_fresh(view, &s, req->source_volume_id, ret_details);
	if (code == GRPC_STATUS_OK) {
		resp = zalloc(&csi__v1__create_snapshot_response__descriptor);
		if (resp) {
			*ret_resp = &resp->base;
			resp->snapshot = snapshot_csi(s.items, s.n);
		}
		if (!resp || !resp->snapshot)
			code = status_fail(ret_details, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < s.ncreated; i++)
		protobuf_c_message_free_unpacked(&s.created[i]->base, NULL);
	lookup_clear(&sl);
	storage_view_free(c->set, view);
out_unlock:
	vollock_release(c->locks, id);
	return code;
}

static grpc_status_code controller_list_snapshots(void *userdata, const ProtobufCMessage *msg,
						  ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__ListSnapshotsRequest *req = (const Csi__V1__ListSnapshotsRequest *)msg;
	struct csi_controller *c = userdata;
	Csi__V1__ListSnapshotsResponse *resp = NULL;
	struct group *groups = NULL;
	const char **ids = NULL, *next;
	struct storage_view *view = NULL;
	size_t n, start, count, i, kept;
	struct lookup l = {};
	grpc_status_code code;

	code = page_check(req->max_entries, req->starting_token, CTRL_SNAPSHOT_PREFIX, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	/* Ids that cannot be ours match nothing: an empty list, not an error. */
	if ((req->snapshot_id[0] && !ctrl_id_valid(CTRL_SNAPSHOT_PREFIX, req->snapshot_id)) ||
	    (req->source_volume_id[0] && !ctrl_id_valid(CTRL_VOLUME_PREFIX, req->source_volume_id)))
		return status_reply_empty(&csi__v1__list_snapshots_response__descriptor, ret_resp);
	code = view_take(c, &view, ret_details);
	if (code != GRPC_STATUS_OK)
		return code;
	if (lookup_run(view, req->snapshot_id[0] ? req->snapshot_id : NULL, LABEL_SNAPSHOT_NAME,
		       true, &l) < 0) {
		code = status_fail(ret_details, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0, kept = 0; i < l.n; i++)
		if (!req->source_volume_id[0] ||
		    !strcmp(l.items[i].rep->source_id, req->source_volume_id))
			l.items[kept++] = l.items[i];
	l.n = kept;
	if (groups_make(&l, &groups, &ids, &n) < 0) {
		code = status_fail(ret_details, -ENOMEM, "out of memory");
		goto out;
	}
	ctrl_page(ids, n, req->max_entries, req->starting_token, CTRL_SNAPSHOT_PREFIX, &start,
		  &count, &next);
	resp = zalloc(&csi__v1__list_snapshots_response__descriptor);
	if (!resp || !(resp->entries = calloc(count + 1, sizeof(*resp->entries))) ||
	    (next && !(resp->next_token = strdup(next)))) {
		code = status_fail(ret_details, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = start; i < start + count; i++) {
		Csi__V1__ListSnapshotsResponse__Entry *e =
			zalloc(&csi__v1__list_snapshots_response__entry__descriptor);

		if (!e) {
			code = status_fail(ret_details, -ENOMEM, "out of memory");
			goto out;
		}
		resp->entries[resp->n_entries++] = e;
		e->snapshot = snapshot_csi(&l.items[groups[i].start], groups[i].n);
		if (!e->snapshot) {
			code = status_fail(ret_details, -ENOMEM, "out of memory");
			goto out;
		}
	}
	*ret_resp = &resp->base;
	resp = NULL;
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(groups);
	free(ids);
	lookup_clear(&l);
	storage_view_free(c->set, view);
	return code;
}

/* ---- the service ---------------------------------------------------------------- */

int csi_controller_new(const struct csi_controller_config *cfg, struct csi_controller **ret)
{
	const struct storage_set_config set_cfg = {
		.nodes = cfg->storage_nodes,
		.service = cfg->storage_service,
		.tls = cfg->tls,
		.local_fn = cfg->local_fn,
		.local = cfg->local,
	};
	struct csi_controller *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = storage_set_new(&set_cfg, &c->set);
	if (r == 0)
		r = vollock_new(&c->locks);
	if (r < 0) {
		csi_controller_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

struct csi_controller *csi_controller_free(struct csi_controller *c)
{
	if (c) {
		storage_set_free(c->set);
		vollock_free(c->locks);
		free(c);
	}
	return NULL;
}

int csi_controller_register(struct rpc_server *server, struct csi_controller *c)
{
	const struct rpc_method methods[] = {
		{ "/csi.v1.Controller/CreateVolume", &csi__v1__create_volume_request__descriptor,
		  controller_create_volume, c },
		{ "/csi.v1.Controller/DeleteVolume", &csi__v1__delete_volume_request__descriptor,
		  controller_delete_volume, c },
		{ "/csi.v1.Controller/ControllerExpandVolume",
		  &csi__v1__controller_expand_volume_request__descriptor, controller_expand_volume,
		  c },
		{ "/csi.v1.Controller/ValidateVolumeCapabilities",
		  &csi__v1__validate_volume_capabilities_request__descriptor, controller_validate,
		  c },
		{ "/csi.v1.Controller/ListVolumes", &csi__v1__list_volumes_request__descriptor,
		  controller_list_volumes, c },
		{ "/csi.v1.Controller/GetCapacity", &csi__v1__get_capacity_request__descriptor,
		  controller_get_capacity, c },
		{ "/csi.v1.Controller/ControllerGetVolume",
		  &csi__v1__controller_get_volume_request__descriptor, controller_get_volume, c },
		{ "/csi.v1.Controller/ControllerGetCapabilities",
		  &csi__v1__controller_get_capabilities_request__descriptor,
		  controller_get_capabilities, c },
		{ "/csi.v1.Controller/CreateSnapshot",
		  &csi__v1__create_snapshot_request__descriptor, controller_create_snapshot, c },
		{ "/csi.v1.Controller/DeleteSnapshot",
		  &csi__v1__delete_snapshot_request__descriptor, controller_delete_snapshot, c },
		{ "/csi.v1.Controller/ListSnapshots", &csi__v1__list_snapshots_request__descriptor,
		  controller_list_snapshots, c },
	};

	return rpc_server_add_methods(server, methods, sizeof(methods) / sizeof(methods[0]));
}
