// SPDX-License-Identifier: GPL-2.0
/* Agent configuration from flags and environment; see config.h. */
#include "lib/config.h"
#include "lib/roots.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row per setting: its flag, its environment variable, how to apply it. */
struct config_option {
	const char *flag; /* without the leading "--" */
	const char *env; /* environment variable, or NULL */
	int (*apply)(struct agent_config *cfg, const char *value);
	const char *help;
};

static int apply_endpoint(struct agent_config *cfg, const char *value)
{
	return endpoint_parse(value, &cfg->endpoint);
}

static int apply_tcp_endpoint(struct agent_config *cfg, const char *value)
{
	int r = endpoint_parse(value, &cfg->tcp_endpoint);

	if (r < 0)
		return r;
	if (cfg->tcp_endpoint.kind != ENDPOINT_TCP)
		return -EINVAL;
	cfg->has_tcp_endpoint = true;
	return 0;
}

static int apply_node_id(struct agent_config *cfg, const char *value)
{
	size_t len = strlen(value);

	if (len == 0 || len > CONFIG_NODE_ID_MAX)
		return -EINVAL;
	memcpy(cfg->node_id, value, len + 1);
	return 0;
}

static int apply_mode(struct agent_config *cfg, const char *value)
{
	return agent_mode_parse(value, &cfg->mode);
}

static int apply_log_level(struct agent_config *cfg, const char *value)
{
	return log_level_parse(value, &cfg->log_level);
}

static int apply_ready_file(struct agent_config *cfg, const char *value)
{
	size_t len = strlen(value);

	if (len >= sizeof(cfg->ready_file) || (len && value[0] != '/'))
		return -EINVAL;
	memcpy(cfg->ready_file, value, len + 1);
	return 0;
}

static int apply_shutdown_timeout(struct agent_config *cfg, const char *value)
{
	return config_parse_duration_ms(value, &cfg->shutdown_timeout_ms);
}

static int apply_workers(struct agent_config *cfg, const char *value)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno || end == value || *end || n < 1 || n > 64)
		return -EINVAL;
	cfg->workers = (unsigned int)n;
	return 0;
}

/* An absolute path without "." or ".." components (a trailing slash is dropped). */
static int apply_dir(char *dst, size_t size, const char *value)
{
	size_t len = strlen(value);

	if (!path_is_normal_absolute(value) || len >= size)
		return -EINVAL;
	while (len > 1 && value[len - 1] == '/')
		len--;
	memcpy(dst, value, len);
	dst[len] = '\0';
	return 0;
}

static int apply_kubelet_dir(struct agent_config *cfg, const char *value)
{
	return apply_dir(cfg->kubelet_dir, sizeof(cfg->kubelet_dir), value);
}

static int apply_state_dir(struct agent_config *cfg, const char *value)
{
	return apply_dir(cfg->state_dir, sizeof(cfg->state_dir), value);
}

static int apply_max_volumes(struct agent_config *cfg, const char *value)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno || end == value || *end || n < 0 || n > 100000)
		return -EINVAL;
	cfg->max_volumes = (unsigned int)n;
	return 0;
}

/* "key=value[,key=value]": non-empty keys and values, no empty pairs. */
static int apply_topology(struct agent_config *cfg, const char *value)
{
	const char *p = value;

	if (strlen(value) >= sizeof(cfg->topology))
		return -EINVAL;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);

		if (!eq || eq == p || eq == p + len - 1)
			return -EINVAL;
		p += len;
		if (*p == ',' && !*++p)
			return -EINVAL;
	}
	strcpy(cfg->topology, value);
	return 0;
}

/* The metrics listener's address, checked for a port ("" = off). */
static int apply_metrics_addr(struct agent_config *cfg, const char *value)
{
	if (strlen(value) >= sizeof(cfg->metrics_addr) || (value[0] && !strchr(value, ':')))
		return -EINVAL;
	strcpy(cfg->metrics_addr, value);
	return 0;
}

