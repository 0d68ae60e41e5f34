// SPDX-License-Identifier: GPL-2.0
/*
 * The target API of the real agent ($ATOMBLK_AGENT --pool-dir ...
 * --target-endpoint 127.0.0.1:PORT --tls-dir ...) over mutual TLS, with
 * certificates the openssl CLI makes (tests/vm/cases/lib-certs.sh): a client
 * with a certificate of the agent's CA gets answers; a client without a
 * certificate, with a certificate of another CA, or without TLS at all is
 * refused in the handshake (UNAVAILABLE). This host has no nvmet: the
 * storage role still serves GetInfo and ListReplicas, and CreateReplica is
 * UNAVAILABLE with nothing left behind. Run from the top of the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "lib/agent_proc.h"
#include "lib/rpc_client.h"
#include "lib/tls.h"
#include "target.pb-c.h"

#define CALL_TIMEOUT_MS 5000
#define GET_INFO "/atomblk.target.v1.Target/GetInfo"
#define CREATE_REPLICA "/atomblk.target.v1.Target/CreateReplica"
#define LIST_REPLICAS "/atomblk.target.v1.Target/ListReplicas"
#define CERTS_LIB "tests/vm/cases/lib-certs.sh"

struct fixture {
	char dir[64]; /* certs, pool, state */
	char tls[128], other[128], pool[128], state[128];
	char address[48]; /* 127.0.0.1:PORT */
	int port; /* the target API's */
	struct agent_proc agent;
	struct tls_files ours, theirs; /* our CA's client cert; another CA's */
};

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *missing;

	if (!f)
		return -1;
	*state = f;
	snprintf(f->dir, sizeof(f->dir), "/tmp/atomblk-tls-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->tls, sizeof(f->tls), "%s/tls", f->dir);
	snprintf(f->other, sizeof(f->other), "%s/other", f->dir);
	snprintf(f->pool, sizeof(f->pool), "%s/pool", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	if (access(CERTS_LIB, R_OK)) {
		print_error("%s not found: run from the top of the tree\n", CERTS_LIB);
		return -1;
	}
	if (test_run_shell("bash -c '. %s && make_tls_dir %s %s/ca && make_tls_dir %s %s/otherca'",
			   CERTS_LIB, f->tls, f->dir, f->other, f->dir)) {
		print_error("openssl could not make the test certificates\n");
		return -1;
	}
	if (tls_files_load(f->tls, &f->ours, &missing) ||
	    tls_files_load(f->other, &f->theirs, &missing))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	tls_files_clear(&f->ours);
	tls_files_clear(&f->theirs);
	if (f->dir[0] && !getenv("ATOMBLK_KEEP_TMP"))
		test_run_shell("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

/* The agent: node mode, storage role on a fresh pool, the target API on a free port. */
static int setup(void **state)
{
	struct fixture *f = *state;
	int port = test_free_port(), r;

	if (port <= 0 || test_run_shell("rm -rf '%s' '%s'", f->pool, f->state))
		return -1;
	f->port = port;
	snprintf(f->address, sizeof(f->address), "127.0.0.1:%d", port);
	const char *const args[] = { "--mode",	  "node",	"--state-dir",
				     f->state,	  "--pool-dir", f->pool,
				     "--tls-dir", f->tls,	"--target-endpoint",
				     f->address,  NULL };
	r = agent_proc_start(&f->agent, args);
	if (r < 0) {
		char *log = agent_proc_read_log(&f->agent);

		print_error("agent did not start (%d): %s\n", r, log ? log : "");
		free(log);
		agent_proc_cleanup(&f->agent);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int status = -1, r = 0;

	if (f->agent.pid > 0) {
		r = agent_proc_stop(&f->agent, SIGTERM, 10000, &status);
		if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char *log = agent_proc_read_log(&f->agent);

			print_error("agent stop: r=%d status=0x%x log:\n%s\n", r, status,
				    log ? log : "");
			free(log);
			r = -1;
		}
	}
	agent_proc_cleanup(&f->agent);
	return r;
}

/* One call with @client; the reply's status. */
static int call(struct rpc_client *client, const char *method, const ProtobufCMessage *req,
		struct rpc_reply *reply)
{
	uint8_t buf[1024];
	size_t len = req ? protobuf_c_message_pack(req, buf) : 0;

	assert_int_equal(rpc_client_call(client, method, buf, len, CALL_TIMEOUT_MS, reply), 0);
	return reply->status;
}

static void get_info_with_a_certificate_of_the_agents_ca_answers(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__GetInfoResponse *info;
	struct rpc_client *client;
	struct rpc_reply reply = {};

	assert_int_equal(rpc_client_new_tls(f->address, &f->ours, &client), 0);
	assert_int_equal(call(client, GET_INFO, NULL, &reply), GRPC_STATUS_OK);
	info = atomblk__target__v1__get_info_response__unpack(NULL, reply.len, reply.data);
	assert_non_null(info);
	assert_int_equal(info->api_version, 2);
	assert_string_equal(info->node_id, "test-node");
	assert_true(info->capacity_total > 0); /* the pool filesystem's size */
	assert_true(info->capacity_available <= info->capacity_total);
	assert_int_equal(info->n_topology, 1);
	assert_string_equal(info->topology[0]->key, "topology.atomblk.io/node");
	assert_string_equal(info->topology[0]->value, "test-node");
	assert_true(info->n_addresses >= 1);
	assert_string_equal(info->addresses[0]->trtype, "tcp");
	assert_string_equal(info->addresses[0]->traddr, "127.0.0.1");
	assert_string_equal(info->addresses[0]->trsvcid, "4420");
	atomblk__target__v1__get_info_response__free_unpacked(info, NULL);
	rpc_reply_clear(&reply);

	/*
	 * The server's name is not checked, TLS_TARGET_NAME is: an address
	 * the certificate does not name will do (an IPv4-mapped IPv6 literal,
	 * which needs no resolver either).
	 */
	rpc_client_free(client);
	snprintf(f->address, sizeof(f->address), "ipv6:[::ffff:127.0.0.1]:%d", f->port);
	assert_int_equal(rpc_client_new_tls(f->address, &f->ours, &client), 0);
	assert_int_equal(call(client, GET_INFO, NULL, &reply), GRPC_STATUS_OK);
	rpc_reply_clear(&reply);
	rpc_client_free(client);
}

static void a_certificate_of_another_ca_is_refused(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *client;
	struct rpc_reply reply = {};
	struct tls_files mixed;

	assert_int_equal(rpc_client_new_tls(f->address, &f->theirs, &client), 0);
	assert_int_equal(call(client, GET_INFO, NULL, &reply), GRPC_STATUS_UNAVAILABLE);
	rpc_reply_clear(&reply);
	rpc_client_free(client);

	/* Trusting the agent's CA does not help a certificate it did not sign. */
	mixed = f->theirs;
	mixed.ca = f->ours.ca;
	assert_int_equal(rpc_client_new_tls(f->address, &mixed, &client), 0);
	assert_int_equal(call(client, GET_INFO, NULL, &reply), GRPC_STATUS_UNAVAILABLE);
	rpc_reply_clear(&reply);
	rpc_client_free(client);
}

/* A TLS call that presents no client certificate (the server's CA trusted). */
static grpc_status_code call_without_client_certificate(const char *address, const char *ca)
{
	grpc_arg arg = { .type = GRPC_ARG_STRING,
			 .key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
			 .value.string = TLS_TARGET_NAME };
	grpc_channel_args args = { .num_args = 1, .args = &arg };
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_metadata_array md_in, md_trail;
	grpc_byte_buffer *recv = NULL, *send;
	grpc_channel_credentials *creds;
	grpc_completion_queue *cq;
	grpc_slice empty = grpc_empty_slice();
	grpc_channel *ch;
	grpc_call *c;
	grpc_op ops[6] = {};

	grpc_init();
	creds = grpc_ssl_credentials_create(ca, NULL, NULL, NULL);
	ch = grpc_channel_create(address, creds, &args);
	cq = grpc_completion_queue_create_for_next(NULL);
	c = grpc_channel_create_call(
		ch, NULL, 0, cq, grpc_slice_from_static_string(GET_INFO), NULL,
		gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			     gpr_time_from_millis(CALL_TIMEOUT_MS, GPR_TIMESPAN)),
		NULL);
	send = grpc_raw_byte_buffer_create(&empty, 1);
	grpc_metadata_array_init(&md_in);
	grpc_metadata_array_init(&md_trail);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_in;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &md_trail;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	assert_int_equal(grpc_call_start_batch(c, ops, 6, ops, NULL), GRPC_CALL_OK);
	grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

	if (recv)
		grpc_byte_buffer_destroy(recv);
	grpc_byte_buffer_destroy(send);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&md_in);
	grpc_metadata_array_destroy(&md_trail);
	grpc_call_unref(c);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	grpc_channel_credentials_release(creds);
	grpc_shutdown();
	return status;
}

static void a_client_without_a_certificate_is_refused(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *client;
	struct rpc_reply reply = {};

	assert_int_equal(call_without_client_certificate(f->address, f->ours.ca),
			 GRPC_STATUS_UNAVAILABLE);

	/* Nor does plaintext get through. */
	assert_int_equal(rpc_client_new(f->address, &client), 0);
	assert_int_equal(call(client, GET_INFO, NULL, &reply), GRPC_STATUS_UNAVAILABLE);
	rpc_reply_clear(&reply);
	rpc_client_free(client);
}

/* Entries of @dir other than . and .. */
static int dir_entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void create_replica_without_nvmet_is_unavailable_and_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	Atomblk__Target__V1__CreateReplicaRequest req =
		ATOMBLK__TARGET__V1__CREATE_REPLICA_REQUEST__INIT;
	Atomblk__Target__V1__ListReplicasRequest list =
		ATOMBLK__TARGET__V1__LIST_REPLICAS_REQUEST__INIT;
	Atomblk__Target__V1__ListReplicasResponse *replicas;
	struct rpc_client *client;
	struct rpc_reply reply = {};
	char journal[256];

	assert_int_equal(rpc_client_new_tls(f->address, &f->ours, &client), 0);
	req.id = "r1";
	req.size_bytes = 1 << 20;
	assert_int_equal(call(client, CREATE_REPLICA, &req.base, &reply), GRPC_STATUS_UNAVAILABLE);
	assert_non_null(strstr(reply.details, "nvmet is not available"));
	rpc_reply_clear(&reply);
	assert_int_equal(dir_entries(f->pool), 0);
	snprintf(journal, sizeof(journal), "%s/storage.json", f->state);
	if (access(journal, F_OK) == 0)
		assert_int_equal(test_run_shell("grep -q '\"records\": *{}' '%s'", journal), 0);

	/* A bad request is refused for what it is, before nvmet is looked at. */
	req.id = "../r1";
	assert_int_equal(call(client, CREATE_REPLICA, &req.base, &reply),
			 GRPC_STATUS_INVALID_ARGUMENT);
	rpc_reply_clear(&reply);
	req.id = "r1";
	req.size_bytes = 1000;
	assert_int_equal(call(client, CREATE_REPLICA, &req.base, &reply),
			 GRPC_STATUS_INVALID_ARGUMENT);
	rpc_reply_clear(&reply);

	assert_int_equal(call(client, LIST_REPLICAS, &list.base, &reply), GRPC_STATUS_OK);
	replicas = atomblk__target__v1__list_replicas_response__unpack(NULL, reply.len, reply.data);
	assert_non_null(replicas);
	assert_int_equal(replicas->n_replicas, 0);
	atomblk__target__v1__list_replicas_response__free_unpacked(replicas, NULL);
	rpc_reply_clear(&reply);
	rpc_client_free(client);
}

