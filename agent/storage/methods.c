// SPDX-License-Identifier: GPL-2.0
/*
 * The target API's methods (proto/target.proto) on a struct storage,
 * called under its lock (storage_call). Every method validates its whole
 * request before it changes anything; a creation writes the journal entry
 * first, then the file, then the export, and undoes what it made when a
 * later step fails, so a crash never leaves a replica nobody knows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/journal.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/status.h"
#include "storage/internal.h"

typedef Atomblk__Target__V1__Replica Replica;
typedef Atomblk__Target__V1__NvmeAddress NvmeAddress;

static grpc_status_code __attribute__((format(printf, 3, 4)))
fail(char **ret_details, grpc_status_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_details, fmt, ap) < 0)
		*ret_details = NULL;
	va_end(ap);
	return code;
}

static grpc_status_code fail_nomem(char **ret_details)
{
	return fail(ret_details, GRPC_STATUS_INTERNAL, "out of memory");
}

static grpc_status_code nvmet_unavailable(struct storage *s, char **ret_details)
{
	return fail(ret_details, GRPC_STATUS_UNAVAILABLE, "nvmet is not available: %s",
		    s->nvmet_error);
}

/* --- request checks -------------------------------------------------------------- */

static grpc_status_code check_id(const char *what, const char *id, char **ret_details)
{
	if (pool_name_is_valid(id))
		return GRPC_STATUS_OK;
	return fail(
		ret_details, GRPC_STATUS_INVALID_ARGUMENT,
		"%s \"%.140s\" is not 1 to %d characters of [A-Za-z0-9._-] not starting with '.'",
		what, id ? id : "", POOL_NAME_MAX);
}

static grpc_status_code check_size(uint64_t size, char **ret_details)
{
	if (size && size % POOL_BLOCK_SIZE == 0 && size <= (uint64_t)INT64_MAX)
		return GRPC_STATUS_OK;
	return fail(ret_details, GRPC_STATUS_INVALID_ARGUMENT,
		    "size_bytes %llu is not a positive multiple of %llu", (unsigned long long)size,
		    POOL_BLOCK_SIZE);
}

/*
 * The request's labels as a JSON object (a repeated key wins last, as a
 * protobuf map does). Both label entry types share one layout.
 */
static grpc_status_code labels_from_request(size_t n, Atomblk__Target__V1__Replica__LabelsEntry **e,
					    json_t **ret, char **ret_details)
{
	json_t *labels;

	if (n > STORAGE_LABELS_MAX)
		return fail(ret_details, GRPC_STATUS_INVALID_ARGUMENT, "%zu labels, at most %d", n,
			    STORAGE_LABELS_MAX);
	labels = json_object();
	if (!labels)
		return fail_nomem(ret_details);
	for (size_t i = 0; i < n; i++) {
		const char *k = e[i]->key, *v = e[i]->value;

		if (!*k || strlen(k) > STORAGE_LABEL_KEY_MAX ||
		    strlen(v) > STORAGE_LABEL_VALUE_MAX ||
		    json_object_set_new(labels, k, json_string(v))) {
			json_decref(labels);
			return fail(
				ret_details, GRPC_STATUS_INVALID_ARGUMENT,
				"label \"%.64s\": keys are 1 to %d bytes, values at most %d bytes of UTF-8",
				k, STORAGE_LABEL_KEY_MAX, STORAGE_LABEL_VALUE_MAX);
		}
	}
	*ret = labels;
	return GRPC_STATUS_OK;
}

/* The record of @id when its pool file exists too (*ret_size: the file's size). */
static int live_record(struct storage *s, const char *id, json_t **ret, uint64_t *ret_size)
{
	struct pool_entry entry;
	json_t *rec;
	int r;

	r = storage_record_get(s, id, &rec);
	if (r)
		return r;
	r = pool_stat(s->pool, id, &entry);
	if (r) {
		json_decref(rec);
		return r;
	}
	if (ret_size)
		*ret_size = entry.size;
	*ret = rec;
	return 0;
}

/* --- replies ---------------------------------------------------------------------- */

static NvmeAddress *address_new(const struct nvmet_address *a)
{
	NvmeAddress *m = malloc(sizeof(*m));

	if (!m)
		return NULL;
	atomblk__target__v1__nvme_address__init(m);
	m->trtype = strdup(a->trtype);
	m->adrfam = strdup(a->adrfam);
	m->traddr = strdup(a->traddr);
	m->trsvcid = strdup(a->trsvcid);
	if (!m->trtype || !m->adrfam || !m->traddr || !m->trsvcid) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return NULL;
	}
	return m;
}

