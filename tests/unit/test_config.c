// SPDX-License-Identifier: GPL-2.0
/* config_parse(): flags, environment, precedence, defaults and bad values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config.h"

#define ARGV(...) ((char *const[]){ "atomblk-agent", __VA_ARGS__, NULL })
#define ARGC(argv) ((int)(sizeof(argv) / sizeof(argv[0])) - 1)

/* Parse, expecting success. */
static struct agent_config parse_ok(int argc, char *const argv[], char *const envp[],
				    enum config_action expected_action)
{
	struct agent_config cfg;
	enum config_action action;
	char *error = NULL;
	int r;

	r = config_parse(argc, argv, envp, &cfg, &action, &error);
	if (r < 0)
		print_error("unexpected error: %s\n", error ? error : "(none)");
	assert_int_equal(r, 0);
	assert_null(error);
	assert_int_equal(action, expected_action);
	return cfg;
}

/* Parse, expecting -EINVAL with a message that contains @needle. */
static void parse_fails(int argc, char *const argv[], char *const envp[], const char *needle)
{
	struct agent_config cfg;
	enum config_action action;
	char *error = NULL;

	assert_int_equal(config_parse(argc, argv, envp, &cfg, &action, &error), -EINVAL);
	assert_non_null(error);
	if (!strstr(error, needle))
		print_error("message '%s' lacks '%s'\n", error, needle);
	assert_non_null(strstr(error, needle));
	free(error);
}

static void defaults_apply_when_only_the_node_id_is_given(void **state)
{
	char *const *argv = ARGV("--node-id", "n1");
	struct agent_config cfg = parse_ok(3, argv, NULL, CONFIG_ACTION_RUN);

	assert_int_equal(cfg.endpoint.kind, ENDPOINT_UNIX);
	assert_string_equal(cfg.endpoint.path, "/csi/csi.sock");
	assert_string_equal(cfg.node_id, "n1");
	assert_int_equal(cfg.mode, AGENT_MODE_NODE);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_false(cfg.has_tcp_endpoint);
	assert_string_equal(cfg.ready_file, "/run/atomblk/ready");
	assert_int_equal(cfg.shutdown_timeout_ms, 10000);
	assert_int_equal(cfg.workers, 4);
}

static void every_flag_is_applied(void **state)
{
	char *const argv[] = { "atomblk-agent",
			       "--endpoint",
			       "unix:///tmp/a.sock",
			       "--node-id",
			       "node-7",
			       "--mode",
			       "all",
			       "--log-level",
			       "debug",
			       "--tcp-endpoint",
			       "127.0.0.1:7000",
			       "--ready-file",
			       "/tmp/ready",
			       "--shutdown-timeout",
			       "1500ms",
			       "--workers",
			       "8",
			       NULL };
	struct agent_config cfg = parse_ok(ARGC(argv), argv, NULL, CONFIG_ACTION_RUN);

	assert_string_equal(cfg.endpoint.path, "/tmp/a.sock");
	assert_string_equal(cfg.node_id, "node-7");
	assert_int_equal(cfg.mode, AGENT_MODE_ALL);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_true(cfg.has_tcp_endpoint);
	assert_string_equal(cfg.tcp_endpoint.target, "127.0.0.1:7000");
	assert_string_equal(cfg.ready_file, "/tmp/ready");
	assert_int_equal(cfg.shutdown_timeout_ms, 1500);
	assert_int_equal(cfg.workers, 8);
}

static void flags_accept_the_equals_form(void **state)
{
	char *const argv[] = { "atomblk-agent",	    "--endpoint=/tmp/b.sock",	     "--node-id=n2",
			       "--mode=controller", "--storage-nodes=10.0.0.1:9810", NULL };
	struct agent_config cfg = parse_ok(ARGC(argv), argv, NULL, CONFIG_ACTION_RUN);

	assert_string_equal(cfg.endpoint.path, "/tmp/b.sock");
	assert_string_equal(cfg.node_id, "n2");
	assert_int_equal(cfg.mode, AGENT_MODE_CONTROLLER);
}

