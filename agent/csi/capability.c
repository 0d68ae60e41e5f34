// SPDX-License-Identifier: GPL-2.0
/* The volume capabilities atomblk serves: one check for Controller and Node. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "csi/csi.h"
#include "lib/fsutil.h"

static int bad(char *msg, size_t msg_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t msg_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msg_size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int csi_capability_check(const Csi__V1__VolumeCapability *cap, char *msg, size_t msg_size)
{
	if (!cap)
		return bad(msg, msg_size, "a volume capability is empty");
	if (!cap->access_mode)
		return bad(msg, msg_size, "volume capability has no access_mode");
	switch (cap->access_mode->mode) {
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_SINGLE_WRITER:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER:
		break;
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_SINGLE_WRITER:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER:
		return bad(msg, msg_size,
			   "access mode %d (MULTI_NODE_*) is not supported: a volume is "
			   "assembled on one node at a time",
			   (int)cap->access_mode->mode);
	default:
		return bad(msg, msg_size, "access mode %d is not supported",
			   (int)cap->access_mode->mode);
	}
	if (cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK)
		return 0;
	if (cap->access_type_case != CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT || !cap->mount)
		return bad(msg, msg_size,
			   "volume capability needs an access type (block or mount)");
	if (cap->mount->fs_type && cap->mount->fs_type[0] &&
	    !fsutil_fs_supported(cap->mount->fs_type))
		return bad(msg, msg_size, "fs_type \"%s\" is not supported (ext4 or xfs)",
			   cap->mount->fs_type);
	return 0;
}
