/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The storage role's private header: struct storage and what storage.c
 * (lifecycle, journal records, exports, reconcile) offers methods.c (the
 * target API's handlers).
 *
 * A journal record (key: the replica or snapshot id) is a JSON object:
 *   {"snapshot": false, "source_id": "", "labels": {"k": "v"},
 *    "hosts": ["nqn..."], "created_seconds": 1764201600, "created_nanos": 0}
 * The pool file is the truth for the size; configfs for the export.
 */
#ifndef ATOMBLK_STORAGE_INTERNAL_H
#define ATOMBLK_STORAGE_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include "lib/nvmet.h"
#include "lib/pool.h"
#include "storage/storage.h"

#define STORAGE_JOURNAL_NAME "storage.json"
#define STORAGE_API_VERSION 2 /* GetInfo's api_version: proto/target.proto, Versioning */
#define STORAGE_TOPOLOGY_MAX 16 /* topology segments */
#define STORAGE_LABELS_MAX 64 /* labels per replica */
#define STORAGE_LABEL_KEY_MAX 256 /* bytes of a label key */
#define STORAGE_LABEL_VALUE_MAX 1024 /* bytes of a label value */
#define STORAGE_HOSTS_MAX 64 /* allowed hosts per replica */
#define STORAGE_EXPORT_TAG_MAX 48 /* bytes of the node tag in export names */

/* One registered method: what an rpc_server handler's userdata points to. */
struct storage_binding {
	struct storage *s;
	enum target_method method;
};

struct storage {
	pthread_mutex_t lock; /* every call: the pool and nvmet libs are not thread-safe */
	char *node_id; /* GetInfo's node_id */
	char *topology_keys[STORAGE_TOPOLOGY_MAX]; /* parsed topology, malloc'd */
	char *topology_values[STORAGE_TOPOLOGY_MAX];
	unsigned int n_topology;
	char pool_dir[PATH_MAX]; /* the pool directory */
	struct pool *pool;
	struct journal *journal; /* <state_dir>/storage.json */
	char *nvmet_root; /* NULL: the default configfs tree */
	bool nvmet_managed; /* nvmet_root is the default: modules may be loaded */
	bool nvmet_available; /* the configfs tree is there */
	char nvmet_error[256]; /* why it is not, for UNAVAILABLE details */
	struct nvmet_address tcp; /* the TCP listening address */
	struct nvmet_address rdma; /* the RDMA one (valid when rdma_on) */
	bool rdma_on; /* subsystems are linked into an RDMA port too */
	bool rdma_required; /* --nvme-rdma=true: an RDMA failure is an error */
	bool reflink; /* FICLONE works on the pool's filesystem */
	char export_prefix[STORAGE_EXPORT_TAG_MAX +
			   2]; /* "<node tag>.": see storage_export_name() */
	struct storage_binding bindings[TARGET_METHOD_COUNT];
};

/* storage_record_get() - the record of @id (json_decref() it); -ENOENT if none. */
int storage_record_get(struct storage *s, const char *id, json_t **ret);

/* Fields of a record; the strings and objects belong to @rec. */
bool storage_record_is_snapshot(json_t *rec);
const char *storage_record_source(json_t *rec);
json_t *storage_record_labels(json_t *rec); /* an object */
json_t *storage_record_hosts(json_t *rec); /* an array of strings */

/* storage_record_new() - a fresh record created now (json_decref() it); NULL: -ENOMEM. */
json_t *storage_record_new(bool snapshot, const char *source_id, json_t *labels);

/*
 * storage_nvmet_check() - is nvmet there (now)? When it appeared since the
 * last look, the journal's exports are recreated first.
 */
bool storage_nvmet_check(struct storage *s);

/*
 * storage_export_sync() - make replica @id's export match its record
 * @rec: exported (idempotent) on the node's ports, allowed hosts exactly
 * the record's. Return: 0 or -errno (nvmet's).
 */
int storage_export_sync(struct storage *s, const char *id, json_t *rec);

/*
 * Export names: a replica's subsystem is named "<node tag>.<replica id>"
 * (NQN nqn.2026-11.io.atomblk:<node tag>.<id>), the node tag being the node
 * id (or a hash of it when it is long or has characters a pool name may
 * not). Replica ids repeat across storage nodes (a volume's replicas share
 * its id), subsystem NQNs must not: a node connecting two legs of one
 * volume would see one subsystem with two paths. Exports with another
 * node's tag (a shared configfs tree in tests) are not ours.
 *
 * storage_export_name() - @id's export name into @buf (POOL_NAME_MAX + 1
 * bytes); returns @buf, or "" if it does not fit (never for valid ids).
 * STORAGE_XNAME(s, id) does it in a temporary buffer, for call arguments.
 */
const char *storage_export_name(const struct storage *s, const char *id, char *buf);
#define STORAGE_XNAME(s, id) storage_export_name((s), (id), (char[POOL_NAME_MAX + 1]){ 0 })

/* storage_export_id() - the replica id of export @name, or NULL when not this node's. */
const char *storage_export_id(const struct storage *s, const char *name);

/* storage_method_call() - one method under the lock (methods.c). */
grpc_status_code storage_method_call(struct storage *s, enum target_method method,
				     const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				     char **ret_details);

#endif