static int apply_modules_dir(struct agent_config *cfg, const char *value)
{
	return apply_dir(cfg->modules_dir, sizeof(cfg->modules_dir), value);
}

static int apply_run_dir(struct agent_config *cfg, const char *value)
{
	return apply_dir(cfg->run_dir, sizeof(cfg->run_dir), value);
}

static int apply_manage_modules(struct agent_config *cfg, const char *value)
{
	if (!strcmp(value, "true"))
		cfg->no_module_management = false;
	else if (!strcmp(value, "false"))
		cfg->no_module_management = true;
	else
		return -EINVAL;
	return 0;
}

static int apply_pool_dir(struct agent_config *cfg, const char *value)
{
	return apply_dir(cfg->pool_dir, sizeof(cfg->pool_dir), value);
}

static int apply_pool_capacity(struct agent_config *cfg, const char *value)
{
	return config_parse_size(value, &cfg->pool_capacity);
}

static int apply_target_endpoint(struct agent_config *cfg, const char *value)
{
	int r = endpoint_parse(value, &cfg->target_endpoint);

	if (r < 0)
		return r;
	if (cfg->target_endpoint.kind != ENDPOINT_TCP)
		return -EINVAL;
	cfg->has_target_endpoint = true;
	return 0;
}

static int apply_tls_dir(struct agent_config *cfg, const char *value)
{
	return apply_dir(cfg->tls_dir, sizeof(cfg->tls_dir), value);
}

/* A numeric IPv4 or IPv6 address (nvmet listens on addresses, not names). */
static int apply_nvme_address(struct agent_config *cfg, const char *value)
{
	unsigned char buf[16];

	if (strlen(value) >= sizeof(cfg->nvme_address) ||
	    (inet_pton(AF_INET, value, buf) != 1 && inet_pton(AF_INET6, value, buf) != 1))
		return -EINVAL;
	strcpy(cfg->nvme_address, value);
	return 0;
}

static int apply_nvme_port(struct agent_config *cfg, const char *value)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno || end == value || *end || n < 1 || n > 65535)
		return -EINVAL;
	snprintf(cfg->nvme_port, sizeof(cfg->nvme_port), "%ld", n);
	return 0;
}

static int apply_nvme_rdma(struct agent_config *cfg, const char *value)
{
	if (!strcmp(value, "auto"))
		cfg->nvme_rdma = -1;
	else if (!strcmp(value, "off"))
		cfg->nvme_rdma = 0;
	else if (!strcmp(value, "on"))
		cfg->nvme_rdma = 1;
	else
		return -EINVAL;
	return 0;
}

/* "host:port" with a non-empty host and a port 1-65535. */
static bool host_port_valid(const char *s, size_t len)
{
	const char *colon = memrchr(s, ':', len);
	long port = 0;

	if (!colon || colon == s || colon == s + len - 1)
		return false;
	for (const char *p = colon + 1; p < s + len; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (*p - '0');
		if (port > 65535)
			return false;
	}
	return port > 0;
}

static int apply_storage_nodes(struct agent_config *cfg, const char *value)
{
	const char *p = value;

	if (strlen(value) >= sizeof(cfg->storage_nodes))
		return -EINVAL;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (!host_port_valid(p, len))
			return -EINVAL;
		p += len;
		if (*p == ',' && !*++p)
			return -EINVAL;
	}
	strcpy(cfg->storage_nodes, value);
	return 0;
}

static int apply_storage_service(struct agent_config *cfg, const char *value)
{
	if (strlen(value) >= sizeof(cfg->storage_service) ||
	    (value[0] && !host_port_valid(value, strlen(value))))
		return -EINVAL;
	strcpy(cfg->storage_service, value);
	return 0;
}