static void environment_supplies_every_setting(void **state)
{
	char *const argv[] = { "atomblk-agent", NULL };
	char *const envp[] = { "PATH=/bin",
			       "CSI_ENDPOINT=unix:///env/csi.sock",
			       "NODE_ID=env-node",
			       "ATOMBLK_MODE=all",
			       "ATOMBLK_LOG_LEVEL=warn",
			       "ATOMBLK_TCP_ENDPOINT=[::1]:9000",
			       "ATOMBLK_READY_FILE=/env/ready",
			       "ATOMBLK_SHUTDOWN_TIMEOUT=3s",
			       "ATOMBLK_WORKERS=2",
			       NULL };
	struct agent_config cfg = parse_ok(1, argv, envp, CONFIG_ACTION_RUN);

	assert_string_equal(cfg.endpoint.path, "/env/csi.sock");
	assert_string_equal(cfg.node_id, "env-node");
	assert_int_equal(cfg.mode, AGENT_MODE_ALL);
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
	assert_string_equal(cfg.tcp_endpoint.target, "[::1]:9000");
	assert_string_equal(cfg.ready_file, "/env/ready");
	assert_int_equal(cfg.shutdown_timeout_ms, 3000);
	assert_int_equal(cfg.workers, 2);
}

static void flags_override_the_environment(void **state)
{
	char *const argv[] = { "atomblk-agent", "--endpoint", "/flag.sock", "--node-id",
			       "flag-node",	"--mode",     "node",	    NULL };
	char *const envp[] = { "CSI_ENDPOINT=/env.sock", "NODE_ID=env-node",
			       "ATOMBLK_MODE=controller", NULL };
	struct agent_config cfg = parse_ok(ARGC(argv), argv, envp, CONFIG_ACTION_RUN);

	assert_string_equal(cfg.endpoint.path, "/flag.sock");
	assert_string_equal(cfg.node_id, "flag-node");
	assert_int_equal(cfg.mode, AGENT_MODE_NODE);
}

static void empty_environment_values_count_as_unset(void **state)
{
	char *const argv[] = { "atomblk-agent", "--node-id", "n", NULL };
	char *const envp[] = { "CSI_ENDPOINT=", "ATOMBLK_MODE=", NULL };
	struct agent_config cfg = parse_ok(ARGC(argv), argv, envp, CONFIG_ACTION_RUN);

	assert_string_equal(cfg.endpoint.path, "/csi/csi.sock");
	assert_int_equal(cfg.mode, AGENT_MODE_NODE);
}

static void similar_environment_names_are_not_confused(void **state)
{
	char *const argv[] = { "atomblk-agent", NULL };
	char *const envp[] = { "NODE_ID_EXTRA=wrong", "XNODE_ID=wrong", "NODE_ID=right", NULL };
	struct agent_config cfg = parse_ok(1, argv, envp, CONFIG_ACTION_RUN);

	assert_string_equal(cfg.node_id, "right");
}

static void node_id_is_required_except_in_controller_mode(void **state)
{
	char *const none[] = { "atomblk-agent", NULL };
	char *const all[] = { "atomblk-agent", "--mode", "all", NULL };
	char *const controller[] = { "atomblk-agent",
				     "--mode",
				     "controller",
				     "--storage-service",
				     "atomblk-storage.atomblk.svc:9810",
				     NULL };

	parse_fails(1, none, NULL, "--node-id");
	parse_fails(ARGC(all), all, NULL, "--node-id");
	parse_ok(ARGC(controller), controller, NULL, CONFIG_ACTION_RUN);
}

