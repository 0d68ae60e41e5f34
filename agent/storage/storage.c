// SPDX-License-Identifier: GPL-2.0
/* Storage role — placeholder until it lands. */
#include <errno.h>

#include "storage/storage.h"

int storage_new(const struct storage_config *cfg, struct storage **ret)
{
	(void)cfg;
	*ret = NULL;
	return -ENOSYS;
}

struct storage *storage_free(struct storage *s)
{
	(void)s;
	return NULL;
}

int storage_register(struct rpc_server *server, struct storage *s)
{
	(void)server;
	(void)s;
	return -ENOSYS;
}

grpc_status_code storage_call(void *local, enum target_method method, const ProtobufCMessage *req,
			      ProtobufCMessage **ret_resp, char **ret_details)
{
	(void)local;
	(void)method;
	(void)req;
	(void)ret_resp;
	(void)ret_details;
	return GRPC_STATUS_UNIMPLEMENTED;
}