static const struct config_option config_options[] = {
	{ "endpoint", "CSI_ENDPOINT", apply_endpoint,
	  "CSI socket: unix:///path, /path or host:port (default " CONFIG_DEFAULT_ENDPOINT ")" },
	{ "node-id", "NODE_ID", apply_node_id,
	  "this node's CSI node id (required in node and all modes)" },
	{ "mode", "ATOMBLK_MODE", apply_mode, "node, controller or all (default node)" },
	{ "log-level", "ATOMBLK_LOG_LEVEL", apply_log_level,
	  "debug, info, warn or error (default info)" },
	{ "tcp-endpoint", "ATOMBLK_TCP_ENDPOINT", apply_tcp_endpoint,
	  "also serve on host:port (optional)" },
	{ "ready-file", "ATOMBLK_READY_FILE", apply_ready_file,
	  "written once serving, removed on shutdown; '' for none (default " CONFIG_DEFAULT_READY_FILE
	  ")" },
	{ "shutdown-timeout", "ATOMBLK_SHUTDOWN_TIMEOUT", apply_shutdown_timeout,
	  "how long in-flight calls may run after SIGTERM: 10s, 500ms (default 10s)" },
	{ "workers", "ATOMBLK_WORKERS", apply_workers,
	  "worker threads running CSI calls, 1-64 (default 4)" },
	{ "kubelet-dir", "ATOMBLK_KUBELET_DIR", apply_kubelet_dir,
	  "CSI staging and target paths lie below it (default " CONFIG_DEFAULT_KUBELET_DIR ")" },
	{ "state-dir", "ATOMBLK_STATE_DIR", apply_state_dir,
	  "the node's journal directory (default " CONFIG_DEFAULT_STATE_DIR ")" },
	{ "max-volumes", "ATOMBLK_MAX_VOLUMES", apply_max_volumes,
	  "volumes this node may stage, 0 = no limit (default 0)" },
	{ "topology", "ATOMBLK_TOPOLOGY", apply_topology,
	  "this node's topology, key=value[,key=value] (default topology.atomblk.io/node=<node id>)" },
	{ "metrics-addr", "ATOMBLK_METRICS_ADDR", apply_metrics_addr,
	  "host:port (or :port) for Prometheus metrics on /metrics, '' = off" },
	{ "modules-dir", "ATOMBLK_MODULES_DIR", apply_modules_dir,
	  "the shipped atom.ko and atom_client.ko (default " CONFIG_DEFAULT_MODULES_BASE
	  "/<version>/<kernel release>)" },
	{ "run-dir", "ATOMBLK_RUN_DIR", apply_run_dir,
	  "node-local runtime files: the upgrade lock (default " CONFIG_DEFAULT_RUN_DIR ")" },
	{ "manage-modules", "ATOMBLK_MANAGE_MODULES", apply_manage_modules,
	  "true: load/upgrade the kernel modules at start and be ready only with a client;"
	  " false: leave them alone (hosts that cannot load modules, tests) (default true)" },
	{ "pool-dir", "ATOMBLK_POOL_DIR", apply_pool_dir,
	  "storage role: the pool of backing files (node mode: off unless set;"
	  " all mode: default <state-dir>/pool)" },
	{ "pool-capacity", "ATOMBLK_POOL_CAPACITY", apply_pool_capacity,
	  "bytes the pool may provision: 64G, 1T, 512M (default: the pool filesystem's size)" },
	{ "target-endpoint", "ATOMBLK_TARGET_ENDPOINT", apply_target_endpoint,
	  "storage role: serve the target API on host:port, mutual TLS from --tls-dir" },
	{ "tls-dir", "ATOMBLK_TLS_DIR", apply_tls_dir,
	  "ca.crt, tls.crt and tls.key for the target API (default " CONFIG_DEFAULT_TLS_DIR ")" },
	{ "nvme-address", "ATOMBLK_NVME_ADDRESS", apply_nvme_address,
	  "storage role: the IP address nvmet listens on (default: the target endpoint's"
	  " host, else 127.0.0.1)" },
	{ "nvme-port", "ATOMBLK_NVME_PORT", apply_nvme_port,
	  "storage role: the NVMe-oF port (default " CONFIG_DEFAULT_NVME_PORT ")" },
	{ "nvme-rdma", "ATOMBLK_NVME_RDMA", apply_nvme_rdma,
	  "storage role: also listen on RDMA: auto (when an RDMA device holds the address),"
	  " on, off (default auto)" },
	{ "storage-nodes", "ATOMBLK_STORAGE_NODES", apply_storage_nodes,
	  "controller: the storage nodes' target API, host:port[,host:port]" },
	{ "storage-service", "ATOMBLK_STORAGE_SERVICE", apply_storage_service,
	  "controller: a DNS name:port resolving to every storage node (a headless Service)" },
};

