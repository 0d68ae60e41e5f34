// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's generic gRPC server, exercised on the real binary: unknown
 * methods, garbage payloads, concurrency, graceful and bounded shutdown, the
 * socket's ownership (no theft, stale sockets replaced, mode 0600) and the
 * optional TCP listener.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "csi.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "lib/agent_proc.h"
#include "lib/rpc_client.h"

#define CALL_TIMEOUT_MS 10000
#define PROBE "/csi.v1.Identity/Probe"
#define STATUS_OK 0
#define STATUS_INVALID_ARGUMENT 3
#define STATUS_UNIMPLEMENTED 12
#define STATUS_UNAVAILABLE 14

static void dump_log(const struct agent_proc *agent)
{
	char *log = agent_proc_read_log(agent);

	print_error("agent log:\n%s\n", log ? log : "(none)");
	free(log);
}

static void start_or_fail(struct agent_proc *agent, const char *const extra_argv[])
{
	int r = agent_proc_start(agent, extra_argv);

	if (r < 0)
		dump_log(agent);
	assert_int_equal(r, 0);
}

static struct rpc_client *client_for(const char *sock)
{
	struct rpc_client *client;
	char target[330];

	snprintf(target, sizeof(target), "unix:%s", sock);
	assert_int_equal(rpc_client_new(target, &client), 0);
	return client;
}

/* SIGTERM the agent and require exit status 0 within @timeout_ms. */
static void stop_cleanly(struct agent_proc *agent, int timeout_ms)
{
	int status = -1, r;

	r = agent_proc_stop(agent, SIGTERM, timeout_ms, &status);
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		print_error("stop: r=%d status=0x%x\n", r, status);
		dump_log(agent);
	}
	assert_int_equal(r, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* One Probe; returns the gRPC status, asserts the reply decodes when OK. */
static int probe(struct rpc_client *client, bool *ret_ready)
{
	struct rpc_reply reply = {};
	Csi__V1__ProbeResponse *resp;
	int status;

	assert_int_equal(rpc_client_call(client, PROBE, NULL, 0, CALL_TIMEOUT_MS, &reply), 0);
	status = reply.status;
	if (status != STATUS_OK)
		print_message("Probe: status %d: %s\n", status, reply.details);
	if (status == STATUS_OK) {
		resp = csi__v1__probe_response__unpack(NULL, reply.len, reply.data);
		assert_non_null(resp);
		assert_non_null(resp->ready);
		if (ret_ready)
			*ret_ready = resp->ready->value;
		csi__v1__probe_response__free_unpacked(resp, NULL);
	}
	rpc_reply_clear(&reply);
	return status;
}

static void unknown_methods_get_unimplemented_without_waiting_for_the_deadline(void **state)
{
	const char *methods[] = { "/csi.v1.Controller/CreateVolume", "/no.such.Service/Method",
				  "/csi.v1.Identity/NoSuchMethod" };
	struct agent_proc agent;
	struct rpc_client *client;

	start_or_fail(&agent, NULL);
	client = client_for(agent.sock);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct rpc_reply reply = {};
		long long start = monotonic_ms();

		/*
		 * A long deadline, and the answer well before it: not a speed
		 * test (a loaded machine takes seconds), a "does not hang" one.
		 */
		assert_int_equal(rpc_client_call(client, methods[i], NULL, 0, 30000, &reply), 0);
		assert_int_equal(reply.status, STATUS_UNIMPLEMENTED);
		assert_non_null(strstr(reply.details, methods[i]));
		assert_true(monotonic_ms() - start < 15000);
		rpc_reply_clear(&reply);
	}
	assert_int_equal(probe(client, NULL), STATUS_OK);
	rpc_client_free(client);
	stop_cleanly(&agent, 10000);
	agent_proc_cleanup(&agent);
}

