// SPDX-License-Identifier: GPL-2.0
/*
 * atomctl ($ATOMBLK_ATOMCTL) against the real agent ($ATOMBLK_AGENT): JSON
 * replies on stdout, "atomctl: <Method>: <STATUS>: <details>" and exit code
 * 10 + status for failed calls, exit 2 (and no call) for bad input, the
 * endpoint from --endpoint or $CSI_ENDPOINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/agent_proc.h"

#define RUN_TIMEOUT_MS 20000

struct atomctl_run {
	int exit_code; /* exit status, or 128 + signal */
	char *out; /* stdout, NUL-terminated */
	char *err; /* stderr, NUL-terminated */
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	assert_non_null(f);
	buf = calloc(1, 1 << 20);
	assert_non_null(buf);
	len = fread(buf, 1, (1 << 20) - 1, f);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/*
 * Run atomctl with @args (NULL-terminated, after argv[0]) in @dir, stdin from
 * @input (NULL: /dev/null), $CSI_ENDPOINT set to @env_endpoint (NULL: unset).
 */
static void atomctl(const char *dir, const char *env_endpoint, const char *input,
		    const char *const args[], struct atomctl_run *ret)
{
	const char *bin = getenv("ATOMBLK_ATOMCTL");
	char in_path[300], out_path[300], err_path[300];
	const char *argv[32] = { "atomctl" };
	long long deadline;
	int status, n = 1;
	pid_t pid;

	assert_non_null(bin);
	for (; args[n - 1]; n++) {
		assert_true(n < 31);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	snprintf(in_path, sizeof(in_path), "%s/atomctl.in", dir);
	snprintf(out_path, sizeof(out_path), "%s/atomctl.out", dir);
	snprintf(err_path, sizeof(err_path), "%s/atomctl.err", dir);
	if (input) {
		FILE *f = fopen(in_path, "we");

		assert_non_null(f);
		fputs(input, f);
		fclose(f);
	}

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open(input ? in_path : "/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(127);
		if (env_endpoint)
			setenv("CSI_ENDPOINT", env_endpoint, 1);
		else
			unsetenv("CSI_ENDPOINT");
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	deadline = monotonic_ms() + RUN_TIMEOUT_MS;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (monotonic_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("atomctl %s %s did not exit within %d ms", args[0], args[1] ?: "",
				 RUN_TIMEOUT_MS);
		}
		usleep(5000);
	}
	ret->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	ret->out = read_file(out_path);
	ret->err = read_file(err_path);
}

static void atomctl_run_clear(struct atomctl_run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Expect exit 0, nothing on stderr, and a JSON object on stdout; returns it. */
static json_t *expect_json_reply(struct atomctl_run *r)
{
	json_error_t jerr;
	json_t *j;

	if (r->exit_code != 0)
		fail_msg("atomctl exited %d: %s", r->exit_code, r->err);
	assert_string_equal(r->err, "");
	j = json_loads(r->out, 0, &jerr);
	if (!j)
		fail_msg("stdout is not JSON (%s): %s", jerr.text, r->out);
	assert_true(json_is_object(j));
	return j;
}

static void expect_failure(struct atomctl_run *r, int exit_code, const char *stderr_part)
{
	if (r->exit_code != exit_code || !strstr(r->err, stderr_part))
		fail_msg("expected exit %d and \"%s\" on stderr; got exit %d, stderr \"%s\"",
			 exit_code, stderr_part, r->exit_code, r->err);
	assert_string_equal(r->out, "");
}

static int setup_agent(void **state)
{
	struct agent_proc *p = calloc(1, sizeof(*p));
	int r;

	assert_non_null(p);
	*state = p;
	r = agent_proc_start(p, NULL);
	if (r < 0) {
		char *log = agent_proc_read_log(p);

		print_error("agent did not start (%d): %s\n", r, log ?: "");
		free(log);
		return -1;
	}
	return 0;
}

static int teardown_agent(void **state)
{
	struct agent_proc *p = *state;

	if (p) {
		agent_proc_cleanup(p);
		free(p);
	}
	return 0;
}

static void test_get_plugin_info_prints_the_driver_name_as_json(void **state)
{
	struct agent_proc *p = *state;
	const char *const args[] = { "--endpoint", p->endpoint, "csi", "GetPluginInfo", NULL };
	struct atomctl_run r;
	json_t *j;

	atomctl(p->dir, NULL, NULL, args, &r);
	j = expect_json_reply(&r);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "csi.atomblk.io");
	assert_non_null(json_string_value(json_object_get(j, "vendorVersion")));
	assert_true(strlen(json_string_value(json_object_get(j, "vendorVersion"))) > 0);
	/* pretty-printed: one key per line */
	assert_non_null(strstr(r.out, "\n  \"name\": \"csi.atomblk.io\""));
	json_decref(j);
	atomctl_run_clear(&r);
}

static void test_probe_reports_ready_under_every_method_spelling(void **state)
{
	struct agent_proc *p = *state;
	static const char *const spellings[] = { "Probe", "Identity.Probe",
						 "/csi.v1.Identity/Probe", "csi.v1.Identity.Probe",
						 "probe" };

	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		const char *const args[] = { "--endpoint", p->endpoint, "csi",
					     spellings[i], "{}",	NULL };
		struct atomctl_run r;
		json_t *j;

		atomctl(p->dir, NULL, NULL, args, &r);
		j = expect_json_reply(&r);
		/* the ready wrapper, printed as a bare boolean */
		assert_true(json_is_true(json_object_get(j, "ready")));
		json_decref(j);
		atomctl_run_clear(&r);
	}
}