/*
 * The Replica message of @id (record @rec; @exp: its export, or NULL).
 * Every string is malloc'd (the server frees the reply as unpacked).
 */
static Replica *replica_build(struct storage *s, const char *id, json_t *rec,
			      const struct nvmet_export *exp)
{
	json_t *labels = storage_record_labels(rec), *hosts = storage_record_hosts(rec), *v;
	struct pool_entry entry = {};
	const char *key;
	Replica *m;
	size_t i;
	bool ok;

	m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	atomblk__target__v1__replica__init(m);
	pool_stat(s->pool, id, &entry);
	m->id = strdup(id);
	m->size_bytes = entry.size;
	m->allocated_bytes = entry.allocated;
	m->snapshot = storage_record_is_snapshot(rec);
	m->source_id = strdup(storage_record_source(rec));
	m->created_seconds = json_integer_value(json_object_get(rec, "created_seconds"));
	m->created_nanos = (int32_t)json_integer_value(json_object_get(rec, "created_nanos"));
	m->nqn = malloc(NVMET_NQN_MAX + 1);
	ok = m->id && m->source_id && m->nqn;
	if (m->nqn && (m->snapshot || nvmet_nqn(STORAGE_XNAME(s, id), m->nqn, NVMET_NQN_MAX + 1)))
		m->nqn[0] = '\0';

	m->labels = calloc(json_object_size(labels) + 1, sizeof(*m->labels));
	ok = ok && m->labels;
	json_object_foreach(labels, key, v) {
		Atomblk__Target__V1__Replica__LabelsEntry *e;

		if (!ok)
			break;
		e = malloc(sizeof(*e));
		if (!e) {
			ok = false;
			break;
		}
		atomblk__target__v1__replica__labels_entry__init(e);
		m->labels[m->n_labels++] = e;
		e->key = strdup(key);
		e->value = strdup(json_string_value(v) ?: "");
		ok = e->key && e->value;
	}

	m->allowed_hosts = calloc(json_array_size(hosts) + 1, sizeof(char *));
	ok = ok && m->allowed_hosts;
	json_array_foreach(hosts, i, v) {
		if (!ok)
			break;
		m->allowed_hosts[m->n_allowed_hosts] = strdup(json_string_value(v) ?: "");
		ok = m->allowed_hosts[m->n_allowed_hosts++] != NULL;
	}

	if (ok && exp && !m->snapshot) {
		m->addresses = calloc(exp->naddrs + 1, sizeof(*m->addresses));
		ok = m->addresses;
		for (i = 0; ok && i < exp->naddrs; i++) {
			m->addresses[m->n_addresses] = address_new(&exp->addrs[i]);
			ok = m->addresses[m->n_addresses++] != NULL;
		}
	}
	if (!ok) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return NULL;
	}
	return m;
}

/* Find @id among @exports (sorted by name), or NULL. */
static const struct nvmet_export *export_find(const struct nvmet_export *exports, size_t n,
					      const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(exports[i].name, id))
			return &exports[i];
	return NULL;
}

/* Reply with the Replica of @id (its export looked up in configfs). */
static grpc_status_code reply_replica(struct storage *s, const char *id, json_t *rec,
				      ProtobufCMessage **ret_resp, char **ret_details)
{
	struct nvmet_export *exports = NULL;
	size_t n = 0;
	Replica *m;

	if (s->nvmet_available && !storage_record_is_snapshot(rec))
		nvmet_list(s->nvmet_root, &exports, &n);
	m = replica_build(s, id, rec, export_find(exports, n, STORAGE_XNAME(s, id)));
	free(exports);
	if (!m)
		return fail_nomem(ret_details);
	*ret_resp = &m->base;
	return GRPC_STATUS_OK;
}

/* --- GetInfo, ListReplicas -------------------------------------------------------- */

