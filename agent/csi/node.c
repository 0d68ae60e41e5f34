// SPDX-License-Identifier: GPL-2.0
/*
 * CSI Node service: assemble a volume from its legs on an atom disk
 * (Stage), format it only when blank and mount it; bind it into pods
 * (Publish), raw block volumes as the disk's device node bound on a file;
 * report usage and condition; grow volumes online.
 *
 * Where the legs come from: the volume context.
 *   - A provisioned volume (lib/volctx.h, atomblk.io/replicas): NVMe-oF
 *     legs. For each leg the storage node is asked to let this node's host
 *     NQN (lib/hostid.h) in (target API AllowHost, in-process when the leg
 *     is on this node and the storage role runs here), the leg is connected
 *     with libnvme over rdma or tcp (lib/rdmasel.h chooses, lib/nvmeconn.h
 *     connects, the loss policy follows the hold time) and its namespace's
 *     block device becomes the leg. A mirror leg that cannot be reached
 *     stages missing (the volume degraded, said in the log and in
 *     NodeGetVolumeStats) as long as one leg is up; with no leg up the
 *     stage fails UNAVAILABLE (FAILED_PRECONDITION when no leg's storage
 *     node can even be asked: no TLS material) and nothing stays
 *     connected. The journal record lists the legs (nqn, node, target,
 *     replica): Unstage disconnects them after the disk is gone and asks
 *     the storage nodes to disallow the host (best effort).
 *   - Device-path legs, for tests and direct use:
 *     atomblk.io/layout   "linear" (default) or "mirror"
 *     atomblk.io/legs     comma-separated block device paths, in order
 *     atomblk.io/size     bytes (optional; default: all the legs hold)
 *
 * The size in the volume context is a minimum, not the volume's size: the
 * context is fixed when the volume is provisioned, while NodeExpandVolume
 * grows the volume later, and the kubelet stages it again with the old
 * context (after a pod moves, a node reboot...). So Stage never assembles
 * a volume smaller than (a) the size this node recorded when it grew it
 * (<state dir>/sizes.json, volume id -> bytes; kept across Unstage, since
 * that is when it is needed; one small record per volume ever grown here)
 * nor (b) the size the filesystem on the volume says it spans (its
 * superblock, read from the freshly assembled disk; this also covers a
 * volume grown on another node or a lost state directory). Raw block
 * volumes have only (a).
 *
 * The kernel is the truth (client status, atom sysfs, mount table); the
 * journal (<state dir>/node.json) keeps what the kernel cannot say: where
 * and how a volume was staged. Every call is idempotent; a second call on
 * a volume while one runs gets ABORTED. Paths must lie under the kubelet
 * directory. Secrets are never looked at, let alone logged.
 *
 * Test hook (never set in a deployment): ATOMBLK_TEST_STAGE_PAUSE_AT=
 * assembled|formatted stops NodeStageVolume right after the disk is
 * assembled and journalled (nothing probed yet), or right after mkfs
 * (nothing mounted yet): it writes the point's name to <state
 * dir>/test-stage-paused and sleeps until killed (the kill -9 case,
 * tests/vm/cases/74-node-kill.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "csi.pb-c.h"
#include "csi/csi.h"
#include "csi/stalemark.h"
#include "lib/atomsys.h"
#include "lib/fsprobe.h"
#include "lib/fsutil.h"
#include "lib/hostid.h"
#include "lib/journal.h"
#include "lib/log.h"
#include "lib/mounts.h"
#include "lib/nvmeconn.h"
#include "lib/rdmasel.h"
#include "lib/roots.h"
#include "lib/staleleg.h"
#include "lib/status.h"
#include "lib/volctl.h"
#include "lib/volctx.h"
#include "lib/vollock.h"

#define NODE_JOURNAL_FILE "node.json"
#define NODE_SIZES_FILE "sizes.json"
#define NODE_TEST_PAUSED_FILE "test-stage-paused"
#define NODE_DEFAULT_FS "ext4"
#define NODE_WHY_MAX (2 * PATH_MAX + 256) /* a call's error message: two paths and text */
#define NODE_TOPOLOGY_SEGMENTS_MAX 8
#define NODE_TARGET_TIMEOUT_MS 5000 /* one target API call (AllowHost, DisallowHost) */
#define NODE_NAMESPACE_WAIT_MS 5000 /* a connected leg's block device to appear */
#define NODE_RESCAN_WAIT_MS 5000 /* grown namespaces to show their size */
#define NODE_STALE_POLL_MS 2000 /* the stale-leg monitor's look at staged mirrors */

struct topology_segment {
	char key[128];
	char value[128];
};

struct csi_node {
	char node_id[CONFIG_NODE_ID_MAX + 1];
	unsigned int max_volumes; /* 0: no limit */
	unsigned int n_segments;
	struct topology_segment segments[NODE_TOPOLOGY_SEGMENTS_MAX];
	struct journal *journal; /* volume id -> staged volume */
	struct journal *sizes; /* volume id -> {"size": bytes} it was grown to; survives Unstage */
	struct vollock *locks; /* volumes with a call in progress */
	const struct tls_files *tls; /* to call remote storage nodes; NULL: none */
	target_local_fn local_fn; /* this process's storage role, or NULL */
	void *local;
	struct stalemark *marks; /* stale mirror legs: labels, journal, monitor */
};

/* An NVMe-oF leg as the journal records it: enough to undo it at Unstage. */
struct node_leg {
	char nqn[NVMET_NQN_MAX + 1]; /* subsystem NQN */
	char node[257]; /* storage node id */
	char target[256]; /* its target API address, "" = in-process only */
	char replica[129]; /* replica id */
};

/* A volume as the journal records it. */
struct node_volume {
	char disk[ATOMBLK_DISK_NAME_MAX]; /* "atom0" */
	char staging[PATH_MAX]; /* staging_target_path it was staged at */
	bool block; /* raw block, else a filesystem */
	char fs[FSPROBE_TYPE_MAX]; /* "ext4", "xfs"; "" for block */
	bool staged; /* false: assembled, stage not finished */
	unsigned int nr_nvme_legs; /* 0: device-path legs */
	struct node_leg nvme_legs[VOLCTX_LEGS_MAX]; /* in leg order */
};

/* What Stage needs to assemble a volume, from the volume context. */
struct node_volume_spec {
	enum atomblk_layout layout;
	unsigned int nr_legs;
	char legs[ATOMBLK_LEGS_MAX][ATOMBLK_PATH_MAX];
	uint64_t size; /* 0: everything the legs hold */
	unsigned int stale; /* NVMe-oF mirror: legs that missed writes (created missing) */
	int marks[VOLCTX_LEGS_MAX]; /* the stale-legs mask read from leg i's replica; -1 unread */
	unsigned int worker_legs; /* NVMe/TCP legs: the client submits from a worker (SIGPIPE) */
};

/* The spec's code for "another call on this volume is in progress". */
static grpc_status_code fail_busy(char **ret_details, const char *volume_id)
{
	return status_fail(ret_details, -EALREADY,
			   "an operation on volume %s is already in progress", volume_id);
}

/* ---- journal records --------------------------------------------------------- */

/* The record's "legs" (absent for device-path legs); -1 if malformed. */
static int legs_load(json_t *legs, struct node_volume *ret)
{
	const char *nqn, *node, *target, *replica;
	json_t *leg;
	size_t i;

	if (!legs)
		return 0;
	if (!json_is_array(legs) || json_array_size(legs) > VOLCTX_LEGS_MAX)
		return -1;
	json_array_foreach(legs, i, leg) {
		struct node_leg *l = &ret->nvme_legs[i];

		if (json_unpack(leg, "{s:s, s:s, s:s, s:s}", "nqn", &nqn, "node", &node, "target",
				&target, "replica", &replica) < 0)
			return -1;
		snprintf(l->nqn, sizeof(l->nqn), "%s", nqn);
		snprintf(l->node, sizeof(l->node), "%s", node);
		snprintf(l->target, sizeof(l->target), "%s", target);
		snprintf(l->replica, sizeof(l->replica), "%s", replica);
	}
	ret->nr_nvme_legs = (unsigned int)json_array_size(legs);
	return 0;
}

static int volume_load(struct csi_node *node, const char *id, struct node_volume *ret)
{
	const char *disk, *staging, *access, *fs;
	json_t *rec;
	int staged, r;

	r = journal_get(node->journal, id, &rec);
	if (r < 0)
		return r;
	r = json_unpack(rec, "{s:s, s:s, s:s, s:s, s:b}", "disk", &disk, "staging", &staging,
			"access", &access, "fs", &fs, "staged", &staged);
	if (r == 0) {
		memset(ret, 0, sizeof(*ret));
		snprintf(ret->disk, sizeof(ret->disk), "%s", disk);
		snprintf(ret->staging, sizeof(ret->staging), "%s", staging);
		ret->block = !strcmp(access, "block");
		snprintf(ret->fs, sizeof(ret->fs), "%s", fs);
		ret->staged = staged;
		r = legs_load(json_object_get(rec, "legs"), ret);
	}
	json_decref(rec);
	return r < 0 ? -EBADMSG : 0;
}

static int volume_store(struct csi_node *node, const char *id, const struct node_volume *v)
{
	json_t *rec;
	int r;

	/* Created on first use, so an agent that never stages writes nothing. */
	if (mkdir(roots_get(ROOT_STATE), 0700) < 0 && errno != EEXIST)
		return -errno;
	rec = json_pack("{s:s, s:s, s:s, s:s, s:b}", "disk", v->disk, "staging", v->staging,
			"access", v->block ? "block" : "mount", "fs", v->fs, "staged", v->staged);
	if (!rec)
		return -ENOMEM;
	if (v->nr_nvme_legs) {
		json_t *legs = json_array();

		for (unsigned int i = 0; legs && i < v->nr_nvme_legs; i++) {
			const struct node_leg *l = &v->nvme_legs[i];

			if (json_array_append_new(legs,
						  json_pack("{s:s, s:s, s:s, s:s}", "nqn", l->nqn,
							    "node", l->node, "target", l->target,
							    "replica", l->replica)) < 0) {
				json_decref(legs);
				legs = NULL;
			}
		}
		if (!legs || json_object_set_new(rec, "legs", legs) < 0) {
			json_decref(rec);
			return -ENOMEM;
		}
	}
	r = journal_set(node->journal, id, rec);
	json_decref(rec);
	return r;
}

/* ---- request checks ---------------------------------------------------------- */

static bool volume_id_valid(const char *id, char **ret_details, grpc_status_code *ret_code)
{
	if (!id || !id[0]) {
		*ret_code = status_fail(ret_details, -EINVAL, "volume_id is required");
		return false;
	}
	if (strlen(id) >= ATOMBLK_ID_MAX) {
		*ret_code = status_fail(ret_details, -EINVAL, "volume_id is longer than %d bytes",
					ATOMBLK_ID_MAX - 1);
		return false;
	}
	return true;
}

