// SPDX-License-Identifier: GPL-2.0
/*
 * config_parse(): the Node service's flags — --kubelet-dir, --state-dir,
 * --max-volumes, --topology, --metrics-addr — exactly as the Helm chart
 * passes them, from the environment, and their bad values.
 */
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

static struct agent_config parse_ok(int argc, char *const argv[], char *const envp[])
{
	struct agent_config cfg;
	enum config_action action;
	char *error = NULL;
	int r;

	r = config_parse(argc, argv, envp, &cfg, &action, &error);
	if (r < 0)
		print_error("unexpected error: %s\n", error ? error : "(none)");
	assert_int_equal(r, 0);
	assert_int_equal(action, CONFIG_ACTION_RUN);
	return cfg;
}

static void parse_fails(int argc, char *const argv[], const char *flag)
{
	struct agent_config cfg;
	enum config_action action;
	char *error = NULL;

	assert_int_equal(config_parse(argc, argv, NULL, &cfg, &action, &error), -EINVAL);
	assert_non_null(error);
	if (!strstr(error, flag))
		print_error("message '%s' lacks '%s'\n", error, flag);
	assert_non_null(strstr(error, flag));
	free(error);
}

static void defaults_are_kubelet_and_var_lib_atomblk(void **state)
{
	struct agent_config cfg = parse_ok(3, ARGV("--node-id", "n1"), NULL);

	assert_string_equal(cfg.kubelet_dir, "/var/lib/kubelet");
	assert_string_equal(cfg.state_dir, "/var/lib/atomblk");
	assert_int_equal(cfg.max_volumes, 0);
	assert_string_equal(cfg.topology, "");
	assert_string_equal(cfg.metrics_addr, "");
}

static void the_helm_chart_s_arguments_are_accepted(void **state)
{
	char *const *argv = ARGV("--node-id=n1", "--state-dir=/var/lib/atomblk",
				 "--kubelet-dir=/var/lib/kubelet", "--metrics-addr=");
	struct agent_config cfg = parse_ok(5, argv, NULL);

	assert_string_equal(cfg.state_dir, "/var/lib/atomblk");
	assert_string_equal(cfg.kubelet_dir, "/var/lib/kubelet");
	assert_string_equal(cfg.metrics_addr, "");
}

static void every_node_flag_is_applied(void **state)
{
	char *const *argv = ARGV("--node-id", "n1", "--kubelet-dir", "/k/", "--state-dir", "/s",
				 "--max-volumes", "12", "--topology", "zone=a,rack=r7",
				 "--metrics-addr", "127.0.0.1:9808");
	struct agent_config cfg = parse_ok(13, argv, NULL);

	assert_string_equal(cfg.kubelet_dir, "/k"); /* trailing slash dropped */
	assert_string_equal(cfg.state_dir, "/s");
	assert_int_equal(cfg.max_volumes, 12);
	assert_string_equal(cfg.topology, "zone=a,rack=r7");
	assert_string_equal(cfg.metrics_addr, "127.0.0.1:9808");
}

static void the_environment_sets_them_and_flags_win(void **state)
{
	char *const envp[] = { "ATOMBLK_KUBELET_DIR=/env/kubelet", "ATOMBLK_STATE_DIR=/env/state",
			       "ATOMBLK_MAX_VOLUMES=3", "ATOMBLK_TOPOLOGY=zone=env", NULL };
	struct agent_config cfg = parse_ok(5, ARGV("--node-id", "n1", "--max-volumes", "5"), envp);

	assert_string_equal(cfg.kubelet_dir, "/env/kubelet");
	assert_string_equal(cfg.state_dir, "/env/state");
	assert_string_equal(cfg.topology, "zone=env");
	assert_int_equal(cfg.max_volumes, 5);
}

static void bad_values_are_refused_naming_the_flag(void **state)
{
	parse_fails(5, ARGV("--node-id", "n1", "--kubelet-dir", "relative/dir"), "--kubelet-dir");
	parse_fails(5, ARGV("--node-id", "n1", "--kubelet-dir", "/var/lib/../etc"),
		    "--kubelet-dir");
	parse_fails(5, ARGV("--node-id", "n1", "--state-dir", ""), "--state-dir");
	parse_fails(5, ARGV("--node-id", "n1", "--max-volumes", "-1"), "--max-volumes");
	parse_fails(5, ARGV("--node-id", "n1", "--max-volumes", "lots"), "--max-volumes");
	parse_fails(5, ARGV("--node-id", "n1", "--topology", "zone"), "--topology");
	parse_fails(5, ARGV("--node-id", "n1", "--topology", "=a"), "--topology");
	parse_fails(5, ARGV("--node-id", "n1", "--topology", "zone="), "--topology");
	parse_fails(5, ARGV("--node-id", "n1", "--topology", "zone=a,"), "--topology");
	parse_fails(5, ARGV("--node-id", "n1", "--topology", "zone=a,,rack=b"), "--topology");
	parse_fails(5, ARGV("--node-id", "n1", "--metrics-addr", "9808"), "--metrics-addr");
}

static void help_lists_the_node_flags(void **state)
{
	const char *usage = config_usage();

	assert_non_null(strstr(usage, "--kubelet-dir"));
	assert_non_null(strstr(usage, "--state-dir"));
	assert_non_null(strstr(usage, "--max-volumes"));
	assert_non_null(strstr(usage, "--topology"));
	assert_non_null(strstr(usage, "--metrics-addr"));
	assert_non_null(strstr(usage, "--help")); /* the text was not cut short */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_kubelet_and_var_lib_atomblk),
		cmocka_unit_test(the_helm_chart_s_arguments_are_accepted),
		cmocka_unit_test(every_node_flag_is_applied),
		cmocka_unit_test(the_environment_sets_them_and_flags_win),
		cmocka_unit_test(bad_values_are_refused_naming_the_flag),
		cmocka_unit_test(help_lists_the_node_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