static grpc_status_code get_info(struct storage *s, const ProtobufCMessage *req,
				 ProtobufCMessage **ret_resp, char **ret_details)
{
	Atomblk__Target__V1__GetInfoResponse *m;
	struct pool_capacity cap;
	bool ok;
	int r;

	r = pool_capacity(s->pool, &cap);
	if (r)
		return fail(ret_details, GRPC_STATUS_INTERNAL, "pool capacity: %s", strerror(-r));
	storage_nvmet_check(s);
	m = malloc(sizeof(*m));
	if (!m)
		return fail_nomem(ret_details);
	atomblk__target__v1__get_info_response__init(m);
	m->api_version = STORAGE_API_VERSION;
	m->node_id = strdup(s->node_id);
	m->capacity_total = cap.total;
	m->capacity_available = cap.available;
	m->reflink = s->reflink;
	m->topology = calloc(s->n_topology + 1, sizeof(*m->topology));
	m->addresses = calloc(2, sizeof(*m->addresses));
	ok = m->node_id && m->topology && m->addresses;
	for (unsigned int i = 0; ok && i < s->n_topology; i++) {
		Atomblk__Target__V1__GetInfoResponse__TopologyEntry *e = malloc(sizeof(*e));

		if (!e) {
			ok = false;
			break;
		}
		atomblk__target__v1__get_info_response__topology_entry__init(e);
		m->topology[m->n_topology++] = e;
		e->key = strdup(s->topology_keys[i]);
		e->value = strdup(s->topology_values[i]);
		ok = e->key && e->value;
	}
	if (ok) {
		m->addresses[m->n_addresses] = address_new(&s->tcp);
		ok = m->addresses[m->n_addresses++] != NULL;
	}
	if (ok && s->rdma_on) {
		m->addresses[m->n_addresses] = address_new(&s->rdma);
		ok = m->addresses[m->n_addresses++] != NULL;
	}
	if (!ok) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return fail_nomem(ret_details);
	}
	*ret_resp = &m->base;
	return GRPC_STATUS_OK;
}

static bool record_matches_filter(json_t *rec, const Atomblk__Target__V1__ListReplicasRequest *q)
{
	json_t *v;

	if (!*q->label_key)
		return true;
	v = json_object_get(storage_record_labels(rec), q->label_key);
	return v && (!*q->label_value || !strcmp(json_string_value(v) ?: "", q->label_value));
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static grpc_status_code list_replicas(struct storage *s, const ProtobufCMessage *req,
				      ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__ListReplicasRequest *q = (const void *)req;
	Atomblk__Target__V1__ListReplicasResponse *m;
	struct nvmet_export *exports = NULL;
	size_t n_keys, n_exports = 0, i;
	const char **ids;
	json_t *keys, *k;
	bool ok = true;

	if (*q->id && check_id("id", q->id, ret_details) != GRPC_STATUS_OK)
		return GRPC_STATUS_INVALID_ARGUMENT;
	if (journal_keys(s->journal, &keys))
		return fail_nomem(ret_details);
	n_keys = json_array_size(keys);
	ids = calloc(n_keys + 1, sizeof(*ids));
	m = malloc(sizeof(*m));
	if (!ids || !m) {
		free(ids);
		free(m);
		json_decref(keys);
		return fail_nomem(ret_details);
	}
	json_array_foreach(keys, i, k)
		ids[i] = json_string_value(k);
	qsort(ids, n_keys, sizeof(*ids), compare_strings);
	storage_nvmet_check(s);
	if (s->nvmet_available)
		nvmet_list(s->nvmet_root, &exports, &n_exports);

	atomblk__target__v1__list_replicas_response__init(m);
	m->replicas = calloc(n_keys + 1, sizeof(*m->replicas));
	ok = m->replicas;
	for (i = 0; ok && i < n_keys; i++) {
		json_t *rec;
		Replica *r;

		if ((*q->id && strcmp(q->id, ids[i])) || live_record(s, ids[i], &rec, NULL))
			continue;
		if (record_matches_filter(rec, q)) {
			r = replica_build(
				s, ids[i], rec,
				export_find(exports, n_exports, STORAGE_XNAME(s, ids[i])));
			if (r)
				m->replicas[m->n_replicas++] = r;
			ok = r != NULL;
		}
		json_decref(rec);
	}
	free(exports);
	free(ids);
	json_decref(keys);
	if (!ok) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return fail_nomem(ret_details);
	}
	*ret_resp = &m->base;
	return GRPC_STATUS_OK;
}

/* --- CreateReplica, DeleteReplica, ExpandReplica ---------------------------------- */

