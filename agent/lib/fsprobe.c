// SPDX-License-Identifier: GPL-2.0
/* libblkid signature probe; see fsprobe.h. */
#include "lib/fsprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <blkid/blkid.h>

int fsprobe_type(const char *path, char ret_type[FSPROBE_TYPE_MAX])
{
	const char *value = NULL;
	blkid_probe pr;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pr = blkid_new_probe();
	if (!pr) {
		close(fd);
		return -ENOMEM;
	}
	r = blkid_probe_set_device(pr, fd, 0, 0);
	if (r < 0) {
		r = -EIO;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);

	/* 0 found, 1 nothing, -2 ambiguous, -1 error. */
	errno = 0;
	r = blkid_do_safeprobe(pr);
	if (r == 1) {
		ret_type[0] = '\0';
		r = 0;
	} else if (r == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &value, NULL) < 0 &&
		    blkid_probe_lookup_value(pr, "PTTYPE", &value, NULL) < 0)
			value = "unknown";
		snprintf(ret_type, FSPROBE_TYPE_MAX, "%s", value);
	} else if (r == -2) {
		r = -EMEDIUMTYPE;
	} else {
		r = errno ? -errno : -EIO;
	}
out:
	blkid_free_probe(pr);
	close(fd);
	return r;
}
