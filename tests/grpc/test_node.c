// SPDX-License-Identifier: GPL-2.0
/*
 * The CSI Node service of the real atomblk-agent ($ATOMBLK_AGENT) on the
 * host, without the kernel modules: what it reports (info, capabilities),
 * how it refuses bad requests (codes, and nothing written), how it answers
 * for volumes it does not hold, and that it will not start on a corrupt
 * journal. The flows with real volumes run in the VM
 * (tests/vm/cases/65-node-flow.sh).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "csi.pb-c.h"
#include "lib/agent_proc.h"
#include "lib/pbjson.h"
#include "lib/rpc_client.h"

#define CALL_TIMEOUT_MS 5000

enum {
	OK = 0,
	INVALID_ARGUMENT = 3,
	NOT_FOUND = 5,
	FAILED_PRECONDITION = 9,
	UNAVAILABLE = 14,
};

struct fixture {
	struct agent_proc agent;
	struct rpc_client *client;
	char kubelet[300]; /* <agent dir>/kubelet: --kubelet-dir */
	char state[300]; /* <agent dir>/state: --state-dir (not created by the test) */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char kubelet_flag[320], state_flag[320], target[330];
	int r;

	assert_non_null(f);
	*state = f;
	if (agent_proc_prepare(&f->agent) < 0)
		return -1;
	snprintf(f->kubelet, sizeof(f->kubelet), "%s/kubelet", f->agent.dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->agent.dir);
	if (mkdir(f->kubelet, 0700) < 0)
		return -1;
	snprintf(kubelet_flag, sizeof(kubelet_flag), "--kubelet-dir=%s", f->kubelet);
	snprintf(state_flag, sizeof(state_flag), "--state-dir=%s", f->state);
	{
		const char *const args[] = {
			kubelet_flag,	   state_flag,	      "--topology=zone=z1,rack=r2",
			"--max-volumes=9", "--metrics-addr=", NULL
		};

		r = agent_proc_launch(&f->agent, args);
	}
	if (r < 0) {
		char *log = agent_proc_read_log(&f->agent);

		print_error("agent did not start (%d): %s\n", r, log ? log : "");
		free(log);
		return -1;
	}
	snprintf(target, sizeof(target), "unix:%s", f->agent.sock);
	return rpc_client_new(target, &f->client) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int status = -1, r = 0;

	f->client = rpc_client_free(f->client);
	if (f->agent.pid > 0 && (agent_proc_stop(&f->agent, SIGTERM, 10000, &status) < 0 ||
				 !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		char *log = agent_proc_read_log(&f->agent);

		print_error("agent stop: status=0x%x log:\n%s\n", status, log ? log : "");
		free(log);
		r = -1;
	}
	agent_proc_cleanup(&f->agent);
	free(f);
	return r;
}

/*
 * Call the Node method @name with a request given as JSON (with "@K"
 * replaced by the kubelet directory). Return the status; the reply stays in
 * @reply (may be NULL).
 */
static int call(struct fixture *f, const char *name, const char *json_template,
		struct rpc_reply *reply)
{
	const ProtobufCMethodDescriptor *m =
		protobuf_c_service_descriptor_get_method_by_name(&csi__v1__node__descriptor, name);
	char json[4096], path[128], err[PBJSON_ERR_MAX];
	struct rpc_reply local = {};
	ProtobufCMessage *msg;
	uint8_t *buf;
	size_t len, o = 0;
	json_t *value;
	int status;

