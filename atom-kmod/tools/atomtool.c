// SPDX-License-Identifier: GPL-2.0
/*
 * atomtool - drive atom_client.ko's control uapi (include/uapi/atomblk.h)
 * from the shell; used by the VM tests.
 *
 *   atomtool [--uapi-version N] create ID SIZE linear|mirror LEG...
 *   atomtool [--uapi-version N] remove ID
 *   atomtool [--uapi-version N] resize ID SIZE
 *   atomtool [--uapi-version N] list
 *   atomtool [--uapi-version N] status ID
 *
 * A mirror LEG given as the word "missing" is sent as the empty path (a
 * leg missing at creation, uapi version 2); status prints such a leg as
 * "missing" too. A LEG written "worker:PATH" gets ATOMBLK_LEG_SUBMIT_WORKER
 * (uapi version 3); status prints a leg's flags as "legN_flags=worker".
 * Version 3 create and status go out in the grown layouts (_V3 commands),
 * older versions in the original ones.
 *
 * Strings longer than the uapi's fields are passed unterminated, so the
 * kernel's own validation is what the tests see. Exit: 0 ok, 1 the call
 * failed ("atomtool: <op>: <strerror>"), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "atomblk.h"

#define LEG_MISSING "missing" /* command-line word for the leg path "" */
#define LEG_WORKER "worker:" /* prefix: the leg gets ATOMBLK_LEG_SUBMIT_WORKER */

static unsigned int uapi_version = ATOMBLK_UAPI_VERSION;

static void usage(void)
{
	fprintf(stderr,
		"usage: atomtool [--uapi-version N] create ID SIZE linear|mirror LEG...\n"
		"       atomtool [--uapi-version N] remove ID\n"
		"       atomtool [--uapi-version N] resize ID SIZE\n"
		"       atomtool [--uapi-version N] list\n"
		"       atomtool [--uapi-version N] status ID\n"
		"SIZE: bytes with an optional K, M or G suffix\n"
		"LEG: a block device path, or \"missing\" (a mirror leg missing at creation);\n"
		"     \"worker:PATH\": submit the leg's IO from a kernel worker (uapi 3)\n");
	exit(2);
}

/* Copy @src into a fixed field; too long means no terminator, on purpose. */
static void copy_field(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	memset(dst, 0, size);
	memcpy(dst, src, len < size ? len : size);
}

static int parse_size(const char *s, uint64_t *ret_size)
{
	uint64_t mult = 1;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end || (v && mult > UINT64_MAX / v))
		return -EINVAL;
	*ret_size = v * mult;
	return 0;
}

static const char *layout_name(uint32_t layout)
{
	switch (layout) {
	case ATOMBLK_LAYOUT_LINEAR:
		return "linear";
	case ATOMBLK_LAYOUT_MIRROR:
		return "mirror";
	}
	return "unknown";
}

static const char *volume_state_name(uint32_t state)
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

