// SPDX-License-Identifier: GPL-2.0
/*
 * The storage role on this host, which has no nvmet (storage_config's
 * nvmet_root points at a directory that does not exist): start-up creates
 * the pool and state directories, GetInfo reports capacity and topology,
 * the journal is reconciled with the pool (an entry whose file is gone is
 * dropped), ListReplicas returns what the journal keeps, the calls that
 * need an export are UNAVAILABLE and leave nothing behind, deletes work and
 * are idempotent. Exports themselves are tested in the VM
 * (tests/vm/cases/81-storage-target.sh).
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/storage.h"

#define MiB (1ULL << 20)

struct fixture {
	char dir[64];
	char pool[128], state[128], journal[160], nvmet[128];
	struct storage_config cfg;
	struct storage *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/atomblk-storage-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* pool and state below a directory that does not exist yet */
	snprintf(f->pool, sizeof(f->pool), "%s/new/pool", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->journal, sizeof(f->journal), "%s/storage.json", f->state);
	snprintf(f->nvmet, sizeof(f->nvmet), "%s/no-nvmet", f->dir);
	f->cfg = (struct storage_config){
		.node_id = "store-1",
		.state_dir = f->state,
		.pool_dir = f->pool,
		.pool_capacity = 64 * MiB,
		.nvme_address = "127.0.0.1",
		.nvme_port = "4420",
		.rdma = -1,
		.nvmet_root = f->nvmet,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	storage_free(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void start(struct fixture *f)
{
	assert_int_equal(storage_new(&f->cfg, &f->s), 0);
	assert_non_null(f->s);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void make_pool_file(struct fixture *f, const char *name, off_t size, mode_t mode)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->pool, name);
	write_file(path, "");
	assert_int_equal(truncate(path, size), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int pool_files(struct fixture *f)
{
	char cmd[256];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", f->pool);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* The journal file's records object (json_decref() it); an empty one if there is no file. */
static json_t *journal_records(struct fixture *f)
{
	json_t *root = json_load_file(f->journal, 0, NULL), *records;

	if (!root)
		return json_object();
	records = json_incref(json_object_get(root, "records"));
	json_decref(root);
	assert_non_null(records);
	return records;
}

static grpc_status_code call(struct fixture *f, enum target_method m, const ProtobufCMessage *req,
			     ProtobufCMessage **ret_resp)
{
	ProtobufCMessage *resp = NULL;
	char *details = NULL;
	grpc_status_code code;

	code = storage_call(f->s, m, req, &resp, &details);
	if (code == GRPC_STATUS_OK)
		assert_non_null(resp);
	else
		assert_non_null(details); /* every failure says why */
	free(details);
	if (ret_resp)
		*ret_resp = resp;
	else if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return code;
}

static Atomblk__Target__V1__GetInfoResponse *get_info(struct fixture *f)
{
	Atomblk__Target__V1__GetInfoRequest req = ATOMBLK__TARGET__V1__GET_INFO_REQUEST__INIT;
	ProtobufCMessage *resp;

	assert_int_equal(call(f, TARGET_GET_INFO, &req.base, &resp), GRPC_STATUS_OK);
	return (Atomblk__Target__V1__GetInfoResponse *)resp;
}

static Atomblk__Target__V1__ListReplicasResponse *list(struct fixture *f, const char *id,
						       const char *key, const char *value)
{
	Atomblk__Target__V1__ListReplicasRequest req =
		ATOMBLK__TARGET__V1__LIST_REPLICAS_REQUEST__INIT;
	ProtobufCMessage *resp;

	if (id)
		req.id = (char *)id;
	if (key)
		req.label_key = (char *)key;
	if (value)
		req.label_value = (char *)value;
	assert_int_equal(call(f, TARGET_LIST_REPLICAS, &req.base, &resp), GRPC_STATUS_OK);
	return (Atomblk__Target__V1__ListReplicasResponse *)resp;
}

static void start_creates_the_pool_and_get_info_reports_the_node(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__GetInfoResponse *info;
	struct stat st;

	f->cfg.topology = "topology.atomblk.io/zone=a,rack=r7";
	start(f);
	assert_int_equal(stat(f->pool, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	info = get_info(f);
	assert_int_equal(info->api_version, 2); /* SetLabels */
	assert_string_equal(info->node_id, "store-1");
	assert_int_equal(info->capacity_total, 64 * MiB);
	assert_true(info->capacity_available <= 64 * MiB);
	assert_int_equal(info->n_topology, 2);
	assert_string_equal(info->topology[0]->key, "topology.atomblk.io/zone");
	assert_string_equal(info->topology[0]->value, "a");
	assert_string_equal(info->topology[1]->key, "rack");
	assert_string_equal(info->topology[1]->value, "r7");
	/* 127.0.0.1 is no RDMA device's address: TCP only */
	assert_int_equal(info->n_addresses, 1);
	assert_string_equal(info->addresses[0]->trtype, "tcp");
	assert_string_equal(info->addresses[0]->adrfam, "ipv4");
	assert_string_equal(info->addresses[0]->traddr, "127.0.0.1");
	assert_string_equal(info->addresses[0]->trsvcid, "4420");
	protobuf_c_message_free_unpacked(&info->base, NULL);
	/* the reflink probe leaves no temporary behind */
	assert_int_equal(pool_files(f), 0);
}

static void
capacity_zero_is_the_pool_filesystems_size_and_topology_defaults_to_the_node(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__GetInfoResponse *info;
	struct statvfs sv;

	f->cfg.pool_capacity = 0;
	f->cfg.nvme_address = "fd00::7";
	start(f);
	assert_int_equal(statvfs(f->pool, &sv), 0);
	info = get_info(f);
	assert_int_equal(info->capacity_total, (uint64_t)sv.f_blocks * sv.f_frsize);
	assert_int_equal(info->n_topology, 1);
	assert_string_equal(info->topology[0]->key, "topology.atomblk.io/node");
	assert_string_equal(info->topology[0]->value, "store-1");
	assert_string_equal(info->addresses[0]->adrfam, "ipv6");
	protobuf_c_message_free_unpacked(&info->base, NULL);
}

static void bad_configurations_are_refused(void **state)
{
	struct fixture *f = *state;
	struct storage_config cfg = f->cfg;

	cfg.pool_dir = "relative/pool";
	assert_int_equal(storage_new(&cfg, &f->s), -EINVAL);
	cfg = f->cfg;
	cfg.topology = "no-equals-sign";
	assert_int_equal(storage_new(&cfg, &f->s), -EINVAL);
	cfg = f->cfg;
	cfg.node_id = "";
	assert_int_equal(storage_new(&cfg, &f->s), -EINVAL);
	cfg = f->cfg;
	cfg.rdma = 2;
	assert_int_equal(storage_new(&cfg, &f->s), -EINVAL);
	assert_null(f->s);

	assert_int_equal(mkdir(f->state, 0700), 0);
	write_file(f->journal, "{ not json");
	assert_int_equal(storage_new(&f->cfg, &f->s), -EBADMSG);
	assert_null(f->s);
}

static void create_replica_without_nvmet_is_unavailable_and_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__CreateReplicaRequest req =
		ATOMBLK__TARGET__V1__CREATE_REPLICA_REQUEST__INIT;
	Atomblk__Target__V1__AllowHostRequest allow = ATOMBLK__TARGET__V1__ALLOW_HOST_REQUEST__INIT;
	Atomblk__Target__V1__ExpandReplicaRequest expand =
		ATOMBLK__TARGET__V1__EXPAND_REPLICA_REQUEST__INIT;
	json_t *records;

	start(f);
	req.id = "r1";
	req.size_bytes = 4 * MiB;
	assert_int_equal(call(f, TARGET_CREATE_REPLICA, &req.base, NULL), GRPC_STATUS_UNAVAILABLE);
	assert_int_equal(pool_files(f), 0);
	records = journal_records(f);
	assert_int_equal(json_object_size(records), 0);
	json_decref(records);

	allow.id = "r1";
	allow.host_nqn = "nqn.2026-11.io.atomblk:host:a";
	assert_int_equal(call(f, TARGET_ALLOW_HOST, &allow.base, NULL), GRPC_STATUS_UNAVAILABLE);
	expand.id = "r1";
	expand.size_bytes = 8 * MiB;
	assert_int_equal(call(f, TARGET_EXPAND_REPLICA, &expand.base, NULL),
			 GRPC_STATUS_UNAVAILABLE);
}

static void bad_requests_are_invalid_argument_before_anything_else(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__CreateReplicaRequest req =
		ATOMBLK__TARGET__V1__CREATE_REPLICA_REQUEST__INIT;
	Atomblk__Target__V1__AllowHostRequest allow = ATOMBLK__TARGET__V1__ALLOW_HOST_REQUEST__INIT;
	Atomblk__Target__V1__GetInfoRequest wrong = ATOMBLK__TARGET__V1__GET_INFO_REQUEST__INIT;
	static const char *const bad_ids[] = { "", ".hidden", "a/b", "..", "sp ace" };

	start(f);
	req.size_bytes = 4 * MiB;
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		req.id = (char *)bad_ids[i];
		assert_int_equal(call(f, TARGET_CREATE_REPLICA, &req.base, NULL),
				 GRPC_STATUS_INVALID_ARGUMENT);
	}
	req.id = "r1";
	req.size_bytes = 4 * MiB + 512; /* not a multiple of 4096 */
	assert_int_equal(call(f, TARGET_CREATE_REPLICA, &req.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	req.size_bytes = 0;
	assert_int_equal(call(f, TARGET_CREATE_REPLICA, &req.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	req.size_bytes = 4 * MiB;
	req.source_id = "../x";
	assert_int_equal(call(f, TARGET_CREATE_REPLICA, &req.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);

	allow.id = "r1";
	allow.host_nqn = "not-an-nqn";
	assert_int_equal(call(f, TARGET_ALLOW_HOST, &allow.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);

	/* a request of another method's type */
	assert_int_equal(call(f, TARGET_CREATE_REPLICA, &wrong.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(pool_files(f), 0);
}

/*
 * A journal as a previous agent left it: r1 (replica with labels and a
 * host), s1 (its snapshot), gone (its file was lost).
 */
static void write_previous_journal(struct fixture *f)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s'", f->state, f->pool);
	assert_int_equal(system(cmd), 0);
	write_file(
		f->journal,
		"{\"version\": 1, \"records\": {"
		"\"r1\": {\"snapshot\": false, \"source_id\": \"\", \"labels\": {\"vol\": \"v1\", \"leg\": \"0\"},"
		" \"hosts\": [\"nqn.2026-11.io.atomblk:host:a\"], \"created_seconds\": 1764201600, \"created_nanos\": 5},"
		"\"s1\": {\"snapshot\": true, \"source_id\": \"r1\", \"labels\": {\"vol\": \"v1\"},"
		" \"hosts\": [], \"created_seconds\": 1764201700, \"created_nanos\": 0},"
		"\"gone\": {\"snapshot\": false, \"source_id\": \"\", \"labels\": {},"
		" \"hosts\": [], \"created_seconds\": 1764201800, \"created_nanos\": 0}}}");
	make_pool_file(f, "r1", 8 * MiB, 0600);
	make_pool_file(f, "s1", 8 * MiB, 0400);
	make_pool_file(f, "stranger", 4 * MiB, 0600); /* a file the journal does not know */
}

static void start_drops_journal_entries_whose_file_is_gone(void **state)
{
	struct fixture *f = *state;
	json_t *records;

	write_previous_journal(f);
	start(f);
	records = journal_records(f);
	assert_int_equal(json_object_size(records), 2);
	assert_non_null(json_object_get(records, "r1"));
	assert_non_null(json_object_get(records, "s1"));
	assert_null(json_object_get(records, "gone"));
	json_decref(records);
	assert_int_equal(pool_files(f), 3); /* nothing in the pool was touched */
}

static void list_replicas_returns_what_the_journal_keeps_sorted_and_filtered(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__ListReplicasResponse *l;
	Atomblk__Target__V1__Replica *r;

	write_previous_journal(f);
	start(f);
	l = list(f, NULL, NULL, NULL);
	assert_int_equal(l->n_replicas, 2); /* not "stranger", not "gone" */
	r = l->replicas[0];
	assert_string_equal(r->id, "r1");
	assert_int_equal(r->size_bytes, 8 * MiB);
	assert_false(r->snapshot);
	assert_string_equal(r->nqn, "nqn.2026-11.io.atomblk:store-1.r1");
	assert_int_equal(r->n_labels, 2);
	assert_int_equal(r->n_allowed_hosts, 1);
	assert_string_equal(r->allowed_hosts[0], "nqn.2026-11.io.atomblk:host:a");
	assert_int_equal(r->created_seconds, 1764201600);
	assert_int_equal(r->created_nanos, 5);
	assert_int_equal(r->n_addresses, 0); /* not exported: no nvmet here */
	r = l->replicas[1];
	assert_string_equal(r->id, "s1");
	assert_true(r->snapshot);
	assert_string_equal(r->source_id, "r1");
	assert_string_equal(r->nqn, "");
	protobuf_c_message_free_unpacked(&l->base, NULL);

	l = list(f, NULL, "leg", NULL);
	assert_int_equal(l->n_replicas, 1);
	assert_string_equal(l->replicas[0]->id, "r1");
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = list(f, NULL, "vol", "v1");
	assert_int_equal(l->n_replicas, 2);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = list(f, NULL, "vol", "v2");
	assert_int_equal(l->n_replicas, 0);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = list(f, "s1", NULL, NULL);
	assert_int_equal(l->n_replicas, 1);
	assert_string_equal(l->replicas[0]->id, "s1");
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = list(f, "nope", NULL, NULL);
	assert_int_equal(l->n_replicas, 0);
	protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void deletes_remove_file_and_entry_are_idempotent_and_keep_to_their_kind(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__DeleteReplicaRequest del =
		ATOMBLK__TARGET__V1__DELETE_REPLICA_REQUEST__INIT;
	Atomblk__Target__V1__DeleteSnapshotRequest dels =
		ATOMBLK__TARGET__V1__DELETE_SNAPSHOT_REQUEST__INIT;
	json_t *records;

	write_previous_journal(f);
	start(f);
	/* the wrong method for the kind: refused, nothing removed */
	del.id = "s1";
	assert_int_equal(call(f, TARGET_DELETE_REPLICA, &del.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	dels.id = "r1";
	assert_int_equal(call(f, TARGET_DELETE_SNAPSHOT, &dels.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(pool_files(f), 3);

	/* a file the journal does not know is not ours to delete */
	del.id = "stranger";
	assert_int_equal(call(f, TARGET_DELETE_REPLICA, &del.base, NULL), GRPC_STATUS_OK);
	assert_int_equal(pool_files(f), 3);

	for (int i = 0; i < 2; i++) {
		del.id = "r1";
		assert_int_equal(call(f, TARGET_DELETE_REPLICA, &del.base, NULL), GRPC_STATUS_OK);
		dels.id = "s1";
		assert_int_equal(call(f, TARGET_DELETE_SNAPSHOT, &dels.base, NULL), GRPC_STATUS_OK);
	}
	assert_int_equal(pool_files(f), 1);
	records = journal_records(f);
	assert_int_equal(json_object_size(records), 0);
	json_decref(records);
}

static void snapshots_follow_the_pools_reflink_ability(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__CreateSnapshotRequest req =
		ATOMBLK__TARGET__V1__CREATE_SNAPSHOT_REQUEST__INIT;
	Atomblk__Target__V1__GetInfoResponse *info;
	ProtobufCMessage *resp;
	bool reflink;
	json_t *records;

	write_previous_journal(f);
	start(f);
	info = get_info(f);
	reflink = info->reflink;
	protobuf_c_message_free_unpacked(&info->base, NULL);

	req.id = "s2";
	req.source_id = "missing";
	assert_int_equal(call(f, TARGET_CREATE_SNAPSHOT, &req.base, NULL), GRPC_STATUS_NOT_FOUND);
	req.source_id = "s1"; /* a snapshot of a snapshot */
	assert_int_equal(call(f, TARGET_CREATE_SNAPSHOT, &req.base, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	req.source_id = "stranger"; /* not ours */
	assert_int_equal(call(f, TARGET_CREATE_SNAPSHOT, &req.base, NULL), GRPC_STATUS_NOT_FOUND);
	req.id = "r1"; /* a replica's id */
	req.source_id = "r1";
	assert_int_equal(call(f, TARGET_CREATE_SNAPSHOT, &req.base, NULL),
			 GRPC_STATUS_ALREADY_EXISTS);

	req.id = "s2";
	if (!reflink) {
		assert_int_equal(call(f, TARGET_CREATE_SNAPSHOT, &req.base, NULL),
				 GRPC_STATUS_FAILED_PRECONDITION);
		assert_int_equal(pool_files(f), 3);
		records = journal_records(f);
		assert_null(json_object_get(records, "s2"));
		json_decref(records);
		return;
	}
	assert_int_equal(call(f, TARGET_CREATE_SNAPSHOT, &req.base, &resp), GRPC_STATUS_OK);
	assert_true(((Atomblk__Target__V1__Replica *)resp)->snapshot);
	protobuf_c_message_free_unpacked(resp, NULL);
	assert_int_equal(call(f, TARGET_CREATE_SNAPSHOT, &req.base, NULL), GRPC_STATUS_OK);
}

/* SetLabels on r1 with @set ("k=v" strings) and @remove; the status, the reply in *@ret (or NULL). */
static grpc_status_code set_labels(struct fixture *f, const char *id, const char *const *set,
				   size_t n_set, const char *const *remove, size_t n_remove,
				   Atomblk__Target__V1__Replica **ret)
{
	Atomblk__Target__V1__SetLabelsRequest req = ATOMBLK__TARGET__V1__SET_LABELS_REQUEST__INIT;
	Atomblk__Target__V1__SetLabelsRequest__SetEntry e[8], *ep[8];
	char buf[8][64];
	ProtobufCMessage *resp = NULL;
	grpc_status_code code;

	assert_true(n_set <= 8);
	for (size_t i = 0; i < n_set; i++) {
		atomblk__target__v1__set_labels_request__set_entry__init(&e[i]);
		snprintf(buf[i], sizeof(buf[i]), "%s", set[i]);
		e[i].key = buf[i];
		e[i].value = strchr(buf[i], '=');
		*e[i].value++ = '\0';
		ep[i] = &e[i];
	}
	req.id = (char *)id;
	req.n_set = n_set;
	req.set = ep;
	req.n_remove = n_remove;
	req.remove = (char **)remove;
	code = call(f, TARGET_SET_LABELS, &req.base, ret ? &resp : NULL);
	if (ret)
		*ret = (Atomblk__Target__V1__Replica *)resp;
	return code;
}

/* The journalled labels of @id (json_decref() it). */
static json_t *journal_labels(struct fixture *f, const char *id)
{
	json_t *records = journal_records(f), *labels;

	labels = json_incref(json_object_get(json_object_get(records, id), "labels"));
	json_decref(records);
	assert_non_null(labels);
	return labels;
}

static void set_labels_changes_the_journal_is_idempotent_and_survives_a_restart(void **state)
{
	struct fixture *f = *state;
	static const char *const set[] = { "atomblk.io/stale-legs=1", "vol=v1" };
	static const char *const remove[] = { "leg", "never-there" };
	Atomblk__Target__V1__Replica *r;
	json_t *labels;

	write_previous_journal(f);
	start(f);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(set_labels(f, "r1", set, 2, remove, 2, &r), GRPC_STATUS_OK);
		assert_string_equal(r->id, "r1");
		assert_int_equal(r->n_labels, 2); /* vol kept, leg gone, stale-legs new */
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	labels = journal_labels(f, "r1");
	assert_int_equal(json_object_size(labels), 2);
	assert_string_equal(json_string_value(json_object_get(labels, "atomblk.io/stale-legs")),
			    "1");
	assert_string_equal(json_string_value(json_object_get(labels, "vol")), "v1");
	json_decref(labels);

	/* a new value replaces the old one; a snapshot takes labels too */
	set_labels(f, "r1", (const char *const[]){ "atomblk.io/stale-legs=0,1" }, 1, NULL, 0, NULL);
	assert_int_equal(set_labels(f, "s1", set, 1, NULL, 0, NULL), GRPC_STATUS_OK);

	/* what ListReplicas of a restarted agent shows */
	f->s = storage_free(f->s);
	start(f);
	Atomblk__Target__V1__ListReplicasResponse *l = list(f, NULL, "atomblk.io/stale-legs", NULL);
	assert_int_equal(l->n_replicas, 2);
	assert_string_equal(l->replicas[0]->id, "r1");
	for (size_t i = 0; i < l->replicas[0]->n_labels; i++)
		if (!strcmp(l->replicas[0]->labels[i]->key, "atomblk.io/stale-legs"))
			assert_string_equal(l->replicas[0]->labels[i]->value, "0,1");
	protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void set_labels_refuses_bad_requests_and_unknown_ids_and_changes_nothing(void **state)
{
	struct fixture *f = *state;
	static const char *const ok[] = { "a=1" };
	static const char *const empty_key[] = { "=1" };
	static const char *const remove_a[] = { "a" };
	static const char *const remove_empty[] = { "" };
	const char *many[8];
	char names[8][16];
	json_t *before, *after;

	write_previous_journal(f);
	start(f);
	before = journal_labels(f, "r1");
	assert_int_equal(set_labels(f, "../r1", ok, 1, NULL, 0, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(set_labels(f, "r1", empty_key, 1, NULL, 0, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(set_labels(f, "r1", NULL, 0, remove_empty, 1, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	/* set and removed at once: which one wins would be a guess */
	assert_int_equal(set_labels(f, "r1", ok, 1, remove_a, 1, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	/* a bad request for an unknown id is still a bad request */
	assert_int_equal(set_labels(f, "nope", empty_key, 1, NULL, 0, NULL),
			 GRPC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(set_labels(f, "nope", ok, 1, NULL, 0, NULL), GRPC_STATUS_NOT_FOUND);
	/* a pool file the journal does not know is no replica of ours */
	assert_int_equal(set_labels(f, "stranger", ok, 1, NULL, 0, NULL), GRPC_STATUS_NOT_FOUND);
	after = journal_labels(f, "r1");
	assert_true(json_equal(before, after));
	json_decref(after);

	/* more than 64 labels in the result: refused, nothing written */
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 8; i++) {
			snprintf(names[i], sizeof(names[i]), "k%d-%d=v", round, i);
			many[i] = names[i];
		}
		grpc_status_code code = set_labels(f, "r1", many, 8, NULL, 0, NULL);

		/* r1 has 2 labels: 7 rounds fit (58), the 8th would make 66 */
		assert_int_equal(code, round < 7 ? GRPC_STATUS_OK : GRPC_STATUS_INVALID_ARGUMENT);
	}
	after = journal_labels(f, "r1");
	assert_int_equal(json_object_size(after), 2 + 7 * 8);
	json_decref(after);
	json_decref(before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			start_creates_the_pool_and_get_info_reports_the_node, setup, teardown),
		cmocka_unit_test_setup_teardown(
			capacity_zero_is_the_pool_filesystems_size_and_topology_defaults_to_the_node,
			setup, teardown),
		cmocka_unit_test_setup_teardown(bad_configurations_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			create_replica_without_nvmet_is_unavailable_and_leaves_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			bad_requests_are_invalid_argument_before_anything_else, setup, teardown),
		cmocka_unit_test_setup_teardown(start_drops_journal_entries_whose_file_is_gone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			list_replicas_returns_what_the_journal_keeps_sorted_and_filtered, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			deletes_remove_file_and_entry_are_idempotent_and_keep_to_their_kind, setup,
			teardown),
		cmocka_unit_test_setup_teardown(snapshots_follow_the_pools_reflink_ability, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			set_labels_changes_the_journal_is_idempotent_and_survives_a_restart, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			set_labels_refuses_bad_requests_and_unknown_ids_and_changes_nothing, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
