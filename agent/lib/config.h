/* SPDX-License-Identifier: GPL-2.0 */
/*
 * atomblk-agent configuration: command-line flags, each also settable from
 * the environment (flags win). Parsing is a pure function of argv and an
 * environment array, so tests call it directly.
 */
#ifndef ATOMBLK_CONFIG_H
#define ATOMBLK_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "lib/endpoint.h"
#include "lib/log.h"

enum agent_mode {
	AGENT_MODE_NODE, /* Identity + Node */
	AGENT_MODE_CONTROLLER, /* Identity + Controller */
	AGENT_MODE_ALL, /* everything in one process (single-node setups) */
};

#define CONFIG_DEFAULT_ENDPOINT "unix:///csi/csi.sock"
#define CONFIG_DEFAULT_READY_FILE "/run/atomblk/ready"
#define CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS 10000
#define CONFIG_DEFAULT_WORKERS 4
#define CONFIG_NODE_ID_MAX 256 /* the CSI spec's limit for node_id */
#define CONFIG_DEFAULT_KUBELET_DIR "/var/lib/kubelet"
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/atomblk"
#define CONFIG_TOPOLOGY_MAX 1024
#define CONFIG_DEFAULT_MODULES_BASE "/usr/lib/atomblk/modules" /* + /<version>/<uname -r> */
#define CONFIG_DEFAULT_RUN_DIR "/run/atomblk"
#define CONFIG_DEFAULT_TLS_DIR "/etc/atomblk/tls"
#define CONFIG_DEFAULT_NVME_PORT "4420"
#define CONFIG_ADDR_MAX 256 /* host:port strings */

struct agent_config {
	struct endpoint endpoint; /* --endpoint / CSI_ENDPOINT (unix or TCP) */
	bool has_tcp_endpoint; /* an extra TCP listener was asked for */
	struct endpoint tcp_endpoint; /* --tcp-endpoint / ATOMBLK_TCP_ENDPOINT */
	char node_id[CONFIG_NODE_ID_MAX + 1]; /* --node-id / NODE_ID; required unless controller */
	enum agent_mode mode; /* --mode / ATOMBLK_MODE, default node */
	enum log_level log_level; /* --log-level / ATOMBLK_LOG_LEVEL, default info */
	char ready_file[PATH_MAX]; /* --ready-file / ATOMBLK_READY_FILE; "" = none */
	int shutdown_timeout_ms; /* --shutdown-timeout / ATOMBLK_SHUTDOWN_TIMEOUT, default 10s */
	unsigned int workers; /* --workers / ATOMBLK_WORKERS, default 4 */
	char kubelet_dir[PATH_MAX]; /* --kubelet-dir / ATOMBLK_KUBELET_DIR: CSI paths lie below */
	char state_dir[PATH_MAX]; /* --state-dir / ATOMBLK_STATE_DIR: the node journal */
	unsigned int max_volumes; /* --max-volumes / ATOMBLK_MAX_VOLUMES, default 0 = no limit */
	char topology[CONFIG_TOPOLOGY_MAX]; /* --topology / ATOMBLK_TOPOLOGY: k=v[,k=v] */
	char metrics_addr[256]; /* --metrics-addr / ATOMBLK_METRICS_ADDR: host:port, "" = off */
	char modules_dir[PATH_MAX]; /* --modules-dir / ATOMBLK_MODULES_DIR; "" = default */
	char run_dir[PATH_MAX]; /* --run-dir / ATOMBLK_RUN_DIR: the upgrade lock's directory */
	bool no_module_management; /* --manage-modules=false / ATOMBLK_MANAGE_MODULES */
	/* The storage role (node and all modes): on when pool_dir is set. */
	char pool_dir[PATH_MAX]; /* --pool-dir / ATOMBLK_POOL_DIR; all mode: <state-dir>/pool */
	unsigned long long pool_capacity; /* --pool-capacity / ATOMBLK_POOL_CAPACITY; 0 = fs size */
	bool has_target_endpoint; /* the target API is served on TCP (mutual TLS) */
	struct endpoint target_endpoint; /* --target-endpoint / ATOMBLK_TARGET_ENDPOINT */
	char tls_dir[PATH_MAX]; /* --tls-dir / ATOMBLK_TLS_DIR: ca.crt, tls.crt, tls.key */
	char nvme_address
		[64]; /* --nvme-address / ATOMBLK_NVME_ADDRESS; "" = target host or 127.0.0.1 */
	char nvme_port[8]; /* --nvme-port / ATOMBLK_NVME_PORT (default 4420) */
	int nvme_rdma; /* --nvme-rdma / ATOMBLK_NVME_RDMA: auto (-1), off (0), on (1) */
	/* The controller role (controller and all modes): where the storage nodes are. */
	char storage_nodes
		[CONFIG_TOPOLOGY_MAX]; /* --storage-nodes / ATOMBLK_STORAGE_NODES: host:port,... */
	char storage_service
		[CONFIG_ADDR_MAX]; /* --storage-service / ATOMBLK_STORAGE_SERVICE: name:port */
};

enum config_action {
	CONFIG_ACTION_RUN,
	CONFIG_ACTION_HELP,
	CONFIG_ACTION_VERSION,
};

/*
 * config_parse() - build the configuration from flags and environment.
 * @argc, @argv: the command line (argv[0] is skipped). Flags take
 *	"--flag value" or "--flag=value".
 * @envp: NULL-terminated "NAME=value" array (environ), or NULL; empty values
 *	count as unset.
 * @ret: the configuration (defaults filled in).
 * @ret_action: run, or print help / version and exit.
 * @ret_error: on -EINVAL, a malloc'd message naming the flag and the value.
 *
 * Return: 0, -EINVAL for a bad flag or value, -ENOMEM.
 */
int config_parse(int argc, char *const argv[], char *const envp[], struct agent_config *ret,
		 enum config_action *ret_action, char **ret_error);

/* config_usage() - the --help text. */
const char *config_usage(void);

const char *agent_mode_name(enum agent_mode mode);
int agent_mode_parse(const char *name, enum agent_mode *ret);

/* config_parse_duration_ms() - "10", "10s", "500ms", "2m" -> milliseconds (plain numbers are seconds). */
int config_parse_duration_ms(const char *text, int *ret_ms);

/* config_parse_size() - "1073741824", "512M", "8G", "2T" (binary units) -> bytes. */
int config_parse_size(const char *text, unsigned long long *ret);

#endif