	assert_non_null(m);
	for (const char *p = json_template; *p && o < sizeof(json) - 300; p++) {
		if (p[0] == '@' && p[1] == 'K') {
			o += (size_t)snprintf(json + o, sizeof(json) - o, "%s", f->kubelet);
			p++;
		} else {
			json[o++] = *p;
		}
	}
	json[o] = '\0';
	value = json_loads(json, 0, NULL);
	assert_non_null(value);
	if (pbjson_message_from_json(m->input, value, &msg, err, sizeof(err)) < 0)
		fail_msg("bad test request %s: %s", json, err);
	json_decref(value);
	len = protobuf_c_message_get_packed_size(msg);
	buf = malloc(len ? len : 1);
	protobuf_c_message_pack(msg, buf);
	pbjson_message_free(msg);
	snprintf(path, sizeof(path), "/csi.v1.Node/%s", name);
	assert_int_equal(
		rpc_client_call(f->client, path, buf, len, CALL_TIMEOUT_MS, reply ? reply : &local),
		0);
	free(buf);
	status = reply ? reply->status : local.status;
	if (status)
		print_message("    %s: %d %s\n", name, status,
			      reply ? reply->details : local.details);
	rpc_reply_clear(&local);
	return status;
}

static void get_info_reports_node_id_topology_and_max_volumes(void **state)
{
	struct rpc_reply reply = {};
	Csi__V1__NodeGetInfoResponse *info;

	assert_int_equal(call(*state, "NodeGetInfo", "{}", &reply), OK);
	info = csi__v1__node_get_info_response__unpack(NULL, reply.len, reply.data);
	assert_non_null(info);
	assert_string_equal(info->node_id, "test-node");
	assert_int_equal(info->max_volumes_per_node, 9);
	assert_non_null(info->accessible_topology);
	assert_int_equal(info->accessible_topology->n_segments, 2);
	assert_string_equal(info->accessible_topology->segments[0]->key, "zone");
	assert_string_equal(info->accessible_topology->segments[0]->value, "z1");
	assert_string_equal(info->accessible_topology->segments[1]->key, "rack");
	assert_string_equal(info->accessible_topology->segments[1]->value, "r2");
	csi__v1__node_get_info_response__free_unpacked(info, NULL);
	rpc_reply_clear(&reply);
}

static void capabilities_are_the_five_the_node_implements(void **state)
{
	const int want[] = { 1, 2, 3, 4, 5 }; /* STAGE_UNSTAGE .. SINGLE_NODE_MULTI_WRITER */
	Csi__V1__NodeGetCapabilitiesResponse *caps;
	struct rpc_reply reply = {};

	assert_int_equal(call(*state, "NodeGetCapabilities", "{}", &reply), OK);
	caps = csi__v1__node_get_capabilities_response__unpack(NULL, reply.len, reply.data);
	assert_non_null(caps);
	assert_int_equal(caps->n_capabilities, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(caps->capabilities[i]->type_case,
				 CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC);
		assert_int_equal(caps->capabilities[i]->rpc->type, want[i]);
	}
	csi__v1__node_get_capabilities_response__free_unpacked(caps, NULL);
	rpc_reply_clear(&reply);
}

#define CAP_EXT4 \
	"\"volumeCapability\":{\"mount\":{\"fsType\":\"ext4\"},\"accessMode\":{\"mode\":\"SINGLE_NODE_WRITER\"}}"
#define LEGS "\"volumeContext\":{\"atomblk.io/legs\":\"/dev/loop0\"}"

