/* SPDX-License-Identifier: GPL-2.0 */
/*
 * target_client — calls of the target API (proto/target.proto) to one
 * storage node, either over gRPC with mutual TLS or in-process (the storage
 * role of the same agent, --mode all), with one signature for both.
 */
#ifndef ATOMBLK_TARGET_CLIENT_H
#define ATOMBLK_TARGET_CLIENT_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "target.pb-c.h"

struct tls_files;

enum target_method {
	TARGET_GET_INFO,
	TARGET_CREATE_REPLICA,
	TARGET_DELETE_REPLICA,
	TARGET_EXPAND_REPLICA,
	TARGET_CREATE_SNAPSHOT,
	TARGET_DELETE_SNAPSHOT,
	TARGET_LIST_REPLICAS,
	TARGET_ALLOW_HOST,
	TARGET_DISALLOW_HOST,
	TARGET_SET_LABELS, /* api_version 2 */
	TARGET_METHOD_COUNT,
};

struct target_method_desc {
	const char *path; /* "/atomblk.target.v1.Target/GetInfo" */
	const ProtobufCMessageDescriptor *input;
	const ProtobufCMessageDescriptor *output;
};

/* The method table, indexed by enum target_method (server and client use it). */
extern const struct target_method_desc target_methods[TARGET_METHOD_COUNT];

/*
 * An in-process implementation (struct storage): same contract as an
 * rpc_handler_fn of lib/rpc_server.h; *ret_resp is freed by the caller with
 * protobuf_c_message_free_unpacked().
 */
typedef grpc_status_code (*target_local_fn)(void *local, enum target_method method,
					    const ProtobufCMessage *req,
					    ProtobufCMessage **ret_resp, char **ret_details);

struct target_conn;

/*
 * target_conn_remote() - a connection to the target API at @address
 * ("host:port"), mutual TLS with @tls (the CA and this agent's certificate).
 * Lazy: an unreachable node shows as UNAVAILABLE on the first call.
 */
int target_conn_remote(const char *address, const struct tls_files *tls, struct target_conn **ret);

/* target_conn_local() - calls go straight to @fn(@local, ...). */
int target_conn_local(target_local_fn fn, void *local, struct target_conn **ret);

struct target_conn *target_conn_free(struct target_conn *c);

/*
 * target_call() - one call. @req must be of target_methods[@method].input.
 * On GRPC_STATUS_OK *@ret_resp is the unpacked reply (free it with
 * protobuf_c_message_free_unpacked(*ret_resp, NULL)); *@ret_details is a
 * malloc'd message (or NULL) with any status. A transport failure is
 * UNAVAILABLE or DEADLINE_EXCEEDED. @timeout_ms <= 0: none.
 */
grpc_status_code target_call(struct target_conn *c, enum target_method method,
			     const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
			     char **ret_details, int timeout_ms);

#endif
