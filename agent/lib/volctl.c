// SPDX-License-Identifier: GPL-2.0
/* Control ioctls of the client module; see volctl.h. */
#include "lib/volctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/roots.h"

static int ctl_open(void)
{
	char path[PATH_MAX];
	int fd, r;

	r = roots_path(ROOT_DEV, "atomblk-ctl", path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ? -ENOTCONN : -errno;
	return fd;
}

/* One ioctl on a fresh descriptor of the control device. */
static int ctl_call(unsigned long request, void *arg)
{
	int fd, r;

	fd = ctl_open();
	if (fd < 0)
		return fd;
	do {
		r = ioctl(fd, request, arg);
	} while (r < 0 && errno == EINTR);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

/*
 * Every request goes out in the lowest uapi version that carries it, so an
 * older client (whose window ends below ATOMBLK_UAPI_VERSION) still answers
 * it: version 1 but for a create with a missing mirror leg.
 */
static void hdr_init_version(struct atomblk_ctl_hdr *hdr, unsigned int version)
{
	hdr->uapi_version = version;
	hdr->reserved = 0;
}

static void hdr_init(struct atomblk_ctl_hdr *hdr)
{
	hdr_init_version(hdr, ATOMBLK_UAPI_VERSION_MIN);
}

/* The client answers @version (a LIST of no entries is harmless to ask). */
static bool client_speaks(unsigned int version)
{
	struct atomblk_list req = {};

	hdr_init_version(&req.hdr, version);
	return ctl_call(ATOMBLK_IOC_LIST, &req) != -EINVAL;
}

static bool leg_is_missing(const char *leg)
{
	return !leg || !leg[0];
}

/* Missing legs: mirror only, and not all of them. */
static int count_missing_legs(const struct volctl_spec *spec, unsigned int *ret)
{
	unsigned int missing = 0;

	for (unsigned int i = 0; i < spec->nr_legs; i++)
		missing += leg_is_missing(spec->legs[i]);
	if (missing && (spec->layout != ATOMBLK_LAYOUT_MIRROR || missing == spec->nr_legs))
		return -EINVAL;
	*ret = missing;
	return 0;
}

/* Copy a NUL-terminated string into a fixed uapi field. */
static int copy_field(char *field, size_t size, const char *value)
{
	size_t len;

	if (!value || !value[0])
		return -EINVAL;
	len = strlen(value);
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(field, value, len + 1);
	return 0;
}

int volctl_create(const struct volctl_spec *spec, char ret_disk[ATOMBLK_DISK_NAME_MAX])
{
	struct atomblk_create *req;
	unsigned int missing;
	int r;

	if (spec->nr_legs < 1 || spec->nr_legs > ATOMBLK_LEGS_MAX ||
	    spec->worker_legs >> spec->nr_legs)
		return -EINVAL;
	r = count_missing_legs(spec, &missing);
	if (r < 0)
		return r;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	hdr_init_version(&req->hdr,
			 missing ? ATOMBLK_UAPI_VERSION_MISSING_LEG : ATOMBLK_UAPI_VERSION_MIN);
	if (spec->worker_legs)
		hdr_init_version(&req->hdr, ATOMBLK_UAPI_VERSION_LEG_FLAGS);
	r = copy_field(req->id, sizeof(req->id), spec->id);
	req->size = spec->size;
	req->layout = spec->layout;
	req->nr_legs = spec->nr_legs;
	for (unsigned int i = 0; r == 0 && i < spec->nr_legs; i++) {
		if (!leg_is_missing(spec->legs[i]))
			r = copy_field(req->legs[i], sizeof(req->legs[i]), spec->legs[i]);
		if (spec->worker_legs & (1u << i))
			req->leg_flags[i] = ATOMBLK_LEG_SUBMIT_WORKER;
	}
	if (r == 0 && spec->worker_legs) {
		r = ctl_call(ATOMBLK_IOC_CREATE_V3, req);
		/* An older client: ENOTTY (unknown layout) or EINVAL (version). */
		if ((r == -ENOTTY || r == -EINVAL) &&
		    !client_speaks(ATOMBLK_UAPI_VERSION_LEG_FLAGS)) {
			memset(req->leg_flags, 0, sizeof(req->leg_flags));
			hdr_init_version(&req->hdr, missing ? ATOMBLK_UAPI_VERSION_MISSING_LEG :
							      ATOMBLK_UAPI_VERSION_MIN);
			r = ctl_call(ATOMBLK_IOC_CREATE, req);
		}
	} else if (r == 0) {
		r = ctl_call(ATOMBLK_IOC_CREATE, req);
	}
	if (r == -EINVAL && missing && !client_speaks(ATOMBLK_UAPI_VERSION_MISSING_LEG))
		r = -EPROTONOSUPPORT;
	if (r == 0) {
		req->disk[sizeof(req->disk) - 1] = '\0';
		strcpy(ret_disk, req->disk);
	}
	free(req);
	return r;
}

int volctl_remove(const char *id)
{
	struct atomblk_remove req = {};
	int r;

	hdr_init(&req.hdr);
	r = copy_field(req.id, sizeof(req.id), id);
	return r < 0 ? r : ctl_call(ATOMBLK_IOC_REMOVE, &req);
}

int volctl_resize(const char *id, uint64_t size)
{
	struct atomblk_resize req = {};
	int r;

	hdr_init(&req.hdr);
	r = copy_field(req.id, sizeof(req.id), id);
	req.size = size;
	return r < 0 ? r : ctl_call(ATOMBLK_IOC_RESIZE, &req);
}

int volctl_status(const char *id, struct atomblk_status *ret)
{
	struct atomblk_status req = {};
	int r;

	hdr_init(&req.hdr);
	r = copy_field(req.id, sizeof(req.id), id);
	if (r == 0)
		r = ctl_call(ATOMBLK_IOC_STATUS, &req);
	if (r < 0)
		return r;
	if (req.nr_legs > ATOMBLK_LEGS_MAX)
		return -EPROTO;
	req.disk[sizeof(req.disk) - 1] = '\0';
	for (unsigned int i = 0; i < req.nr_legs; i++)
		req.legs[i].path[sizeof(req.legs[i].path) - 1] = '\0';
	*ret = req;
	return 0;
}

int volctl_list(struct atomblk_list_entry **ret, size_t *ret_count)
{
	struct atomblk_list req = {};
	struct atomblk_list_entry *entries = NULL;
	unsigned int capacity = 16;
	int r;

	/* Grow until every volume fits: volumes may be created meanwhile. */
	for (;;) {
		struct atomblk_list_entry *grown = realloc(entries, capacity * sizeof(*entries));

		if (!grown) {
			free(entries);
			return -ENOMEM;
		}
		entries = grown;
		memset(&req, 0, sizeof(req));
		hdr_init(&req.hdr);
		req.capacity = capacity;
		req.entries_ptr = (uintptr_t)entries;
		r = ctl_call(ATOMBLK_IOC_LIST, &req);
		if (r < 0) {
			free(entries);
			return r;
		}
		if (req.count <= capacity)
			break;
		capacity = req.count + 8;
	}
	for (unsigned int i = 0; i < req.count; i++) {
		entries[i].id[sizeof(entries[i].id) - 1] = '\0';
		entries[i].disk[sizeof(entries[i].disk) - 1] = '\0';
	}
	*ret = entries;
	*ret_count = req.count;
	return 0;
}

int volctl_device_size(const char *path, uint64_t *ret)
{
	struct stat st;
	uint64_t size;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISBLK(st.st_mode))
		r = -ENOTBLK;
	else if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		r = -errno;
	close(fd);
	if (r == 0)
		*ret = size;
	return r;
}

uint64_t volctl_layout_capacity(enum atomblk_layout layout, const uint64_t *sizes,
				unsigned int nr_legs)
{
	uint64_t total = 0, smallest = UINT64_MAX;

	for (unsigned int i = 0; i < nr_legs; i++) {
		uint64_t usable = sizes[i] / ATOMBLK_SIZE_ALIGN * ATOMBLK_SIZE_ALIGN;

		total += usable;
		if (usable < smallest)
			smallest = usable;
	}
	switch (layout) {
	case ATOMBLK_LAYOUT_LINEAR:
		return nr_legs >= 1 && nr_legs <= ATOMBLK_LEGS_MAX ? total : 0;
	case ATOMBLK_LAYOUT_MIRROR:
		return nr_legs >= ATOMBLK_MIRROR_LEGS_MIN && nr_legs <= ATOMBLK_MIRROR_LEGS_MAX ?
			       smallest :
			       0;
	}
	return 0;
}

const char *volctl_layout_name(enum atomblk_layout layout)
{
	switch (layout) {
	case ATOMBLK_LAYOUT_LINEAR:
		return "linear";
	case ATOMBLK_LAYOUT_MIRROR:
		return "mirror";
	}
	return "unknown";
}

int volctl_layout_parse(const char *name, enum atomblk_layout *ret)
{
	if (!strcmp(name, "linear"))
		*ret = ATOMBLK_LAYOUT_LINEAR;
	else if (!strcmp(name, "mirror"))
		*ret = ATOMBLK_LAYOUT_MIRROR;
	else
		return -EINVAL;
	return 0;
}

const char *volctl_volume_state_name(enum atomblk_volume_state state)
{
	switch (state) {
	case ATOMBLK_VOLUME_OK:
		return "ok";
	case ATOMBLK_VOLUME_DEGRADED:
		return "degraded";
	case ATOMBLK_VOLUME_FAILED:
		return "failed";
	}
	return "unknown";
}