static const struct bad_request {
	const char *method;
	const char *json;
	int status;
} bad_requests[] = {
	{ "NodeStageVolume", "{\"stagingTargetPath\":\"@K/s\"," CAP_EXT4 "," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume", "{\"volumeId\":\"v\"," CAP_EXT4 "," LEGS "}", INVALID_ARGUMENT },
	{ "NodeStageVolume", "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume", "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"," CAP_EXT4 "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"/etc/s\"," CAP_EXT4 "," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/../s\"," CAP_EXT4 "," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K\"," CAP_EXT4 "," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\",\"volumeCapability\":{\"mount\":{\"fsType\":\"btrfs\"},"
	  "\"accessMode\":{\"mode\":\"SINGLE_NODE_WRITER\"}}," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\",\"volumeCapability\":{\"block\":{},"
	  "\"accessMode\":{\"mode\":\"MULTI_NODE_MULTI_WRITER\"}}," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\",\"volumeCapability\":{\"mount\":{\"mountFlags\":[\"bind\"]},"
	  "\"accessMode\":{\"mode\":\"SINGLE_NODE_WRITER\"}}," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"," CAP_EXT4
	  ",\"volumeContext\":{\"atomblk.io/legs\":\"/dev/loop0\",\"atomblk.io/layout\":\"mirror\"}}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"," CAP_EXT4
	  ",\"volumeContext\":{\"atomblk.io/legs\":\"/dev/loop0\",\"atomblk.io/size\":\"100\"}}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"," CAP_EXT4
	  ",\"volumeContext\":{\"atomblk.io/legs\":\"dev/loop0\"}}",
	  INVALID_ARGUMENT },
	{ "NodeStageVolume",
	  "{\"volumeId\":\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\","
	  "\"stagingTargetPath\":\"@K/s\"," CAP_EXT4 "," LEGS "}",
	  INVALID_ARGUMENT },
	{ "NodeUnstageVolume", "{\"stagingTargetPath\":\"@K/s\"}", INVALID_ARGUMENT },
	{ "NodeUnstageVolume", "{\"volumeId\":\"v\"}", INVALID_ARGUMENT },
	{ "NodeUnstageVolume", "{\"volumeId\":\"v\",\"stagingTargetPath\":\"/tmp\"}",
	  INVALID_ARGUMENT },
	{ "NodePublishVolume", "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"," CAP_EXT4 "}",
	  INVALID_ARGUMENT },
	{ "NodePublishVolume", "{\"volumeId\":\"v\",\"targetPath\":\"@K/t\"," CAP_EXT4 "}",
	  INVALID_ARGUMENT },
	{ "NodePublishVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\",\"targetPath\":\"@K/t\"}",
	  INVALID_ARGUMENT },
	{ "NodePublishVolume",
	  "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\",\"targetPath\":\"/root/t\"," CAP_EXT4
	  "}",
	  INVALID_ARGUMENT },
	{ "NodeUnpublishVolume", "{\"targetPath\":\"@K/t\"}", INVALID_ARGUMENT },
	{ "NodeUnpublishVolume", "{\"volumeId\":\"v\",\"targetPath\":\"@K/./t\"}",
	  INVALID_ARGUMENT },
	{ "NodeGetVolumeStats", "{\"volumeId\":\"v\"}", INVALID_ARGUMENT },
	{ "NodeGetVolumeStats", "{\"volumePath\":\"@K/t\"}", INVALID_ARGUMENT },
	{ "NodeExpandVolume", "{\"volumeId\":\"v\"}", INVALID_ARGUMENT },
	{ "NodeExpandVolume",
	  "{\"volumeId\":\"v\",\"volumePath\":\"@K/t\",\"capacityRange\":{\"requiredBytes\":\"20\",\"limitBytes\":\"10\"}}",
	  INVALID_ARGUMENT },
};

static void bad_requests_get_invalid_argument_and_write_nothing(void **state)
{
	struct fixture *f = *state;
	char listing[4096];
	FILE *p;
	size_t n;

	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		int status = call(f, bad_requests[i].method, bad_requests[i].json, NULL);

		if (status != bad_requests[i].status)
			fail_msg("%s %s: status %d, expected %d", bad_requests[i].method,
				 bad_requests[i].json, status, bad_requests[i].status);
	}
	assert_int_equal(access(f->state, F_OK), -1); /* no journal, not even its directory */
	snprintf(listing, sizeof(listing), "find '%s' -mindepth 1", f->kubelet);
	p = popen(listing, "r");
	assert_non_null(p);
	n = fread(listing, 1, sizeof(listing) - 1, p);
	pclose(p);
	listing[n] = '\0';
	assert_string_equal(listing, ""); /* nothing created under the kubelet directory */
}

