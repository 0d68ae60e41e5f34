// SPDX-License-Identifier: GPL-2.0
/*
 * agent_proc — start, stop and clean up a real atomblk-agent child process.
 *
 * The agent is started with posix_spawn (never a bare fork: the test process
 * may already run grpc threads), with default signal dispositions and an
 * empty signal mask, its stdout and stderr going to <dir>/agent.log.
 */
#include "lib/agent_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define AGENT_START_TIMEOUT_MS 5000
#define AGENT_MAX_ARGS 64
#define AGENT_MAX_LIVE 64

/*
 * Every agent started and not yet reaped. A failing cmocka assertion skips
 * the test's own cleanup; the atexit handler then kills what is left, so no
 * agent outlives the test program.
 */
static pid_t live_agents[AGENT_MAX_LIVE];

static void kill_live_agents(void)
{
	for (int i = 0; i < AGENT_MAX_LIVE; i++) {
		if (live_agents[i] > 0) {
			kill(live_agents[i], SIGKILL);
			waitpid(live_agents[i], NULL, 0);
			live_agents[i] = 0;
		}
	}
}

static void live_agent_track(pid_t pid, bool alive)
{
	static bool registered;

	if (!registered) {
		atexit(kill_live_agents);
		registered = true;
	}
	for (int i = 0; i < AGENT_MAX_LIVE; i++) {
		if (alive && live_agents[i] == 0) {
			live_agents[i] = pid;
			return;
		}
		if (!alive && live_agents[i] == pid) {
			live_agents[i] = 0;
			return;
		}
	}
}

long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

bool unix_socket_accepts(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	bool accepted;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return false;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	accepted = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return accepted;
}

static const char *agent_binary(void)
{
	const char *bin = getenv("ATOMBLK_AGENT");

	return bin && *bin ? bin : "build/bin/atomblk-agent";
}

/* Spawn the agent with @argv (argv[0] included) and output to @log. */
static int spawn_agent(char *const argv[], const char *log, pid_t *ret_pid)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int r;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log,
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);

	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGCHLD);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	r = posix_spawn(ret_pid, argv[0], &actions, &attr, argv, environ);
	if (r == 0)
		live_agent_track(*ret_pid, true);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&actions);
	return -r;
}

/* Reap the agent if it has exited; true if it has (now or before). */
static bool agent_reaped(struct agent_proc *p)
{
	int status;
	pid_t r;

	if (p->pid <= 0)
		return true;
	r = waitpid(p->pid, &status, WNOHANG);
	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		live_agent_track(p->pid, false);
		p->exit_status = r == p->pid ? status : -1;
		p->pid = 0;
		return true;
	}
	return false;
}

bool agent_proc_alive(struct agent_proc *p)
{
	return !agent_reaped(p);
}

static int agent_proc_init(struct agent_proc *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->exit_status = -1;
	snprintf(ret->dir, sizeof(ret->dir), "/tmp/atomblk-agent-XXXXXX");
	if (!mkdtemp(ret->dir)) {
		ret->dir[0] = '\0';
		return -errno;
	}
	snprintf(ret->sock, sizeof(ret->sock), "%s/csi.sock", ret->dir);
	snprintf(ret->endpoint, sizeof(ret->endpoint), "unix://%s", ret->sock);
	snprintf(ret->log, sizeof(ret->log), "%s/agent.log", ret->dir);
	return 0;
}

static int agent_proc_spawn_and_wait(struct agent_proc *p, char *const argv[])
{
	long long deadline;
	int r;

	r = spawn_agent(argv, p->log, &p->pid);
	if (r < 0) {
		p->pid = 0;
		return r;
	}
	deadline = monotonic_ms() + AGENT_START_TIMEOUT_MS;
	for (;;) {
		if (unix_socket_accepts(p->sock))
			return 0;
		if (agent_reaped(p))
			return -ECHILD;
		if (monotonic_ms() > deadline)
			return -ETIMEDOUT;
		usleep(250); /* fine-grained: the benchmark times start-up with this */
	}
}

