/* SPDX-License-Identifier: GPL-2.0 */
/*
 * storage — the storage role of atomblk-agent: a pool of sparse backing
 * files (lib/pool.h) whose replicas are exported as NVMe-oF namespaces
 * through nvmet's configfs (lib/nvmet.h), driven by the target API
 * (proto/target.proto, lib/target_client.h).
 *
 * The configfs tree is the truth for exports; a small journal
 * (<state_dir>/storage.json) keeps what the kernel cannot: labels, allowed
 * hosts, sources, creation times. storage_new() reconciles both: after a
 * reboot (empty configfs) every replica is exported again; an agent restart
 * changes nothing.
 */
#ifndef ATOMBLK_STORAGE_H
#define ATOMBLK_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/target_client.h"

struct rpc_server;

struct storage_config {
	const char *node_id; /* GetInfo's node_id */
	const char *topology; /* "k=v[,k=v]"; NULL or "" = topology.atomblk.io/node=<node_id> */
	const char *state_dir; /* the journal's directory */
	const char *pool_dir; /* the pool (created if missing) */
	uint64_t pool_capacity; /* bytes; 0 = the pool filesystem's size */
	const char *nvme_address; /* nvmet listening address (ipv4 or ipv6) */
	const char *nvme_port; /* trsvcid, e.g. "4420" */
	int rdma; /* -1 auto (when an RDMA device holds nvme_address), 0 off, 1 on (required) */
	const char *nvmet_root; /* NULL = /sys/kernel/config/nvmet */
};

struct storage;

/*
 * storage_new() - open the pool and the journal, load nvmet/nvmet-tcp (and
 * nvmet-rdma) if needed, reconcile exports.
 * Return: 0, -EINVAL (bad config), -EBADMSG (corrupt journal), -errno.
 */
int storage_new(const struct storage_config *cfg, struct storage **ret);
struct storage *storage_free(struct storage *s);

/* storage_register() - add the Target service's methods to @server. */
int storage_register(struct rpc_server *server, struct storage *s);

/* storage_call() - a target_local_fn: the same calls in-process (@local is the storage). */
grpc_status_code storage_call(void *local, enum target_method method, const ProtobufCMessage *req,
			      ProtobufCMessage **ret_resp, char **ret_details);

#endif