static void volumes_this_node_does_not_hold(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
		call(f, "NodeGetVolumeStats", "{\"volumeId\":\"v\",\"volumePath\":\"@K/t\"}", NULL),
		NOT_FOUND);
	assert_int_equal(
		call(f, "NodeExpandVolume", "{\"volumeId\":\"v\",\"volumePath\":\"@K/t\"}", NULL),
		NOT_FOUND);
	assert_int_equal(
		call(f, "NodePublishVolume",
		     "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\",\"targetPath\":\"@K/t\"," CAP_EXT4
		     "}",
		     NULL),
		FAILED_PRECONDITION);
	/* Nothing to undo is success, twice. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(call(f, "NodeUnpublishVolume",
				      "{\"volumeId\":\"v\",\"targetPath\":\"@K/t\"}", NULL),
				 OK);
		assert_int_equal(call(f, "NodeUnstageVolume",
				      "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"}", NULL),
				 OK);
	}
	assert_int_equal(access(f->state, F_OK), -1);
}

static void unpublish_removes_a_leftover_target(void **state)
{
	struct fixture *f = *state;
	char target[320];

	snprintf(target, sizeof(target), "%s/t", f->kubelet);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(call(f, "NodeUnpublishVolume",
			      "{\"volumeId\":\"v\",\"targetPath\":\"@K/t\"}", NULL),
			 OK);
	assert_int_equal(access(target, F_OK), -1);
}

static void stage_without_the_client_module_is_unavailable(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply = {};

	if (access("/dev/atomblk-ctl", F_OK) == 0)
		skip(); /* a client is loaded on this machine */
	assert_int_equal(call(f, "NodeStageVolume",
			      "{\"volumeId\":\"v\",\"stagingTargetPath\":\"@K/s\"," CAP_EXT4
			      "," LEGS ",\"secrets\":{\"token\":\"s3cr3t-value\"}}",
			      &reply),
			 UNAVAILABLE);
	assert_non_null(strstr(reply.details, "atom_client module is not loaded"));
	rpc_reply_clear(&reply);
	assert_int_equal(access(f->state, F_OK), -1);
	{
		char *log = agent_proc_read_log(&f->agent);

		assert_non_null(log);
		assert_null(strstr(log, "s3cr3t"));
		free(log);
	}
}

static void a_corrupt_journal_stops_the_agent_with_exit_1(void **state)
{
	char dir[] = "/tmp/atomblk-node-XXXXXX", journal[64], state_flag[64], kubelet_flag[64];
	char *output = NULL;
	FILE *file;
	int status;

	assert_non_null(mkdtemp(dir));
	snprintf(journal, sizeof(journal), "%s/node.json", dir);
	snprintf(state_flag, sizeof(state_flag), "--state-dir=%s", dir);
	snprintf(kubelet_flag, sizeof(kubelet_flag), "--kubelet-dir=%s", dir);
	file = fopen(journal, "w");
	assert_non_null(file);
	fputs("{\"version\": 1, \"records\": ", file); /* cut short */
	fclose(file);
	{
		char sock[80];
		const char *const argv[] = { "--endpoint",    sock,	  "--node-id",	"n",
					     "--ready-file=", state_flag, kubelet_flag, NULL };

		snprintf(sock, sizeof(sock), "unix://%s/csi.sock", dir);
		assert_int_equal(agent_run_to_exit(argv, 10000, &status, &output), 0);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_non_null(output);
	assert_non_null(strstr(output, "corrupt journal"));
	free(output);
	snprintf(journal, sizeof(journal), "rm -rf '%s'",
		 dir); /* the agent may leave other state */
	assert_int_equal(system(journal), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(get_info_reports_node_id_topology_and_max_volumes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(capabilities_are_the_five_the_node_implements,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bad_requests_get_invalid_argument_and_write_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(volumes_this_node_does_not_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(unpublish_removes_a_leftover_target, setup,
						teardown),
		cmocka_unit_test_setup_teardown(stage_without_the_client_module_is_unavailable,
						setup, teardown),
		cmocka_unit_test(a_corrupt_journal_stops_the_agent_with_exit_1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
