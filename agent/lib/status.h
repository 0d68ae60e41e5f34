/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one mapping from the agent's internal currency (negative errno) to the
 * gRPC status code a CSI caller sees. Handlers return -errno from their
 * helpers and convert once, here, at the CSI boundary.
 */
#ifndef ATOMBLK_STATUS_H
#define ATOMBLK_STATUS_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

/*
 * status_from_errno() - the gRPC status for an errno (either sign; 0 is OK).
 *
 * Chosen after the CSI spec's error tables:
 *   EINVAL, EBADMSG, EPROTO         INVALID_ARGUMENT   bad request fields / payload
 *   ENOENT, ENODEV, ENXIO           NOT_FOUND          volume, node or device unknown
 *   EEXIST                          ALREADY_EXISTS     same name, incompatible volume
 *   EBUSY, ENOTEMPTY, EROFS         FAILED_PRECONDITION in use / wrong state
 *   EINPROGRESS, EALREADY           ABORTED            an operation is pending for
 *                                                      the volume (the spec's code
 *                                                      for concurrent calls)
 *   EAGAIN, ECONNREFUSED, ENOTCONN, UNAVAILABLE        transient, retry
 *   ECONNRESET, EHOSTUNREACH,
 *   ENETUNREACH, ESHUTDOWN
 *   ENOSPC, EDQUOT, EMFILE, ENFILE  RESOURCE_EXHAUSTED no capacity / max volumes
 *   ERANGE, EOVERFLOW               OUT_OF_RANGE       unsupported capacity range
 *   EOPNOTSUPP, ENOSYS              UNIMPLEMENTED      capability not supported
 *   ETIMEDOUT                       DEADLINE_EXCEEDED
 *   EPERM, EACCES                   PERMISSION_DENIED
 *   ECANCELED                       CANCELLED
 *   anything else (EIO, ENOMEM...)  INTERNAL
 */
grpc_status_code status_from_errno(int err);

/* status_name() - "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_STATUS" for other values. */
const char *status_name(grpc_status_code code);

/*
 * status_fail() - a handler's failure: *@ret_details (an rpc_handler_fn's
 * details, freed first if set) becomes the formatted message; returns
 * status_from_errno(@err).
 */
grpc_status_code status_fail(char **ret_details, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * status_reply_empty() - an rpc_handler_fn's reply of @desc's type with no
 * field set (the CSI calls that answer nothing). OK, or RESOURCE_EXHAUSTED.
 */
grpc_status_code status_reply_empty(const ProtobufCMessageDescriptor *desc,
				    ProtobufCMessage **ret_resp);

#endif
