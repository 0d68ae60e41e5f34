// SPDX-License-Identifier: GPL-2.0
/*
 * atomblk-agent — the atomblk CSI plugin process.
 *
 * Order matters at start: parse flags (exit 2 on bad ones), block
 * SIGTERM/SIGINT before grpc starts its threads (they inherit the mask and
 * the signals then reach only our sigwait()), claim and bind the socket,
 * declare readiness. On SIGTERM/SIGINT: withdraw readiness, stop accepting,
 * let in-flight calls finish within --shutdown-timeout, exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "csi/csi.h"
#include "lib/config.h"
#include "lib/fsutil.h"
#include "lib/kmods.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/roots.h"
#include "lib/rpc_server.h"
#include "lib/status.h"
#include "lib/tls.h"
#include "lib/upgrade.h"
#include "storage/storage.h"

extern char **environ;

enum {
	EXIT_RUNTIME_FAILURE = 1,
	EXIT_USAGE = 2,
};

/* Log every finished call: debug for successes, warn for server-side errors. */
static void log_call(void *userdata, const char *method, grpc_status_code status,
		     const char *details, int64_t duration_us)
{
	enum log_level level = LOG_LEVEL_DEBUG;

	if (status == GRPC_STATUS_INTERNAL || status == GRPC_STATUS_UNKNOWN ||
	    status == GRPC_STATUS_DATA_LOSS)
		level = LOG_LEVEL_WARN;
	if (!log_enabled(level))
		return;
	log_write(level, "call finished", "method=%s status=%s duration_us=%lld details=\"%s\"",
		  method, status_name(status), (long long)duration_us, details ? details : "");
}

/*
 * Debug only: with log_call's "call finished", shows which calls were waiting
 * for a worker or in a handler at any moment (tests wait on it too).
 */
static void log_accept(void *userdata, const char *method)
{
	(void)userdata;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_write(LOG_LEVEL_DEBUG, "call accepted", "method=%s", method);
}

/* The server's observer when metrics are on: log, then count. */
static void log_and_count_call(void *userdata, const char *method, grpc_status_code status,
			       const char *details, int64_t duration_us)
{
	log_call(NULL, method, status, details, duration_us);
	metrics_observe_call(userdata, method, status, duration_us);
}

/* ATOMBLK_TEST_PROBE_DELAY_MS: see struct csi_plugin; tests only. */
static unsigned int test_probe_delay_ms(void)
{
	const char *value = getenv("ATOMBLK_TEST_PROBE_DELAY_MS");
	long ms = value ? strtol(value, NULL, 10) : 0;

	return ms > 0 && ms < 600000 ? (unsigned int)ms : 0;
}

/* Write the ready file atomically (temp file + rename); create its directory. */
static int ready_file_write(const char *path)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%d\n", (int)getpid()) < 0 || close(fd) < 0) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}

/* Probe's kernel hook: the atom and a client are loaded. */
static bool kernel_ready(struct csi_plugin *plugin)
{
	return kmods_is_loaded(UPGRADE_ATOM_MODULE) && kmods_is_loaded(UPGRADE_CLIENT_MODULE);
}

/* The image's module builder (deploy/image/build-modules). */
#define AGENT_BUILD_MODULES "/usr/lib/atomblk/build-modules"

static bool modules_dir_has_client(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/atom_client.ko", dir);
	return access(path, R_OK) == 0;
}

/*
 * No prebuilt client for this kernel: build one from the image's bundled
 * sources against the node's headers (/lib/modules/<release>/build) with
 * the image's build-modules script, into @out (<state-dir>/modules/<version>/
 * <release>, so a node builds once per version and kernel). The script makes
 * @out appear complete or not at all.
 */
static void modules_build_from_source(const char *out)
{
	char kdir[PATH_MAX], err[FSUTIL_ERR_MAX];
	const char *const argv[] = { AGENT_BUILD_MODULES, kdir, out, NULL };
	struct utsname uts;
	int r, status;

	if (access(AGENT_BUILD_MODULES, X_OK) < 0 || uname(&uts) < 0)
		return;
	snprintf(kdir, sizeof(kdir), "/lib/modules/%s/build", uts.release);
	log_info("no prebuilt client for this kernel, building it", "kdir=\"%s\" out=\"%s\"", kdir,
		 out);
	r = fsutil_run(argv, &status, err, sizeof(err));
	if (r < 0 || status != 0)
		log_error("cannot build the modules", "status=%d error=\"%s\"", r < 0 ? r : status,
			  r < 0 ? strerror(-r) : err);
}