/* The gRPC status for a pool error while making @id. */
static grpc_status_code pool_failure(int r, const char *what, const char *id, char **ret_details)
{
	switch (r) {
	case -ENOSPC:
		return fail(ret_details, GRPC_STATUS_RESOURCE_EXHAUSTED,
			    "%s %s: the pool has not enough capacity left", what, id);
	case -EEXIST:
		return fail(ret_details, GRPC_STATUS_ALREADY_EXISTS,
			    "%s %s: a file of that name is in the pool and is not ours", what, id);
	case -EOPNOTSUPP:
		return fail(ret_details, GRPC_STATUS_FAILED_PRECONDITION,
			    "%s %s: the pool's filesystem cannot reflink", what, id);
	case -EINVAL:
		return fail(ret_details, GRPC_STATUS_INVALID_ARGUMENT,
			    "%s %s: size_bytes is smaller than the source's size", what, id);
	default:
		return fail(ret_details, GRPC_STATUS_INTERNAL, "%s %s: %s", what, id, strerror(-r));
	}
}

/* A source for a clone or snapshot: known, with its file, reflink possible. */
static grpc_status_code check_source(struct storage *s, const char *source, bool must_be_replica,
				     char **ret_details)
{
	json_t *rec;
	bool snapshot;

	if (live_record(s, source, &rec, NULL))
		return fail(ret_details, GRPC_STATUS_NOT_FOUND,
			    "source %s: no such replica or snapshot", source);
	snapshot = storage_record_is_snapshot(rec);
	json_decref(rec);
	if (must_be_replica && snapshot)
		return fail(ret_details, GRPC_STATUS_INVALID_ARGUMENT,
			    "source %s is a snapshot; snapshot a replica", source);
	if (!s->reflink)
		return fail(ret_details, GRPC_STATUS_FAILED_PRECONDITION,
			    "the pool's filesystem cannot reflink: no snapshots or clones");
	return GRPC_STATUS_OK;
}

/*
 * An existing record of @id for a repeated create: the same kind, source
 * and labels (and @size when not 0) is the same object, OK; anything else
 * ALREADY_EXISTS. A record whose file is gone is stale (a crash between
 * journal and file): dropped, and the create goes on (*ret_stale).
 */
static grpc_status_code check_repeat(struct storage *s, const char *id, bool snapshot,
				     const char *source, json_t *labels, uint64_t size,
				     json_t **ret_rec, char **ret_details)
{
	uint64_t have_size = 0;
	json_t *rec;
	int r;

	*ret_rec = NULL;
	r = storage_record_get(s, id, &rec);
	if (r == -ENOENT)
		return GRPC_STATUS_OK;
	if (r)
		return fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r));
	json_decref(rec);
	r = live_record(s, id, &rec, &have_size);
	if (r == -ENOENT) {
		log_warn("stale journal entry without its file dropped", "id=%s", id);
		r = journal_remove(s->journal, id);
		return r ? fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r)) :
			   GRPC_STATUS_OK;
	}
	if (r)
		return fail(ret_details, GRPC_STATUS_INTERNAL, "%s: %s", id, strerror(-r));
	if (storage_record_is_snapshot(rec) != snapshot) {
		json_decref(rec);
		return fail(ret_details, GRPC_STATUS_ALREADY_EXISTS, "%s exists and is a %s", id,
			    snapshot ? "replica" : "snapshot");
	}
	if (strcmp(storage_record_source(rec), source) ||
	    !json_equal(storage_record_labels(rec), labels) || (size && size != have_size)) {
		grpc_status_code code =
			fail(ret_details, GRPC_STATUS_ALREADY_EXISTS,
			     "%s exists with another %s (size %llu, source \"%s\")", id,
			     strcmp(storage_record_source(rec), source) ? "source" :
			     (size && size != have_size)		? "size" :
									  "label set",
			     (unsigned long long)have_size, storage_record_source(rec));

		json_decref(rec);
		return code;
	}
	*ret_rec = rec;
	return GRPC_STATUS_OK;
}

