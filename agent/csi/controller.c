// SPDX-License-Identifier: GPL-2.0
/* CSI Controller service — placeholder until the controller lands. */
#include <errno.h>

#include "csi/csi.h"

int csi_controller_new(const struct csi_controller_config *cfg, struct csi_controller **ret)
{
	(void)cfg;
	*ret = NULL;
	return -ENOSYS;
}

struct csi_controller *csi_controller_free(struct csi_controller *c)
{
	(void)c;
	return NULL;
}

int csi_controller_register(struct rpc_server *server, struct csi_controller *c)
{
	(void)server;
	(void)c;
	return -ENOSYS;
}