static const char *upgrade_log_message(enum upgrade_outcome outcome)
{
	switch (outcome) {
	case UPGRADE_OUTCOME_INSTALLED:
		return "client installed";
	case UPGRADE_OUTCOME_UPGRADED:
		return "client upgraded";
	case UPGRADE_OUTCOME_REFUSED:
		return "client upgrade refused";
	case UPGRADE_OUTCOME_ROLLED_BACK:
		return "client upgrade failed, rolled back";
	case UPGRADE_OUTCOME_BROKEN:
		return "client upgrade failed, no client serves the disks";
	default:
		return "client current";
	}
}

/*
 * Bring the node's modules to the client this agent ships (lib/upgrade.h):
 * load, swap, or roll back; log what happened. Test hooks (never set in a
 * deployment): ATOMBLK_TEST_PAUSE_AT=locked|after-rmmod|after-insmod stops
 * there for a kill -9; ATOMBLK_TEST_CLIENT_PARAMS are insmod parameters for
 * the shipped client (e.g. fail_adopt=1 with a fault-injection build).
 */
static void kernel_prepare(const struct agent_config *cfg)
{
	const char *pause_at = getenv("ATOMBLK_TEST_PAUSE_AT");
	struct upgrade_config ucfg = {
		.client_params = getenv("ATOMBLK_TEST_CLIENT_PARAMS"),
		.state_dir = cfg->state_dir,
		.run_dir = cfg->run_dir,
		.trigger = "agent",
	};
	char modules_dir[PATH_MAX];
	struct upgrade_report rep;
	int r;

	if (pause_at && upgrade_pause_point_parse(pause_at, &ucfg.test_pause_at) < 0)
		log_warn("unknown ATOMBLK_TEST_PAUSE_AT, ignored", "value=\"%s\"", pause_at);
	if (cfg->modules_dir[0]) {
		snprintf(modules_dir, sizeof(modules_dir), "%s", cfg->modules_dir);
	} else {
		char built[PATH_MAX], base[PATH_MAX + 16];

		/*
		 * The image's prebuilt modules, else those the image's
		 * build-modules compiled on this node (<state-dir>/modules/...).
		 */
		snprintf(modules_dir, sizeof(modules_dir), "%s", CONFIG_DEFAULT_MODULES_BASE);
		upgrade_default_modules_dir(CONFIG_DEFAULT_MODULES_BASE, ATOMBLK_VERSION,
					    modules_dir, sizeof(modules_dir));
		snprintf(base, sizeof(base), "%s/modules", cfg->state_dir);
		if (!modules_dir_has_client(modules_dir) &&
		    upgrade_default_modules_dir(base, ATOMBLK_VERSION, built, sizeof(built)) == 0) {
			if (!modules_dir_has_client(built))
				modules_build_from_source(built);
			if (modules_dir_has_client(built))
				snprintf(modules_dir, sizeof(modules_dir), "%s", built);
		}
	}
	ucfg.modules_dir = modules_dir;
	log_info("checking the kernel modules", "modules_dir=\"%s\"", modules_dir);
	r = upgrade_run(&ucfg, &rep);
	if (r < 0) {
		log_error("cannot run the module upgrade", "error=\"%s\"", strerror(-r));
		return;
	}
	switch (rep.outcome) {
	case UPGRADE_OUTCOME_CURRENT:
		log_info("client current", "version=%s disks=%u", rep.running, rep.disks);
		break;
	case UPGRADE_OUTCOME_INSTALLED:
	case UPGRADE_OUTCOME_UPGRADED:
		log_info(upgrade_log_message(rep.outcome),
			 "from=%s to=%s disks=%u swap_us=%llu max_pause_us=%llu resumed=%s",
			 rep.from[0] ? rep.from : "none", rep.to, rep.disks,
			 (unsigned long long)rep.swap_us, (unsigned long long)rep.max_pause_us,
			 rep.resumed ? "true" : "false");
		break;
	default:
		log_error(upgrade_log_message(rep.outcome),
			  "from=%s to=%s running=%s step=%s error=\"%s\" message=\"%s\"",
			  rep.from[0] ? rep.from : "none", rep.to[0] ? rep.to : "unknown",
			  rep.running[0] ? rep.running : "none", rep.step, strerror(-rep.error),
			  rep.message);
		break;
	}
}

static const char *describe_start_error(int err)
{
	switch (err) {
	case -EADDRINUSE:
		return "another server is already serving this endpoint";
	case -ENOTSOCK:
		return "the endpoint path exists and is not a socket";
	case -EADDRNOTAVAIL:
		return "cannot listen on the endpoint";
	default:
		return strerror(-err);
	}
}

