/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CSI services of atomblk-agent: one file per service, each registering
 * its methods on the generic rpc_server. They share a struct csi_plugin.
 */
#ifndef ATOMBLK_CSI_H
#define ATOMBLK_CSI_H

#include <stdatomic.h>
#include <stdbool.h>

#include "lib/config.h"
#include "lib/rpc_server.h"

#define CSI_PLUGIN_NAME "csi.atomblk.io"

/* State shared by every CSI service of one agent process. */
struct csi_plugin {
	enum agent_mode mode; /* which services this process runs */
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

/* csi_plugin_ready() - what Probe answers: serving and the kernel side ready. */
bool csi_plugin_ready(struct csi_plugin *plugin);

/* The Node service (csi/node.c). */
#define CSI_NODE_TOPOLOGY_KEY "topology.atomblk.io/node" /* default segment: this node's id */

struct csi_node_config {
	const char *node_id; /* NodeGetInfo's node_id */
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

#endif