static grpc_status_code create_replica(struct storage *s, const ProtobufCMessage *req,
				       ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__CreateReplicaRequest *q = (const void *)req;
	const char *source = q->source_id;
	json_t *labels = NULL, *rec = NULL;
	grpc_status_code code;
	int r;

	if ((code = check_id("id", q->id, ret_details)) ||
	    (code = check_size(q->size_bytes, ret_details)) ||
	    (*source && (code = check_id("source_id", source, ret_details))))
		return code;
	code = labels_from_request(q->n_labels, (void *)q->labels, &labels, ret_details);
	if (code)
		return code;
	if (!storage_nvmet_check(s)) {
		json_decref(labels);
		return nvmet_unavailable(s, ret_details);
	}
	code = check_repeat(s, q->id, false, source, labels, q->size_bytes, &rec, ret_details);
	if (code || rec) {
		json_decref(labels);
		if (code)
			return code;
		/* the same replica again: complete its export (a crash may have cut it short) */
		r = storage_export_sync(s, q->id, rec);
		code = r ? fail(ret_details, GRPC_STATUS_INTERNAL, "export %s: %s", q->id,
				strerror(-r)) :
			   reply_replica(s, q->id, rec, ret_resp, ret_details);
		json_decref(rec);
		return code;
	}
	if (*source && (code = check_source(s, source, false, ret_details))) {
		json_decref(labels);
		return code;
	}

	/* 1. the journal entry: from here on a crash leaves nothing unknown */
	rec = storage_record_new(false, source, labels);
	json_decref(labels);
	if (!rec)
		return fail_nomem(ret_details);
	r = journal_set(s->journal, q->id, rec);
	if (r) {
		json_decref(rec);
		return fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r));
	}
	/* 2. the file */
	r = *source ? pool_clone(s->pool, source, q->id, q->size_bytes) :
		      pool_create(s->pool, q->id, q->size_bytes);
	if (r) {
		code = pool_failure(r, "create replica", q->id, ret_details);
		goto undo_journal;
	}
	/* 3. the export, closed to every host */
	r = storage_export_sync(s, q->id, rec);
	if (r) {
		code = fail(ret_details, GRPC_STATUS_INTERNAL, "export %s: %s", q->id,
			    strerror(-r));
		nvmet_unexport(s->nvmet_root, STORAGE_XNAME(s, q->id));
		pool_delete(s->pool, q->id);
		goto undo_journal;
	}
	log_info("replica created", "id=%s size=%llu source=%s", q->id,
		 (unsigned long long)q->size_bytes, *source ? source : "none");
	code = reply_replica(s, q->id, rec, ret_resp, ret_details);
	json_decref(rec);
	return code;

undo_journal:
	journal_remove(s->journal, q->id);
	json_decref(rec);
	return code;
}

/* Delete replica or snapshot @id: unexport, file, journal entry. Absent: fine. */
static grpc_status_code delete_object(struct storage *s, const char *id, bool snapshot,
				      char **ret_details)
{
	json_t *rec;
	bool is_snapshot;
	int r;

	r = storage_record_get(s, id, &rec);
	if (r == -ENOENT)
		return GRPC_STATUS_OK;
	if (r)
		return fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r));
	is_snapshot = storage_record_is_snapshot(rec);
	json_decref(rec);
	if (is_snapshot != snapshot)
		return fail(ret_details, GRPC_STATUS_INVALID_ARGUMENT, "%s is a %s: %s removes it",
			    id, is_snapshot ? "snapshot" : "replica",
			    is_snapshot ? "DeleteSnapshot" : "DeleteReplica");
	if (!snapshot && s->nvmet_available &&
	    (r = nvmet_unexport(s->nvmet_root, STORAGE_XNAME(s, id))))
		return fail(ret_details, GRPC_STATUS_INTERNAL, "unexport %s: %s", id, strerror(-r));
	r = pool_delete(s->pool, id);
	if (r)
		return fail(ret_details, GRPC_STATUS_INTERNAL, "delete %s: %s", id, strerror(-r));
	r = journal_remove(s->journal, id);
	if (r)
		return fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r));
	log_info(snapshot ? "snapshot deleted" : "replica deleted", "id=%s", id);
	return GRPC_STATUS_OK;
}

/* DeleteReplica and DeleteSnapshot: @id of its kind gone, an empty reply of @desc. */
static grpc_status_code delete_request(struct storage *s, const char *id, bool snapshot,
				       const ProtobufCMessageDescriptor *desc,
				       ProtobufCMessage **ret_resp, char **ret_details)
{
	grpc_status_code code;

	if ((code = check_id("id", id, ret_details)))
		return code;
	if (!snapshot) /* snapshots are never exported */
		storage_nvmet_check(s);
	code = delete_object(s, id, snapshot, ret_details);
	if (code)
		return code;
	return status_reply_empty(desc, ret_resp);
}

