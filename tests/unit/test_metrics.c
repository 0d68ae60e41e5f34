// SPDX-License-Identifier: GPL-2.0
/*
 * metrics: the exposition text (calls, histogram, node state from a fixture
 * sysfs tree) and the HTTP endpoint, scraped over a real TCP socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/metrics.h"
#include "lib/roots.h"

static int use_sys_atom(void **state)
{
	const char *base = getenv("ATOMBLK_FIXTURES") ?: "tests/unit/fixtures";
	char path[PATH_MAX], abs[PATH_MAX];

	snprintf(path, sizeof(path), "%s/sys-atom", base);
	assert_non_null(realpath(path, abs));
	assert_int_equal(roots_set(ROOT_SYS, abs), 0);
	return 0;
}

static int reset(void **state)
{
	roots_reset();
	return 0;
}

static char *render(struct metrics *m)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(metrics_render(m, f), 0);
	fclose(f);
	return text;
}

static void calls_are_counted_by_method_and_code_with_a_histogram(void **state)
{
	struct metrics *m;
	char *text;

	assert_int_equal(metrics_new(NULL, &m), 0);
	metrics_observe_call(m, "/csi.v1.Node/NodeStageVolume", 0, 2000);
	metrics_observe_call(m, "/csi.v1.Node/NodeStageVolume", 0, 700000);
	metrics_observe_call(m, "/csi.v1.Node/NodeStageVolume", 5, 300);
	metrics_observe_call(m, "/csi.v1.Identity/Probe", 0, 100);
	text = render(m);
	assert_non_null(strstr(text, "# TYPE atomblk_csi_calls_total counter\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_calls_total{method=\"/csi.v1.Node/NodeStageVolume\",code=\"OK\"} 2\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_calls_total{method=\"/csi.v1.Node/NodeStageVolume\",code=\"NOT_FOUND\"} 1\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_calls_total{method=\"/csi.v1.Identity/Probe\",code=\"OK\"} 1\n"));
	/* Cumulative buckets: 300 us and 2 ms below 5 ms, 700 ms below 1 s. */
	assert_non_null(strstr(
		text,
		"atomblk_csi_call_duration_seconds_bucket{method=\"/csi.v1.Node/NodeStageVolume\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_call_duration_seconds_bucket{method=\"/csi.v1.Node/NodeStageVolume\",le=\"0.005\"} 2\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_call_duration_seconds_bucket{method=\"/csi.v1.Node/NodeStageVolume\",le=\"0.5\"} 2\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_call_duration_seconds_bucket{method=\"/csi.v1.Node/NodeStageVolume\",le=\"1\"} 3\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_call_duration_seconds_bucket{method=\"/csi.v1.Node/NodeStageVolume\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_call_duration_seconds_sum{method=\"/csi.v1.Node/NodeStageVolume\"} 0.702300\n"));
	assert_non_null(strstr(
		text,
		"atomblk_csi_call_duration_seconds_count{method=\"/csi.v1.Node/NodeStageVolume\"} 3\n"));
	free(text);
	metrics_free(m);
}

static void node_state_comes_from_sysfs(void **state)
{
	struct metrics *m;
	char *text;

	assert_int_equal(metrics_new(NULL, &m), 0);
	text = render(m);
	assert_non_null(strstr(text, "atomblk_disks{state=\"attached\"} 1\n"));
	assert_non_null(strstr(text, "atomblk_disks{state=\"held\"} 1\n"));
	assert_non_null(strstr(text, "atomblk_disks{state=\"abnormal\"} 1\n"));
	assert_non_null(strstr(text, "atomblk_held_requests 17\n"));
	assert_non_null(strstr(text, "atomblk_atom_generation 7\n"));
	free(text);
	metrics_free(m);
}

/* GET @path from 127.0.0.1:@port; the whole response. */
static char *http_get(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[65536];
	size_t used = 0;
	ssize_t n;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	dprintf(fd, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	while (used < sizeof(buf) - 1 && (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(fd);
	return buf;
}

static void the_endpoint_serves_metrics_and_nothing_else(void **state)
{
	struct metrics *m;
	char *resp;

	assert_int_equal(metrics_new(NULL, &m), 0);
	assert_int_equal(metrics_serve(m, "127.0.0.1:0"), 0);
	assert_true(metrics_port(m) > 0);
	metrics_observe_call(m, "/csi.v1.Identity/Probe", 0, 100);
	resp = http_get(metrics_port(m), "/metrics");
	assert_non_null(strstr(resp, "HTTP/1.0 200 OK\r\n"));
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(
		resp,
		"atomblk_csi_calls_total{method=\"/csi.v1.Identity/Probe\",code=\"OK\"} 1\n"));
	resp = http_get(metrics_port(m), "/");
	assert_non_null(strstr(resp, "HTTP/1.0 404 Not Found\r\n"));
	metrics_free(m);
}

static void bad_addresses_are_refused(void **state)
{
	struct metrics *m;

	assert_int_equal(metrics_new(NULL, &m), 0);
	assert_int_equal(metrics_serve(m, "no-port"), -EINVAL);
	assert_int_equal(metrics_serve(m, "127.0.0.1:"), -EINVAL);
	assert_int_equal(metrics_serve(m, "127.0.0.1:http-ish"), -EINVAL);
	assert_int_equal(metrics_port(m), -1);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			calls_are_counted_by_method_and_code_with_a_histogram, use_sys_atom, reset),
		cmocka_unit_test_setup_teardown(node_state_comes_from_sysfs, use_sys_atom, reset),
		cmocka_unit_test_setup_teardown(the_endpoint_serves_metrics_and_nothing_else,
						use_sys_atom, reset),
		cmocka_unit_test(bad_addresses_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
