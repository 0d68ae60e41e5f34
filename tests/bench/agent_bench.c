// SPDX-License-Identifier: GPL-2.0
/*
 * agent_bench — figures for the agent (not a test: prints, asserts nothing).
 *
 *   resident memory (VmRSS) after start and after 10,000 Probe calls
 *   Probe latency p50/p99 over 10,000 calls at concurrency 1 and 16
 *   exec-to-serving time (median of several starts)
 *
 * Client and agent share the machine, as the goals assume. The agent is
 * $ATOMBLK_AGENT; the output is one "name value unit (goal ...)" per line.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/agent_proc.h"
#include "lib/rpc_client.h"

#define PROBE "/csi.v1.Identity/Probe"
#define CALLS 10000
#define STARTS 9

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double percentile_ms(int64_t *sorted_ns, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return (double)sorted_ns[i] / 1e6;
}

struct worker {
	struct rpc_client *client;
	int64_t *latencies_ns;
	size_t count;
	int failures;
};

static void *probe_loop(void *arg)
{
	struct worker *w = arg;

	for (size_t i = 0; i < w->count; i++) {
		struct rpc_reply reply = {};
		int64_t start = now_ns();

		if (rpc_client_call(w->client, PROBE, NULL, 0, 10000, &reply) < 0 ||
		    reply.status != 0)
			w->failures++;
		w->latencies_ns[i] = now_ns() - start;
		rpc_reply_clear(&reply);
	}
	return NULL;
}

/* CALLS Probe calls spread over @concurrency threads; prints p50/p99. */
static int run_probes(struct rpc_client *client, int concurrency, double goal_p99_ms)
{
	int64_t *latencies = calloc(CALLS, sizeof(*latencies));
	struct worker workers[64];
	pthread_t threads[64];
	int64_t start, elapsed;
	int failures = 0;

	if (!latencies || concurrency > 64)
		return -ENOMEM;
	start = now_ns();
	for (int t = 0; t < concurrency; t++) {
		size_t first = (size_t)t * CALLS / (size_t)concurrency;
		size_t last = (size_t)(t + 1) * CALLS / (size_t)concurrency;

		workers[t] = (struct worker){ client, latencies + first, last - first, 0 };
		pthread_create(&threads[t], NULL, probe_loop, &workers[t]);
	}
	for (int t = 0; t < concurrency; t++) {
		pthread_join(threads[t], NULL);
		failures += workers[t].failures;
	}
	elapsed = now_ns() - start;
	qsort(latencies, CALLS, sizeof(*latencies), cmp_i64);
	printf("probe_c%d_p50 %.3f ms\n", concurrency, percentile_ms(latencies, CALLS, 0.50));
	if (goal_p99_ms > 0)
		printf("probe_c%d_p99 %.3f ms (goal <= %.1f ms)\n", concurrency,
		       percentile_ms(latencies, CALLS, 0.99), goal_p99_ms);
	else
		printf("probe_c%d_p99 %.3f ms\n", concurrency,
		       percentile_ms(latencies, CALLS, 0.99));
	printf("probe_c%d_rate %.0f calls/s (%d failed)\n", concurrency,
	       CALLS / ((double)elapsed / 1e9), failures);
	free(latencies);
	return failures ? -EIO : 0;
}

static int measure_start_time(void)
{
	int64_t times[STARTS];

	for (int i = 0; i < STARTS; i++) {
		struct agent_proc agent;
		int64_t start = now_ns();
		int r = agent_proc_start(&agent, NULL);

		times[i] = now_ns() - start;
		agent_proc_stop(&agent, SIGTERM, 10000, NULL);
		agent_proc_cleanup(&agent);
		if (r < 0) {
			fprintf(stderr, "agent_bench: start %d failed: %s\n", i, strerror(-r));
			return r;
		}
	}
	qsort(times, STARTS, sizeof(times[0]), cmp_i64);
	printf("exec_to_serving_median %.1f ms (min %.1f, max %.1f over %d starts; goal <= 50 ms)\n",
	       (double)times[STARTS / 2] / 1e6, (double)times[0] / 1e6,
	       (double)times[STARTS - 1] / 1e6, STARTS);
	return 0;
}

int main(void)
{
	struct agent_proc agent;
	struct rpc_client *client = NULL;
	char target[330];
	int r;

	r = agent_proc_start(&agent, NULL);
	if (r < 0) {
		fprintf(stderr, "agent_bench: agent did not start: %s\n", strerror(-r));
		agent_proc_cleanup(&agent);
		return 1;
	}
	usleep(200 * 1000);
	printf("rss_after_start %ld kB (goal <= 10240 kB)\n", rss_kb(agent.pid));

	snprintf(target, sizeof(target), "unix:%s", agent.sock);
	r = rpc_client_new(target, &client);
	if (!r)
		r = run_probes(client, 1, 0);
	if (!r)
		printf("rss_after_10k_calls %ld kB (goal <= 14336 kB)\n", rss_kb(agent.pid));
	if (!r)
		r = run_probes(client, 16, 2.5);
	if (!r)
		printf("rss_after_20k_calls %ld kB\n", rss_kb(agent.pid));
	rpc_client_free(client);
	agent_proc_stop(&agent, SIGTERM, 10000, NULL);
	agent_proc_cleanup(&agent);
	if (!r)
		r = measure_start_time();
	return r < 0 ? 1 : 0;
}
