// SPDX-License-Identifier: GPL-2.0
/*
 * target_client — see target_client.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/rpc_client.h"
#include "lib/target_client.h"

#define TARGET_PATH(m) "/atomblk.target.v1.Target/" m

const struct target_method_desc target_methods[TARGET_METHOD_COUNT] = {
	[TARGET_GET_INFO] = { TARGET_PATH("GetInfo"),
			      &atomblk__target__v1__get_info_request__descriptor,
			      &atomblk__target__v1__get_info_response__descriptor },
	[TARGET_CREATE_REPLICA] = { TARGET_PATH("CreateReplica"),
				    &atomblk__target__v1__create_replica_request__descriptor,
				    &atomblk__target__v1__replica__descriptor },
	[TARGET_DELETE_REPLICA] = { TARGET_PATH("DeleteReplica"),
				    &atomblk__target__v1__delete_replica_request__descriptor,
				    &atomblk__target__v1__delete_replica_response__descriptor },
	[TARGET_EXPAND_REPLICA] = { TARGET_PATH("ExpandReplica"),
				    &atomblk__target__v1__expand_replica_request__descriptor,
				    &atomblk__target__v1__replica__descriptor },
	[TARGET_CREATE_SNAPSHOT] = { TARGET_PATH("CreateSnapshot"),
				     &atomblk__target__v1__create_snapshot_request__descriptor,
				     &atomblk__target__v1__replica__descriptor },
	[TARGET_DELETE_SNAPSHOT] = { TARGET_PATH("DeleteSnapshot"),
				     &atomblk__target__v1__delete_snapshot_request__descriptor,
				     &atomblk__target__v1__delete_snapshot_response__descriptor },
	[TARGET_LIST_REPLICAS] = { TARGET_PATH("ListReplicas"),
				   &atomblk__target__v1__list_replicas_request__descriptor,
				   &atomblk__target__v1__list_replicas_response__descriptor },
	[TARGET_ALLOW_HOST] = { TARGET_PATH("AllowHost"),
				&atomblk__target__v1__allow_host_request__descriptor,
				&atomblk__target__v1__replica__descriptor },
	[TARGET_DISALLOW_HOST] = { TARGET_PATH("DisallowHost"),
				   &atomblk__target__v1__disallow_host_request__descriptor,
				   &atomblk__target__v1__replica__descriptor },
	[TARGET_SET_LABELS] = { TARGET_PATH("SetLabels"),
				&atomblk__target__v1__set_labels_request__descriptor,
				&atomblk__target__v1__replica__descriptor },
};

/*
 * A connection is either a gRPC channel (remote) or a function pointer
 * (local); target_call() hides which.
 */
struct target_conn {
	struct rpc_client *client; /* remote: the channel */
	target_local_fn fn; /* local: the storage role */
	void *local;
};

int target_conn_remote(const char *address, const struct tls_files *tls, struct target_conn **ret)
{
	struct target_conn *c;
	int r;

	if (!address || !address[0] || !tls)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = rpc_client_new_tls(address, tls, &c->client);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int target_conn_local(target_local_fn fn, void *local, struct target_conn **ret)
{
	struct target_conn *c;

	if (!fn)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->local = local;
	*ret = c;
	return 0;
}

struct target_conn *target_conn_free(struct target_conn *c)
{
	if (c) {
		rpc_client_free(c->client);
		free(c);
	}
	return NULL;
}

static char *details_dup(const char *fmt, const char *arg)
{
	char *s;

	if (asprintf(&s, fmt, arg) < 0)
		return NULL;
	return s;
}

/* Pack @req, call, unpack the reply as the method's output type. */
static grpc_status_code target_call_remote(struct target_conn *c, enum target_method method,
					   const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
					   char **ret_details, int timeout_ms)
{
	const struct target_method_desc *m = &target_methods[method];
	struct rpc_reply reply = {};
	grpc_status_code code;
	uint8_t *buf = NULL;
	size_t len;
	int r;

	len = protobuf_c_message_get_packed_size(req);
	if (len) {
		buf = malloc(len);
		if (!buf)
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		protobuf_c_message_pack(req, buf);
	}
	r = rpc_client_call(c->client, m->path, buf, len, timeout_ms, &reply);
	free(buf);
	if (r < 0) {
		*ret_details = details_dup("cannot call %s", m->path);
		return r == -ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INTERNAL;
	}
	code = (grpc_status_code)reply.status;
	if (code != GRPC_STATUS_OK) {
		*ret_details = reply.details;
		reply.details = NULL;
	} else {
		*ret_resp = protobuf_c_message_unpack(m->output, NULL, reply.len, reply.data);
		if (!*ret_resp) {
			*ret_details = details_dup("undecodable reply to %s", m->path);
			code = GRPC_STATUS_INTERNAL;
		}
	}
	rpc_reply_clear(&reply);
	return code;
}

grpc_status_code target_call(struct target_conn *c, enum target_method method,
			     const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
			     char **ret_details, int timeout_ms)
{
	grpc_status_code code;

	*ret_resp = NULL;
	*ret_details = NULL;
	if (!c || method < 0 || method >= TARGET_METHOD_COUNT || !req ||
	    req->descriptor != target_methods[method].input)
		return GRPC_STATUS_INVALID_ARGUMENT;
	if (c->client)
		return target_call_remote(c, method, req, ret_resp, ret_details, timeout_ms);
	code = c->fn(c->local, method, req, ret_resp, ret_details);
	/* Like the server: a reply is only handed over with OK. */
	if (code != GRPC_STATUS_OK && *ret_resp) {
		protobuf_c_message_free_unpacked(*ret_resp, NULL);
		*ret_resp = NULL;
	}
	if (code == GRPC_STATUS_OK && !*ret_resp) {
		*ret_details =
			details_dup("%s answered OK without a reply", target_methods[method].path);
		code = GRPC_STATUS_INTERNAL;
	}
	return code;
}