static void test_request_json_is_read_from_stdin_for_dash(void **state)
{
	struct agent_proc *p = *state;
	const char *const args[] = { "--endpoint", p->endpoint, "csi", "GetPluginInfo", "-", NULL };
	const char *const bad_args[] = { "--endpoint",	  p->endpoint, "csi",
					 "GetPluginInfo", "-",	       NULL };
	struct atomctl_run r;
	json_t *j;

	atomctl(p->dir, NULL, "{ }\n", args, &r);
	j = expect_json_reply(&r);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "csi.atomblk.io");
	json_decref(j);
	atomctl_run_clear(&r);

	atomctl(p->dir, NULL, "{\"x\":", bad_args, &r);
	expect_failure(&r, 2, "atomctl: GetPluginInfo: invalid JSON request on stdin:");
	atomctl_run_clear(&r);
}

static void test_unimplemented_method_exits_10_plus_the_grpc_code(void **state)
{
	struct agent_proc *p = *state;
	/* the SnapshotMetadata service is not one the agent serves */
	const char *const args[] = {
		"--endpoint",
		p->endpoint,
		"csi",
		"GetMetadataAllocated",
		"{\"snapshotId\":\"s1\",\"startingOffset\":\"0\",\"maxResults\":10}",
		NULL
	};
	struct atomctl_run r;

	atomctl(p->dir, NULL, NULL, args, &r);
	expect_failure(&r, 10 + 12, "atomctl: GetMetadataAllocated: UNIMPLEMENTED: ");
	atomctl_run_clear(&r);
}

/* Run @args twice: against the agent, and against an endpoint where nothing listens. */
static void expect_rejected_before_any_call(struct agent_proc *p, const char *method,
					    const char *json, const char *stderr_part)
{
	char nowhere[320];
	const char *const args[] = { "--endpoint", p->endpoint, "csi", method, json, NULL };
	const char *const args_nowhere[] = { "--endpoint", nowhere, "csi", method, json, NULL };
	struct atomctl_run r;

	snprintf(nowhere, sizeof(nowhere), "unix://%s/nothing.sock", p->dir);
	atomctl(p->dir, NULL, NULL, args, &r);
	expect_failure(&r, 2, stderr_part);
	atomctl_run_clear(&r);
	/* a call would have ended UNAVAILABLE (exit 24): exit 2 means none was made */
	atomctl(p->dir, NULL, NULL, args_nowhere, &r);
	expect_failure(&r, 2, stderr_part);
	atomctl_run_clear(&r);
}

static void test_bad_json_exits_2_with_a_clear_message_and_makes_no_call(void **state)
{
	struct agent_proc *p = *state;

	expect_rejected_before_any_call(p, "Probe", "{bad",
					"atomctl: Probe: invalid JSON request: ");
	expect_rejected_before_any_call(
		p, "Probe", "{\"bogus\":1}",
		"atomctl: Probe: bad request for csi.v1.ProbeRequest: (top level): unknown "
		"field \"bogus\" in csi.v1.ProbeRequest");
	expect_rejected_before_any_call(
		p, "NodePublishVolume",
		"{\"volumeId\":\"v\",\"volumeCapability\":{\"accessMode\":{\"mode\":\"RWX\"}}}",
		"volumeCapability.accessMode.mode: unknown enum value \"RWX\"");
	expect_rejected_before_any_call(p, "NoSuchMethod", "{}",
					"atomctl: unknown CSI method \"NoSuchMethod\"");
}

