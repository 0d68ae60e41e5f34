// SPDX-License-Identifier: GPL-2.0
/* hostid — this node's NVMe host NQN and host id (see hostid.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/hostid.h"
#include "lib/roots.h"

#define HOSTID_FILE_MAX 512 /* longer than anything valid: a longer file is malformed */

bool hostid_uuid_valid(const char *s)
{
	for (int i = 0; i < HOSTID_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return s[HOSTID_UUID_LEN] == '\0';
}

bool hostid_nqn_valid(const char *s)
{
	size_t len = strlen(s);

	if (len <= 4 || len > HOSTID_NQN_MAX || strncmp(s, "nqn.", 4))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

/* A random (version 4) UUID in lower-case text form. */
static int uuid_random(char ret[HOSTID_UUID_LEN + 1])
{
	uint8_t b[16];
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(ret, HOSTID_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return 0;
}

/*
 * Read the one-line file @path into @buf (newline dropped).
 * Return: 0; -ENOENT; -EBADMSG when it is not one line of at most @size - 1
 * bytes; -errno.
 */
static int file_read_line(const char *path, char *buf, size_t size)
{
	char text[HOSTID_FILE_MAX];
	ssize_t n;
	size_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	len = (size_t)n;
	if (len && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len == 0 || len >= size || memchr(text, '\n', len) || strlen(text) != len)
		return -EBADMSG;
	memcpy(buf, text, len + 1);
	return 0;
}

/*
 * Create @path holding @line + "\n" unless it exists: written to a
 * temporary file, synced, then linked into place (link() never replaces).
 * Return: 0 (created), -EEXIST (someone else's file is there), -errno.
 */
static int file_create_line(const char *path, const char *line)
{
	char tmp[PATH_MAX];
	size_t len = strlen(line);
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	return r;
}

/* Read the one-line file @name of the state directory, or create it with @fallback. */
static int state_line(const char *name, const char *fallback, char *buf, size_t size, char *msg,
		      size_t msg_size)
{
	char path[PATH_MAX];
	int r;

	r = roots_path(ROOT_STATE, name, path, sizeof(path));
	if (r < 0) {
		snprintf(msg, msg_size, "state directory path too long for %s", name);
		return r;
	}
	r = file_read_line(path, buf, size);
	if (r == -ENOENT && fallback) {
		r = file_create_line(path, fallback);
		if (r == 0 || r == -EEXIST) /* ours, or a racing agent's: read what won */
			r = file_read_line(path, buf, size);
	}
	if (r == -EBADMSG)
		snprintf(msg, msg_size, "%s is not one line of at most %zu bytes", path, size - 1);
	else if (r < 0)
		snprintf(msg, msg_size, "%s: %s", path, strerror(-r));
	return r;
}

int hostid_load(struct hostid *ret, char *msg, size_t msg_size)
{
	char uuid[HOSTID_UUID_LEN + 1], nqn[HOSTID_NQN_MAX + 1], path[PATH_MAX];
	int r;

	if (mkdir(roots_get(ROOT_STATE), 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(msg, msg_size, "state directory %s: %s", roots_get(ROOT_STATE),
			 strerror(-r));
		return r;
	}
	/*
	 * Only the host id is generated: the NQN is created only from an
	 * existing host id, so a host NQN file never gets a new host id.
	 */
	r = roots_path(ROOT_STATE, HOSTID_NQN_FILE, path, sizeof(path));
	if (r < 0)
		return r;
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		r = uuid_random(uuid);
		if (r < 0) {
			snprintf(msg, msg_size, "getrandom: %s", strerror(-r));
			return r;
		}
	} else {
		uuid[0] = '\0'; /* a host NQN exists: its host id must too */
	}
	r = state_line(HOSTID_ID_FILE, uuid[0] ? uuid : NULL, ret->id, sizeof(ret->id), msg,
		       msg_size);
	if (r == -ENOENT)
		snprintf(msg, msg_size, "%s/%s is missing while %s exists; restore it",
			 roots_get(ROOT_STATE), HOSTID_ID_FILE, path);
	if (r < 0)
		return r;
	if (!hostid_uuid_valid(ret->id)) {
		snprintf(msg, msg_size, "%s/%s: '%s' is not a UUID", roots_get(ROOT_STATE),
			 HOSTID_ID_FILE, ret->id);
		return -EBADMSG;
	}
	for (char *p = ret->id; *p; p++)
		*p = (char)tolower((unsigned char)*p);

	snprintf(nqn, sizeof(nqn), HOSTID_NQN_PREFIX "%s", ret->id);
	r = state_line(HOSTID_NQN_FILE, nqn, ret->nqn, sizeof(ret->nqn), msg, msg_size);
	if (r < 0)
		return r;
	if (!hostid_nqn_valid(ret->nqn)) {
		snprintf(msg, msg_size, "%s: '%s' is not an NQN", path, ret->nqn);
		return -EBADMSG;
	}
	return 0;
}
