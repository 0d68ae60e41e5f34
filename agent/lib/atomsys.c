// SPDX-License-Identifier: GPL-2.0
/* The atom's sysfs status; see atomsys.h. */
#include "lib/atomsys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/roots.h"

/*
 * Read a one-line sysfs attribute under ROOT_SYS into @buf, without its
 * trailing newline. Return: 0, -errno.
 */
static int sysfs_read(const char *relative, char *buf, size_t size)
{
	return roots_read_attr(ROOT_SYS, relative, buf, size);
}

static int sysfs_read_u64(const char *relative, uint64_t *ret)
{
	char buf[32], *end;
	unsigned long long v;
	int r;

	r = sysfs_read(relative, buf, sizeof(buf));
	if (r < 0)
		return r;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf || *end || buf[0] == '-')
		return -EBADMSG;
	*ret = v;
	return 0;
}

int atomsys_module_read(struct atomsys_module *ret)
{
	struct atomsys_module m = {};
	uint64_t v;
	int r;

	r = sysfs_read_u64("kernel/atom/abi_version", &v);
	if (r < 0)
		return r;
	m.abi_version = (unsigned int)v;
	r = sysfs_read("kernel/atom/client_name", m.client_name, sizeof(m.client_name));
	if (r < 0)
		return r;
	r = sysfs_read("kernel/atom/client_version", m.client_version, sizeof(m.client_version));
	if (r < 0)
		return r;
	r = sysfs_read_u64("kernel/atom/generation", &m.generation);
	if (r < 0)
		return r;
	r = sysfs_read_u64("kernel/atom/ndisks", &v);
	if (r < 0)
		return r;
	m.ndisks = (unsigned int)v;
	*ret = m;
	return 0;
}

bool atomsys_client_attached(const struct atomsys_module *m)
{
	return m->client_name[0] != '\0';
}

static const char *const disk_state_names[] = {
	[ATOMSYS_DISK_ATTACHED] = "attached",
	[ATOMSYS_DISK_HELD] = "held",
	[ATOMSYS_DISK_ABNORMAL] = "abnormal",
	[ATOMSYS_DISK_UNKNOWN] = "unknown",
};

const char *atomsys_disk_state_name(enum atomsys_disk_state state)
{
	if ((unsigned int)state > ATOMSYS_DISK_UNKNOWN)
		return "unknown";
	return disk_state_names[state];
}

static bool disk_name_valid(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && len < ATOMBLK_DISK_NAME_MAX && !strncmp(name, "atom", 4) &&
	       strspn(name + 4, "0123456789") == len - 4;
}

int atomsys_disk_read(const char *name, struct atomsys_disk *ret)
{
	struct atomsys_disk d = {};
	char rel[96], state[32];
	int r;

	if (!disk_name_valid(name))
		return -EINVAL;
	strcpy(d.name, name);
	snprintf(rel, sizeof(rel), "block/%s/atom/volume_id", name);
	r = sysfs_read(rel, d.volume_id, sizeof(d.volume_id));
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "block/%s/atom/state", name);
	r = sysfs_read(rel, state, sizeof(state));
	if (r < 0)
		return r;
	d.state = ATOMSYS_DISK_UNKNOWN;
	for (unsigned int i = 0; i < ATOMSYS_DISK_UNKNOWN; i++)
		if (!strcmp(state, disk_state_names[i]))
			d.state = i;
	snprintf(rel, sizeof(rel), "block/%s/atom/held_requests", name);
	r = sysfs_read_u64(rel, &d.held_requests);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "block/%s/atom/last_pause_us", name);
	r = sysfs_read_u64(rel, &d.last_pause_us);
	if (r < 0)
		return r;
	*ret = d;
	return 0;
}

static int disk_compare(const void *a, const void *b)
{
	const struct atomsys_disk *x = a, *y = b;
	size_t lx = strlen(x->name), ly = strlen(y->name);

	/* atom2 before atom10 */
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->name, y->name);
}

int atomsys_disks_list(struct atomsys_disk **ret, size_t *ret_count)
{
	struct atomsys_disk *disks = NULL, *grown;
	size_t count = 0, capacity = 0;
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int r;

	r = roots_path(ROOT_SYS, "block", path, sizeof(path));
	if (r < 0)
		return r;
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (!disk_name_valid(de->d_name))
			continue;
		if (count == capacity) {
			capacity = capacity ? capacity * 2 : 8;
			grown = realloc(disks, capacity * sizeof(*disks));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			disks = grown;
		}
		r = atomsys_disk_read(de->d_name, &disks[count]);
		if (r == -ENOENT) { /* removed meanwhile, or not an atom disk */
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		count++;
	}
	closedir(dir);
	if (r < 0) {
		free(disks);
		return r;
	}
	if (count)
		qsort(disks, count, sizeof(*disks), disk_compare);
	*ret = disks;
	*ret_count = count;
	return 0;
}

int atomsys_disk_find(const char *volume_id, struct atomsys_disk *ret)
{
	struct atomsys_disk *disks;
	size_t count;
	int r;

	r = atomsys_disks_list(&disks, &count);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < count; i++) {
		if (!strcmp(disks[i].volume_id, volume_id)) {
			*ret = disks[i];
			r = 0;
			break;
		}
	}
	free(disks);
	return r;
}

int atomsys_disk_set_hold(const char *name, int secs)
{
	char rel[96], path[PATH_MAX], text[16];
	ssize_t n;
	int fd, r = 0;

	if (!disk_name_valid(name) || secs < ATOMSYS_HOLD_DEFAULT)
		return -EINVAL;
	snprintf(rel, sizeof(rel), "block/%s/atom/hold_secs", name);
	r = roots_path(ROOT_SYS, rel, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(text, sizeof(text), "%d\n", secs);
	n = write(fd, text, strlen(text));
	if (n < 0)
		r = -errno;
	else if ((size_t)n != strlen(text))
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

int atomsys_disk_hold(const char *name, int *ret_secs)
{
	char rel[96], buf[32], *end;
	long v;
	int r;

	if (!disk_name_valid(name))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "block/%s/atom/hold_secs", name);
	r = sysfs_read(rel, buf, sizeof(buf));
	if (r < 0)
		return r;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || *end || v < ATOMSYS_HOLD_DEFAULT || v > INT32_MAX)
		return -EBADMSG;
	*ret_secs = (int)v;
	return 0;
}
