/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CSI services of atomblk-agent: one file per service, each registering
 * its methods on the generic rpc_server. They share a struct csi_plugin.
 */
#ifndef ATOMBLK_CSI_H
#define ATOMBLK_CSI_H

#include <stdatomic.h>
#include <stdbool.h>

#include "csi.pb-c.h"
#include "lib/config.h"
#include "lib/rpc_server.h"
#include "lib/target_client.h"

struct tls_files;

#define CSI_PLUGIN_NAME "csi.atomblk.io"

/* State shared by every CSI service of one agent process. */
struct csi_plugin {
	const char *node_id; /* this node's id (node and all modes) */
	atomic_bool serving; /* listeners up: set by main once started */
	bool controller_registered; /* the Controller service answers calls */
	/*
	 * Hook: the node's kernel side (atom + client modules loaded, disks
	 * adopted) ready. NULL means "nothing to wait for", which is the case
	 * until the Node service manages modules.
	 */
	bool (*kernel_ready)(struct csi_plugin *plugin);
	/*
	 * Fault injection for the gRPC tests (slow calls in flight at SIGTERM):
	 * Probe sleeps this long first. Set from ATOMBLK_TEST_PROBE_DELAY_MS;
	 * 0 (unset) in every real deployment.
	 */
	unsigned int test_probe_delay_ms;
};

/* csi_identity_register() - add the Identity service's methods to @server. */
int csi_identity_register(struct rpc_server *server, struct csi_plugin *plugin);

/*
 * csi_capability_check() - a capability the volumes serve: block, or mount
 * with ext4, xfs or no fs type; a single-node access mode (a volume is
 * assembled on one node's atom disk). MULTI_NODE_* is "not supported".
 * Return: 0, or -EINVAL with @msg (@msg_size > 0) naming what is wrong.
 */
int csi_capability_check(const Csi__V1__VolumeCapability *cap, char *msg, size_t msg_size);

/* csi_plugin_ready() - what Probe answers: serving and the kernel side ready. */
bool csi_plugin_ready(struct csi_plugin *plugin);

/* The Node service (csi/node.c). */
#define CSI_NODE_TOPOLOGY_KEY "topology.atomblk.io/node" /* default segment: this node's id */

struct csi_node_config {
	const char *node_id; /* NodeGetInfo's node_id */
	const struct tls_files *tls; /* to reach storage nodes' target API; NULL: local only */
	target_local_fn
		local_fn; /* this process's storage role (--mode all/node with a pool), or NULL */
	void *local;
	unsigned int max_volumes; /* NodeGetInfo's max_volumes_per_node; 0 = no limit */
	const char *topology; /* "k=v[,k=v]"; NULL or "" = CSI_NODE_TOPOLOGY_KEY=<node_id> */
};

struct csi_node;

/*
 * csi_node_new() - open the node's journal (<ROOT_STATE>/node.json; the
 * directory is created at the first write) and compare it with the kernel
 * (logged).
 * Return: 0; -EINVAL for a malformed topology; -EBADMSG for a corrupt
 * journal; -errno.
 */
int csi_node_new(const struct csi_node_config *cfg, struct csi_node **ret);
struct csi_node *csi_node_free(struct csi_node *node);

/* csi_node_register() - add the Node service's methods to @server. */
int csi_node_register(struct rpc_server *server, struct csi_node *node);

/*
 * The Controller service (csi/controller.c): stateless, the storage nodes'
 * replicas (their labels) are the truth.
 */
struct csi_controller_config {
	const char *storage_nodes; /* "host:port[,host:port...]" (static list), or NULL */
	const char *
		storage_service; /* "name:port": a DNS name resolving to every storage node, or NULL */
	const struct tls_files *tls; /* client certificate for remote storage nodes */
	target_local_fn local_fn; /* the in-process storage role (--mode all), or NULL */
	void *local;
};

struct csi_controller;

/* csi_controller_new() - Return: 0, -EINVAL (no storage node source, bad list), -ENOMEM. */
int csi_controller_new(const struct csi_controller_config *cfg, struct csi_controller **ret);
struct csi_controller *csi_controller_free(struct csi_controller *c);

/* csi_controller_register() - add the Controller service's methods to @server. */
int csi_controller_register(struct rpc_server *server, struct csi_controller *c);

#endif