/* @path (named @field) is set and lies under the kubelet directory. */
static bool path_valid(const char *field, const char *path, char **ret_details,
		       grpc_status_code *ret_code)
{
	if (!path || !path[0]) {
		*ret_code = status_fail(ret_details, -EINVAL, "%s is required", field);
		return false;
	}
	if (strlen(path) >= PATH_MAX - 64 || !roots_contains(ROOT_KUBELET, path)) {
		*ret_code = status_fail(ret_details, -EINVAL,
					"%s '%s' is not a normal path under %s", field, path,
					roots_get(ROOT_KUBELET)[0] ? roots_get(ROOT_KUBELET) : "/");
		return false;
	}
	return true;
}

static bool access_mode_readonly(Csi__V1__VolumeCapability__AccessMode__Mode mode)
{
	return mode == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY ||
	       mode == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY;
}

/*
 * A capability this node can serve: block or mount (ext4, xfs or unset)
 * with a single-node access mode (a volume lives on one node's atom disk).
 */
static bool capability_valid(const Csi__V1__VolumeCapability *cap, char **ret_details,
			     grpc_status_code *ret_code)
{
	char msg[256];
	int r = csi_capability_check(cap, msg, sizeof(msg));

	if (r == 0)
		return true;
	*ret_code = status_fail(ret_details, r, "volume_capability: %s", msg);
	return false;
}

/* The capability's mount_flags as MS_* flags and filesystem data. */
static int capability_mount_options(const Csi__V1__VolumeCapability *cap, unsigned long *ret_flags,
				    char **ret_data)
{
	char joined[1024] = "";
	size_t len = 0;

	*ret_flags = 0;
	*ret_data = NULL;
	if (cap->access_type_case != CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT)
		return 0;
	for (size_t i = 0; i < cap->mount->n_mount_flags; i++) {
		int n = snprintf(joined + len, sizeof(joined) - len, "%s%s", len ? "," : "",
				 cap->mount->mount_flags[i]);

		if (n < 0 || (size_t)n >= sizeof(joined) - len)
			return -EINVAL;
		len += (size_t)n;
	}
	return mounts_parse_options(joined, ret_flags, ret_data);
}

static const char *context_get(Csi__V1__NodeStageVolumeRequest__VolumeContextEntry **entries,
			       size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(entries[i]->key, key))
			return entries[i]->value;
	return NULL;
}

/* Parse the volume context's atomblk.io/ keys; -EINVAL with a message. */
static int volume_spec_parse(const Csi__V1__NodeStageVolumeRequest *req,
			     struct node_volume_spec *ret, char *msg, size_t msg_size)
{
	const char *layout =
		context_get(req->volume_context, req->n_volume_context, "atomblk.io/layout");
	const char *legs =
		context_get(req->volume_context, req->n_volume_context, "atomblk.io/legs");
	const char *size =
		context_get(req->volume_context, req->n_volume_context, "atomblk.io/size");
	const char *p;