/* atomctl target: the JSON reply and exit 0; a stranger's certificate: exit 10 + UNAVAILABLE. */
static void atomctl_target_calls_the_api_with_the_tls_dir(void **state)
{
	struct fixture *f = *state;
	const char *atomctl = getenv("ATOMBLK_ATOMCTL");

	assert_non_null(atomctl);
	assert_int_equal(test_run_shell("'%s' target --address %s --tls-dir %s GetInfo > %s/out",
					atomctl, f->address, f->tls, f->dir),
			 0);
	assert_int_equal(test_run_shell("grep -q '\"nodeId\": \"test-node\"' %s/out", f->dir), 0);
	assert_int_equal(test_run_shell("'%s' target --address %s --tls-dir %s GetInfo 2>/dev/null",
					atomctl, f->address, f->other),
			 10 + GRPC_STATUS_UNAVAILABLE);
	assert_int_equal(test_run_shell("'%s' target --address %s --tls-dir %s CreateReplica "
					"'{\"id\": \"r1\", \"sizeBytes\": \"4096\"}' 2>/dev/null",
					atomctl, f->address, f->tls),
			 10 + GRPC_STATUS_UNAVAILABLE);
	/* SetLabels (api_version 2) is served and reached through atomctl's method table */
	assert_int_equal(
		test_run_shell("'%s' target --address %s --tls-dir %s SetLabels "
			       "'{\"id\": \"r9\", \"set\": {\"atomblk.io/stale-legs\": \"1\"}}' "
			       "2>/dev/null",
			       atomctl, f->address, f->tls),
		10 + GRPC_STATUS_NOT_FOUND);
	assert_int_equal(test_run_shell("'%s' target --list | grep -q SetLabels", atomctl), 0);
	assert_int_equal(
		test_run_shell("'%s' target --address %s --tls-dir %s/none GetInfo 2>/dev/null",
			       atomctl, f->address, f->dir),
		1);
	assert_int_equal(
		test_run_shell("'%s' target --address %s --tls-dir %s NoSuchMethod 2>/dev/null",
			       atomctl, f->address, f->tls),
		2);
}