static void garbage_request_bytes_get_invalid_argument_and_the_agent_survives(void **state)
{
	static const uint8_t truncated_field[] = { 0x0a, 0x05,
						   'a' }; /* 5 bytes announced, 1 sent */
	static const uint8_t overlong_varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
						   0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t bad_wire_type[] = { 0x0f, 0x00 }; /* wire type 7 does not exist */
	static const struct {
		const uint8_t *data;
		size_t len;
	} garbage[] = {
		{ truncated_field, sizeof(truncated_field) },
		{ overlong_varint, sizeof(overlong_varint) },
		{ bad_wire_type, sizeof(bad_wire_type) },
	};
	const char *methods[] = { PROBE, "/csi.v1.Identity/GetPluginInfo",
				  "/csi.v1.Identity/GetPluginCapabilities" };
	struct agent_proc agent;
	struct rpc_client *client;

	start_or_fail(&agent, NULL);
	client = client_for(agent.sock);
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		for (size_t g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++) {
			struct rpc_reply reply = {};

			assert_int_equal(rpc_client_call(client, methods[m], garbage[g].data,
							 garbage[g].len, CALL_TIMEOUT_MS, &reply),
					 0);
			assert_int_equal(reply.status, STATUS_INVALID_ARGUMENT);
			assert_int_equal(reply.len, 0);
			rpc_reply_clear(&reply);
		}
	}
	assert_true(agent_proc_alive(&agent));
	assert_int_equal(probe(client, NULL), STATUS_OK);
	rpc_client_free(client);
	stop_cleanly(&agent, 10000);
	agent_proc_cleanup(&agent);
}

struct concurrent_call {
	struct rpc_client *client;
	pthread_barrier_t *barrier;
	int result; /* rpc_client_call() */
	int status; /* gRPC status */
	bool ready;
};

static void *concurrent_probe(void *arg)
{
	struct concurrent_call *call = arg;
	struct rpc_reply reply = {};

	pthread_barrier_wait(call->barrier);
	call->result = rpc_client_call(call->client, PROBE, NULL, 0, CALL_TIMEOUT_MS, &reply);
	call->status = call->result == 0 ? reply.status : -1;
	if (call->status != STATUS_OK)
		print_message("Probe: result %d status %d: %s\n", call->result, call->status,
			      reply.details ? reply.details : "");
	if (call->status == STATUS_OK) {
		Csi__V1__ProbeResponse *resp =
			csi__v1__probe_response__unpack(NULL, reply.len, reply.data);

		call->ready = resp && resp->ready && resp->ready->value;
		if (resp)
			csi__v1__probe_response__free_unpacked(resp, NULL);
	}
	rpc_reply_clear(&reply);
	return NULL;
}

/* Run @n Probe calls at once from @n threads; results in @calls. */
static void run_concurrent_probes(struct rpc_client *client, struct concurrent_call *calls, int n,
				  void (*while_running)(void *), void *data)
{
	pthread_t *threads = calloc((size_t)n, sizeof(*threads));
	pthread_barrier_t barrier;

	assert_non_null(threads);
	pthread_barrier_init(&barrier, NULL, (unsigned int)n + 1);
	for (int i = 0; i < n; i++) {
		calls[i] = (struct concurrent_call){ .client = client,
						     .barrier = &barrier,
						     .result = -1 };
		assert_int_equal(pthread_create(&threads[i], NULL, concurrent_probe, &calls[i]), 0);
	}
	pthread_barrier_wait(&barrier);
	if (while_running)
		while_running(data);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);
	free(threads);
}

static void two_hundred_concurrent_calls_all_succeed(void **state)
{
	enum { CALLS = 200 };
	struct concurrent_call calls[CALLS];
	struct agent_proc agent;
	struct rpc_client *client;

	start_or_fail(&agent, NULL);
	client = client_for(agent.sock);
	run_concurrent_probes(client, calls, CALLS, NULL, NULL);
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(calls[i].result, 0);
		assert_int_equal(calls[i].status, STATUS_OK);
		assert_true(calls[i].ready);
	}
	rpc_client_free(client);
	stop_cleanly(&agent, 10000);
	agent_proc_cleanup(&agent);
}