static int ctl_fd(const char *op)
{
	int fd = open(ATOMBLK_CTL_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "atomtool: %s: %s: %s\n", op, ATOMBLK_CTL_DEVICE, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Issue @cmd; on failure print the error and exit 1. */
static void ctl_call(const char *op, unsigned long cmd, void *req)
{
	int fd = ctl_fd(op);

	if (ioctl(fd, cmd, req) < 0) {
		fprintf(stderr, "atomtool: %s: %s\n", op, strerror(errno));
		exit(1);
	}
	close(fd);
}

static int cmd_create(int argc, char **argv)
{
	struct atomblk_create req;
	uint64_t size;
	int i;

	if (argc < 5)
		usage();
	memset(&req, 0, sizeof(req));
	req.hdr.uapi_version = uapi_version;
	copy_field(req.id, sizeof(req.id), argv[1]);
	if (parse_size(argv[2], &size))
		usage();
	req.size = size;
	if (!strcmp(argv[3], "linear"))
		req.layout = ATOMBLK_LAYOUT_LINEAR;
	else if (!strcmp(argv[3], "mirror"))
		req.layout = ATOMBLK_LAYOUT_MIRROR;
	else
		usage();
	req.nr_legs = argc - 4;
	if (req.nr_legs > ATOMBLK_LEGS_MAX) {
		fprintf(stderr, "atomtool: create: at most %d legs\n", ATOMBLK_LEGS_MAX);
		exit(2);
	}
	for (i = 4; i < argc; i++) {
		const char *leg = argv[i];

		if (!strncmp(leg, LEG_WORKER, strlen(LEG_WORKER))) {
			leg += strlen(LEG_WORKER);
			req.leg_flags[i - 4] = ATOMBLK_LEG_SUBMIT_WORKER;
			if (uapi_version < ATOMBLK_UAPI_VERSION_LEG_FLAGS) {
				fprintf(stderr,
					"atomtool: create: leg flags need uapi version %d\n",
					ATOMBLK_UAPI_VERSION_LEG_FLAGS);
				exit(2);
			}
		}
		copy_field(req.legs[i - 4], sizeof(req.legs[0]),
			   strcmp(leg, LEG_MISSING) ? leg : "");
	}
	ctl_call("create",
		 uapi_version >= ATOMBLK_UAPI_VERSION_LEG_FLAGS ? ATOMBLK_IOC_CREATE_V3 :
								  ATOMBLK_IOC_CREATE,
		 &req);
	printf("/dev/%s\n", req.disk);
	return 0;
}

static int cmd_remove(int argc, char **argv)
{
	struct atomblk_remove req;

	if (argc != 2)
		usage();
	memset(&req, 0, sizeof(req));
	req.hdr.uapi_version = uapi_version;
	copy_field(req.id, sizeof(req.id), argv[1]);
	ctl_call("remove", ATOMBLK_IOC_REMOVE, &req);
	return 0;
}

static int cmd_resize(int argc, char **argv)
{
	struct atomblk_resize req;
	uint64_t size;

	if (argc != 3)
		usage();
	memset(&req, 0, sizeof(req));
	req.hdr.uapi_version = uapi_version;
	copy_field(req.id, sizeof(req.id), argv[1]);
	if (parse_size(argv[2], &size))
		usage();
	req.size = size;
	ctl_call("resize", ATOMBLK_IOC_RESIZE, &req);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	struct atomblk_status req;
	uint32_t i;

	if (argc != 2)
		usage();
	memset(&req, 0, sizeof(req));
	req.hdr.uapi_version = uapi_version;
	copy_field(req.id, sizeof(req.id), argv[1]);
	ctl_call("status",
		 uapi_version >= ATOMBLK_UAPI_VERSION_LEG_FLAGS ? ATOMBLK_IOC_STATUS_V3 :
								  ATOMBLK_IOC_STATUS,
		 &req);
	printf("id=%s\ndisk=/dev/%s\nlayout=%s\nsize=%" PRIu64 "\nstate=%s\nlegs=%u\n", req.id,
	       req.disk, layout_name(req.layout), (uint64_t)req.size, volume_state_name(req.state),
	       req.nr_legs);
	for (i = 0; i < req.nr_legs && i < ATOMBLK_LEGS_MAX; i++)
		printf("leg%u=%s:%s\n", i, req.legs[i].path[0] ? req.legs[i].path : LEG_MISSING,
		       req.legs[i].state == ATOMBLK_LEG_OK ? "ok" : "faulty");
	for (i = 0; i < req.nr_legs && i < ATOMBLK_LEGS_MAX; i++)
		if (req.leg_flags[i] & ATOMBLK_LEG_SUBMIT_WORKER)
			printf("leg%u_flags=worker\n", i);
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	struct atomblk_list_entry *entries = NULL;
	struct atomblk_list req;
	uint32_t i, capacity = 16;

	(void)argv;
	if (argc != 1)
		usage();
	for (;;) {
		free(entries);
		entries = calloc(capacity, sizeof(*entries));
		if (!entries) {
			fprintf(stderr, "atomtool: list: %s\n", strerror(ENOMEM));
			return 1;
		}
		memset(&req, 0, sizeof(req));
		req.hdr.uapi_version = uapi_version;
		req.capacity = capacity;
		req.entries_ptr = (uintptr_t)entries;
		ctl_call("list", ATOMBLK_IOC_LIST, &req);
		if (req.count <= capacity)
			break;
		capacity = req.count;
	}
	for (i = 0; i < req.count; i++)
		printf("%s /dev/%s %s %" PRIu64 " %s\n", entries[i].id, entries[i].disk,
		       layout_name(entries[i].layout), (uint64_t)entries[i].size,
		       volume_state_name(entries[i].state));
	free(entries);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;

	if (i + 1 < argc && !strcmp(argv[i], "--uapi-version")) {
		char *end;

		uapi_version = strtoul(argv[i + 1], &end, 0);
		if (!*argv[i + 1] || *end)
			usage();
		i += 2;
	}
	if (i >= argc)
		usage();
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "create"))
		return cmd_create(argc, argv);
	if (!strcmp(argv[0], "remove"))
		return cmd_remove(argc, argv);
	if (!strcmp(argv[0], "resize"))
		return cmd_resize(argc, argv);
	if (!strcmp(argv[0], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[0], "list"))
		return cmd_list(argc, argv);
	usage();
	return 2;
}