static void test_endpoint_comes_from_csi_endpoint_unless_given(void **state)
{
	struct agent_proc *p = *state;
	const char *const args[] = { "csi", "GetPluginInfo", NULL };
	const char *const args_flag[] = { "--endpoint", p->endpoint, "csi", "GetPluginInfo", NULL };
	char nowhere[320];
	struct atomctl_run r;
	json_t *j;

	atomctl(p->dir, p->endpoint, NULL, args, &r);
	j = expect_json_reply(&r);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "csi.atomblk.io");
	json_decref(j);
	atomctl_run_clear(&r);

	/* the flag wins over the environment */
	snprintf(nowhere, sizeof(nowhere), "unix://%s/nothing.sock", p->dir);
	atomctl(p->dir, nowhere, NULL, args_flag, &r);
	j = expect_json_reply(&r);
	json_decref(j);
	atomctl_run_clear(&r);

	/* and the environment is really used: nothing listens there */
	atomctl(p->dir, nowhere, NULL,
		(const char *const[]){ "--timeout", "5", "csi", "Probe", NULL }, &r);
	expect_failure(&r, 10 + 14, "atomctl: Probe: UNAVAILABLE: ");
	atomctl_run_clear(&r);
}

static void test_help_version_and_usage_errors(void **state)
{
	struct agent_proc *p = *state;
	struct atomctl_run r;
	char version[64];

	atomctl(p->dir, NULL, NULL, (const char *const[]){ "--version", NULL }, &r);
	assert_int_equal(r.exit_code, 0);
	snprintf(version, sizeof(version), "atomctl %s\n", getenv("ATOMBLK_VERSION") ?: "");
	if (getenv("ATOMBLK_VERSION"))
		assert_string_equal(r.out, version);
	else
		assert_true(!strncmp(r.out, "atomctl ", 8));
	atomctl_run_clear(&r);

	atomctl(p->dir, NULL, NULL, (const char *const[]){ "--help", NULL }, &r);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "10 + N"));
	assert_non_null(strstr(r.out, "csi <Method>"));
	atomctl_run_clear(&r);

	atomctl(p->dir, NULL, NULL, (const char *const[]){ "csi", "--list", NULL }, &r);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "Identity.Probe\n"));
	assert_non_null(strstr(r.out, "Node.NodeGetInfo\n"));
	atomctl_run_clear(&r);

	atomctl(p->dir, NULL, NULL, (const char *const[]){ NULL }, &r);
	assert_int_equal(r.exit_code, 2);
	atomctl_run_clear(&r);
	atomctl(p->dir, NULL, NULL, (const char *const[]){ "frobnicate", NULL }, &r);
	expect_failure(&r, 2, "unknown command \"frobnicate\"");
	atomctl_run_clear(&r);
	atomctl(p->dir, NULL, NULL,
		(const char *const[]){ "--timeout", "soon", "csi", "Probe", NULL }, &r);
	expect_failure(&r, 2, "invalid --timeout \"soon\"");
	atomctl_run_clear(&r);
	atomctl(p->dir, NULL, NULL,
		(const char *const[]){ "--endpoint", "unix:relative", "csi", "Probe", NULL }, &r);
	expect_failure(&r, 2, "invalid endpoint");
	atomctl_run_clear(&r);
	atomctl(p->dir, NULL, NULL, (const char *const[]){ "csi", "Probe", "{}", "extra", NULL },
		&r);
	expect_failure(&r, 2, "usage: atomctl");
	atomctl_run_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_plugin_info_prints_the_driver_name_as_json),
		cmocka_unit_test(test_probe_reports_ready_under_every_method_spelling),
		cmocka_unit_test(test_request_json_is_read_from_stdin_for_dash),
		cmocka_unit_test(test_unimplemented_method_exits_10_plus_the_grpc_code),
		cmocka_unit_test(test_bad_json_exits_2_with_a_clear_message_and_makes_no_call),
		cmocka_unit_test(test_endpoint_comes_from_csi_endpoint_unless_given),
		cmocka_unit_test(test_help_version_and_usage_errors),
	};

	return cmocka_run_group_tests(tests, setup_agent, teardown_agent);
}