struct sigterm_plan {
	struct agent_proc *agent;
	int delay_ms;
	int wait_accepted; /* first wait for this many "call accepted" log lines */
	bool wait_for_exit; /* wait (up to 5 s) for the agent to exit */
	long long sent_ms; /* when SIGTERM was sent (monotonic_ms()) */
	long long exit_ms; /* SIGTERM to exit, when waited for */
	int exit_status;
};

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Wait (up to 10 s) until the agent has logged @n accepted calls. */
static void wait_for_accepted_calls(const struct agent_proc *agent, int n)
{
	long long until = monotonic_ms() + 10000;
	int seen = 0;

	while (monotonic_ms() < until) {
		char *log = agent_proc_read_log(agent);

		seen = count_lines_with(log, "msg=\"call accepted\"");
		free(log);
		if (seen >= n)
			return;
		usleep(10 * 1000);
	}
	print_error("only %d of %d calls accepted after 10 s\n", seen, n);
}

static void sigterm_after_delay(void *data)
{
	struct sigterm_plan *plan = data;
	long long sent;

	if (plan->wait_accepted)
		wait_for_accepted_calls(plan->agent, plan->wait_accepted);
	usleep((useconds_t)plan->delay_ms * 1000);
	sent = plan->sent_ms = monotonic_ms();
	kill(plan->agent->pid, SIGTERM);
	if (plan->wait_for_exit && agent_proc_stop(plan->agent, 0, 5000, &plan->exit_status) == 0)
		plan->exit_ms = monotonic_ms() - sent;
}

/*
 * Probe sleeps 600 ms (test fault injection); 8 calls on 4 workers take
 * about 1.2 s. SIGTERM lands once the agent has accepted all 8 (its debug
 * log says so; 4 running, 4 queued): all of them must still complete OK, and
 * the agent must exit 0 once they have. A call the agent has not yet received
 * when SIGTERM lands is refused, rightly, so the test must not guess.
 */
static void sigterm_lets_calls_in_flight_complete_then_exits_0(void **state)
{
	enum { CALLS = 8 };
	const char *const args[] = { "--workers", "4", "--shutdown-timeout", "5s", "--log-level",
				     "debug",	  NULL };
	struct concurrent_call calls[CALLS];
	struct agent_proc agent;
	/* the connecting Probe below, then the 8 */
	struct sigterm_plan plan = { .agent = &agent, .wait_accepted = CALLS + 1 };
	struct rpc_client *client;
	long long start;

	setenv("ATOMBLK_TEST_PROBE_DELAY_MS", "600", 1);
	start_or_fail(&agent, args);
	unsetenv("ATOMBLK_TEST_PROBE_DELAY_MS");
	client = client_for(agent.sock);
	/* Connected beforehand, so all 8 calls reach the agent at once. */
	assert_int_equal(probe(client, NULL), STATUS_OK);

	start = monotonic_ms();
	run_concurrent_probes(client, calls, CALLS, sigterm_after_delay, &plan);
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(calls[i].result, 0);
		assert_int_equal(calls[i].status, STATUS_OK);
	}
	stop_cleanly(&agent, 5000);
	print_message("8 calls and shutdown took %lld ms, %lld ms of it after SIGTERM\n",
		      monotonic_ms() - start, monotonic_ms() - plan.sent_ms);
	/* Not held to the 5 s shutdown timeout: exits once the calls are done. */
	assert_true(monotonic_ms() - plan.sent_ms < 5000);

	/* Gone for good: new calls are refused, not hung. */
	assert_int_equal(probe(client, NULL), STATUS_UNAVAILABLE);
	rpc_client_free(client);
	agent_proc_cleanup(&agent);
}

/*
 * A call that outlasts --shutdown-timeout must not hold the agent: it is
 * cancelled at the timeout, and the process is gone within the timeout plus
 * the one-second grace for running handlers.
 */
