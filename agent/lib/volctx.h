/* SPDX-License-Identifier: GPL-2.0 */
/*
 * volctx — the CSI volume context of a provisioned volume: everything a node
 * needs to stage it, written by the controller (CreateVolume) and read by
 * the node (NodeStageVolume). Keys:
 *
 *   atomblk.io/layout        "linear" (one replica) or "mirror" (2-3)
 *   atomblk.io/size          the volume's size in bytes
 *   atomblk.io/transport     "tcp", "rdma" or "auto"
 *   atomblk.io/hold-seconds  how long IO may wait for a lost leg / no client
 *   atomblk.io/replicas      JSON array, one object per leg, in leg order:
 *     {"node": storage node id, "target": "host:port" of its target API
 *      ("" when only reachable in-process), "replica": replica id,
 *      "nqn": subsystem NQN, "addresses": [{"trtype","adrfam","traddr",
 *      "trsvcid"}, ...]}
 *
 * A volume context without atomblk.io/replicas is not a volctx (the node's
 * device-path legs, atomblk.io/legs, are for tests and direct use).
 */
#ifndef ATOMBLK_VOLCTX_H
#define ATOMBLK_VOLCTX_H

#include <stddef.h>
#include <stdint.h>

#include "lib/nvmet.h"
#include "uapi/atomblk.h"

#define VOLCTX_KEY_LAYOUT "atomblk.io/layout"
#define VOLCTX_KEY_SIZE "atomblk.io/size"
#define VOLCTX_KEY_TRANSPORT "atomblk.io/transport"
#define VOLCTX_KEY_HOLD "atomblk.io/hold-seconds"
#define VOLCTX_KEY_REPLICAS "atomblk.io/replicas"
#define VOLCTX_KEYS 5
#define VOLCTX_LEGS_MAX ATOMBLK_MIRROR_LEGS_MAX

enum volctx_transport {
	VOLCTX_TRANSPORT_AUTO,
	VOLCTX_TRANSPORT_TCP,
	VOLCTX_TRANSPORT_RDMA,
};

struct volctx_leg {
	char node[257]; /* storage node id */
	char target[256]; /* its target API host:port, "" = in-process */
	char replica[129]; /* replica id */
	char nqn[NVMET_NQN_MAX + 1];
	struct nvmet_address addrs[2];
	size_t naddrs;
};

struct volctx {
	enum atomblk_layout layout;
	uint64_t size;
	enum volctx_transport transport;
	unsigned int hold_seconds;
	size_t nlegs;
	struct volctx_leg legs[VOLCTX_LEGS_MAX];
};

/* A lookup in a volume context map; NULL when the key is absent. */
typedef const char *(*volctx_get_fn)(void *map, const char *key);

/*
 * volctx_parse() - read a volume context through @get(@map, key).
 * Return: 0; -ENOENT (no atomblk.io/replicas: not a volctx); -EINVAL with
 * a message naming the key and what is wrong in @msg.
 */
int volctx_parse(volctx_get_fn get, void *map, struct volctx *ret, char *msg, size_t msg_size);

/*
 * volctx_format() - the key/value pairs of @v: @ret_keys[i] are static
 * strings, @ret_values[i] malloc'd (free each). Return: count, or -ENOMEM/-EINVAL.
 */
int volctx_format(const struct volctx *v, const char *ret_keys[VOLCTX_KEYS],
		  char *ret_values[VOLCTX_KEYS]);

const char *volctx_transport_name(enum volctx_transport t);
int volctx_transport_parse(const char *name, enum volctx_transport *ret);

#endif