#define CONFIG_OPTION_COUNT (sizeof(config_options) / sizeof(config_options[0]))

static const char *const agent_mode_names[] = {
	[AGENT_MODE_NODE] = "node",
	[AGENT_MODE_CONTROLLER] = "controller",
	[AGENT_MODE_ALL] = "all",
};

const char *agent_mode_name(enum agent_mode mode)
{
	if ((unsigned int)mode > AGENT_MODE_ALL)
		return "unknown";
	return agent_mode_names[mode];
}

int agent_mode_parse(const char *name, enum agent_mode *ret)
{
	for (unsigned int i = 0; i <= AGENT_MODE_ALL; i++) {
		if (!strcmp(name, agent_mode_names[i])) {
			*ret = i;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_duration_ms(const char *text, int *ret_ms)
{
	long long value, scale;
	char *end;

	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno || end == text || value < 0 || text[0] == '-' || text[0] == '+')
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		scale = 1000;
	else if (!strcmp(end, "ms"))
		scale = 1;
	else if (!strcmp(end, "m"))
		scale = 60000;
	else
		return -EINVAL;
	if (value > 3600000 / scale)
		return -EINVAL; /* more than an hour is a typo */
	*ret_ms = (int)(value * scale);
	return 0;
}

const char *config_usage(void)
{
	static char text[8192];
	size_t pos;

	if (text[0])
		return text;
	pos = (size_t)snprintf(text, sizeof(text),
			       "Usage: atomblk-agent [OPTION]...\n"
			       "The atomblk CSI plugin (Identity, Node, Controller services).\n\n");
	for (unsigned int i = 0; i < CONFIG_OPTION_COUNT && pos < sizeof(text); i++)
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "  --%-17s %s [env %s]\n",
					config_options[i].flag, config_options[i].help,
					config_options[i].env);
	if (pos < sizeof(text))
		snprintf(text + pos, sizeof(text) - pos,
			 "  --help             this text\n"
			 "  --version          print the version\n\n"
			 "Flags override the environment. Exit status: 0 after a clean shutdown,\n"
			 "1 on a runtime failure, 2 for bad flags.\n");
	return text;
}

static const char *env_lookup(char *const envp[], const char *name)
{
	size_t len = strlen(name);

	for (unsigned int i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], name, len) && envp[i][len] == '=')
			return envp[i][len + 1] ? envp[i] + len + 1 : NULL;
	return NULL;
}

static const struct config_option *option_find(const char *flag, size_t len)
{
	for (unsigned int i = 0; i < CONFIG_OPTION_COUNT; i++)
		if (strlen(config_options[i].flag) == len &&
		    !strncmp(config_options[i].flag, flag, len))
			return &config_options[i];
	return NULL;
}