static void a_call_longer_than_the_shutdown_timeout_does_not_hold_the_agent(void **state)
{
	enum { CALLS = 1 };
	const char *const args[] = { "--shutdown-timeout", "300ms", NULL };
	struct concurrent_call calls[CALLS];
	struct agent_proc agent;
	struct sigterm_plan plan = {
		.agent = &agent, .delay_ms = 100, .wait_for_exit = true, .exit_ms = -1
	};
	struct rpc_client *client;

	setenv("ATOMBLK_TEST_PROBE_DELAY_MS", "4000", 1);
	start_or_fail(&agent, args);
	unsetenv("ATOMBLK_TEST_PROBE_DELAY_MS");
	client = client_for(agent.sock);

	run_concurrent_probes(client, calls, CALLS, sigterm_after_delay, &plan);
	print_message("exited %lld ms after SIGTERM, status 0x%x; the call got status %d\n",
		      plan.exit_ms, plan.exit_status, calls[0].status);
	if (plan.exit_ms < 0)
		dump_log(&agent);
	assert_true(plan.exit_ms >= 0 && plan.exit_ms < 2500);
	assert_int_not_equal(calls[0].status, STATUS_OK); /* cancelled, not answered */
	rpc_client_free(client);
	agent_proc_cleanup(&agent);
}

/*
 * The kubelet keeps its connection to the CSI socket open between calls. An
 * idle connection (a grpc client after a call, or a raw socket that never
 * spoke HTTP/2) must not hold SIGTERM for the whole --shutdown-timeout: the
 * agent exits 0 at once. Before the fix it waited 30 s here and exited 1
 * saying in-flight calls were cancelled.
 */
static void idle_connections_do_not_hold_the_shutdown(void **state)
{
	const char *const args[] = { "--shutdown-timeout", "30s", NULL };
	struct agent_proc agent;
	struct rpc_client *client;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int raw;
	char *log;

	start_or_fail(&agent, args);
	client = client_for(agent.sock);
	assert_int_equal(probe(client, NULL), STATUS_OK);
	raw = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(raw >= 0);
	assert_true(strlen(agent.sock) < sizeof(addr.sun_path));
	memcpy(addr.sun_path, agent.sock, strlen(agent.sock) + 1);
	assert_int_equal(connect(raw, (struct sockaddr *)&addr, sizeof(addr)), 0);

	stop_cleanly(&agent, 10000); /* well inside the 30 s timeout */
	log = agent_proc_read_log(&agent);
	assert_non_null(log);
	assert_null(strstr(log, "cancelled"));
	free(log);
	close(raw);
	rpc_client_free(client);
	agent_proc_cleanup(&agent);
}

static void second_agent_on_the_same_socket_refuses_and_the_first_keeps_serving(void **state)
{
	struct agent_proc agent;
	struct rpc_client *client;
	struct stat before, after;
	char ready2[300];
	char *out = NULL;
	int status;

	start_or_fail(&agent, NULL);
	assert_int_equal(stat(agent.sock, &before), 0);
	snprintf(ready2, sizeof(ready2), "%s/ready2", agent.dir);
	{
		const char *const argv[] = { "--endpoint", agent.endpoint, "--node-id",
					     "intruder",   "--ready-file", ready2,
					     NULL };

		assert_int_equal(agent_run_to_exit(argv, 5000, &status, &out), 0);
	}
	print_message("second agent said: %s", out);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(out, "already serving"));
	free(out);

	assert_int_equal(stat(agent.sock, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino); /* not unlinked and re-bound */
	assert_int_equal(access(ready2, F_OK), -1);
	client = client_for(agent.sock);
	assert_int_equal(probe(client, NULL), STATUS_OK);
	rpc_client_free(client);
	stop_cleanly(&agent, 10000);
	agent_proc_cleanup(&agent);
}

