// SPDX-License-Identifier: GPL-2.0
/*
 * The CSI Identity service of the real atomblk-agent ($ATOMBLK_AGENT),
 * called over its unix socket through the C client, plus the agent's
 * command-line behaviour (--version, --help, bad flags).
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

#include "csi.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "lib/agent_proc.h"
#include "lib/rpc_client.h"

#define CALL_TIMEOUT_MS 5000

struct fixture {
	struct agent_proc agent;
	struct rpc_client *client;
};

static int start_agent(void **state, const char *const extra_argv[])
{
	struct fixture *f = calloc(1, sizeof(*f));
	char target[330];
	int r;

	assert_non_null(f);
	*state = f;
	r = agent_proc_start(&f->agent, extra_argv);
	if (r < 0) {
		char *log = agent_proc_read_log(&f->agent);

		print_error("agent did not start (%d): %s\n", r, log ? log : "");
		free(log);
		return -1;
	}
	snprintf(target, sizeof(target), "unix:%s", f->agent.sock);
	return rpc_client_new(target, &f->client) < 0 ? -1 : 0;
}

static int setup_node_mode(void **state)
{
	return start_agent(state, NULL);
}

/*
 * Controller mode needs storage nodes and the target API's TLS material:
 * a node nobody listens on will do (Identity never asks it), and test
 * certificates in a directory removed again at once (the agent reads them
 * at start).
 */
static int setup_controller_mode(void **state)
{
	char dir[] = "/tmp/atomblk-identity-XXXXXX", cmd[256];
	const char *const args[] = { "--mode",	    "controller", "--storage-nodes",
				     "127.0.0.1:1", "--tls-dir",  dir,
				     NULL };
	int r;

	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "bash -c '. tests/vm/cases/lib-certs.sh && make_tls_dir %s'",
		 dir);
	r = system(cmd) == 0 ? start_agent(state, args) : -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		r = -1;
	return r;
}

static int setup_all_mode(void **state)
{
	const char *const args[] = { "--mode", "all", NULL };

	return start_agent(state, args);
}

/* Stop the agent with SIGTERM: it must exit 0 (and leak-free under ASan). */
static int teardown_agent(void **state)
{
	struct fixture *f = *state;
	int status = -1, r = 0;

	if (!f)
		return 0;
	f->client = rpc_client_free(f->client);
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
	free(f);
	return r;
}

/* Call @method with an empty request; expect OK and return the reply bytes. */
static void call_ok(struct fixture *f, const char *method, struct rpc_reply *reply)
{
	assert_int_equal(rpc_client_call(f->client, method, NULL, 0, CALL_TIMEOUT_MS, reply), 0);
	if (reply->status != 0)
		print_error("%s: status %d (%s)\n", method, reply->status, reply->details);
	assert_int_equal(reply->status, 0);
}

static void get_plugin_info_returns_the_plugin_name_and_build_version(void **state)
{
	struct rpc_reply reply = {};
	Csi__V1__GetPluginInfoResponse *info;

	call_ok(*state, "/csi.v1.Identity/GetPluginInfo", &reply);
	info = csi__v1__get_plugin_info_response__unpack(NULL, reply.len, reply.data);
	assert_non_null(info);
	assert_string_equal(info->name, "csi.atomblk.io");
	assert_string_equal(info->vendor_version, ATOMBLK_VERSION);
	csi__v1__get_plugin_info_response__free_unpacked(info, NULL);
	rpc_reply_clear(&reply);
}

/* Fetch the capabilities and say whether a SERVICE of @type is among them. */
static bool has_service_capability(struct fixture *f, Csi__V1__PluginCapability__Service__Type type,
				   size_t *ret_count)
{
	Csi__V1__GetPluginCapabilitiesResponse *caps;
	struct rpc_reply reply = {};
	bool found = false;

	call_ok(f, "/csi.v1.Identity/GetPluginCapabilities", &reply);
	caps = csi__v1__get_plugin_capabilities_response__unpack(NULL, reply.len, reply.data);
	assert_non_null(caps);
	for (size_t i = 0; i < caps->n_capabilities; i++) {
		if (caps->capabilities[i]->type_case != CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE)
			continue; /* VolumeExpansion */
		if (caps->capabilities[i]->service->type == type)
			found = true;
	}
	*ret_count = caps->n_capabilities;
	csi__v1__get_plugin_capabilities_response__free_unpacked(caps, NULL);
	rpc_reply_clear(&reply);
	return found;
}

/*
 * A node-only agent has no Controller to advertise, but NodeGetInfo reports
 * the node's topology, which the spec allows only with
 * VOLUME_ACCESSIBILITY_CONSTRAINTS: that one capability and nothing else.
 */
static void node_mode_advertises_topology_but_not_the_controller_service(void **state)
{
	size_t count;

	assert_false(has_service_capability(
		*state, CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE, &count));
	assert_true(has_service_capability(
		*state, CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__VOLUME_ACCESSIBILITY_CONSTRAINTS,
		&count));
	assert_int_equal(count, 1);
}