static int fail(char **ret_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!ret_error)
		return -EINVAL;
	va_start(ap, fmt);
	r = vasprintf(ret_error, fmt, ap);
	va_end(ap);
	if (r < 0) {
		*ret_error = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

static void config_defaults(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	endpoint_parse(CONFIG_DEFAULT_ENDPOINT, &cfg->endpoint);
	cfg->mode = AGENT_MODE_NODE;
	cfg->log_level = LOG_LEVEL_INFO;
	strcpy(cfg->ready_file, CONFIG_DEFAULT_READY_FILE);
	cfg->shutdown_timeout_ms = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS;
	cfg->workers = CONFIG_DEFAULT_WORKERS;
	strcpy(cfg->kubelet_dir, CONFIG_DEFAULT_KUBELET_DIR);
	strcpy(cfg->state_dir, CONFIG_DEFAULT_STATE_DIR);
	strcpy(cfg->run_dir, CONFIG_DEFAULT_RUN_DIR);
	strcpy(cfg->tls_dir, CONFIG_DEFAULT_TLS_DIR);
	strcpy(cfg->nvme_port, CONFIG_DEFAULT_NVME_PORT);
	cfg->nvme_rdma = -1;
}

int config_parse_size(const char *text, unsigned long long *ret)
{
	unsigned long long value, scale = 1;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno || end == text || text[0] == '-' || text[0] == '+')
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'K':
		scale = 1ULL << 10;
		break;
	case 'M':
		scale = 1ULL << 20;
		break;
	case 'G':
		scale = 1ULL << 30;
		break;
	case 'T':
		scale = 1ULL << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "i") && strcmp(end + 1, "iB"))
		return -EINVAL;
	if (value > ~0ULL / scale)
		return -EINVAL;
	*ret = value * scale;
	return 0;
}

int config_parse(int argc, char *const argv[], char *const envp[], struct agent_config *ret,
		 enum config_action *ret_action, char **ret_error)
{
	struct agent_config cfg;
	enum config_action action = CONFIG_ACTION_RUN;
	int i;

	if (ret_error)
		*ret_error = NULL;
	config_defaults(&cfg);

	/* The environment first, so that flags override it. */
	for (unsigned int o = 0; o < CONFIG_OPTION_COUNT; o++) {
		const char *value = env_lookup(envp, config_options[o].env);

		if (value && config_options[o].apply(&cfg, value) < 0)
			return fail(ret_error, "invalid value '%s' in %s (for --%s: %s)", value,
				    config_options[o].env, config_options[o].flag,
				    config_options[o].help);
	}

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct config_option *opt;
		size_t name_len;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			action = CONFIG_ACTION_HELP;
			continue;
		}
		if (!strcmp(arg, "--version")) {
			action = CONFIG_ACTION_VERSION;
			continue;
		}
		if (strncmp(arg, "--", 2) || !arg[2])
			return fail(ret_error, "unexpected argument '%s'", arg);
		name = arg + 2;
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		opt = option_find(name, name_len);
		if (!opt)
			return fail(ret_error, "unknown option '--%.*s'", (int)name_len, name);
		if (eq) {
			value = eq + 1;
		} else {
			if (i + 1 >= argc)
				return fail(ret_error, "option '--%s' needs a value", opt->flag);
			value = argv[++i];
		}
		if (opt->apply(&cfg, value) < 0)
			return fail(ret_error, "invalid value '%s' for --%s: %s", value, opt->flag,
				    opt->help);
	}

	if (action == CONFIG_ACTION_RUN && cfg.mode != AGENT_MODE_CONTROLLER && !cfg.node_id[0])
		return fail(ret_error, "--node-id (or NODE_ID) is required in %s mode",
			    agent_mode_name(cfg.mode));
	if (action == CONFIG_ACTION_RUN && cfg.mode == AGENT_MODE_CONTROLLER &&
	    !cfg.storage_nodes[0] && !cfg.storage_service[0])
		return fail(ret_error, "controller mode needs --storage-nodes or --storage-service"
				       " (ATOMBLK_STORAGE_NODES / ATOMBLK_STORAGE_SERVICE)");
	if (action == CONFIG_ACTION_RUN && cfg.mode == AGENT_MODE_NODE && cfg.has_target_endpoint &&
	    !cfg.pool_dir[0])
		return fail(ret_error,
			    "--target-endpoint serves the storage role: it needs --pool-dir");
	if (action == CONFIG_ACTION_RUN && cfg.mode == AGENT_MODE_ALL && !cfg.pool_dir[0]) {
		if (snprintf(cfg.pool_dir, sizeof(cfg.pool_dir), "%s/pool", cfg.state_dir) >=
		    (int)sizeof(cfg.pool_dir))
			return fail(ret_error,
				    "--state-dir is too long for the default pool directory");
	}

	*ret = cfg;
	*ret_action = action;
	return 0;
}
