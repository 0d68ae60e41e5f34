// SPDX-License-Identifier: GPL-2.0
/*
 * stalemark against a real storage role in-process (no nvmet needed:
 * labels live in the storage journal): marks are read, delivered to every
 * replica by union (never overwriting a mark already there), kept in the
 * node's journal while a storage node cannot be asked, and a label that
 * is no leg list is refused rather than guessed at.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "csi/stalemark.h"
#include "storage/storage.h"

#define MiB (1ULL << 20)

struct fixture {
	char dir[64], pool[128], state[128], marks[160];
	struct storage *s;
	struct stalemark *sm;
};

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char cmd[1024], path[256];

	strcpy(f->dir, "/tmp/atomblk-stalemark-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->pool, sizeof(f->pool), "%s/pool", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->marks, sizeof(f->marks), "%s/stale-legs.json", f->dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s' && truncate -s 4M '%s/r0' '%s/r1'", f->pool,
		 f->state, f->pool, f->pool);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/storage.json", f->state);
	write_file(
		path,
		"{\"version\": 1, \"records\": {"
		"\"r0\": {\"snapshot\": false, \"source_id\": \"\", \"labels\": {\"vol\": \"v1\"},"
		" \"hosts\": [], \"created_seconds\": 1, \"created_nanos\": 0},"
		"\"r1\": {\"snapshot\": false, \"source_id\": \"\", \"labels\": {},"
		" \"hosts\": [], \"created_seconds\": 1, \"created_nanos\": 0}}}");
	const struct storage_config sc = {
		.node_id = "store-1",
		.state_dir = f->state,
		.pool_dir = f->pool,
		.pool_capacity = 64 * MiB,
		.nvme_address = "127.0.0.1",
		.nvme_port = "4420",
		.rdma = 0,
		.nvmet_root = f->dir, /* no nvmet below: labels need none */
	};
	if (storage_new(&sc, &f->s))
		return -1;
	const struct stalemark_config mc = {
		.node_id = "store-1",
		.local_fn = storage_call,
		.local = f->s,
		.journal_path = f->marks,
	};
	if (stalemark_new(&mc, &f->sm))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	stalemark_free(f->sm);
	storage_free(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const struct stalemark_leg LEG0 = { "store-1", "", "r0" };
static const struct stalemark_leg LEG1 = { "store-1", "", "r1" };
static const struct stalemark_leg AWAY = { "store-9", "", "x" }; /* no address: cannot be asked */

static unsigned int read_mark(struct fixture *f, const struct stalemark_leg *leg)
{
	char msg[256];
	unsigned int mask = 99;

	assert_int_equal(stalemark_read(f->sm, leg, 2, &mask, msg, sizeof(msg)), 0);
	return mask;
}

static void set_label(struct fixture *f, const char *id, const char *value)
{
	Atomblk__Target__V1__SetLabelsRequest req = ATOMBLK__TARGET__V1__SET_LABELS_REQUEST__INIT;
	Atomblk__Target__V1__SetLabelsRequest__SetEntry e =
		ATOMBLK__TARGET__V1__SET_LABELS_REQUEST__SET_ENTRY__INIT;
	Atomblk__Target__V1__SetLabelsRequest__SetEntry *ep = &e;
	ProtobufCMessage *resp = NULL;
	char *details = NULL;

	e.key = "atomblk.io/stale-legs";
	e.value = (char *)value;
	req.id = (char *)id;
	req.n_set = 1;
	req.set = &ep;
	assert_int_equal(storage_call(f->s, TARGET_SET_LABELS, &req.base, &resp, &details),
			 GRPC_STATUS_OK);
	protobuf_c_message_free_unpacked(resp, NULL);
	free(details);
}

static void a_watched_stale_leg_is_marked_on_every_replica(void **state)
{
	struct fixture *f = *state;
	const struct stalemark_leg legs[2] = { LEG0, LEG1 };

	assert_int_equal(read_mark(f, &LEG0), 0);
	assert_int_equal(stalemark_watch(f->sm, "v1", legs, 2, 2, NULL), 0);
	assert_int_equal(read_mark(f, &LEG0), 2);
	assert_int_equal(read_mark(f, &LEG1), 2); /* the stale one carries its own mark */
	assert_int_equal(stalemark_known(f->sm, "v1"), 2);
	/* unwatched with nothing pending: the record goes, the labels stay */
	stalemark_unwatch(f->sm, "v1");
	assert_int_equal(stalemark_known(f->sm, "v1"), 0);
	assert_int_equal(read_mark(f, &LEG0), 2);
}

static void a_mark_is_added_to_what_a_replica_carries(void **state)
{
	struct fixture *f = *state;
	const struct stalemark_leg legs[2] = { LEG0, LEG1 };

	/* r0 carries "1" (an earlier mark: leg 1 stale); now leg 0 is marked: both stay */
	set_label(f, "r0", "1");
	assert_int_equal(stalemark_watch(f->sm, "v1", legs, 2, 1, (const int[]){ -1, -1 }), 0);
	assert_int_equal(read_mark(f, &LEG0), 3);
	assert_int_equal(read_mark(f, &LEG1), 1);
	stalemark_unwatch(f->sm, "v1");
	/* what a stage read is trusted: a replica known to carry the mark is not written */
	set_label(f, "r1", "");
	assert_int_equal(stalemark_watch(f->sm, "v2", legs, 2, 1, (const int[]){ 3, 1 }), 0);
	assert_int_equal(read_mark(f, &LEG1), 0);
	stalemark_unwatch(f->sm, "v2");
}

static void an_undeliverable_mark_is_kept_until_delivered(void **state)
{
	struct fixture *f = *state;
	const struct stalemark_leg legs[2] = { LEG0, AWAY };
	json_t *root;

	assert_int_equal(stalemark_watch(f->sm, "v1", legs, 2, 2, NULL), 1);
	assert_int_equal(read_mark(f, &LEG0), 2);
	stalemark_unwatch(f->sm, "v1");
	/* still pending after Unstage, in the journal file: a restarted agent knows it */
	stalemark_free(f->sm);
	const struct stalemark_config mc = {
		.node_id = "store-1",
		.local_fn = storage_call,
		.local = f->s,
		.journal_path = f->marks,
	};
	assert_int_equal(stalemark_new(&mc, &f->sm), 0);
	assert_int_equal(stalemark_known(f->sm, "v1"), 2);
	root = json_load_file(f->marks, 0, NULL);
	assert_non_null(json_object_get(json_object_get(root, "records"), "v1"));
	json_decref(root);
}

static void a_replica_that_is_gone_needs_no_mark(void **state)
{
	struct fixture *f = *state;
	const struct stalemark_leg gone = { "store-1", "", "r7" };
	const struct stalemark_leg legs[2] = { LEG0, gone };
	unsigned int mask;
	char msg[256];

	assert_int_equal(stalemark_read(f->sm, &gone, 2, &mask, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(stalemark_watch(f->sm, "v1", legs, 2, 2, NULL), 0);
	stalemark_unwatch(f->sm, "v1");
	assert_int_equal(stalemark_known(f->sm, "v1"), 0);
}

static void a_label_that_is_no_leg_list_is_refused_not_guessed(void **state)
{
	struct fixture *f = *state;
	unsigned int mask = 99;
	char msg[256];

	set_label(f, "r0", "0,7");
	assert_int_equal(stalemark_read(f->sm, &LEG0, 2, &mask, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "0,7"));
	assert_int_equal(stalemark_read(f->sm, &AWAY, 2, &mask, msg, sizeof(msg)), -EBUSY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_watched_stale_leg_is_marked_on_every_replica,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_mark_is_added_to_what_a_replica_carries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_undeliverable_mark_is_kept_until_delivered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_replica_that_is_gone_needs_no_mark, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_label_that_is_no_leg_list_is_refused_not_guessed,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
