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

#endif