/* A listening socket at @path owned by someone else (no lock file). */
static int listen_unix(const char *path, bool do_listen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(addr.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void a_foreign_live_server_on_the_path_is_not_replaced(void **state)
{
	struct agent_proc agent;
	char *out = NULL;
	int fd, status;

	assert_int_equal(agent_proc_prepare(&agent), 0);
	fd = listen_unix(agent.sock, true);
	{
		const char *const argv[] = { "--endpoint", agent.endpoint, "--node-id",
					     "n",	   "--ready-file", "",
					     NULL };

		assert_int_equal(agent_run_to_exit(argv, 5000, &status, &out), 0);
	}
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(out, "already serving"));
	assert_true(unix_socket_accepts(agent.sock));
	free(out);
	close(fd);
	agent_proc_cleanup(&agent);
}

static void a_stale_socket_file_is_replaced(void **state)
{
	struct agent_proc agent;
	struct rpc_client *client;
	struct stat st;
	int fd, r;

	assert_int_equal(agent_proc_prepare(&agent), 0);
	fd = listen_unix(agent.sock, false);
	close(fd); /* the file stays, nobody listens: what a killed agent leaves */
	assert_int_equal(stat(agent.sock, &st), 0);
	assert_false(unix_socket_accepts(agent.sock));

	r = agent_proc_launch(&agent, NULL);
	if (r < 0)
		dump_log(&agent);
	assert_int_equal(r, 0);
	client = client_for(agent.sock);
	assert_int_equal(probe(client, NULL), STATUS_OK);
	rpc_client_free(client);
	stop_cleanly(&agent, 10000);
	agent_proc_cleanup(&agent);
}

static void a_regular_file_at_the_socket_path_is_left_alone(void **state)
{
	struct agent_proc agent;
	char *out = NULL;
	FILE *file;
	int status;

	assert_int_equal(agent_proc_prepare(&agent), 0);
	file = fopen(agent.sock, "w");
	assert_non_null(file);
	fputs("precious\n", file);
	fclose(file);
	{
		const char *const argv[] = { "--endpoint",   agent.sock, "--node-id", "n",
					     "--ready-file", "",	 NULL };

		assert_int_equal(agent_run_to_exit(argv, 5000, &status, &out), 0);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_non_null(strstr(out, "not a socket"));
	free(out);
	file = fopen(agent.sock, "r");
	assert_non_null(file);
	fclose(file);
	agent_proc_cleanup(&agent);
}

static void socket_mode_is_0600_whatever_the_umask(void **state)
{
	struct agent_proc agent;
	mode_t old = umask(0);
	struct stat st;

	start_or_fail(&agent, NULL);
	umask(old);
	assert_int_equal(stat(agent.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	stop_cleanly(&agent, 10000);
	agent_proc_cleanup(&agent);
}

static void tcp_endpoint_serves_the_same_methods(void **state)
{
	struct agent_proc agent;
	struct rpc_client *client;
	char address[64];
	int port = 20000 + (int)(getpid() % 20000);
	const char *const args[] = { "--tcp-endpoint", address, NULL };
	bool ready = false;

	snprintf(address, sizeof(address), "127.0.0.1:%d", port);
	start_or_fail(&agent, args);
	assert_int_equal(rpc_client_new(address, &client), 0);
	if (probe(client, &ready) != STATUS_OK) {
		dump_log(&agent);
		fail();
	}
	assert_true(ready);
	rpc_client_free(client);
	stop_cleanly(&agent, 10000);
	agent_proc_cleanup(&agent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			unknown_methods_get_unimplemented_without_waiting_for_the_deadline),
		cmocka_unit_test(garbage_request_bytes_get_invalid_argument_and_the_agent_survives),
		cmocka_unit_test(two_hundred_concurrent_calls_all_succeed),
		cmocka_unit_test(sigterm_lets_calls_in_flight_complete_then_exits_0),
		cmocka_unit_test(a_call_longer_than_the_shutdown_timeout_does_not_hold_the_agent),
		cmocka_unit_test(idle_connections_do_not_hold_the_shutdown),
		cmocka_unit_test(
			second_agent_on_the_same_socket_refuses_and_the_first_keeps_serving),
		cmocka_unit_test(a_foreign_live_server_on_the_path_is_not_replaced),
		cmocka_unit_test(a_stale_socket_file_is_replaced),
		cmocka_unit_test(a_regular_file_at_the_socket_path_is_left_alone),
		cmocka_unit_test(socket_mode_is_0600_whatever_the_umask),
		cmocka_unit_test(tcp_endpoint_serves_the_same_methods),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
