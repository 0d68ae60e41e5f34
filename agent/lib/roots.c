// SPDX-License-Identifier: GPL-2.0
/* Filesystem roots of the agent; see roots.h. */
#include "lib/roots.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const roots_defaults[ROOT_COUNT] = {
	[ROOT_SYS] = "/sys",
	[ROOT_DEV] = "/dev",
	[ROOT_PROC] = "/proc",
	[ROOT_KUBELET] = ROOTS_DEFAULT_KUBELET,
	[ROOT_STATE] = ROOTS_DEFAULT_STATE,
};

static char roots[ROOT_COUNT][PATH_MAX] = {
	[ROOT_SYS] = "/sys",
	[ROOT_DEV] = "/dev",
	[ROOT_PROC] = "/proc",
	[ROOT_KUBELET] = ROOTS_DEFAULT_KUBELET,
	[ROOT_STATE] = ROOTS_DEFAULT_STATE,
};

const char *roots_get(enum root_kind kind)
{
	return roots[kind];
}

bool path_is_normal_absolute(const char *path)
{
	const char *p = path, *end;
	size_t len;

	if (!path || path[0] != '/')
		return false;
	len = strlen(path);
	if (len == 1)
		return true;
	if (path[len - 1] == '/')
		len--;
	end = path + len;
	while (p < end) {
		const char *next;
		size_t n;

		p++; /* the slash */
		next = memchr(p, '/', (size_t)(end - p));
		if (!next)
			next = end;
		n = (size_t)(next - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p = next;
	}
	return true;
}

int roots_set(enum root_kind kind, const char *path)
{
	size_t len;

	if (!path_is_normal_absolute(path))
		return -EINVAL;
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len >= sizeof(roots[kind]))
		return -ENAMETOOLONG;
	memcpy(roots[kind], path, len);
	roots[kind][len] = '\0';
	return 0;
}

void roots_reset(void)
{
	for (int i = 0; i < ROOT_COUNT; i++)
		snprintf(roots[i], sizeof(roots[i]), "%s", roots_defaults[i]);
}

int roots_path(enum root_kind kind, const char *relative, char *buf, size_t size)
{
	int n;

	while (*relative == '/')
		relative++;
	n = snprintf(buf, size, "%s/%s", roots[kind], relative);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

bool roots_contains(enum root_kind kind, const char *path)
{
	const char *root = roots[kind];
	size_t len = strlen(root);

	if (!path_is_normal_absolute(path))
		return false;
	if (strncmp(path, root, len) || path[len] != '/')
		return false;
	return path[len + 1] != '\0';
}

int roots_read_attr(enum root_kind kind, const char *relative, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, r;

	if (size == 0)
		return -EINVAL;
	r = roots_path(kind, relative, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}