int agent_proc_prepare(struct agent_proc *ret)
{
	return agent_proc_init(ret);
}

int agent_proc_launch(struct agent_proc *p, const char *const extra_argv[])
{
	char ready[300], state[300];
	const char *args[AGENT_MAX_ARGS + 2];
	int n = 0;

	snprintf(ready, sizeof(ready), "%s/ready", p->dir);
	snprintf(state, sizeof(state), "%s/state", p->dir);
	args[n++] = agent_binary();
	args[n++] = "--endpoint";
	args[n++] = p->endpoint;
	args[n++] = "--node-id";
	args[n++] = "test-node";
	args[n++] = "--ready-file";
	args[n++] = ready;
	args[n++] = "--manage-modules=false"; /* the host cannot load kernel modules */
	/* Never the host's /var/lib/atomblk (all mode puts its pool there); later flags win. */
	args[n++] = "--state-dir";
	args[n++] = state;
	for (int i = 0; extra_argv && extra_argv[i]; i++) {
		if (n >= AGENT_MAX_ARGS)
			return -E2BIG;
		args[n++] = extra_argv[i];
	}
	args[n] = NULL;
	return agent_proc_spawn_and_wait(p, (char *const *)args);
}

int agent_proc_start(struct agent_proc *ret, const char *const extra_argv[])
{
	int r = agent_proc_init(ret);

	if (r < 0)
		return r;
	return agent_proc_launch(ret, extra_argv);
}

int agent_proc_stop(struct agent_proc *p, int sig, int timeout_ms, int *ret_status)
{
	long long deadline = monotonic_ms() + timeout_ms;

	if (p->pid > 0 && sig)
		kill(p->pid, sig);
	while (!agent_reaped(p)) {
		if (monotonic_ms() > deadline)
			return -ETIMEDOUT;
		sleep_ms(2);
	}
	if (ret_status)
		*ret_status = p->exit_status;
	return 0;
}

static char *read_whole_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *mem;
	char chunk[4096];
	size_t n;

	mem = open_memstream(&buf, &len);
	if (!mem)
		return NULL;
	f = fopen(path, "re");
	if (f) {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, mem);
		fclose(f);
	}
	fclose(mem);
	return buf;
}

char *agent_proc_read_log(const struct agent_proc *p)
{
	return read_whole_file(p->log);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The agent's private directory and everything in it (state/, a pool). */
static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void agent_proc_cleanup(struct agent_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->exit_status, 0);
		live_agent_track(p->pid, false);
		p->pid = 0;
	}
	if (p->dir[0] && !getenv("ATOMBLK_KEEP_TMP"))
		remove_tree(p->dir);
	p->dir[0] = '\0';
}

int agent_run_to_exit(const char *const argv[], int timeout_ms, int *ret_status, char **ret_output)
{
	struct agent_proc p;
	const char *args[AGENT_MAX_ARGS + 2];
	int n = 0, r;

	r = agent_proc_init(&p);
	if (r < 0)
		return r;
	args[n++] = agent_binary();
	for (int i = 0; argv && argv[i]; i++) {
		if (n >= AGENT_MAX_ARGS) {
			agent_proc_cleanup(&p);
			return -E2BIG;
		}
		args[n++] = argv[i];
	}
	args[n] = NULL;
	r = spawn_agent((char *const *)args, p.log, &p.pid);
	if (r < 0) {
		p.pid = 0;
		agent_proc_cleanup(&p);
		return r;
	}
	r = agent_proc_stop(&p, 0, timeout_ms, ret_status);
	if (ret_output)
		*ret_output = agent_proc_read_log(&p);
	agent_proc_cleanup(&p);
	return r;
}

int test_run_shell(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	r = system(cmd);
	free(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

int test_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}