/* The storage and controller roles' settings, and what each mode needs. */
static void storage_and_controller_settings(void **state)
{
	char *const storage[] = { "atomblk-agent",
				  "--node-id=s1",
				  "--pool-dir=/srv/pool/",
				  "--pool-capacity=64Gi",
				  "--target-endpoint=10.0.0.2:9810",
				  "--nvme-address=10.0.0.2",
				  "--nvme-port=4421",
				  "--nvme-rdma=off",
				  NULL };
	char *const all[] = { "atomblk-agent", "--mode=all", "--node-id=n1",
			      "--state-dir=/var/lib/x", NULL };
	char *const env[] = { "ATOMBLK_STORAGE_NODES=a:1,b:2", "ATOMBLK_TLS_DIR=/etc/t", NULL };
	char *const controller[] = { "atomblk-agent", "--mode=controller", NULL };
	char *const no_storage[] = { "atomblk-agent", "--mode=controller", NULL };
	char *const target_without_pool[] = { "atomblk-agent", "--node-id=s1",
					      "--target-endpoint=10.0.0.2:9810", NULL };
	struct agent_config cfg;
	unsigned long long size;

	cfg = parse_ok(ARGC(storage), storage, NULL, CONFIG_ACTION_RUN);
	assert_string_equal(cfg.pool_dir, "/srv/pool");
	assert_int_equal(cfg.pool_capacity, 64ULL << 30);
	assert_true(cfg.has_target_endpoint);
	assert_string_equal(cfg.target_endpoint.target, "10.0.0.2:9810");
	assert_string_equal(cfg.nvme_address, "10.0.0.2");
	assert_string_equal(cfg.nvme_port, "4421");
	assert_int_equal(cfg.nvme_rdma, 0);
	assert_string_equal(cfg.tls_dir, CONFIG_DEFAULT_TLS_DIR);

	/* all mode: the pool defaults into the state directory */
	cfg = parse_ok(ARGC(all), all, NULL, CONFIG_ACTION_RUN);
	assert_string_equal(cfg.pool_dir, "/var/lib/x/pool");
	assert_int_equal(cfg.nvme_rdma, -1);
	assert_string_equal(cfg.nvme_port, CONFIG_DEFAULT_NVME_PORT);

	cfg = parse_ok(ARGC(controller), controller, env, CONFIG_ACTION_RUN);
	assert_string_equal(cfg.storage_nodes, "a:1,b:2");
	assert_string_equal(cfg.tls_dir, "/etc/t");
	parse_fails(ARGC(no_storage), no_storage, NULL, "--storage-nodes");
	parse_fails(ARGC(target_without_pool), target_without_pool, NULL, "--pool-dir");

	assert_int_equal(config_parse_size("512M", &size), 0);
	assert_int_equal(size, 512ULL << 20);
	assert_int_equal(config_parse_size("2TiB", &size), 0);
	assert_int_equal(size, 2ULL << 40);
	assert_int_equal(config_parse_size("4096", &size), 0);
	assert_int_equal(size, 4096);
	assert_int_equal(config_parse_size("1.5G", &size), -EINVAL);
	assert_int_equal(config_parse_size("-1", &size), -EINVAL);
	assert_int_equal(config_parse_size("8X", &size), -EINVAL);
	assert_int_equal(config_parse_size("99999999999T", &size), -EINVAL);
}

/* Each bad storage or controller value is refused with its flag named. */
static void bad_storage_values_are_rejected(void **state)
{
	static const char *const bad[][2] = {
		{ "--pool-dir", "relative/pool" },
		{ "--pool-capacity", "lots" },
		{ "--target-endpoint", "/a.sock" },
		{ "--nvme-address", "storage.local" },
		{ "--nvme-port", "0" },
		{ "--nvme-port", "70000" },
		{ "--nvme-rdma", "yes" },
		{ "--storage-nodes", "a:1,,b:2" },
		{ "--storage-nodes", "a" },
		{ "--storage-nodes", "a:99999" },
		{ "--storage-service", "svc" },
		{ "--storage-nodes", "a:1," },
	};

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *const argv[] = { "atomblk-agent", "--node-id=n", (char *)bad[i][0],
				       (char *)bad[i][1], NULL };

		parse_fails(ARGC(argv), argv, NULL, bad[i][0]);
	}
}

static void help_and_version_need_no_other_settings(void **state)
{
	char *const help[] = { "atomblk-agent", "--help", NULL };
	char *const short_help[] = { "atomblk-agent", "-h", NULL };
	char *const version[] = { "atomblk-agent", "--version", NULL };

	parse_ok(2, help, NULL, CONFIG_ACTION_HELP);
	parse_ok(2, short_help, NULL, CONFIG_ACTION_HELP);
	parse_ok(2, version, NULL, CONFIG_ACTION_VERSION);
	assert_non_null(strstr(config_usage(), "--endpoint"));
	assert_non_null(strstr(config_usage(), "CSI_ENDPOINT"));
}