static grpc_status_code delete_replica(struct storage *s, const ProtobufCMessage *req,
				       ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__DeleteReplicaRequest *q = (const void *)req;

	return delete_request(s, q->id, false,
			      &atomblk__target__v1__delete_replica_response__descriptor, ret_resp,
			      ret_details);
}

/* The record of replica @id (not a snapshot) for a change; NOT_FOUND / FAILED_PRECONDITION. */
static grpc_status_code writable_replica(struct storage *s, const char *id, json_t **ret,
					 uint64_t *ret_size, char **ret_details)
{
	if (live_record(s, id, ret, ret_size))
		return fail(ret_details, GRPC_STATUS_NOT_FOUND, "no replica %s", id);
	if (storage_record_is_snapshot(*ret)) {
		json_decref(*ret);
		return fail(ret_details, GRPC_STATUS_FAILED_PRECONDITION,
			    "%s is a snapshot: it cannot be written to or exported", id);
	}
	return GRPC_STATUS_OK;
}

static grpc_status_code expand_replica(struct storage *s, const ProtobufCMessage *req,
				       ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__ExpandReplicaRequest *q = (const void *)req;
	grpc_status_code code;
	uint64_t size = 0;
	json_t *rec;
	int r;

	if ((code = check_id("id", q->id, ret_details)) ||
	    (code = check_size(q->size_bytes, ret_details)))
		return code;
	if (!storage_nvmet_check(s))
		return nvmet_unavailable(s, ret_details);
	code = writable_replica(s, q->id, &rec, &size, ret_details);
	if (code)
		return code;
	if (q->size_bytes < size) {
		json_decref(rec);
		return fail(ret_details, GRPC_STATUS_INVALID_ARGUMENT,
			    "%s is %llu bytes: replicas only grow", q->id,
			    (unsigned long long)size);
	}
	r = pool_expand(s->pool, q->id, q->size_bytes);
	if (r) {
		json_decref(rec);
		return pool_failure(r, "expand replica", q->id, ret_details);
	}
	/* Also on a repeat: the announce of an earlier call may have failed. */
	r = nvmet_revalidate_size(s->nvmet_root, STORAGE_XNAME(s, q->id));
	if (r == -ENOENT)
		r = storage_export_sync(s, q->id, rec);
	if (r) {
		json_decref(rec);
		return fail(ret_details, GRPC_STATUS_INTERNAL,
			    "%s grew but nvmet cannot announce it: %s", q->id, strerror(-r));
	}
	if (q->size_bytes != size)
		log_info("replica expanded", "id=%s size=%llu old_size=%llu", q->id,
			 (unsigned long long)q->size_bytes, (unsigned long long)size);
	code = reply_replica(s, q->id, rec, ret_resp, ret_details);
	json_decref(rec);
	return code;
}

/* --- CreateSnapshot, DeleteSnapshot ----------------------------------------------- */

static grpc_status_code create_snapshot(struct storage *s, const ProtobufCMessage *req,
					ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__CreateSnapshotRequest *q = (const void *)req;
	json_t *labels = NULL, *rec = NULL;
	grpc_status_code code;
	int r;

	if ((code = check_id("id", q->id, ret_details)) ||
	    (code = check_id("source_id", q->source_id, ret_details)))
		return code;
	code = labels_from_request(q->n_labels, (void *)q->labels, &labels, ret_details);
	if (code)
		return code;
	code = check_repeat(s, q->id, true, q->source_id, labels, 0, &rec, ret_details);
	if (code || rec) {
		json_decref(labels);
		if (!code)
			code = reply_replica(s, q->id, rec, ret_resp, ret_details);
		json_decref(rec);
		return code;
	}
	code = check_source(s, q->source_id, true, ret_details);
	if (code) {
		json_decref(labels);
		return code;
	}
	rec = storage_record_new(true, q->source_id, labels);
	json_decref(labels);
	if (!rec)
		return fail_nomem(ret_details);
	r = journal_set(s->journal, q->id, rec);
	if (r) {
		json_decref(rec);
		return fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r));
	}
	r = pool_snapshot(s->pool, q->source_id, q->id);
	if (r) {
		code = pool_failure(r, "create snapshot", q->id, ret_details);
		journal_remove(s->journal, q->id);
		json_decref(rec);
		return code;
	}
	log_info("snapshot created", "id=%s source=%s", q->id, q->source_id);
	code = reply_replica(s, q->id, rec, ret_resp, ret_details);
	json_decref(rec);
	return code;
}

