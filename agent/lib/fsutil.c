// SPDX-License-Identifier: GPL-2.0
/* Filesystem tools run as children; see fsutil.h. */
#include "lib/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Keep the tail of the child's stderr: the error is usually on the last lines. */
static void err_append(char *err, size_t size, size_t *len, const char *data, size_t n)
{
	if (!err || size < 2)
		return;
	if (n >= size - 1) {
		data += n - (size - 1);
		n = size - 1;
	}
	if (*len + n > size - 1) {
		size_t drop = *len + n - (size - 1);

		memmove(err, err + drop, *len - drop);
		*len -= drop;
	}
	memcpy(err + *len, data, n);
	*len += n;
	err[*len] = '\0';
}

static void err_trim(char *err)
{
	size_t n = strlen(err);

	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

int fsutil_run(const char *const argv[], int *ret_status, char *err, size_t err_size)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int pipefd[2], status, r;
	size_t err_len = 0;
	char buf[1024];
	pid_t pid;

	if (err && err_size)
		err[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	r = posix_spawn_file_actions_init(&actions);
	if (r) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -r;
	}
	/*
	 * The agent blocks SIGTERM/SIGINT and ignores SIGPIPE; a tool gets a
	 * clean signal state instead of inheriting both across exec.
	 */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	/* dup2 clears close-on-exec on the copy; the originals close at exec. */
	r = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	if (!r)
		r = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
	if (!r)
		r = posix_spawnp(&pid, argv[0], &actions, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (r) {
		close(pipefd[0]);
		return -r;
	}

	for (;;) {
		ssize_t n = read(pipefd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		err_append(err, err_size, &err_len, buf, (size_t)n);
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (err && err_size)
		err_trim(err);
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

bool fsutil_fs_supported(const char *fstype)
{
	return !strcmp(fstype, "ext4") || !strcmp(fstype, "xfs");
}

/* Run a tool whose non-zero exit means failure; -EIO then. */
static int run_tool(const char *const argv[], char *err, size_t err_size)
{
	int status, r;

	r = fsutil_run(argv, &status, err, err_size);
	if (r < 0)
		return r;
	if (status != 0) {
		if (err && err_size && !err[0])
			snprintf(err, err_size, "%s exited with status %d", argv[0], status);
		return -EIO;
	}
	return 0;
}

int fsutil_mkfs(const char *fstype, const char *device, char *err, size_t err_size)
{
	/*
	 * mkfs.ext4 -F: the target may be an image file in tests and mke2fs
	 * would ask before formatting one; a device with a signature was
	 * refused by the caller's probe already. mkfs.xfs without -f still
	 * refuses an existing filesystem: a second safety net.
	 */
	const char *const ext4[] = { "mkfs.ext4", "-q", "-F", "-m", "0", device, NULL };
	const char *const xfs[] = { "mkfs.xfs", "-q", device, NULL };

	if (!strcmp(fstype, "ext4"))
		return run_tool(ext4, err, err_size);
	if (!strcmp(fstype, "xfs"))
		return run_tool(xfs, err, err_size);
	return -EOPNOTSUPP;
}

int fsutil_grow(const char *fstype, const char *device, const char *mountpoint, char *err,
		size_t err_size)
{
	const char *const ext4[] = { "resize2fs", device, NULL };
	const char *const xfs[] = { "xfs_growfs", mountpoint, NULL };

	if (!strcmp(fstype, "ext4"))
		return run_tool(ext4, err, err_size);
	if (!strcmp(fstype, "xfs"))
		return run_tool(xfs, err, err_size);
	return -EOPNOTSUPP;
}