/* --target-endpoint without the TLS files: the agent refuses to start, naming the file. */
static void the_agent_refuses_to_serve_the_target_api_without_tls_files(void **state)
{
	struct fixture *f = *state;
	char empty[128], *output = NULL;
	int status;

	snprintf(empty, sizeof(empty), "%s/empty", f->dir);
	mkdir(empty, 0700);
	const char *const argv[] = { "--endpoint",
				     "unix:///tmp/atomblk-tls-never.sock",
				     "--node-id",
				     "n1",
				     "--manage-modules=false",
				     "--state-dir",
				     f->state,
				     "--pool-dir",
				     f->pool,
				     "--tls-dir",
				     empty,
				     "--target-endpoint",
				     "127.0.0.1:1",
				     NULL };
	assert_int_equal(agent_run_to_exit(argv, 10000, &status, &output), 0);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	assert_non_null(output);
	assert_non_null(strstr(output, "ca.crt"));
	free(output);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			get_info_with_a_certificate_of_the_agents_ca_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(a_certificate_of_another_ca_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_client_without_a_certificate_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			create_replica_without_nvmet_is_unavailable_and_leaves_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(atomctl_target_calls_the_api_with_the_tls_dir,
						setup, teardown),
		cmocka_unit_test(the_agent_refuses_to_serve_the_target_api_without_tls_files),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