static grpc_status_code delete_snapshot(struct storage *s, const ProtobufCMessage *req,
					ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__DeleteSnapshotRequest *q = (const void *)req;

	return delete_request(s, q->id, true,
			      &atomblk__target__v1__delete_snapshot_response__descriptor, ret_resp,
			      ret_details);
}

/* --- AllowHost, DisallowHost ------------------------------------------------------- */

static ssize_t host_index(json_t *hosts, const char *nqn)
{
	json_t *h;
	size_t i;

	json_array_foreach(hosts, i, h)
		if (!strcmp(json_string_value(h) ?: "", nqn))
			return (ssize_t)i;
	return -1;
}

/*
 * Allow (@allow) or disallow host @nqn on replica @id. Allowing: journal,
 * then configfs (undone on failure). Disallowing: journal first too, so
 * that a crash in between never gives access back at the next start.
 */
static grpc_status_code change_host(struct storage *s, const char *id, const char *nqn, bool allow,
				    ProtobufCMessage **ret_resp, char **ret_details)
{
	grpc_status_code code;
	json_t *rec, *old, *hosts;
	ssize_t at;
	int r;

	if ((code = check_id("id", id, ret_details)))
		return code;
	if (!nvmet_host_nqn_is_valid(nqn))
		return fail(
			ret_details, GRPC_STATUS_INVALID_ARGUMENT,
			"host_nqn \"%.240s\" is not an NQN (\"nqn.\", at most %d bytes, no '/')",
			nqn, NVMET_NQN_MAX);
	if (!storage_nvmet_check(s))
		return nvmet_unavailable(s, ret_details);
	code = writable_replica(s, id, &rec, NULL, ret_details);
	if (code)
		return code;
	old = json_deep_copy(rec);
	hosts = storage_record_hosts(rec);
	at = host_index(hosts, nqn);
	if (!old) {
		json_decref(rec);
		return fail_nomem(ret_details);
	}
	if (allow && at < 0 && json_array_size(hosts) >= STORAGE_HOSTS_MAX) {
		code = fail(ret_details, GRPC_STATUS_RESOURCE_EXHAUSTED,
			    "%s already allows %d hosts", id, STORAGE_HOSTS_MAX);
		goto out;
	}
	if (allow && at < 0)
		json_array_append_new(hosts, json_string(nqn));
	else if (!allow && at >= 0)
		json_array_remove(hosts, (size_t)at);
	if (!json_equal(rec, old) && (r = journal_set(s->journal, id, rec))) {
		code = fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r));
		goto out;
	}
	r = storage_export_sync(s, id, rec);
	if (r) {
		code = fail(ret_details, GRPC_STATUS_INTERNAL, "%s host %s on %s: %s",
			    allow ? "allow" : "disallow", nqn, id, strerror(-r));
		if (allow && at < 0) {
			journal_set(s->journal, id, old);
			nvmet_disallow_host(s->nvmet_root, STORAGE_XNAME(s, id), nqn);
		}
		goto out;
	}
	if ((allow && at < 0) || (!allow && at >= 0))
		log_info(allow ? "host allowed" : "host disallowed", "id=%s host=%s", id, nqn);
	code = reply_replica(s, id, rec, ret_resp, ret_details);
out:
	json_decref(old);
	json_decref(rec);
	return code;
}

static grpc_status_code allow_host(struct storage *s, const ProtobufCMessage *req,
				   ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__AllowHostRequest *q = (const void *)req;

	return change_host(s, q->id, q->host_nqn, true, ret_resp, ret_details);
}

static grpc_status_code disallow_host(struct storage *s, const ProtobufCMessage *req,
				      ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__DisallowHostRequest *q = (const void *)req;

	return change_host(s, q->id, q->host_nqn, false, ret_resp, ret_details);
}

/* --- SetLabels ---------------------------------------------------------------------- */