/*
 * The Node service: its roots from the configuration, its journal, its
 * methods. On failure *ret may be set; the caller frees it after the server.
 */
static int node_service_start(const struct agent_config *cfg, struct rpc_server *server,
			      const struct tls_files *tls, struct storage *storage,
			      struct csi_node **ret)
{
	const struct csi_node_config node_cfg = {
		.node_id = cfg->node_id,
		.max_volumes = cfg->max_volumes,
		.topology = cfg->topology,
		.tls = tls,
		.local_fn = storage ? storage_call : NULL,
		.local = storage,
	};
	int r;

	r = roots_set(ROOT_KUBELET, cfg->kubelet_dir);
	if (r == 0)
		r = roots_set(ROOT_STATE, cfg->state_dir);
	if (r == 0)
		r = csi_node_new(&node_cfg, ret);
	if (r < 0) {
		log_error("cannot start the Node service", "state_dir=\"%s\" error=\"%s\"",
			  cfg->state_dir, r == -EBADMSG ? "corrupt journal" : strerror(-r));
		return r;
	}
	r = csi_node_register(server, *ret);
	if (r < 0)
		log_error("cannot register the Node service", "error=\"%s\"", strerror(-r));
	return r;
}

/*
 * The TLS material: required to serve the target API or to reach remote
 * storage nodes from a controller; optional for a node (remote legs then
 * fail at stage time with a clear error). *ret stays zeroed when absent.
 */
static int tls_prepare(const struct agent_config *cfg, struct tls_files *ret, bool *ret_loaded)
{
	bool needed =
		cfg->has_target_endpoint || cfg->mode == AGENT_MODE_CONTROLLER ||
		(cfg->mode == AGENT_MODE_ALL && (cfg->storage_nodes[0] || cfg->storage_service[0]));
	const char *missing = NULL;
	int r;

	*ret_loaded = false;
	r = tls_files_load(cfg->tls_dir, ret, &missing);
	if (r == 0) {
		*ret_loaded = true;
		return 0;
	}
	if (!needed) {
		log_info("no TLS material: storage nodes on other machines are out of reach",
			 "tls_dir=\"%s\" missing=%s", cfg->tls_dir, missing ? missing : "?");
		return 0;
	}
	log_error("cannot load the target API's TLS material",
		  "tls_dir=\"%s\" file=%s error=\"%s\"", cfg->tls_dir, missing ? missing : "?",
		  strerror(-r));
	return r;
}

/* The storage role: the pool, its exports, and (with --target-endpoint) the target API server. */
static int storage_start(const struct agent_config *cfg, const struct tls_files *tls,
			 rpc_call_observer_fn observer, void *observer_userdata,
			 struct storage **ret_storage, struct rpc_server **ret_server)
{
	char nvme_address[64];
	struct storage_config storage_cfg = {
		.node_id = cfg->node_id,
		.topology = cfg->topology,
		.state_dir = cfg->state_dir,
		.pool_dir = cfg->pool_dir,
		.pool_capacity = cfg->pool_capacity,
		.nvme_address = nvme_address,
		.nvme_port = cfg->nvme_port,
		.rdma = cfg->nvme_rdma,
	};
	struct rpc_server_config target_cfg = {
		.tcp_address = cfg->target_endpoint.target,
		.tls = tls,
		.workers = cfg->workers,
		.observer = observer,
		.observer_userdata = observer_userdata,
	};
	int r;

	if (cfg->nvme_address[0]) {
		snprintf(nvme_address, sizeof(nvme_address), "%s", cfg->nvme_address);
	} else if (cfg->has_target_endpoint) {
		/* host of host:port, without IPv6 brackets */
		const char *t = cfg->target_endpoint.target, *colon = strrchr(t, ':');
		size_t len = colon ? (size_t)(colon - t) : strlen(t);

		if (t[0] == '[' && len >= 2) {
			t++;
			len -= 2;
		}
		snprintf(nvme_address, sizeof(nvme_address), "%.*s", (int)len, t);
	} else {
		snprintf(nvme_address, sizeof(nvme_address), "127.0.0.1");
	}
	r = storage_new(&storage_cfg, ret_storage);
	if (r < 0) {
		log_error("cannot start the storage role", "pool_dir=\"%s\" error=\"%s\"",
			  cfg->pool_dir, r == -EBADMSG ? "corrupt journal" : strerror(-r));
		return r;
	}
	if (!cfg->has_target_endpoint)
		return 0;
	r = rpc_server_new(&target_cfg, ret_server);
	if (r == 0)
		r = storage_register(*ret_server, *ret_storage);
	if (r == 0)
		r = rpc_server_start(*ret_server);
	if (r < 0)
		log_error("cannot serve the target API", "target_endpoint=%s error=\"%s\"",
			  cfg->target_endpoint.target, describe_start_error(r));
	else
		log_info("serving the target API", "target_endpoint=%s nvme_address=%s",
			 cfg->target_endpoint.target, nvme_address);
	return r;
}