static void bad_values_are_rejected_with_the_flag_named(void **state)
{
	struct {
		const char *flag, *value;
	} cases[] = {
		{ "--mode", "storage" },
		{ "--log-level", "verbose" },
		{ "--endpoint", "relative.sock" },
		{ "--endpoint", "" },
		{ "--tcp-endpoint", "/tmp/not-tcp.sock" },
		{ "--tcp-endpoint", "localhost" },
		{ "--node-id", "" },
		{ "--ready-file", "relative/ready" },
		{ "--shutdown-timeout", "-1" },
		{ "--shutdown-timeout", "10h" },
		{ "--shutdown-timeout", "fast" },
		{ "--workers", "0" },
		{ "--workers", "65" },
		{ "--workers", "4x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *const argv[] = {
			"atomblk-agent",	"--node-id", "n", (char *)cases[i].flag,
			(char *)cases[i].value, NULL
		};

		print_message("%s '%s'\n", cases[i].flag, cases[i].value);
		parse_fails(ARGC(argv), argv, NULL, cases[i].flag);
	}
}

static void too_long_node_id_is_rejected(void **state)
{
	char id[CONFIG_NODE_ID_MAX + 2];
	char *const argv[] = { "atomblk-agent", "--node-id", id, NULL };

	memset(id, 'n', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	parse_fails(ARGC(argv), argv, NULL, "--node-id");
	id[CONFIG_NODE_ID_MAX] = '\0'; /* exactly the limit */
	parse_ok(ARGC(argv), argv, NULL, CONFIG_ACTION_RUN);
}

static void bad_environment_values_name_the_variable(void **state)
{
	char *const argv[] = { "atomblk-agent", "--node-id", "n", NULL };
	char *const envp[] = { "ATOMBLK_MODE=bogus", NULL };

	parse_fails(ARGC(argv), argv, envp, "ATOMBLK_MODE");
}

static void unknown_options_missing_values_and_stray_arguments_are_rejected(void **state)
{
	char *const unknown[] = { "atomblk-agent", "--node-id", "n", "--frobnicate", NULL };
	char *const missing[] = { "atomblk-agent", "--node-id", "n", "--mode", NULL };
	char *const stray[] = { "atomblk-agent", "--node-id", "n", "extra", NULL };
	char *const single_dash[] = { "atomblk-agent", "-mode", "node", NULL };

	parse_fails(ARGC(unknown), unknown, NULL, "--frobnicate");
	parse_fails(ARGC(missing), missing, NULL, "needs a value");
	parse_fails(ARGC(stray), stray, NULL, "extra");
	parse_fails(ARGC(single_dash), single_dash, NULL, "-mode");
}

static void durations_take_seconds_milliseconds_and_minutes(void **state)
{
	int ms;

	assert_int_equal(config_parse_duration_ms("7", &ms), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(config_parse_duration_ms("7s", &ms), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(config_parse_duration_ms("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(config_parse_duration_ms("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(config_parse_duration_ms("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(config_parse_duration_ms("", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("5 s", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("99999999999999999999", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_apply_when_only_the_node_id_is_given),
		cmocka_unit_test(every_flag_is_applied),
		cmocka_unit_test(flags_accept_the_equals_form),
		cmocka_unit_test(environment_supplies_every_setting),
		cmocka_unit_test(flags_override_the_environment),
		cmocka_unit_test(empty_environment_values_count_as_unset),
		cmocka_unit_test(similar_environment_names_are_not_confused),
		cmocka_unit_test(node_id_is_required_except_in_controller_mode),
		cmocka_unit_test(storage_and_controller_settings),
		cmocka_unit_test(bad_storage_values_are_rejected),
		cmocka_unit_test(help_and_version_need_no_other_settings),
		cmocka_unit_test(bad_values_are_rejected_with_the_flag_named),
		cmocka_unit_test(too_long_node_id_is_rejected),
		cmocka_unit_test(bad_environment_values_name_the_variable),
		cmocka_unit_test(unknown_options_missing_values_and_stray_arguments_are_rejected),
		cmocka_unit_test(durations_take_seconds_milliseconds_and_minutes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