/* @labels with the request applied, into *@ret (a new object); INVALID_ARGUMENT for a bad key. */
static grpc_status_code labels_apply(json_t *labels, const Atomblk__Target__V1__SetLabelsRequest *q,
				     json_t **ret, char **ret_details)
{
	grpc_status_code code;
	json_t *set, *out;
	const char *key;
	json_t *v;

	code = labels_from_request(q->n_set, (void *)q->set, &set, ret_details);
	if (code)
		return code;
	for (size_t i = 0; i < q->n_remove; i++) {
		const char *k = q->remove[i];

		if (!*k || strlen(k) > STORAGE_LABEL_KEY_MAX || json_object_get(set, k)) {
			json_decref(set);
			return fail(
				ret_details, GRPC_STATUS_INVALID_ARGUMENT,
				"remove \"%.64s\": keys are 1 to %d bytes, and a key is either set or removed",
				k, STORAGE_LABEL_KEY_MAX);
		}
	}
	out = json_deep_copy(labels);
	if (!out) {
		json_decref(set);
		return fail_nomem(ret_details);
	}
	json_object_foreach(set, key, v)
		json_object_set(out, key, v);
	json_decref(set);
	for (size_t i = 0; i < q->n_remove; i++)
		json_object_del(out, q->remove[i]);
	if (json_object_size(out) > STORAGE_LABELS_MAX) {
		size_t n = json_object_size(out);

		json_decref(out);
		return fail(ret_details, GRPC_STATUS_INVALID_ARGUMENT, "%zu labels, at most %d", n,
			    STORAGE_LABELS_MAX);
	}
	*ret = out;
	return GRPC_STATUS_OK;
}

/*
 * Set and remove labels of a replica or snapshot. Only the journal holds
 * labels (nvmet knows none), so the journal write is the change: a failed
 * write changes nothing, and a repeat finds nothing to do.
 */
static grpc_status_code set_labels(struct storage *s, const ProtobufCMessage *req,
				   ProtobufCMessage **ret_resp, char **ret_details)
{
	const Atomblk__Target__V1__SetLabelsRequest *q = (const void *)req;
	json_t *rec, *labels = NULL;
	grpc_status_code code;
	int r;

	if ((code = check_id("id", q->id, ret_details)))
		return code;
	if (live_record(s, q->id, &rec, NULL)) {
		json_t *none = json_object();

		/* a bad request is INVALID_ARGUMENT whether the id exists or not */
		code = none ? labels_apply(none, q, &labels, ret_details) : fail_nomem(ret_details);
		json_decref(labels);
		json_decref(none);
		return code ? code :
			      fail(ret_details, GRPC_STATUS_NOT_FOUND, "no replica or snapshot %s",
				   q->id);
	}
	code = labels_apply(storage_record_labels(rec), q, &labels, ret_details);
	if (code) {
		json_decref(rec);
		return code;
	}
	if (!json_equal(labels, storage_record_labels(rec))) {
		json_object_set(rec, "labels", labels);
		r = journal_set(s->journal, q->id, rec);
		if (r) {
			json_decref(labels);
			json_decref(rec);
			return fail(ret_details, GRPC_STATUS_INTERNAL, "journal: %s", strerror(-r));
		}
		log_info("labels changed", "id=%s set=%zu remove=%zu", q->id, q->n_set,
			 q->n_remove);
	}
	json_decref(labels);
	code = reply_replica(s, q->id, rec, ret_resp, ret_details);
	json_decref(rec);
	return code;
}

typedef grpc_status_code (*storage_method_fn)(struct storage *s, const ProtobufCMessage *req,
					      ProtobufCMessage **ret_resp, char **ret_details);

static const storage_method_fn storage_methods[TARGET_METHOD_COUNT] = {
	[TARGET_GET_INFO] = get_info,
	[TARGET_CREATE_REPLICA] = create_replica,
	[TARGET_DELETE_REPLICA] = delete_replica,
	[TARGET_EXPAND_REPLICA] = expand_replica,
	[TARGET_CREATE_SNAPSHOT] = create_snapshot,
	[TARGET_DELETE_SNAPSHOT] = delete_snapshot,
	[TARGET_LIST_REPLICAS] = list_replicas,
	[TARGET_ALLOW_HOST] = allow_host,
	[TARGET_DISALLOW_HOST] = disallow_host,
	[TARGET_SET_LABELS] = set_labels,
};

grpc_status_code storage_method_call(struct storage *s, enum target_method method,
				     const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				     char **ret_details)
{
	grpc_status_code code = storage_methods[method](s, req, ret_resp, ret_details);

	if (code == GRPC_STATUS_INTERNAL)
		log_error("target call failed", "method=%s error=\"%s\"",
			  target_methods[method].path, *ret_details ? *ret_details : "?");
	return code;
}
