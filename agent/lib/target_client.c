// SPDX-License-Identifier: GPL-2.0
/*
 * target_client — see target_client.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib/target_client.h"

#define TARGET_PATH(m) "/atomblk.target.v1.Target/" m

const struct target_method_desc target_methods[TARGET_METHOD_COUNT] = {
	[TARGET_GET_INFO] = { TARGET_PATH("GetInfo"), &atomblk__target__v1__get_info_request__descriptor,
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
};

/* TODO(controller helper): target_conn_remote/local, target_call. */
