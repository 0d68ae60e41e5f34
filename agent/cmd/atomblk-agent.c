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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csi/csi.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/rpc_server.h"
#include "lib/status.h"

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

int main(int argc, char *argv[])
{
	struct rpc_server_config server_cfg = {};
	struct csi_plugin plugin = {};
	struct rpc_server *server = NULL;
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

	/* Before any grpc thread exists: see the file comment. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	plugin.mode = cfg.mode;
	plugin.node_id = cfg.node_id;
	plugin.test_probe_delay_ms = test_probe_delay_ms();
	server_cfg.unix_path = cfg.endpoint.kind == ENDPOINT_UNIX ? cfg.endpoint.path : NULL;
	server_cfg.tcp_address = cfg.endpoint.kind == ENDPOINT_TCP ? cfg.endpoint.target :
				 cfg.has_tcp_endpoint		   ? cfg.tcp_endpoint.target :
								     NULL;
	server_cfg.workers = cfg.workers;
	server_cfg.observer = log_call;
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
	if (cfg.ready_file[0]) {
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
	log_info("stopped", NULL);
	return r < 0 ? EXIT_RUNTIME_FAILURE : EXIT_SUCCESS;

out_free:
	rpc_server_free(server);
	return EXIT_RUNTIME_FAILURE;
}