/*
 * Where the Controller service runs it is advertised, and it answers:
 * CreateVolume without a name is INVALID_ARGUMENT, not UNIMPLEMENTED.
 * (tests/grpc/test_controller.c checks the whole capability list.)
 */
static void controller_and_all_modes_advertise_the_controller_service(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply = {};
	size_t count;

	assert_int_equal(rpc_client_call(f->client, "/csi.v1.Controller/CreateVolume", NULL, 0,
					 CALL_TIMEOUT_MS, &reply),
			 0);
	assert_int_equal(reply.status, 3 /* INVALID_ARGUMENT */);
	rpc_reply_clear(&reply);
	assert_true(has_service_capability(
		f, CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE, &count));
	assert_true(has_service_capability(
		f, CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__VOLUME_ACCESSIBILITY_CONSTRAINTS,
		&count));
}

static void controller_mode_advertises_the_controller_service(void **state)
{
	controller_and_all_modes_advertise_the_controller_service(state);
}

static void all_mode_advertises_the_controller_service(void **state)
{
	controller_and_all_modes_advertise_the_controller_service(state);
}

static void probe_reports_ready_once_serving(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply = {};
	Csi__V1__ProbeResponse *probe;

	call_ok(f, "/csi.v1.Identity/Probe", &reply);
	probe = csi__v1__probe_response__unpack(NULL, reply.len, reply.data);
	assert_non_null(probe);
	assert_non_null(probe->ready); /* present, not just defaulted */
	assert_true(probe->ready->value);
	csi__v1__probe_response__free_unpacked(probe, NULL);
	rpc_reply_clear(&reply);
}

static void ready_file_holds_the_pid_while_serving_and_goes_at_shutdown(void **state)
{
	struct fixture *f = *state;
	char path[300], buf[32] = "";
	int status;
	FILE *file;

	/* Written right after the socket opens: give it a moment. */
	snprintf(path, sizeof(path), "%s/ready", f->agent.dir);
	for (long long until = monotonic_ms() + 5000; access(path, F_OK) && monotonic_ms() < until;)
		usleep(1000);
	file = fopen(path, "r");
	assert_non_null(file);
	assert_non_null(fgets(buf, sizeof(buf), file));
	fclose(file);
	assert_int_equal(atoi(buf), f->agent.pid);

	assert_int_equal(agent_proc_stop(&f->agent, SIGINT, 10000, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(f->agent.sock, F_OK), -1); /* socket removed too */
}

static void version_flag_prints_name_and_build_version(void **state)
{
	const char *const argv[] = { "--version", NULL };
	char *out = NULL;
	int status;

	assert_int_equal(agent_run_to_exit(argv, 5000, &status, &out), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(out, "atomblk-agent " ATOMBLK_VERSION "\n");
	free(out);
}

static void help_flag_lists_flags_and_environment_names(void **state)
{
	const char *const argv[] = { "--help", NULL };
	char *out = NULL;
	int status;

	assert_int_equal(agent_run_to_exit(argv, 5000, &status, &out), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(out, "--endpoint"));
	assert_non_null(strstr(out, "CSI_ENDPOINT"));
	assert_non_null(strstr(out, "--node-id"));
	assert_non_null(strstr(out, "NODE_ID"));
	free(out);
}

static void bad_flags_exit_2_with_a_message_naming_the_problem(void **state)
{
	static const struct {
		const char *argv[6];
		const char *needle;
	} cases[] = {
		{ { "--node-id", "n", "--mode", "bogus", NULL }, "--mode" },
		{ { "--node-id", "n", "--no-such-flag", NULL }, "--no-such-flag" },
		{ { "--node-id", "n", "--endpoint", "relative.sock", NULL }, "--endpoint" },
		{ { "--node-id", "n", "--log-level", NULL }, "needs a value" },
		{ { "--endpoint", "/tmp/x.sock", NULL }, "--node-id" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		int status;

		assert_int_equal(agent_run_to_exit(cases[i].argv, 5000, &status, &out), 0);
		print_message("case %zu: %s", i, out);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
		assert_non_null(strstr(out, cases[i].needle));
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			get_plugin_info_returns_the_plugin_name_and_build_version, setup_node_mode,
			teardown_agent),
		cmocka_unit_test_setup_teardown(
			node_mode_advertises_topology_but_not_the_controller_service,
			setup_node_mode, teardown_agent),
		cmocka_unit_test_setup_teardown(controller_mode_advertises_the_controller_service,
						setup_controller_mode, teardown_agent),
		cmocka_unit_test_setup_teardown(all_mode_advertises_the_controller_service,
						setup_all_mode, teardown_agent),
		cmocka_unit_test_setup_teardown(probe_reports_ready_once_serving, setup_node_mode,
						teardown_agent),
		cmocka_unit_test_setup_teardown(
			ready_file_holds_the_pid_while_serving_and_goes_at_shutdown,
			setup_node_mode, teardown_agent),
		cmocka_unit_test(version_flag_prints_name_and_build_version),
		cmocka_unit_test(help_flag_lists_flags_and_environment_names),
		cmocka_unit_test(bad_flags_exit_2_with_a_message_naming_the_problem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