static int controller_start(const struct agent_config *cfg, struct rpc_server *server,
			    const struct tls_files *tls, struct storage *storage,
			    struct csi_controller **ret)
{
	const struct csi_controller_config controller_cfg = {
		.storage_nodes = cfg->storage_nodes[0] ? cfg->storage_nodes : NULL,
		.storage_service = cfg->storage_service[0] ? cfg->storage_service : NULL,
		.tls = tls,
		.local_fn = storage ? storage_call : NULL,
		.local = storage,
	};
	int r;

	r = csi_controller_new(&controller_cfg, ret);
	if (r == 0)
		r = csi_controller_register(server, *ret);
	if (r < 0)
		log_error("cannot start the Controller service", "error=\"%s\"", strerror(-r));
	return r;
}

int main(int argc, char *argv[])
{
	struct rpc_server_config server_cfg = {};
	struct csi_plugin plugin = {};
	struct rpc_server *server = NULL;
	struct csi_node *node = NULL;
	struct csi_controller *controller = NULL;
	struct storage *storage = NULL;
	struct rpc_server *target_server = NULL;
	struct tls_files tls = {};
	bool tls_loaded = false;
	struct metrics *metrics = NULL;
	struct agent_config cfg;
	enum config_action action;
	char *error = NULL;
	sigset_t signals;
	int sig, r;

	r = config_parse(argc, argv, environ, &cfg, &action, &error);
	if (r < 0) {
		fprintf(stderr, "atomblk-agent: %s\nTry 'atomblk-agent --help'.\n",
			error ? error : strerror(-r));
		free(error);
		return EXIT_USAGE;
	}
	if (action == CONFIG_ACTION_HELP) {
		fputs(config_usage(), stdout);
		return EXIT_SUCCESS;
	}
	if (action == CONFIG_ACTION_VERSION) {
		printf("atomblk-agent %s\n", ATOMBLK_VERSION);
		return EXIT_SUCCESS;
	}
	log_set_level(cfg.log_level);
	/*
	 * Two malloc arenas, not one per thread that ever allocates (grpc's
	 * threads, the workers, the leg monitor): about 150 kB less resident
	 * at start (tests/bench/agent.sh: 10256 -> 10100 kB) and the same call
	 * latency. MALLOC_ARENA_MAX in the environment still wins.
	 */
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);

	/* Before any grpc thread exists: see the file comment. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	plugin.node_id = cfg.node_id;
	plugin.test_probe_delay_ms = test_probe_delay_ms();
	server_cfg.unix_path = cfg.endpoint.kind == ENDPOINT_UNIX ? cfg.endpoint.path : NULL;
	server_cfg.tcp_address = cfg.endpoint.kind == ENDPOINT_TCP ? cfg.endpoint.target :
				 cfg.has_tcp_endpoint		   ? cfg.tcp_endpoint.target :
								     NULL;
	server_cfg.workers = cfg.workers;
	server_cfg.observer = log_call;
	server_cfg.on_accept = log_accept;
	if (cfg.metrics_addr[0]) {
		r = metrics_new(cfg.state_dir, &metrics);
		if (r == 0)
			r = metrics_serve(metrics, cfg.metrics_addr);
		if (r < 0) {
			/* Storage matters more than metrics: go on without them. */
			log_error("cannot serve metrics", "metrics_addr=%s error=\"%s\"",
				  cfg.metrics_addr, strerror(-r));
			metrics = metrics_free(metrics);
		} else {
			server_cfg.observer = log_and_count_call;
			server_cfg.observer_userdata = metrics;
			log_info("serving metrics", "metrics_addr=%s port=%d", cfg.metrics_addr,
				 metrics_port(metrics));
		}
	}
	if (cfg.endpoint.kind == ENDPOINT_TCP && cfg.has_tcp_endpoint) {
		log_error("--tcp-endpoint needs a unix --endpoint", "endpoint=%s",
			  cfg.endpoint.target);
		return EXIT_USAGE;
	}

	r = rpc_server_new(&server_cfg, &server);
	if (r < 0) {
		log_error("cannot create the gRPC server", "error=\"%s\"", strerror(-r));
		return EXIT_RUNTIME_FAILURE;
	}
	r = csi_identity_register(server, &plugin);
	if (r < 0) {
		log_error("cannot register the Identity service", "error=\"%s\"", strerror(-r));
		goto out_free;
	}
	/* Modules first: the Node service rebuilds its state from the kernel. */
	if (cfg.mode != AGENT_MODE_CONTROLLER && !cfg.no_module_management) {
		kernel_prepare(&cfg);
		plugin.kernel_ready = kernel_ready;
	}
	r = tls_prepare(&cfg, &tls, &tls_loaded);
	if (r < 0)
		goto out_free;
	if (cfg.mode != AGENT_MODE_CONTROLLER && cfg.pool_dir[0]) {
		r = storage_start(&cfg, tls_loaded ? &tls : NULL, server_cfg.observer,
				  server_cfg.observer_userdata, &storage, &target_server);
		if (r < 0)
			goto out_free;
	}
	if (cfg.mode != AGENT_MODE_NODE) {
		r = controller_start(&cfg, server, tls_loaded ? &tls : NULL, storage, &controller);
		if (r < 0)
			goto out_free;
		plugin.controller_registered = true;
	}
	if (cfg.mode != AGENT_MODE_CONTROLLER) {
		r = node_service_start(&cfg, server, tls_loaded ? &tls : NULL, storage, &node);
		if (r < 0)
			goto out_free;
	}
	/*
	 * Ready as soon as calls can be answered: set before the listeners open,
	 * so that no Probe ever sees "not ready" from a serving agent. If start
	 * fails, nobody can ask.
	 */
	atomic_store(&plugin.serving, true);
	r = rpc_server_start(server);
	if (r < 0) {
		log_error("cannot serve", "endpoint=%s tcp_endpoint=%s error=\"%s\"",
			  cfg.endpoint.target,
			  cfg.has_tcp_endpoint ? cfg.tcp_endpoint.target : "none",
			  describe_start_error(r));
		goto out_free;
	}
	if (cfg.ready_file[0] && !csi_plugin_ready(&plugin)) {
		log_error("not ready: no client module serves the disks; no ready file", NULL);
	} else if (cfg.ready_file[0]) {
		r = ready_file_write(cfg.ready_file);
		if (r < 0)
			log_warn("cannot write the ready file", "path=\"%s\" error=\"%s\"",
				 cfg.ready_file, strerror(-r));
	}
	log_info("serving", "endpoint=%s tcp_endpoint=%s mode=%s node_id=%s version=%s workers=%u",
		 cfg.endpoint.target, cfg.has_tcp_endpoint ? cfg.tcp_endpoint.target : "none",
		 agent_mode_name(cfg.mode), cfg.node_id[0] ? cfg.node_id : "none", ATOMBLK_VERSION,
		 cfg.workers);

	do {
		r = sigwait(&signals, &sig);
	} while (r == EINTR);

	log_info("shutting down", "signal=%s timeout_ms=%d", sig == SIGTERM ? "SIGTERM" : "SIGINT",
		 cfg.shutdown_timeout_ms);
	atomic_store(&plugin.serving, false);
	if (cfg.ready_file[0])
		unlink(cfg.ready_file);
	if (target_server)
		rpc_server_shutdown(target_server, cfg.shutdown_timeout_ms);
	r = rpc_server_shutdown(server, cfg.shutdown_timeout_ms);
	if (r == -EBUSY) {
		log_error("calls still running after the shutdown timeout; exiting anyway",
			  "timeout_ms=%d", cfg.shutdown_timeout_ms);
		_exit(EXIT_RUNTIME_FAILURE);
	}
	if (r == -ETIMEDOUT)
		log_warn("in-flight calls cancelled at the shutdown timeout", "timeout_ms=%d",
			 cfg.shutdown_timeout_ms);
	rpc_server_free(server);
	rpc_server_free(target_server);
	csi_node_free(node);
	csi_controller_free(controller);
	storage_free(storage);
	tls_files_clear(&tls);
	metrics_free(metrics);
	log_info("stopped", NULL);
	return r < 0 ? EXIT_RUNTIME_FAILURE : EXIT_SUCCESS;

out_free:
	rpc_server_free(server);
	rpc_server_free(target_server);
	csi_node_free(node);
	csi_controller_free(controller);
	storage_free(storage);
	tls_files_clear(&tls);
	metrics_free(metrics);
	return EXIT_RUNTIME_FAILURE;
}
