// SPDX-License-Identifier: GPL-2.0
/* libblkid signature probe; see fsprobe.h. */
#include "lib/fsprobe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
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

static uint32_t le32_at(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t be_at(const unsigned char *b, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* On-disk superblock fields (ext4: fs/ext4/ext4.h; xfs: xfs_format.h). */
#define EXT_SB_OFFSET 1024
#define EXT_SB_BLOCKS_LO 0x04
#define EXT_SB_LOG_BLOCK_SIZE 0x18
#define EXT_SB_MAGIC 0x38
#define EXT_SB_FEATURE_INCOMPAT 0x60
#define EXT_SB_BLOCKS_HI 0x150
#define EXT_MAGIC 0xEF53
#define EXT_INCOMPAT_64BIT 0x80
#define XFS_SB_BLOCKSIZE 4
#define XFS_SB_DBLOCKS 8

int fsprobe_fs_size(const char *path, const char *type, uint64_t *ret)
{
	unsigned char sb[1024];
	bool ext = !strcmp(type, "ext2") || !strcmp(type, "ext3") || !strcmp(type, "ext4");
	ssize_t n;
	int fd;

	if (!ext && strcmp(type, "xfs"))
		return -EOPNOTSUPP;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, sb, sizeof(sb), ext ? EXT_SB_OFFSET : 0);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	if (n != sizeof(sb))
		return -EBADMSG;
	if (ext) {
		uint64_t blocks = le32_at(sb + EXT_SB_BLOCKS_LO);
		uint32_t log = le32_at(sb + EXT_SB_LOG_BLOCK_SIZE);

		if ((sb[EXT_SB_MAGIC] | sb[EXT_SB_MAGIC + 1] << 8) != EXT_MAGIC || log > 6)
			return -EBADMSG;
		if (le32_at(sb + EXT_SB_FEATURE_INCOMPAT) & EXT_INCOMPAT_64BIT)
			blocks |= (uint64_t)le32_at(sb + EXT_SB_BLOCKS_HI) << 32;
		*ret = blocks * (1024ULL << log);
	} else {
		uint64_t bsize = be_at(sb + XFS_SB_BLOCKSIZE, 4);

		if (memcmp(sb, "XFSB", 4) || bsize < 512 || bsize > 65536)
			return -EBADMSG;
		*ret = be_at(sb + XFS_SB_DBLOCKS, 8) * bsize;
	}
	return 0;
}
