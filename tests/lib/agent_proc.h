/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agent_proc — run the real atomblk-agent binary ($ATOMBLK_AGENT) as a child
 * process on a private temporary socket, for tests and benchmarks.
 *
 * Every function returns 0 or -errno and never exits the test process.
 */
#ifndef ATOMBLK_TESTS_AGENT_PROC_H
#define ATOMBLK_TESTS_AGENT_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct agent_proc {
	pid_t pid; /* running agent, 0 once reaped */
	char dir[256]; /* private temporary directory */
	char sock[300]; /* <dir>/csi.sock */
	char endpoint[320]; /* unix://<dir>/csi.sock, as passed to --endpoint */
	char log[300]; /* <dir>/agent.log: the agent's stdout and stderr */
	int exit_status; /* wait status once reaped, -1 before */
};

/*
 * agent_proc_start() - start $ATOMBLK_AGENT --endpoint unix://<dir>/csi.sock
 * --node-id test-node --ready-file <dir>/ready [extra_argv...] and wait up to
 * 5 s until its socket accepts connections.
 * @ret: filled in; call agent_proc_cleanup() on it whatever the result.
 * @extra_argv: NULL-terminated extra arguments, or NULL.
 *
 * Return: 0 once serving; -ECHILD if the agent exited first (ret->exit_status
 * holds its wait status, ret->log its output); -ETIMEDOUT; -errno.
 */
int agent_proc_start(struct agent_proc *ret, const char *const extra_argv[]);

/*
 * agent_proc_prepare() + agent_proc_launch() - agent_proc_start() in two
 * steps, for tests that put something at ret->sock (a stale socket, a foreign
 * server) before the agent starts. agent_proc_launch() takes the same
 * @extra_argv and returns what agent_proc_start() does.
 */
int agent_proc_prepare(struct agent_proc *ret);
int agent_proc_launch(struct agent_proc *p, const char *const extra_argv[]);

/*
 * agent_proc_stop() - send @sig (unless 0) and wait up to @timeout_ms for the
 * agent to exit.
 * Return: 0 with the wait status in *@ret_status (may be NULL); -ETIMEDOUT if
 * it is still running (it is left running; agent_proc_cleanup() kills it).
 */
int agent_proc_stop(struct agent_proc *p, int sig, int timeout_ms, int *ret_status);

/* agent_proc_alive() - true while the agent process has not exited. */
bool agent_proc_alive(struct agent_proc *p);

/* agent_proc_read_log() - the agent's output so far, malloc'd, NUL-terminated. */
char *agent_proc_read_log(const struct agent_proc *p);

/* agent_proc_cleanup() - SIGKILL the agent if alive, remove the directory. */
void agent_proc_cleanup(struct agent_proc *p);

/*
 * agent_run_to_exit() - run $ATOMBLK_AGENT with @argv (after argv[0]) to
 * completion, for flag and refusal tests.
 * @timeout_ms: SIGKILL after this long and return -ETIMEDOUT.
 * @ret_status: wait status.
 * @ret_output: malloc'd stdout+stderr (may be NULL).
 */
int agent_run_to_exit(const char *const argv[], int timeout_ms, int *ret_status, char **ret_output);

/* unix_socket_accepts() - true if a unix stream socket at @path accepts a connection. */
bool unix_socket_accepts(const char *path);

/* monotonic_ms() - CLOCK_MONOTONIC in milliseconds. */
long long monotonic_ms(void);

/*
 * test_run_shell() - run the formatted command with system(); its exit
 * status, -1 when it could not run or died of a signal.
 */
int test_run_shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* test_free_port() - a loopback TCP port nobody listens on right now, or -1. */
int test_free_port(void);

#endif
