/* SPDX-License-Identifier: GPL-2.0 */
/*
 * controller_place — the Controller's pure decisions, apart from any RPC so
 * that unit tests can drive them: ids from names, StorageClass parameters,
 * capacity ranges, volume capabilities, topology matching, replica
 * placement, GetCapacity arithmetic and list pagination.
 */
#ifndef ATOMBLK_CONTROLLER_PLACE_H
#define ATOMBLK_CONTROLLER_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csi.pb-c.h"
#include "lib/volctx.h"

#define CTRL_VOLUME_PREFIX "v-" /* volume id: "v-" + 32 hex of SHA-256(name) */
#define CTRL_SNAPSHOT_PREFIX "s-" /* snapshot id: "s-" + 32 hex of SHA-256(name) */
#define CTRL_ID_HEX 32 /* hex digits after the prefix (128 bits of the hash) */
#define CTRL_ID_LEN (2 + CTRL_ID_HEX) /* bytes, NUL excluded */
#define CTRL_SIZE_DEFAULT (1ULL << 30) /* no capacity_range: 1 GiB */
#define CTRL_SIZE_ALIGN 4096ULL /* replica sizes are multiples of this */
#define CTRL_REPLICAS_MAX 3 /* a mirror has at most 3 legs */
#define CTRL_HOLD_SECONDS_DEFAULT 300 /* the atom's default hold */
#define CTRL_HOLD_SECONDS_MAX 86400 /* one day (volctx accepts no more) */
#define CTRL_MSG_MAX 512 /* room for a human message */

/* One key/value pair (a parameter, a topology segment entry). */
struct ctrl_kv {
	const char *key;
	const char *value;
};

/* A topology segment: every key must match. */
struct ctrl_segment {
	const struct ctrl_kv *kv;
	size_t n;
};

/* ctrl_id_from_name() - @prefix + 32 hex digits of SHA-256(@name) into @ret. */
void ctrl_id_from_name(const char *prefix, const char *name, char ret[CTRL_ID_LEN + 1]);

/* ctrl_id_valid() - @id has the shape ctrl_id_from_name() gives with @prefix. */
bool ctrl_id_valid(const char *prefix, const char *id);

/* The StorageClass parameters of a volume. */
struct ctrl_params {
	unsigned int replicas; /* "replicas": 1..3, default 1 */
	enum volctx_transport transport; /* "transport": tcp|rdma|auto, default auto */
	unsigned int hold_seconds; /* "holdSeconds": 0..86400, default 300 */
};

/*
 * ctrl_params_parse() - the parameters of CreateVolume (or GetCapacity,
 * ValidateVolumeCapabilities). Keys with the CO's prefix
 * "csi.storage.k8s.io/" are ignored (the provisioner's own); any other
 * unknown key is an error naming it.
 * Return: 0, or -EINVAL with a message in @msg.
 */
int ctrl_params_parse(const struct ctrl_kv *kv, size_t n, struct ctrl_params *ret, char *msg,
		      size_t msg_size);

/*
 * ctrl_size_pick() - the size of a new volume for a CSI capacity range
 * (@required, @limit: 0 = unset) that must hold at least @minimum bytes (a
 * clone's source; 0 = none): the required size (at least @minimum) rounded
 * up to 4096; without one, the larger of 1 GiB and @minimum, lowered to the
 * limit when that is smaller (rounded down to 4096, never below @minimum).
 * Return: 0; -EINVAL (negative values, limit below required, with @msg);
 * -ERANGE (no multiple of 4096 fits, or the limit is below @minimum).
 */
int ctrl_size_pick(int64_t required, int64_t limit, uint64_t minimum, uint64_t *ret, char *msg,
		   size_t msg_size);

/* ctrl_size_in_range() - @size satisfies the range (0 = unset bound). */
bool ctrl_size_in_range(uint64_t size, int64_t required, int64_t limit);

/* ctrl_segment_matches() - @node's topology has every key of @segment with its value. */
bool ctrl_segment_matches(const struct ctrl_segment *node, const struct ctrl_segment *segment);

/* A storage node that may take a replica. */
struct ctrl_candidate {
	const char *node_id;
	struct ctrl_segment topology;
	uint64_t available; /* bytes a new replica may take */
	bool eligible; /* false: excluded by the caller (holds a replica, lacks the source) */
};

/*
 * ctrl_place() - choose @want distinct candidates for replicas of @size
 * bytes. A candidate qualifies when eligible, with @size available, and,
 * when @requisite segments are given, matching one of them. Order: the
 * first @preferred segment a node matches (earlier first, matching none
 * last), then more available bytes, then node id. @ret gets candidate
 * indexes, best first.
 * Return: @want; -ENOSPC when fewer qualify (*@ret_qualified says how many).
 */
int ctrl_place(const struct ctrl_candidate *cands, size_t n, const struct ctrl_segment *requisite,
	       size_t nrequisite, const struct ctrl_segment *preferred, size_t npreferred,
	       uint64_t size, unsigned int want, size_t *ret, size_t *ret_qualified);

/*
 * ctrl_capacity() - GetCapacity for volumes of @replicas replicas over
 * storage nodes with @available bytes each: *@ret_available = the sum /
 * @replicas, *@ret_max = the @replicas-th largest node availability (0 with
 * fewer nodes than replicas).
 */
void ctrl_capacity(const uint64_t *available, size_t n, unsigned int replicas,
		   uint64_t *ret_available, uint64_t *ret_max);

/*
 * ctrl_page() - one page of a sorted id list. @token (NULL or "" = from
 * the start) is the id to start at, as a previous page's next token gave
 * it; an id removed since then starts at the next larger one.
 * @max_entries: 0 = all. *@ret_next: the next page's token (points into
 * @ids) or NULL at the end.
 * Return: 0; -EINVAL for a negative @max_entries; -ENOENT for a token that
 * is not one of ours (CSI: ABORTED).
 */
int ctrl_page(const char *const *ids, size_t n, int32_t max_entries, const char *token,
	      const char *prefix, size_t *ret_start, size_t *ret_count, const char **ret_next);

#endif