	memset(ret, 0, sizeof(*ret));
	ret->layout = ATOMBLK_LAYOUT_LINEAR;
	if (layout && volctl_layout_parse(layout, &ret->layout) < 0) {
		snprintf(msg, msg_size, "atomblk.io/layout '%s' is not linear or mirror", layout);
		return -EINVAL;
	}
	if (!legs || !legs[0]) {
		snprintf(msg, msg_size,
			 "volume context atomblk.io/legs (the volume's block devices) is required");
		return -EINVAL;
	}
	for (p = legs; *p;) {
		size_t len = strcspn(p, ",");

		if (ret->nr_legs == ATOMBLK_LEGS_MAX || len == 0 || len >= ATOMBLK_PATH_MAX) {
			snprintf(msg, msg_size, "atomblk.io/legs '%s': at most %d non-empty paths",
				 legs, ATOMBLK_LEGS_MAX);
			return -EINVAL;
		}
		memcpy(ret->legs[ret->nr_legs], p, len);
		ret->legs[ret->nr_legs][len] = '\0';
		if (!path_is_normal_absolute(ret->legs[ret->nr_legs])) {
			snprintf(msg, msg_size, "atomblk.io/legs: '%s' is not an absolute path",
				 ret->legs[ret->nr_legs]);
			return -EINVAL;
		}
		ret->nr_legs++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (ret->layout == ATOMBLK_LAYOUT_MIRROR &&
	    (ret->nr_legs < ATOMBLK_MIRROR_LEGS_MIN || ret->nr_legs > ATOMBLK_MIRROR_LEGS_MAX)) {
		snprintf(msg, msg_size, "a mirror needs %d to %d legs, got %u",
			 ATOMBLK_MIRROR_LEGS_MIN, ATOMBLK_MIRROR_LEGS_MAX, ret->nr_legs);
		return -EINVAL;
	}
	if (size) {
		char *end;

		errno = 0;
		ret->size = strtoull(size, &end, 10);
		if (errno || end == size || *end || size[0] == '-' || ret->size == 0 ||
		    ret->size % ATOMBLK_SIZE_ALIGN) {
			snprintf(msg, msg_size,
				 "atomblk.io/size '%s' is not a positive multiple of %d bytes",
				 size, ATOMBLK_SIZE_ALIGN);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- kernel side ------------------------------------------------------------- */

static int disk_node_path(const char *disk, char *buf, size_t size)
{
	return roots_path(ROOT_DEV, disk, buf, size);
}

static int disk_devno(const char *disk, dev_t *ret)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	r = disk_node_path(disk, path, sizeof(path));
	if (r < 0)
		return r;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	*ret = st.st_rdev;
	return 0;
}

/*
 * Largest size the layout can have over these legs; -errno if a leg is
 * unusable. A missing mirror leg ("") does not count: the mirror is as
 * large as its smallest present leg.
 */
static int legs_capacity(enum atomblk_layout layout, unsigned int nr_legs, const char *const legs[],
			 uint64_t *ret, char *msg, size_t msg_size)
{
	uint64_t sizes[ATOMBLK_LEGS_MAX], smallest = UINT64_MAX;
	unsigned int present = 0;
	int r;

	for (unsigned int i = 0; i < nr_legs; i++) {
		if (layout == ATOMBLK_LAYOUT_MIRROR && !legs[i][0])
			continue;
		r = volctl_device_size(legs[i], &sizes[present]);
		if (r < 0) {
			snprintf(msg, msg_size, "leg %s: %s", legs[i], strerror(-r));
			/* A leg that is missing or no block device: the request names a wrong one. */
			return r == -ENOTBLK || r == -ENOENT ? -EINVAL : r;
		}
		if (sizes[present] < smallest)
			smallest = sizes[present];
		present++;
	}
	if (present == nr_legs)
		*ret = volctl_layout_capacity(layout, sizes, nr_legs);
	else
		*ret = present ? smallest / ATOMBLK_SIZE_ALIGN * ATOMBLK_SIZE_ALIGN : 0;
	return 0;
}

static const char *volctl_error(int err)
{
	switch (err) {
	case -ENOTCONN:
		return "the atom_client module is not loaded";
	case -ESHUTDOWN:
		return "the atom_client module is being replaced";
	default:
		return strerror(-err);
	}
}

/*
 * Find or create the volume's atom disk. An existing volume must have the
 * requested legs (a retried Stage, or a volume adopted across a restart).
 * *@ret_created says whether this call created it.
 */
static int volume_assemble(const char *id, const struct node_volume_spec *spec,
			   char disk[ATOMBLK_DISK_NAME_MAX], bool *ret_created, char *msg,
			   size_t msg_size)
{
	struct atomblk_status status;
	struct volctl_spec create = {
		.id = id,
		.layout = spec->layout,
		.nr_legs = spec->nr_legs,
		.size = spec->size,
		.worker_legs = spec->worker_legs,
	};
	uint64_t capacity;
	int r;

	*ret_created = false;
	r = volctl_status(id, &status);
	if (r == 0) {
		bool same = status.layout == spec->layout && status.nr_legs == spec->nr_legs;

		for (unsigned int i = 0; same && i < spec->nr_legs; i++)
			same = !strcmp(status.legs[i].path, spec->legs[i]);
		if (!same) {
			snprintf(msg, msg_size, "volume %s exists on %s with other legs or layout",
				 id, status.disk);
			return -EEXIST;
		}
		strcpy(disk, status.disk);
		return 0;
	}
	if (r != -ENOENT) {
		snprintf(msg, msg_size, "volume status: %s", volctl_error(r));
		return r == -ENOTCONN ? -EAGAIN : r;
	}

	for (unsigned int i = 0; i < spec->nr_legs; i++)
		create.legs[i] = spec->legs[i];
	r = legs_capacity(spec->layout, spec->nr_legs, create.legs, &capacity, msg, msg_size);
	if (r < 0)
		return r;
	if (!create.size)
		create.size = capacity;
	if (create.size > capacity || create.size == 0) {
		snprintf(msg, msg_size,
			 "size %" PRIu64 " does not fit the legs (%" PRIu64 " bytes)", create.size,
			 capacity);
		return -ERANGE;
	}
	r = volctl_create(&create, disk);
	if (r < 0) {
		snprintf(msg, msg_size, "create volume: %s", volctl_error(r));
		if (r == -ENOTCONN)
			return -EAGAIN;
		if (r == -EBUSY) /* a leg used by another volume */
			return -EBUSY;
		return r == -ENOENT ? -EINVAL : r; /* unknown leg: a bad request */
	}
	*ret_created = true;
	return 0;
}

/* The test hook (header comment): say where we are, then wait to be killed. */
static void stage_test_pause(const char *point)
{
	const char *want = getenv("ATOMBLK_TEST_STAGE_PAUSE_AT");
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	if (!want || strcmp(want, point) ||
	    roots_path(ROOT_STATE, NODE_TEST_PAUSED_FILE, path, sizeof(path)) < 0)
		return;
	log_warn("test hook: stage paused", "point=%s", point);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (f) {
		fprintf(f, "%s\n", point);
		if (fclose(f) == 0)
			rename(tmp, path); /* whoever sees the file sees its content */
	}
	for (;;)
		pause();
}

/* ---- grown sizes ------------------------------------------------------------ */

/* The size this node grew @id to, or 0 if none is recorded. */
static uint64_t grown_size(struct csi_node *node, const char *id)
{
	json_int_t size = 0;
	json_t *rec;

	if (journal_get(node->sizes, id, &rec) < 0)
		return 0;
	if (json_unpack(rec, "{s:I}", "size", &size) < 0 || size < 0)
		size = 0;
	json_decref(rec);
	return (uint64_t)size;
}

static int grown_size_store(struct csi_node *node, const char *id, uint64_t size)
{
	json_t *rec;
	int r;

	if (grown_size(node, id) == size)
		return 0;
	rec = json_pack("{s:I}", "size", (json_int_t)size);
	if (!rec)
		return -ENOMEM;
	r = journal_set(node->sizes, id, rec);
	json_decref(rec);
	return r;
}

/*
 * A filesystem grown online spans more than a disk assembled with the
 * volume context's (original) size: grow the disk to the filesystem, or
 * the mount would fail on a short device. Blank or unknown content is
 * left to stage_mount().
 */
static int volume_fit_filesystem(const char *id, const char *disk, char *msg, size_t msg_size)
{
	char dev[PATH_MAX], found[FSPROBE_TYPE_MAX];
	const char *legs[ATOMBLK_LEGS_MAX];
	struct atomblk_status status;
	uint64_t fs_size, want, capacity;
	int r;

	r = disk_node_path(disk, dev, sizeof(dev));
	if (r < 0 || fsprobe_type(dev, found) < 0 || !found[0] || !fsutil_fs_supported(found) ||
	    fsprobe_fs_size(dev, found, &fs_size) < 0)
		return 0;
	r = volctl_status(id, &status);
	if (r < 0) {
		snprintf(msg, msg_size, "volume status: %s", volctl_error(r));
		return r == -ENOTCONN ? -EAGAIN : r;
	}
	if (fs_size <= status.size)
		return 0;
	want = (fs_size + ATOMBLK_SIZE_ALIGN - 1) / ATOMBLK_SIZE_ALIGN * ATOMBLK_SIZE_ALIGN;
	for (unsigned int i = 0; i < status.nr_legs; i++)
		legs[i] = status.legs[i].path;
	r = legs_capacity(status.layout, status.nr_legs, legs, &capacity, msg, msg_size);
	if (r < 0)
		return r;
	if (want > capacity) {
		snprintf(msg, msg_size,
			 "the %s filesystem on %s spans %" PRIu64 " bytes, the legs hold %" PRIu64,
			 found, dev, fs_size, capacity);
		return -EBUSY;
	}
	r = volctl_resize(id, want);
	if (r < 0) {
		snprintf(msg, msg_size, "resize to the filesystem's size: %s", volctl_error(r));
		return r == -ENOTCONN ? -EAGAIN : r;
	}
	log_info("volume grown to its filesystem",
		 "volume_id=%s disk=%s fs=%s from=%" PRIu64 " to=%" PRIu64, id, disk, found,
		 (uint64_t)status.size, want);
	return 0;
}

/* ---- NVMe-oF legs ------------------------------------------------------------- */

/* The volume context as volctx_parse() reads it. */
static const char *stage_context_get(void *map, const char *key)
{
	const Csi__V1__NodeStageVolumeRequest *req = map;

	return context_get(req->volume_context, req->n_volume_context, key);
}

static void leg_record(struct node_leg *l, const struct volctx_leg *leg)
{
	snprintf(l->nqn, sizeof(l->nqn), "%s", leg->nqn);
	snprintf(l->node, sizeof(l->node), "%s", leg->node);
	snprintf(l->target, sizeof(l->target), "%s", leg->target);
	snprintf(l->replica, sizeof(l->replica), "%s", leg->replica);
}

/*
 * Ask leg @l's storage node to allow (@allow) or disallow our host NQN on
 * its replica: in-process when the leg is on this node and the storage
 * role runs here, else over mutual TLS.
 * Return: 0; -EBUSY (cannot be asked: no TLS material or no address);
 * -EHOSTUNREACH (not reachable); -ENOENT (no such replica); -EIO.
 */
static int leg_host_access(struct csi_node *node, const struct node_leg *l, bool allow,
			   const char *host_nqn, char *msg, size_t msg_size)
{
	Atomblk__Target__V1__AllowHostRequest areq = ATOMBLK__TARGET__V1__ALLOW_HOST_REQUEST__INIT;
	Atomblk__Target__V1__DisallowHostRequest dreq =
		ATOMBLK__TARGET__V1__DISALLOW_HOST_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct target_conn *conn;
	grpc_status_code code;
	char *details = NULL;
	int r;

	if (node->local_fn && !strcmp(l->node, node->node_id)) {
		r = target_conn_local(node->local_fn, node->local, &conn);
	} else if (!l->target[0]) {
		snprintf(msg, msg_size, "storage node %s has no target API address", l->node);
		return -EBUSY;
	} else if (!node->tls) {
		snprintf(msg, msg_size,
			 "no TLS material (--tls-dir) to reach storage node %s at %s", l->node,
			 l->target);
		return -EBUSY;
	} else {
		r = target_conn_remote(l->target, node->tls, &conn);
	}
	if (r < 0) {
		snprintf(msg, msg_size, "target API of %s: %s", l->node, strerror(-r));
		return r;
	}
	areq.id = dreq.id = (char *)l->replica;
	areq.host_nqn = dreq.host_nqn = (char *)host_nqn;
	code = target_call(conn, allow ? TARGET_ALLOW_HOST : TARGET_DISALLOW_HOST,
			   allow ? &areq.base : &dreq.base, &resp, &details,
			   NODE_TARGET_TIMEOUT_MS);
	target_conn_free(conn);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	switch (code) {
	case GRPC_STATUS_OK:
		r = 0;
		break;
	case GRPC_STATUS_UNAVAILABLE:
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		r = -EHOSTUNREACH;
		break;
	case GRPC_STATUS_NOT_FOUND:
		r = -ENOENT;
		break;
	default:
		r = -EIO;
	}
	if (r < 0)
		snprintf(msg, msg_size, "%s host on %s (%s): %s",
			 allow ? "AllowHost" : "DisallowHost", l->node, l->replica,
			 details ? details : "failed");
	free(details);
	return r;
}

/*
 * Undo the legs of @v: disconnect our controllers (after the volume's disk
 * is gone) and ask the storage nodes to disallow us. A storage node that
 * cannot be asked is logged, not an error (its export forgets us when the
 * replica goes); a controller that does not go is.
 */
static int legs_release(struct csi_node *node, const char *id, const struct node_volume *v,
			const struct hostid *host, char *msg, size_t msg_size)
{
	char why[1024];
	unsigned int count;
	int r, first = 0;

	for (unsigned int i = 0; i < v->nr_nvme_legs; i++) {
		const struct node_leg *l = &v->nvme_legs[i];

		r = nvmeconn_disconnect(l->nqn, host->nqn, &count, why, sizeof(why));
		if (r < 0) {
			if (!first)
				snprintf(msg, msg_size, "leg %u (node %s): %s", i, l->node, why);
			first = first ?: r;
			continue;
		}
		if (count)
			log_info("leg disconnected", "volume_id=%s leg=%u node=%s nqn=%s", id, i,
				 l->node, l->nqn);
		r = leg_host_access(node, l, false, host->nqn, why, sizeof(why));
		if (r < 0)
			log_warn("storage node not told to disallow this host (best effort)",
				 "volume_id=%s leg=%u node=%s error=\"%s\"", id, i, l->node, why);
	}
	return first;
}

/*
 * Bring leg @i of @ctx up: allow, choose the transport, connect, find the
 * namespace. Its block device path in @path; *@ret_connected says whether
 * a controller is there to undo. An NVMe/TCP leg sets bit @i of
 * *@worker_legs: nvme-tcp may raise SIGPIPE in the task that submits to
 * it, so the client must submit its IO from a kernel worker.
 */
static int stage_leg(struct csi_node *node, const char *id, const struct volctx *ctx, size_t i,
		     const struct hostid *host, char path[ATOMBLK_PATH_MAX],
		     unsigned int *worker_legs, char *msg, size_t msg_size)
{
	const struct volctx_leg *leg = &ctx->legs[i];
	const struct nvmet_address *addr;
	struct nvmeconn_leg_plan plan;
	struct nvmeconn_params params;
	struct nvmeconn_ctrl ctrl;
	struct node_leg l;
	char choice[256];
	bool reused;
	int r;

	r = nvmeconn_leg_plan(ctx, i, node->node_id, node->local_fn != NULL, node->tls != NULL,
			      &plan, msg, msg_size);
	if (r < 0)
		return r;
	leg_record(&l, leg);
	r = leg_host_access(node, &l, true, host->nqn, msg, msg_size);
	if (r < 0)
		return r;
	r = rdmasel_choose(ctx->transport, leg->addrs, leg->naddrs, rdmasel_probe, &addr, choice,
			   sizeof(choice));
	log_info("leg transport", "volume_id=%s leg=%zu node=%s choice=\"%s\"", id, i, leg->node,
		 choice);
	if (r < 0) {
		snprintf(msg, msg_size, "%s", choice);
		return r;
	}
	params = (struct nvmeconn_params){
		.nqn = leg->nqn,
		.addr = addr,
		.host = host,
		.ctrl_loss_tmo = plan.ctrl_loss_tmo,
		.reconnect_delay = plan.reconnect_delay,
		.fast_io_fail_tmo = plan.fast_io_fail_tmo,
	};
	r = nvmeconn_connect(&params, &ctrl, &reused, msg, msg_size);
	if (r < 0)
		return r;
	r = nvmeconn_namespace(ctrl.name, NVMECONN_NSID, NODE_NAMESPACE_WAIT_MS, path,
			       ATOMBLK_PATH_MAX);
	if (r < 0) {
		snprintf(msg, msg_size, "controller %s: no block device for namespace %d: %s",
			 ctrl.name, NVMECONN_NSID, strerror(-r));
		return r == -ETIMEDOUT ? -EHOSTUNREACH : r;
	}
	if (!strcmp(ctrl.transport, "tcp"))
		*worker_legs |= 1u << i;
	log_info(reused ? "leg connected (existing controller)" : "leg connected",
		 "volume_id=%s leg=%zu node=%s ctrl=%s transport=%s traddr=%s trsvcid=%s device=%s "
		 "ctrl_loss_tmo=%d fast_io_fail_tmo=%d",
		 id, i, leg->node, ctrl.name, ctrl.transport, ctrl.traddr, ctrl.trsvcid, path,
		 plan.ctrl_loss_tmo, plan.fast_io_fail_tmo);
	return 0;
}

static void append(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static void stalemark_leg_of(struct stalemark_leg *m, const struct volctx_leg *leg)
{
	snprintf(m->node, sizeof(m->node), "%s", leg->node);
	snprintf(m->target, sizeof(m->target), "%s", leg->target);
	snprintf(m->replica, sizeof(m->replica), "%s", leg->replica);
}

/*
 * Which legs of a mirror hold old data (lib/staleleg.h): the stale-legs
 * labels of every replica that answers, and the marks this node has not
 * delivered yet. Stale legs go into @spec as missing and are never
 * connected. No leg with current data answering: UNAVAILABLE (it may come
 * back); every leg stale (each side marked the other: two histories):
 * FAILED_PRECONDITION, since no retry can fix it without an operator.
 */
static int stage_stale_legs(struct csi_node *node, const char *id, const struct volctx *ctx,
			    struct node_volume_spec *spec, char *msg, size_t msg_size)
{
	unsigned int read = 0, marks[VOLCTX_LEGS_MAX] = {}, known;
	char why[1024], stale[64], fresh[64];
	struct staleleg_plan plan;
	struct stalemark_leg leg;
	int r;

	for (size_t i = 0; i < ctx->nlegs; i++) {
		spec->marks[i] = -1;
		stalemark_leg_of(&leg, &ctx->legs[i]);
		r = stalemark_read(node->marks, &leg, (unsigned int)ctx->nlegs, &marks[i], why,
				   sizeof(why));
		if (r == -EBADMSG) {
			snprintf(msg, msg_size, "%.1000s; an operator must fix or remove it", why);
			return -EBUSY;
		}
		if (r < 0) {
			log_info("stale-legs label not readable",
				 "volume_id=%s leg=%zu node=%s error=\"%s\"", id, i,
				 ctx->legs[i].node, why);
			continue;
		}
		read |= 1u << i;
		spec->marks[i] = (int)marks[i];
	}
	known = stalemark_known(node->marks, id);
	staleleg_plan((unsigned int)ctx->nlegs, read, marks, known, &plan);
	spec->stale = plan.stale;
	staleleg_list(plan.stale, stale, sizeof(stale));
	staleleg_list(plan.connect, fresh, sizeof(fresh));
	switch (plan.verdict) {
	case STALELEG_STAGE:
		if (plan.stale)
			log_warn("stale mirror legs left out: they missed writes while down "
				 "(resync is not implemented)",
				 "volume_id=%s stale=\"%s\"", id, stale);
		return 0;
	case STALELEG_WAIT:
		snprintf(msg, msg_size,
			 "%s missed writes while down (stale) and the legs with current data (%s) "
			 "are not reachable; a mirror is never assembled from stale legs",
			 stale, fresh);
		return -EHOSTUNREACH;
	default:
		snprintf(
			msg, msg_size,
			"every leg of the mirror is marked stale by another (%s: split brain, each "
			"side took writes the other missed); resync is not implemented: an "
			"operator must choose a leg (remove label " STALELEG_LABEL " from its "
			"replica with atomctl target SetLabels) and replace the others",
			stale);
		return -EBUSY;
	}
}

/*
 * The legs of a provisioned volume into @spec. An existing volume (a
 * retried stage, or a volume adopted across a restart) keeps its legs and
 * nothing is connected. Otherwise the legs go into the journal record
 * first (a crash leaves what Unstage must undo), then each is brought up;
 * a mirror leg that does not come up is missing (""), if one does. A
 * mirror's stale legs (stage_stale_legs) are missing from the start; they
 * and the legs that do not come up are in @spec->stale.
 * *@ret_connected: this call connected legs (to undo if the stage fails).
 */
static int stage_nvme_legs(struct csi_node *node, const char *id, const struct volctx *ctx,
			   struct node_volume *v, struct node_volume_spec *spec,
			   const struct hostid *host, bool *ret_connected, char *msg,
			   size_t msg_size)
{
	char faults[NODE_WHY_MAX] = "", why[NODE_WHY_MAX];
	struct atomblk_status status;
	unsigned int up = 0, unaskable = 0;
	int r;

	*ret_connected = false;
	memset(spec, 0, sizeof(*spec));
	memset(spec->marks, 0xff, sizeof(spec->marks)); /* -1: unread */
	spec->layout = ctx->layout;
	spec->nr_legs = (unsigned int)ctx->nlegs;
	spec->size = ctx->size / ATOMBLK_SIZE_ALIGN * ATOMBLK_SIZE_ALIGN;
	v->nr_nvme_legs = (unsigned int)ctx->nlegs;
	for (size_t i = 0; i < ctx->nlegs; i++)
		leg_record(&v->nvme_legs[i], &ctx->legs[i]);

	if (volctl_status(id, &status) == 0) {
		for (unsigned int i = 0; i < status.nr_legs && i < ATOMBLK_LEGS_MAX; i++)
			snprintf(spec->legs[i], sizeof(spec->legs[i]), "%s", status.legs[i].path);
		spec->nr_legs = status.nr_legs;
		return 0;
	}
	if (ctx->layout == ATOMBLK_LAYOUT_MIRROR) {
		r = stage_stale_legs(node, id, ctx, spec, msg, msg_size);
		if (r < 0)
			return r;
	}
	r = volume_store(node, id, v);
	if (r < 0) {
		snprintf(msg, msg_size, "journal: %s", strerror(-r));
		return r;
	}
	*ret_connected = true;
	for (size_t i = 0; i < ctx->nlegs; i++) {
		if (spec->stale & (1u << i)) {
			spec->legs[i][0] = '\0'; /* stale: missing, never connected */
			continue;
		}
		r = stage_leg(node, id, ctx, i, host, spec->legs[i], &spec->worker_legs, why,
			      sizeof(why));
		if (r == 0) {
			up++;
			continue;
		}
		spec->legs[i][0] = '\0';
		/* from now on it misses every write */
		if (ctx->layout == ATOMBLK_LAYOUT_MIRROR)
			spec->stale |= 1u << i;
		unaskable += r == -EBUSY;
		append(faults, sizeof(faults), "%sleg %zu (node %s): %s", faults[0] ? "; " : "", i,
		       ctx->legs[i].node, why);
		log_warn("leg not reachable", "volume_id=%s leg=%zu node=%s error=\"%s\"", id, i,
			 ctx->legs[i].node, why);
	}
	if (up == ctx->nlegs)
		return 0;
	if (ctx->layout == ATOMBLK_LAYOUT_MIRROR && up > 0) {
		if (!faults[0])
			return 0; /* only stale legs are missing: said above */
		log_warn("volume staged degraded: a mirror leg is missing",
			 "volume_id=%s legs_up=%u "
			 "legs=%zu missing=\"%s\"",
			 id, up, ctx->nlegs, faults);
		return 0;
	}
	snprintf(msg, msg_size, "%s: %s",
		 ctx->layout == ATOMBLK_LAYOUT_MIRROR ? "no leg of the mirror is reachable" :
							"the volume's leg is not reachable",
		 faults);
	/* Nobody could even be asked: a configuration problem, not an outage. */
	return unaskable == ctx->nlegs ? -EBUSY : -EHOSTUNREACH;
}

/*
 * What an assembled NVMe-oF volume gets before anything is written to it:
 * the volume's hold time as its disk's hold override (IO waits at most
 * that long with no client), and for a mirror the stale-legs marks (its
 * stale and missing legs, on every replica) with the monitor watching its
 * legs from now on. A mark a storage node does not take now is retried.
 */
static int stage_nvme_policy(struct csi_node *node, const char *id, const struct volctx *ctx,
			     const struct node_volume *v, const struct node_volume_spec *spec,
			     char *msg, size_t msg_size)
{
	struct stalemark_leg legs[VOLCTX_LEGS_MAX];
	char stale[STALELEG_TEXT_MAX];
	int r;

	r = atomsys_disk_set_hold(v->disk, (int)ctx->hold_seconds);
	if (r < 0) {
		snprintf(msg, msg_size, "set the hold time of %s to %u s: %s", v->disk,
			 ctx->hold_seconds, strerror(-r));
		return r == -ENOENT ? -EIO : r;
	}
	if (ctx->layout != ATOMBLK_LAYOUT_MIRROR)
		return 0;
	for (size_t i = 0; i < ctx->nlegs; i++)
		stalemark_leg_of(&legs[i], &ctx->legs[i]);
	r = stalemark_watch(node->marks, id, legs, (unsigned int)ctx->nlegs, spec->stale,
			    spec->marks);
	staleleg_format(spec->stale, stale);
	if (r < 0)
		log_error("stale legs not journalled", "volume_id=%s stale_legs=%s error=\"%s\"",
			  id, stale, strerror(-r));
	else if (r > 0)
		log_warn("stale-legs marks pending: the monitor retries them",
			 "volume_id=%s stale_legs=%s replicas_unmarked=%d", id, stale, r);
	return 0;
}

/* ---- NodeStageVolume --------------------------------------------------------- */

/* Mount the volume's disk on the staging path, formatting it only if blank. */
static int stage_mount(const char *id, const Csi__V1__VolumeCapability *cap, struct node_volume *v,
		       char *msg, size_t msg_size)
{
	const char *want_fs = cap->mount->fs_type[0] ? cap->mount->fs_type : NULL;
	char dev[PATH_MAX], found[FSPROBE_TYPE_MAX], err[FSUTIL_ERR_MAX];
	struct mount_entry *entry;
	unsigned long flags;
	char *data = NULL;
	dev_t devno;
	int r;

	r = disk_node_path(v->disk, dev, sizeof(dev));
	if (r == 0)
		r = disk_devno(v->disk, &devno);
	if (r < 0) {
		snprintf(msg, msg_size, "device node of %s: %s", v->disk, strerror(-r));
		return r;
	}

	entry = malloc(sizeof(*entry));
	if (!entry)
		return -ENOMEM;
	r = mounts_find_target(NULL, v->staging, entry);
	if (r == 0) {
		bool ours = entry->devno == devno;

		if (ours)
			snprintf(v->fs, sizeof(v->fs), "%s", entry->fstype);
		else
			snprintf(msg, msg_size, "%s already has another filesystem mounted (%s)",
				 v->staging, entry->source);
		free(entry);
		if (ours && want_fs && strcmp(want_fs, v->fs)) {
			snprintf(msg, msg_size, "volume is staged with %s, %s requested", v->fs,
				 want_fs);
			return -EEXIST;
		}
		return ours ? 0 : -EEXIST;
	}
	free(entry);
	if (r != -ENOENT) {
		snprintf(msg, msg_size, "mount table: %s", strerror(-r));
		return r;
	}

	r = fsprobe_type(dev, found);
	if (r < 0) {
		snprintf(msg, msg_size, "probe %s: %s", dev,
			 r == -EMEDIUMTYPE ? "conflicting signatures; refusing to format" :
					     strerror(-r));
		return r == -EMEDIUMTYPE ? -EBUSY : r;
	}
	if (!found[0]) {
		const char *fs = want_fs ? want_fs : NODE_DEFAULT_FS;

		r = fsutil_mkfs(fs, dev, err, sizeof(err));
		if (r < 0) {
			snprintf(msg, msg_size, "mkfs.%s %s: %s", fs, dev,
				 r == -EIO ? err : strerror(-r));
			return r;
		}
		log_info("formatted volume", "volume_id=%s disk=%s fs=%s", id, v->disk, fs);
		stage_test_pause("formatted");
		snprintf(v->fs, sizeof(v->fs), "%s", fs);
	} else if (!fsutil_fs_supported(found) || (want_fs && strcmp(found, want_fs))) {
		snprintf(msg, msg_size, "%s carries %s%s%s; refusing to format it", dev, found,
			 want_fs ? ", requested " : "", want_fs ? want_fs : "");
		return -EBUSY; /* FAILED_PRECONDITION: the data is never overwritten */
	} else {
		snprintf(v->fs, sizeof(v->fs), "%s", found);
	}

	r = capability_mount_options(cap, &flags, &data);
	if (r < 0) {
		snprintf(msg, msg_size, "mount_flags are not valid mount options");
		return -EINVAL;
	}
	if (access_mode_readonly(cap->access_mode->mode))
		flags |= MS_RDONLY;
	if (mkdir(v->staging, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(msg, msg_size, "mkdir %s: %s", v->staging, strerror(-r));
		free(data);
		return r;
	}
	r = mounts_mount(dev, v->staging, v->fs, flags, data);
	free(data);
	if (r < 0) {
		snprintf(msg, msg_size, "mount %s on %s: %s", dev, v->staging, strerror(-r));
		return r == -EBUSY ? -EIO : r;
	}
	return 0;
}

/* The journal says staged: do the kernel's disk and the staging mount agree? */
static bool volume_still_staged(const char *id, const struct node_volume *v)
{
	struct atomsys_disk disk;
	struct mount_entry *entry;
	bool staged;
	dev_t devno;

	if (atomsys_disk_find(id, &disk) < 0 || strcmp(disk.name, v->disk))
		return false;
	if (v->block)
		return true;
	if (disk_devno(v->disk, &devno) < 0)
		return false;
	entry = malloc(sizeof(*entry));
	if (!entry)
		return false;
	staged = mounts_find_target(NULL, v->staging, entry) == 0 && entry->devno == devno;
	free(entry);
	return staged;
}

static grpc_status_code node_stage(void *userdata, const ProtobufCMessage *msg,
				   ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__NodeStageVolumeRequest *req = (const Csi__V1__NodeStageVolumeRequest *)msg;
	struct csi_node *node = userdata;
	struct node_volume_spec spec;
	struct node_volume v;
	struct volctx *ctx = NULL;
	struct hostid host;
	grpc_status_code code;
	char why[NODE_WHY_MAX] = "";
	bool block, created = false, connected = false;
	unsigned long flags;
	char *data = NULL;
	int r;

	if (!volume_id_valid(req->volume_id, ret_details, &code) ||
	    !path_valid("staging_target_path", req->staging_target_path, ret_details, &code) ||
	    !capability_valid(req->volume_capability, ret_details, &code))
		return code;
	ctx = malloc(sizeof(*ctx));
	if (!ctx)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	r = volctx_parse(stage_context_get, (void *)req, ctx, why, sizeof(why));
	if (r == -ENOENT) {
		free(ctx);
		ctx = NULL;
		r = volume_spec_parse(req, &spec, why, sizeof(why));
	}
	if (r < 0) {
		free(ctx);
		return status_fail(ret_details, -EINVAL, "%s", why);
	}
	if (capability_mount_options(req->volume_capability, &flags, &data) < 0) {
		free(ctx);
		return status_fail(ret_details, -EINVAL, "mount_flags are not valid mount options");
	}
	free(data); /* parsed again when mounting */
	block = req->volume_capability->access_type_case ==
		CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
	if (ctx && hostid_load(&host, why, sizeof(why)) < 0) {
		free(ctx);
		return status_fail(ret_details, -EBUSY, "this node's NVMe host identity: %s", why);
	}

	if (vollock_try(node->locks, req->volume_id) < 0) {
		free(ctx);
		return fail_busy(ret_details, req->volume_id);
	}

	r = volume_load(node, req->volume_id, &v);
	if (r == 0) {
		const char *want_fs = block ? "" : req->volume_capability->mount->fs_type;

		if (strcmp(v.staging, req->staging_target_path)) {
			r = -EEXIST;
			snprintf(why, sizeof(why), "volume is staged at %s", v.staging);
		} else if (v.block != block || (want_fs[0] && v.fs[0] && strcmp(v.fs, want_fs))) {
			r = -EEXIST;
			snprintf(why, sizeof(why), "volume is staged as %s%s",
				 v.block ? "block" : "mount ", v.fs);
		}
	} else if (r == -ENOENT) {
		r = 0;
		if (node->max_volumes && journal_count(node->journal) >= node->max_volumes) {
			r = -ENOSPC;
			snprintf(why, sizeof(why),
				 "this node already holds its maximum of %u volumes",
				 node->max_volumes);
		}
		memset(&v, 0, sizeof(v));
		snprintf(v.staging, sizeof(v.staging), "%s", req->staging_target_path);
		v.block = block;
	} else {
		snprintf(why, sizeof(why), "journal: %s", strerror(-r));
	}
	if (r < 0)
		goto out;
	/* Staged and still there: answer without the client (it may be mid-upgrade). */
	if (v.staged && volume_still_staged(req->volume_id, &v))
		goto out;

	if (ctx) {
		r = stage_nvme_legs(node, req->volume_id, ctx, &v, &spec, &host, &connected, why,
				    sizeof(why));
		if (r < 0)
			goto out;
	}
	/* The context's size is a minimum: see the header comment. */
	if (spec.size && grown_size(node, req->volume_id) > spec.size)
		spec.size = grown_size(node, req->volume_id);
	r = volume_assemble(req->volume_id, &spec, v.disk, &created, why, sizeof(why));
	if (r == -EPROTONOSUPPORT) {
		snprintf(why, sizeof(why),
			 "a mirror leg is missing and the loaded atom_client cannot create a "
			 "mirror with a missing leg (uapi version < %d)",
			 ATOMBLK_UAPI_VERSION_MISSING_LEG);
		r = -EHOSTUNREACH;
	}
	if (r < 0)
		goto out;
	if (ctx) {
		r = stage_nvme_policy(node, req->volume_id, ctx, &v, &spec, why, sizeof(why));
		if (r < 0)
			goto out;
	}
	if (!block) {
		r = volume_fit_filesystem(req->volume_id, v.disk, why, sizeof(why));
		if (r < 0)
			goto out;
	}
	/* Journal first: a crash from here on leaves a record Unstage can clean up. */
	if (!v.staged) {
		r = volume_store(node, req->volume_id, &v);
		if (r < 0) {
			snprintf(why, sizeof(why), "journal: %s", strerror(-r));
			goto out;
		}
		stage_test_pause("assembled");
	}
	if (!block) {
		r = stage_mount(req->volume_id, req->volume_capability, &v, why, sizeof(why));
		if (r < 0)
			goto out;
	}
	if (!v.staged) {
		v.staged = true;
		r = volume_store(node, req->volume_id, &v);
		if (r < 0) {
			snprintf(why, sizeof(why), "journal: %s", strerror(-r));
			if (created && !block)
				mounts_umount(v.staging); /* mounted by this call just now */
			goto out;
		}
		log_info("volume staged", "volume_id=%s disk=%s staging=\"%s\" access=%s fs=%s",
			 req->volume_id, v.disk, v.staging, block ? "block" : "mount",
			 v.fs[0] ? v.fs : "none");
	}
out:
	/*
	 * A refused stage leaves nothing behind: undo the assembly this call
	 * made (a crash instead leaves the journal record for Unstage or a
	 * retried Stage to finish).
	 */
	if (r < 0 && created)
		volctl_remove(req->volume_id);
	if (r < 0 && connected) {
		char undo[NODE_WHY_MAX];

		if (legs_release(node, req->volume_id, &v, &host, undo, sizeof(undo)) < 0)
			log_warn("a leg of the refused stage is still connected; Unstage retries",
				 "volume_id=%s error=\"%s\"", req->volume_id, undo);
		else
			created = true; /* nothing is left: the record goes too */
	}
	if (r < 0 && created)
		journal_remove(node->journal, req->volume_id);
	vollock_release(node->locks, req->volume_id);
	free(ctx);
	if (r < 0)
		return status_fail(ret_details, r, "stage %s: %s", req->volume_id,
				   why[0] ? why : strerror(-r));
	return status_reply_empty(&csi__v1__node_stage_volume_response__descriptor, ret_resp);
}

/* ---- NodeUnstageVolume ------------------------------------------------------- */

/* Mounts of @disk other than @except: a published volume cannot be unstaged. */
static int disk_still_published(const char *disk, const char *except, char *msg, size_t msg_size)
{
	struct mount_entry *entries;
	size_t count;
	dev_t devno;
	int r;

	r = disk_devno(disk, &devno);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = mounts_list_device(NULL, devno, disk, &entries, &count);
	if (r < 0)
		return r;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(entries[i].target, except)) {
			snprintf(msg, msg_size, "volume is still published at %s",
				 entries[i].target);
			r = -EBUSY;
			break;
		}
	}
	free(entries);
	return r;
}

static grpc_status_code node_unstage(void *userdata, const ProtobufCMessage *msg,
				     ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__NodeUnstageVolumeRequest *req =
		(const Csi__V1__NodeUnstageVolumeRequest *)msg;
	struct csi_node *node = userdata;
	struct atomsys_disk disk_status;
	struct mount_entry *entry = NULL;
	struct node_volume v;
	grpc_status_code code;
	char why[NODE_WHY_MAX] = "";
	bool known;
	int r;

	if (!volume_id_valid(req->volume_id, ret_details, &code) ||
	    !path_valid("staging_target_path", req->staging_target_path, ret_details, &code))
		return code;
	if (vollock_try(node->locks, req->volume_id) < 0)
		return fail_busy(ret_details, req->volume_id);

	r = volume_load(node, req->volume_id, &v);
	known = r == 0;
	if (r == -ENOENT) {
		/* Not in the journal (lost, or a stage that never got that far): ask the kernel. */
		memset(&v, 0, sizeof(v));
		snprintf(v.staging, sizeof(v.staging), "%s", req->staging_target_path);
		r = atomsys_disk_find(req->volume_id, &disk_status);
		if (r == 0)
			strcpy(v.disk, disk_status.name);
		r = 0;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "journal: %s", strerror(-r));
		goto out;
	}
	/* Staged elsewhere: not staged at this path, so nothing to do here. */
	if (strcmp(v.staging, req->staging_target_path))
		goto out;

	if (v.disk[0]) {
		r = disk_still_published(v.disk, req->staging_target_path, why, sizeof(why));
		if (r < 0)
			goto out;
	}
	entry = malloc(sizeof(*entry));
	if (!entry) {
		r = -ENOMEM;
		goto out;
	}
	while (mounts_find_target(NULL, req->staging_target_path, entry) == 0) {
		r = mounts_umount(req->staging_target_path);
		if (r < 0) {
			snprintf(why, sizeof(why), "umount %s: %s", req->staging_target_path,
				 strerror(-r));
			goto out;
		}
	}
	if (v.disk[0] || known) {
		/* a leg that failed since the last look is marked before the disk goes */
		if (v.nr_nvme_legs)
			stalemark_check(node->marks, req->volume_id, true, NULL);
		r = volctl_remove(req->volume_id);
		if (r == -ENOENT)
			r = 0;
		if (r < 0) {
			snprintf(why, sizeof(why), "remove volume: %s", volctl_error(r));
			if (r == -ENOTCONN)
				r = -EAGAIN;
			goto out;
		}
		/* no more writes: nothing new to mark; pending marks stay until delivered */
		if (v.nr_nvme_legs)
			stalemark_unwatch(node->marks, req->volume_id);
	}
	/* The disk is gone: nothing uses the legs' namespaces any more. */
	if (v.nr_nvme_legs) {
		struct hostid host;

		r = hostid_load(&host, why, sizeof(why));
		if (r == 0)
			r = legs_release(node, req->volume_id, &v, &host, why, sizeof(why));
		if (r < 0) {
			r = r == -EBADMSG ? -EBUSY : r;
			goto out;
		}
	}
	if (known) {
		r = journal_remove(node->journal, req->volume_id);
		if (r < 0) {
			snprintf(why, sizeof(why), "journal: %s", strerror(-r));
			goto out;
		}
	}
	if (v.disk[0] || known)
		log_info("volume unstaged", "volume_id=%s disk=%s staging=\"%s\"", req->volume_id,
			 v.disk[0] ? v.disk : "none", req->staging_target_path);
out:
	free(entry);
	vollock_release(node->locks, req->volume_id);
	if (r < 0)
		return status_fail(ret_details, r, "unstage %s: %s", req->volume_id,
				   why[0] ? why : strerror(-r));
	return status_reply_empty(&csi__v1__node_unstage_volume_response__descriptor, ret_resp);
}

/* ---- NodePublishVolume ------------------------------------------------------- */

/* Is the mount @e the volume's: its filesystem, or its bound device node? */
static bool mount_is_volume(const struct mount_entry *e, const struct node_volume *v, dev_t devno)
{
	char node_root[ATOMBLK_DISK_NAME_MAX + 1];

	if (!v->block)
		return e->devno == devno;
	snprintf(node_root, sizeof(node_root), "/%s", v->disk);
	return !strcmp(e->root, node_root);
}

static int publish_target_create(const char *target, bool block)
{
	int fd;

	if (!block)
		return mkdir(target, 0750) < 0 && errno != EEXIST ? -errno : 0;
	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return errno == EISDIR ? -EISDIR : -errno;
	close(fd);
	return 0;
}

static grpc_status_code node_publish(void *userdata, const ProtobufCMessage *msg,
				     ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__NodePublishVolumeRequest *req =
		(const Csi__V1__NodePublishVolumeRequest *)msg;
	struct csi_node *node = userdata;
	struct mount_entry *entry = NULL;
	char source[PATH_MAX], why[NODE_WHY_MAX] = "";
	struct node_volume v;
	grpc_status_code code;
	unsigned long flags = 0;
	char *data = NULL;
	bool block, readonly;
	dev_t devno;
	int r;

	if (!volume_id_valid(req->volume_id, ret_details, &code) ||
	    !path_valid("staging_target_path", req->staging_target_path, ret_details, &code) ||
	    !path_valid("target_path", req->target_path, ret_details, &code) ||
	    !capability_valid(req->volume_capability, ret_details, &code))
		return code;
	if (capability_mount_options(req->volume_capability, &flags, &data) < 0)
		return status_fail(ret_details, -EINVAL, "mount_flags are not valid mount options");
	free(data); /* filesystem options were applied at stage; a bind takes only MS_* flags */
	block = req->volume_capability->access_type_case ==
		CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
	readonly = req->readonly || access_mode_readonly(req->volume_capability->access_mode->mode);

	if (vollock_try(node->locks, req->volume_id) < 0)
		return fail_busy(ret_details, req->volume_id);

	r = volume_load(node, req->volume_id, &v);
	if (r == -ENOENT || (r == 0 && !v.staged)) {
		r = -EBUSY; /* FAILED_PRECONDITION */
		snprintf(why, sizeof(why), "volume is not staged on this node");
		goto out;
	}
	if (r < 0)
		goto out;
	if (strcmp(v.staging, req->staging_target_path)) {
		r = -EBUSY;
		snprintf(why, sizeof(why), "volume is staged at %s", v.staging);
		goto out;
	}
	if (v.block != block) {
		r = -EINVAL;
		snprintf(why, sizeof(why), "volume is staged as %s",
			 v.block ? "block" : "a filesystem");
		goto out;
	}
	r = disk_devno(v.disk, &devno);
	if (r < 0) {
		snprintf(why, sizeof(why), "device node of %s: %s", v.disk, strerror(-r));
		goto out;
	}
	if (block)
		r = disk_node_path(v.disk, source, sizeof(source));
	else
		r = snprintf(source, sizeof(source), "%s", v.staging) < 0 ? -EINVAL : 0;
	if (r < 0)
		goto out;

	entry = malloc(sizeof(*entry));
	if (!entry) {
		r = -ENOMEM;
		goto out;
	}
	r = mounts_find_target(NULL, req->target_path, entry);
	if (r == 0) {
		if (!mount_is_volume(entry, &v, devno)) {
			r = -EEXIST;
			snprintf(why, sizeof(why), "%s has another volume mounted",
				 req->target_path);
		} else if (entry->readonly != readonly) {
			r = -EEXIST;
			snprintf(why, sizeof(why), "volume is published at %s %s", req->target_path,
				 entry->readonly ? "read-only" : "read-write");
		}
		goto out; /* already published as asked: done */
	}
	if (r != -ENOENT)
		goto out;
	r = publish_target_create(req->target_path, block);
	if (r < 0) {
		snprintf(why, sizeof(why), "create %s: %s", req->target_path, strerror(-r));
		goto out;
	}
	r = mounts_bind(source, req->target_path, readonly, flags & ~MS_RDONLY);
	if (r < 0) {
		snprintf(why, sizeof(why), "bind %s on %s: %s", source, req->target_path,
			 strerror(-r));
		r = r == -EBUSY ? -EIO : r;
		goto out;
	}
	log_info("volume published", "volume_id=%s target=\"%s\" readonly=%s access=%s",
		 req->volume_id, req->target_path, readonly ? "true" : "false",
		 block ? "block" : "mount");
out:
	free(entry);
	vollock_release(node->locks, req->volume_id);
	if (r < 0)
		return status_fail(ret_details, r, "publish %s: %s", req->volume_id,
				   why[0] ? why : strerror(-r));
	return status_reply_empty(&csi__v1__node_publish_volume_response__descriptor, ret_resp);
}

/* ---- NodeUnpublishVolume ----------------------------------------------------- */

static grpc_status_code node_unpublish(void *userdata, const ProtobufCMessage *msg,
				       ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__NodeUnpublishVolumeRequest *req =
		(const Csi__V1__NodeUnpublishVolumeRequest *)msg;
	struct csi_node *node = userdata;
	char why[NODE_WHY_MAX] = "";
	grpc_status_code code;
	bool was_mounted = false;
	struct stat st;
	int r = 0;

	if (!volume_id_valid(req->volume_id, ret_details, &code) ||
	    !path_valid("target_path", req->target_path, ret_details, &code))
		return code;
	if (vollock_try(node->locks, req->volume_id) < 0)
		return fail_busy(ret_details, req->volume_id);

	/* Stacked mounts (a retried publish after a crash) all go. */
	for (int i = 0; i < 8 && mounts_is_mountpoint(NULL, req->target_path); i++) {
		was_mounted = true;
		r = mounts_umount(req->target_path);
		if (r < 0) {
			snprintf(why, sizeof(why), "umount %s: %s", req->target_path, strerror(-r));
			goto out;
		}
	}
	/* The SP removes the target it created. */
	if (lstat(req->target_path, &st) == 0) {
		r = S_ISDIR(st.st_mode) ? rmdir(req->target_path) : unlink(req->target_path);
		if (r < 0) {
			r = -errno;
			snprintf(why, sizeof(why), "remove %s: %s", req->target_path, strerror(-r));
			goto out;
		}
	}
	if (was_mounted)
		log_info("volume unpublished", "volume_id=%s target=\"%s\"", req->volume_id,
			 req->target_path);
out:
	vollock_release(node->locks, req->volume_id);
	if (r < 0)
		return status_fail(ret_details, r, "unpublish %s: %s", req->volume_id,
				   why[0] ? why : strerror(-r));
	return status_reply_empty(&csi__v1__node_unpublish_volume_response__descriptor, ret_resp);
}

/* ---- NodeGetVolumeStats ------------------------------------------------------ */

/*
 * The volume's condition from the kernel: IO held (no client), the disk
 * abnormal (held IO failed), the volume degraded or failed.
 * Return: 0 and a malloc'd message when abnormal (*ret_message NULL when fine).
 */
/*
 * The faulty legs of @status, one clause each: the device-path leg, or for
 * an NVMe-oF leg its storage node and whether its controller is live again
 * (the leg stays out of the mirror all the same: no resync yet).
 */
static const char *faulty_legs(const struct node_volume *v, const struct atomblk_status *status,
			       unsigned int stale, char *buf, size_t size)
{
	struct nvmeconn_ctrl ctrl;
	char msg[256];
	struct hostid host;
	bool have_host = v->nr_nvme_legs && hostid_load(&host, msg, sizeof(msg)) == 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < status->nr_legs && i < ATOMBLK_LEGS_MAX; i++) {
		const struct atomblk_leg_status *leg = &status->legs[i];
		const struct node_leg *l = i < v->nr_nvme_legs ? &v->nvme_legs[i] : NULL;
		const char *sep = buf[0] ? "; " : "";

		if (leg->state != ATOMBLK_LEG_FAULTY)
			continue;
		if (l && (stale & (1u << i))) {
			bool live = leg->path[0] && have_host &&
				    nvmeconn_find(l->nqn, host.nqn, &ctrl) == 0 &&
				    !strcmp(ctrl.state, "live");

			append(buf, size,
			       "%sleg %u (node %s) stale (missed writes while down)%s; resync is not "
			       "implemented, the leg stays out of the mirror",
			       sep, i, l->node, live ? ", reachable again" : "");
		} else if (!l) {
			append(buf, size, "%sleg %s is faulty", sep,
			       leg->path[0] ? leg->path : "?");
		} else if (!leg->path[0]) {
			append(buf, size,
			       "%sleg %u (node %s) is missing: it was not reachable at stage", sep,
			       i, l->node);
		} else if (have_host && nvmeconn_find(l->nqn, host.nqn, &ctrl) == 0 &&
			   !strcmp(ctrl.state, "live")) {
			append(buf, size,
			       "%sleg %u (node %s) reachable again; resync is not implemented, the leg "
			       "stays out of the mirror",
			       sep, i, l->node);
		} else {
			append(buf, size, "%sleg %u (node %s, %s) is faulty", sep, i, l->node,
			       leg->path);
		}
	}
	return buf[0] ? buf : "no leg reported faulty";
}

static int volume_condition(struct csi_node *node, const char *id, const struct node_volume *v,
			    char **ret_message)
{
	struct atomsys_disk disk;
	struct atomblk_status status;
	unsigned int stale = 0;
	char text[1024];
	int r;

	*ret_message = NULL;
	r = atomsys_disk_read(v->disk, &disk);
	if (r < 0 || strcmp(disk.volume_id, id))
		return asprintf(ret_message, "no atom disk carries the volume (expected %s)",
				v->disk) < 0 ?
			       -ENOMEM :
			       0;
	switch (disk.state) {
	case ATOMSYS_DISK_ATTACHED:
		break;
	case ATOMSYS_DISK_HELD:
		return asprintf(ret_message,
				"IO is held: no client module attached (%" PRIu64
				" requests waiting)",
				disk.held_requests) < 0 ?
			       -ENOMEM :
			       0;
	case ATOMSYS_DISK_ABNORMAL:
		return asprintf(
			       ret_message,
			       "disk %s is abnormal: held IO was failed, IO fails until a client adopts it",
			       v->disk) < 0 ?
			       -ENOMEM :
			       0;
	default:
		return asprintf(ret_message, "disk %s is in an unknown state", v->disk) < 0 ?
			       -ENOMEM :
			       0;
	}
	r = volctl_status(id, &status);
	if (r < 0)
		return asprintf(ret_message, "client status: %s", volctl_error(r)) < 0 ? -ENOMEM :
											 0;
	if (status.state == ATOMBLK_VOLUME_OK)
		return 0;
	/* a faulty leg is marked now if the monitor has not yet (never waits for it) */
	if (v->nr_nvme_legs)
		stalemark_check(node->marks, id, false, &stale);
	return asprintf(ret_message, "volume %s: %s", volctl_volume_state_name(status.state),
			faulty_legs(v, &status, stale, text, sizeof(text))) < 0 ?
		       -ENOMEM :
		       0;
}

static Csi__V1__VolumeUsage *usage_new(Csi__V1__VolumeUsage__Unit unit, uint64_t total,
				       uint64_t available, uint64_t used)
{
	Csi__V1__VolumeUsage *u = malloc(sizeof(*u));

	if (!u)
		return NULL;
	csi__v1__volume_usage__init(u);
	u->unit = unit;
	u->total = (int64_t)total;
	u->available = (int64_t)available;
	u->used = (int64_t)used;
	return u;
}

static grpc_status_code node_get_volume_stats(void *userdata, const ProtobufCMessage *msg,
					      ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__NodeGetVolumeStatsRequest *req =
		(const Csi__V1__NodeGetVolumeStatsRequest *)msg;
	struct csi_node *node = userdata;
	Csi__V1__NodeGetVolumeStatsResponse *resp;
	Csi__V1__VolumeCondition *condition;
	grpc_status_code code;
	struct node_volume v;
	char *message = NULL;
	struct statvfs sv;
	struct stat st;
	int r;

	if (!volume_id_valid(req->volume_id, ret_details, &code) ||
	    !path_valid("volume_path", req->volume_path, ret_details, &code))
		return code;
	/* No volume lock: a read-only call kubelet makes often; ABORTED would only be noise. */
	r = volume_load(node, req->volume_id, &v);
	if (r == -ENOENT)
		return status_fail(ret_details, -ENOENT, "volume %s is not staged on this node",
				   req->volume_id);
	if (r < 0)
		return status_fail(ret_details, r, "journal: %s", strerror(-r));
	if (stat(req->volume_path, &st) < 0)
		return status_fail(ret_details, errno == ENOENT ? -ENOENT : -errno,
				   "volume_path %s: %s", req->volume_path, strerror(errno));

	resp = malloc(sizeof(*resp));
	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	csi__v1__node_get_volume_stats_response__init(resp);
	*ret_resp = &resp->base;
	resp->usage = calloc(2, sizeof(*resp->usage));
	if (!resp->usage)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;

	if (S_ISBLK(st.st_mode)) {
		uint64_t size;

		if (!v.block)
			return status_fail(ret_details, -ENOENT,
					   "%s is a device, the volume is a filesystem",
					   req->volume_path);
		r = volctl_device_size(req->volume_path, &size);
		if (r < 0)
			return status_fail(ret_details, r, "size of %s: %s", req->volume_path,
					   strerror(-r));
		resp->usage[resp->n_usage] =
			usage_new(CSI__V1__VOLUME_USAGE__UNIT__BYTES, size, 0, 0);
		if (!resp->usage[resp->n_usage++])
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
	} else {
		if (v.block || !mounts_is_mountpoint(NULL, req->volume_path))
			return status_fail(ret_details, -ENOENT, "volume %s is not mounted at %s",
					   req->volume_id, req->volume_path);
		if (statvfs(req->volume_path, &sv) < 0)
			return status_fail(ret_details, -errno, "statvfs %s: %s", req->volume_path,
					   strerror(errno));
		resp->usage[resp->n_usage] = usage_new(
			CSI__V1__VOLUME_USAGE__UNIT__BYTES, (uint64_t)sv.f_blocks * sv.f_frsize,
			(uint64_t)sv.f_bavail * sv.f_frsize,
			(uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize);
		if (!resp->usage[resp->n_usage++])
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		resp->usage[resp->n_usage] =
			usage_new(CSI__V1__VOLUME_USAGE__UNIT__INODES, sv.f_files, sv.f_favail,
				  sv.f_files - sv.f_ffree);
		if (!resp->usage[resp->n_usage++])
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
	}

	condition = malloc(sizeof(*condition));
	if (!condition || volume_condition(node, req->volume_id, &v, &message) < 0) {
		free(condition);
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	csi__v1__volume_condition__init(condition);
	condition->abnormal = message != NULL;
	condition->message = message ? message : strdup("");
	resp->volume_condition = condition;
	return condition->message ? GRPC_STATUS_OK : GRPC_STATUS_RESOURCE_EXHAUSTED;
}

/* ---- NodeExpandVolume -------------------------------------------------------- */

/*
 * NVMe-oF legs grow when the storage nodes grow their replicas (the
 * controller's ExpandReplica); nvmet announces the new size and the host
 * rescans by itself. In case it has not yet: ask every leg's controller to
 * rescan, then wait up to NODE_RESCAN_WAIT_MS for the legs to hold @want
 * bytes (0: no size asked, rescan only). *@capacity is updated.
 */
static int legs_rescan(const char *id, const struct node_volume *v,
		       const struct atomblk_status *status, const char *legs[], uint64_t want,
		       uint64_t *capacity, char *msg, size_t msg_size)
{
	struct timespec pause = { 0, 100 * 1000000L };
	struct nvmeconn_ctrl ctrl;
	struct hostid host;
	int r, waited = 0;

	if (want && *capacity >= want)
		return 0;
	r = hostid_load(&host, msg, msg_size);
	if (r < 0)
		return r == -EBADMSG ? -EBUSY : r;
	for (unsigned int i = 0; i < v->nr_nvme_legs; i++) {
		if (nvmeconn_find(v->nvme_legs[i].nqn, host.nqn, &ctrl) < 0)
			continue;
		r = nvmeconn_rescan(ctrl.name);
		log_info("leg rescanned", "volume_id=%s leg=%u ctrl=%s result=\"%s\"", id, i,
			 ctrl.name, r < 0 ? strerror(-r) : "ok");
	}
	do {
		r = legs_capacity(status->layout, status->nr_legs, legs, capacity, msg, msg_size);
		if (r < 0 || !want || *capacity >= want)
			return r;
		nanosleep(&pause, NULL);
		waited += 100;
	} while (waited < NODE_RESCAN_WAIT_MS);
	return 0; /* the caller says the size does not fit */
}

static grpc_status_code node_expand(void *userdata, const ProtobufCMessage *msg,
				    ProtobufCMessage **ret_resp, char **ret_details)
{
	const Csi__V1__NodeExpandVolumeRequest *req = (const Csi__V1__NodeExpandVolumeRequest *)msg;
	struct csi_node *node = userdata;
	Csi__V1__NodeExpandVolumeResponse *resp;
	const Csi__V1__CapacityRange *range = req->capacity_range;
	const char *legs[ATOMBLK_LEGS_MAX];
	char why[NODE_WHY_MAX] = "", err[FSUTIL_ERR_MAX], dev[PATH_MAX];
	struct atomblk_status status;
	uint64_t capacity, target = 0;
	grpc_status_code code;
	struct node_volume v;
	const char *mountpoint;
	int r;

	if (!volume_id_valid(req->volume_id, ret_details, &code) ||
	    !path_valid("volume_path", req->volume_path, ret_details, &code))
		return code;
	if (range && (range->required_bytes < 0 || range->limit_bytes < 0 ||
		      (range->limit_bytes && range->required_bytes > range->limit_bytes)))
		return status_fail(ret_details, -EINVAL, "capacity_range is not valid");
	if (vollock_try(node->locks, req->volume_id) < 0)
		return fail_busy(ret_details, req->volume_id);

	r = volume_load(node, req->volume_id, &v);
	if (r == 0 && !v.staged)
		r = -ENOENT;
	if (r < 0) {
		snprintf(why, sizeof(why), "%s",
			 r == -ENOENT ? "volume is not staged on this node" : strerror(-r));
		goto out;
	}
	r = volctl_status(req->volume_id, &status);
	if (r < 0) {
		snprintf(why, sizeof(why), "volume status: %s", volctl_error(r));
		r = r == -ENOTCONN ? -EAGAIN : r;
		goto out;
	}
	for (unsigned int i = 0; i < status.nr_legs; i++)
		legs[i] = status.legs[i].path;
	r = legs_capacity(status.layout, status.nr_legs, legs, &capacity, why, sizeof(why));
	if (r == 0 && v.nr_nvme_legs)
		r = legs_rescan(req->volume_id, &v, &status, legs,
				range ? (uint64_t)range->required_bytes : 0, &capacity, why,
				sizeof(why));
	if (r < 0)
		goto out;

	target = range && range->required_bytes ? (uint64_t)range->required_bytes : capacity;
	target = (target + ATOMBLK_SIZE_ALIGN - 1) / ATOMBLK_SIZE_ALIGN * ATOMBLK_SIZE_ALIGN;
	if (target > capacity ||
	    (range && range->limit_bytes && target > (uint64_t)range->limit_bytes)) {
		r = -ERANGE;
		snprintf(why, sizeof(why),
			 "%" PRIu64 " bytes do not fit the legs (%" PRIu64 " bytes) or the limit",
			 target, capacity);
		goto out;
	}
	if (target > status.size) {
		r = volctl_resize(req->volume_id, target);
		if (r < 0) {
			snprintf(why, sizeof(why), "resize: %s", volctl_error(r));
			r = r == -ENOTCONN ? -EAGAIN : r;
			goto out;
		}
		log_info("volume resized", "volume_id=%s from=%" PRIu64 " to=%" PRIu64,
			 req->volume_id, (uint64_t)status.size, target);
	} else {
		target = status.size; /* never shrink */
	}
	/* Before growing the filesystem: a restage must never assemble it short. */
	r = grown_size_store(node, req->volume_id, target);
	if (r < 0) {
		snprintf(why, sizeof(why), "record the grown size: %s", strerror(-r));
		goto out;
	}

	if (!v.block) {
		/* Grow the filesystem every time: a retry after a crash between the two steps finishes it. */
		mountpoint =
			mounts_is_mountpoint(NULL, req->volume_path) ? req->volume_path : v.staging;
		r = disk_node_path(v.disk, dev, sizeof(dev));
		if (r == 0)
			r = fsutil_grow(v.fs, dev, mountpoint, err, sizeof(err));
		if (r < 0) {
			snprintf(why, sizeof(why), "grow %s on %s: %s", v.fs, dev,
				 r == -EIO ? err : strerror(-r));
			goto out;
		}
	}
out:
	vollock_release(node->locks, req->volume_id);
	if (r < 0)
		return status_fail(ret_details, r, "expand %s: %s", req->volume_id,
				   why[0] ? why : strerror(-r));
	resp = malloc(sizeof(*resp));
	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	csi__v1__node_expand_volume_response__init(resp);
	resp->capacity_bytes = (int64_t)target;
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

/* ---- NodeGetInfo, NodeGetCapabilities ---------------------------------------- */

static grpc_status_code node_get_info(void *userdata, const ProtobufCMessage *msg,
				      ProtobufCMessage **ret_resp, char **ret_details)
{
	struct csi_node *node = userdata;
	Csi__V1__NodeGetInfoResponse *resp = malloc(sizeof(*resp));
	Csi__V1__Topology *topology;

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	csi__v1__node_get_info_response__init(resp);
	*ret_resp = &resp->base;
	resp->node_id = strdup(node->node_id);
	resp->max_volumes_per_node = node->max_volumes;
	topology = malloc(sizeof(*topology));
	if (!resp->node_id || !topology) {
		free(topology);
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	csi__v1__topology__init(topology);
	resp->accessible_topology = topology;
	topology->segments = calloc(node->n_segments, sizeof(*topology->segments));
	if (node->n_segments && !topology->segments)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	for (unsigned int i = 0; i < node->n_segments; i++) {
		Csi__V1__Topology__SegmentsEntry *e = malloc(sizeof(*e));

		if (!e)
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		csi__v1__topology__segments_entry__init(e);
		topology->segments[topology->n_segments++] = e;
		e->key = strdup(node->segments[i].key);
		e->value = strdup(node->segments[i].value);
		if (!e->key || !e->value)
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	return GRPC_STATUS_OK;
}

static grpc_status_code node_get_capabilities(void *userdata, const ProtobufCMessage *msg,
					      ProtobufCMessage **ret_resp, char **ret_details)
{
	static const Csi__V1__NodeServiceCapability__RPC__Type types[] = {
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__STAGE_UNSTAGE_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME_STATS,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__VOLUME_CONDITION,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__SINGLE_NODE_MULTI_WRITER,
	};
	const size_t n = sizeof(types) / sizeof(types[0]);
	Csi__V1__NodeGetCapabilitiesResponse *resp = malloc(sizeof(*resp));

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	csi__v1__node_get_capabilities_response__init(resp);
	*ret_resp = &resp->base;
	resp->capabilities = calloc(n, sizeof(*resp->capabilities));
	if (!resp->capabilities)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	for (size_t i = 0; i < n; i++) {
		Csi__V1__NodeServiceCapability *cap = malloc(sizeof(*cap));
		Csi__V1__NodeServiceCapability__RPC *rpc = malloc(sizeof(*rpc));

		if (!cap || !rpc) {
			free(cap);
			free(rpc);
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		}
		csi__v1__node_service_capability__init(cap);
		csi__v1__node_service_capability__rpc__init(rpc);
		rpc->type = types[i];
		cap->type_case = CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC;
		cap->rpc = rpc;
		resp->capabilities[resp->n_capabilities++] = cap;
	}
	return GRPC_STATUS_OK;
}

/* ---- service life cycle ------------------------------------------------------ */

/* "key=value[,key=value]": the node's topology segments; -EINVAL if malformed. */
static int node_parse_topology(const char *text, struct csi_node *node)
{
	const char *p = text;

	node->n_segments = 0;
	while (p && *p) {
		size_t len = strcspn(p, ","), klen;
		const char *eq = memchr(p, '=', len);
		struct topology_segment *s;

		if (!eq || eq == p || node->n_segments == NODE_TOPOLOGY_SEGMENTS_MAX)
			return -EINVAL;
		klen = (size_t)(eq - p);
		s = &node->segments[node->n_segments];
		if (klen >= sizeof(s->key) || len - klen - 1 >= sizeof(s->value) ||
		    len - klen - 1 == 0)
			return -EINVAL;
		memcpy(s->key, p, klen);
		s->key[klen] = '\0';
		memcpy(s->value, eq + 1, len - klen - 1);
		s->value[len - klen - 1] = '\0';
		node->n_segments++;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/*
 * An NVMe-oF mirror found staged at start is watched for failed legs (a
 * record of a previous agent is kept; one staged by an agent without
 * stale-leg marks gets one).
 */
static void node_watch_mirror(struct csi_node *node, const char *id, const struct node_volume *v)
{
	struct stalemark_leg legs[VOLCTX_LEGS_MAX];

	if (v->nr_nvme_legs < ATOMBLK_MIRROR_LEGS_MIN) /* a linear volume has one replica */
		return;
	for (unsigned int i = 0; i < v->nr_nvme_legs; i++) {
		snprintf(legs[i].node, sizeof(legs[i].node), "%s", v->nvme_legs[i].node);
		snprintf(legs[i].target, sizeof(legs[i].target), "%s", v->nvme_legs[i].target);
		snprintf(legs[i].replica, sizeof(legs[i].replica), "%s", v->nvme_legs[i].replica);
	}
	if (stalemark_watch(node->marks, id, legs, v->nr_nvme_legs, 0, NULL) < 0)
		log_warn("staged mirror not watched for failed legs", "volume_id=%s", id);
}

/* Compare the journal with the kernel at start and say what was found. */
static void node_reconcile(struct csi_node *node)
{
	json_t *keys, *key;
	size_t i;

	if (journal_keys(node->journal, &keys) < 0)
		return;
	json_array_foreach(keys, i, key) {
		const char *id = json_string_value(key);
		struct atomsys_disk disk;
		struct node_volume v;

		if (volume_load(node, id, &v) < 0) {
			log_warn("journal record unreadable", "volume_id=%s", id);
			continue;
		}
		if (atomsys_disk_find(id, &disk) == 0) {
			if (strcmp(disk.name, v.disk)) {
				log_info("volume moved to another disk",
					 "volume_id=%s was=%s now=%s", id, v.disk, disk.name);
				strcpy(v.disk, disk.name);
				volume_store(node, id, &v);
			}
			log_info("volume found", "volume_id=%s disk=%s state=%s staged=%s", id,
				 disk.name, atomsys_disk_state_name(disk.state),
				 v.staged ? "true" : "false");
			node_watch_mirror(node, id, &v);
		} else {
			log_warn(
				"volume in the journal has no atom disk; the next stage reassembles it",
				"volume_id=%s disk=%s", id, v.disk);
		}
	}
	json_decref(keys);
}

int csi_node_new(const struct csi_node_config *cfg, struct csi_node **ret)
{
	char path[PATH_MAX];
	struct csi_node *node;
	int r;

	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	snprintf(node->node_id, sizeof(node->node_id), "%s", cfg->node_id);
	node->max_volumes = cfg->max_volumes;
	node->tls = cfg->tls;
	node->local_fn = cfg->local_fn;
	node->local = cfg->local;
	if (cfg->topology && cfg->topology[0])
		r = node_parse_topology(cfg->topology, node);
	else
		r = snprintf(node->segments[0].value, sizeof(node->segments[0].value), "%s",
			     cfg->node_id) >= (int)sizeof(node->segments[0].value) ?
			    -EINVAL :
			    0;
	if (!cfg->topology || !cfg->topology[0]) {
		strcpy(node->segments[0].key, CSI_NODE_TOPOLOGY_KEY);
		node->n_segments = 1;
	}
	if (r == 0)
		r = roots_path(ROOT_STATE, NODE_JOURNAL_FILE, path, sizeof(path));
	if (r == 0)
		r = journal_open(path, &node->journal);
	if (r == 0)
		r = roots_path(ROOT_STATE, NODE_SIZES_FILE, path, sizeof(path));
	if (r == 0)
		r = journal_open(path, &node->sizes);
	if (r == 0)
		r = vollock_new(&node->locks);
	if (r == 0)
		r = roots_path(ROOT_STATE, STALEMARK_JOURNAL_FILE, path, sizeof(path));
	if (r == 0) {
		const struct stalemark_config mc = {
			.node_id = node->node_id,
			.tls = cfg->tls,
			.local_fn = cfg->local_fn,
			.local = cfg->local,
			.journal_path = path,
			.interval_ms = NODE_STALE_POLL_MS,
		};

		r = stalemark_new(&mc, &node->marks);
	}
	if (r < 0) {
		csi_node_free(node);
		return r;
	}
	node_reconcile(node);
	*ret = node;
	return 0;
}

struct csi_node *csi_node_free(struct csi_node *node)
{
	if (!node)
		return NULL;
	stalemark_free(node->marks); /* the monitor first: it reads the kernel, not our journals */
	journal_free(node->journal);
	journal_free(node->sizes);
	vollock_free(node->locks);
	free(node);
	return NULL;
}

int csi_node_register(struct rpc_server *server, struct csi_node *node)
{
	const struct rpc_method methods[] = {
		{ "/csi.v1.Node/NodeStageVolume", &csi__v1__node_stage_volume_request__descriptor,
		  node_stage, node },
		{ "/csi.v1.Node/NodeUnstageVolume",
		  &csi__v1__node_unstage_volume_request__descriptor, node_unstage, node },
		{ "/csi.v1.Node/NodePublishVolume",
		  &csi__v1__node_publish_volume_request__descriptor, node_publish, node },
		{ "/csi.v1.Node/NodeUnpublishVolume",
		  &csi__v1__node_unpublish_volume_request__descriptor, node_unpublish, node },
		{ "/csi.v1.Node/NodeGetVolumeStats",
		  &csi__v1__node_get_volume_stats_request__descriptor, node_get_volume_stats,
		  node },
		{ "/csi.v1.Node/NodeExpandVolume", &csi__v1__node_expand_volume_request__descriptor,
		  node_expand, node },
		{ "/csi.v1.Node/NodeGetCapabilities",
		  &csi__v1__node_get_capabilities_request__descriptor, node_get_capabilities,
		  node },
		{ "/csi.v1.Node/NodeGetInfo", &csi__v1__node_get_info_request__descriptor,
		  node_get_info, node },
	};

	return rpc_server_add_methods(server, methods, sizeof(methods) / sizeof(methods[0]));
}
