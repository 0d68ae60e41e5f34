/* SPDX-License-Identifier: GPL-2.0 */
/*
 * roots — the one place the agent's filesystem roots come from: /sys, /dev,
 * /proc, the kubelet directory and the agent's state directory. Every piece
 * of code that touches the host's filesystems builds its paths from here, so
 * tests point them at fixture trees and temporary directories.
 *
 * The roots are process-wide. Set them once before any thread uses them
 * (main, from the configuration; a test's setup); reads are lock-free.
 */
#ifndef ATOMBLK_ROOTS_H
#define ATOMBLK_ROOTS_H

#include <stdbool.h>
#include <stddef.h>

enum root_kind {
	ROOT_SYS, /* sysfs, default /sys */
	ROOT_DEV, /* device nodes, default /dev */
	ROOT_PROC, /* procfs, default /proc */
	ROOT_KUBELET, /* kubelet's directory, default /var/lib/kubelet */
	ROOT_STATE, /* the agent's state (journal), default /var/lib/atomblk */
	ROOT_COUNT,
};

#define ROOTS_DEFAULT_KUBELET "/var/lib/kubelet"
#define ROOTS_DEFAULT_STATE "/var/lib/atomblk"

/* roots_get() - the root of @kind, without a trailing slash ("" for "/"). */
const char *roots_get(enum root_kind kind);

/*
 * roots_set() - replace the root of @kind with @path: absolute, without
 * "." or ".." components; trailing slashes are dropped.
 * Return: 0, -EINVAL for a relative or non-normal path, -ENAMETOOLONG.
 */
int roots_set(enum root_kind kind, const char *path);

/* roots_reset() - every root back to its default. */
void roots_reset(void);

/*
 * roots_path() - "<root>/<relative>" into @buf.
 * Return: 0, -ENAMETOOLONG if it does not fit @size.
 */
int roots_path(enum root_kind kind, const char *relative, char *buf, size_t size);

/*
 * roots_read_attr() - read the small text file "<root>/<relative>" (a sysfs
 * attribute) into @buf, trailing newlines and blanks trimmed.
 * Return: 0, -errno from open/read, -ENAMETOOLONG.
 */
int roots_read_attr(enum root_kind kind, const char *relative, char *buf, size_t size);

/*
 * path_is_normal_absolute() - @path starts with '/', has no empty, "." or
 * ".." component (a single trailing slash is tolerated).
 */
bool path_is_normal_absolute(const char *path);

/*
 * roots_contains() - @path is a normal absolute path strictly below the
 * root of @kind (the root itself does not count). Lexical: symlinks are not
 * resolved, so callers must not follow links created by untrusted parties.
 */
bool roots_contains(enum root_kind kind, const char *path);

#endif
