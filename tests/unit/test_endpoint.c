// SPDX-License-Identifier: GPL-2.0
/* endpoint_parse(): every accepted spelling and the rejected ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/endpoint.h"

static void assert_unix(const char *spec, const char *path)
{
	struct endpoint ep;

	assert_int_equal(endpoint_parse(spec, &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_UNIX);
	assert_string_equal(ep.path, path);
	assert_true(!strncmp(ep.target, "unix:", 5));
	assert_string_equal(ep.target + 5, path);
}

static void assert_tcp(const char *spec, const char *target)
{
	struct endpoint ep;

	assert_int_equal(endpoint_parse(spec, &ep), 0);
	assert_int_equal(ep.kind, ENDPOINT_TCP);
	assert_string_equal(ep.target, target);
	assert_string_equal(ep.path, "");
}

static void assert_rejected(const char *spec)
{
	struct endpoint ep;

	memset(&ep, 0x5a, sizeof(ep));
	assert_int_equal(endpoint_parse(spec, &ep), -EINVAL);
	assert_int_equal(((unsigned char *)&ep)[0], 0x5a); /* untouched on error */
}

static void unix_url_with_three_slashes_gives_the_absolute_path(void **state)
{
	assert_unix("unix:///csi/csi.sock", "/csi/csi.sock");
}

static void unix_scheme_with_one_slash_gives_the_absolute_path(void **state)
{
	assert_unix("unix:/run/atomblk/csi.sock", "/run/atomblk/csi.sock");
}

static void bare_absolute_path_is_a_unix_endpoint(void **state)
{
	assert_unix("/var/lib/kubelet/plugins/csi.atomblk.io/csi.sock",
		    "/var/lib/kubelet/plugins/csi.atomblk.io/csi.sock");
}

static void unix_path_of_107_bytes_is_accepted_and_108_is_not(void **state)
{
	char path[120], spec[130];

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	assert_unix(path, path);
	snprintf(spec, sizeof(spec), "unix://%s", path);
	assert_unix(spec, path);

	path[107] = 'a';
	path[108] = '\0';
	assert_rejected(path);
	snprintf(spec, sizeof(spec), "unix://%s", path);
	assert_rejected(spec);
}

static void tcp_url_host_and_port_are_kept_for_grpc(void **state)
{
	assert_tcp("tcp://127.0.0.1:10000", "127.0.0.1:10000");
	assert_tcp("tcp://localhost:1", "localhost:1");
}

static void host_and_port_without_scheme_is_tcp(void **state)
{
	assert_tcp("0.0.0.0:65535", "0.0.0.0:65535");
	assert_tcp("storage-1.example:9000", "storage-1.example:9000");
}

static void bracketed_ipv6_address_with_port_is_tcp(void **state)
{
	assert_tcp("[::1]:50051", "[::1]:50051");
	assert_tcp("tcp://[fe80::1]:8080", "[fe80::1]:8080");
}

static void empty_or_missing_spec_is_rejected(void **state)
{
	struct endpoint ep;

	assert_rejected("");
	assert_int_equal(endpoint_parse(NULL, &ep), -EINVAL);
}

static void relative_unix_paths_are_rejected(void **state)
{
	assert_rejected("csi.sock");
	assert_rejected("./csi.sock");
	assert_rejected("unix:csi.sock");
	assert_rejected("unix://csi.sock");
	assert_rejected("unix://");
}

static void tcp_without_valid_port_or_host_is_rejected(void **state)
{
	assert_rejected("localhost");
	assert_rejected("localhost:");
	assert_rejected(":8080");
	assert_rejected("tcp://host");
	assert_rejected("host:0");
	assert_rejected("host:65536");
	assert_rejected("host:80a");
	assert_rejected("host:-1");
	assert_rejected("[::1]");
	assert_rejected("[::1]:");
	assert_rejected("[]:80");
	assert_rejected("::1:80"); /* an IPv6 address needs brackets */
	assert_rejected("my host:80");
}

static void unknown_schemes_are_rejected(void **state)
{
	assert_rejected("http://localhost:80");
	assert_rejected("dns:///localhost:80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unix_url_with_three_slashes_gives_the_absolute_path),
		cmocka_unit_test(unix_scheme_with_one_slash_gives_the_absolute_path),
		cmocka_unit_test(bare_absolute_path_is_a_unix_endpoint),
		cmocka_unit_test(unix_path_of_107_bytes_is_accepted_and_108_is_not),
		cmocka_unit_test(tcp_url_host_and_port_are_kept_for_grpc),
		cmocka_unit_test(host_and_port_without_scheme_is_tcp),
		cmocka_unit_test(bracketed_ipv6_address_with_port_is_tcp),
		cmocka_unit_test(empty_or_missing_spec_is_rejected),
		cmocka_unit_test(relative_unix_paths_are_rejected),
		cmocka_unit_test(tcp_without_valid_port_or_host_is_rejected),
		cmocka_unit_test(unknown_schemes_are_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
