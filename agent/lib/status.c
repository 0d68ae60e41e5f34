// SPDX-License-Identifier: GPL-2.0
/* errno -> gRPC status mapping; the table and its reasons are in status.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "lib/status.h"

#include <errno.h>

grpc_status_code status_from_errno(int err)
{
	if (err < 0)
		err = -err;

	switch (err) {
	case 0:
		return GRPC_STATUS_OK;
	case EINVAL:
	case EBADMSG:
	case EPROTO:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return GRPC_STATUS_NOT_FOUND;
	case EEXIST:
		return GRPC_STATUS_ALREADY_EXISTS;
	case EBUSY:
	case ENOTEMPTY:
	case EROFS:
		return GRPC_STATUS_FAILED_PRECONDITION;
	case EINPROGRESS:
	case EALREADY:
		return GRPC_STATUS_ABORTED;
	case EAGAIN:
	case ECONNREFUSED:
	case ENOTCONN:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ESHUTDOWN:
		return GRPC_STATUS_UNAVAILABLE;
	case ENOSPC:
	case EDQUOT:
	case EMFILE:
	case ENFILE:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case ERANGE:
	case EOVERFLOW:
		return GRPC_STATUS_OUT_OF_RANGE;
	case EOPNOTSUPP: /* == ENOTSUP on Linux */
	case ENOSYS:
		return GRPC_STATUS_UNIMPLEMENTED;
	case ETIMEDOUT:
		return GRPC_STATUS_DEADLINE_EXCEEDED;
	case EPERM:
	case EACCES:
		return GRPC_STATUS_PERMISSION_DENIED;
	case ECANCELED:
		return GRPC_STATUS_CANCELLED;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

const char *status_name(grpc_status_code code)
{
	static const char *const names[] = {
		[GRPC_STATUS_OK] = "OK",
		[GRPC_STATUS_CANCELLED] = "CANCELLED",
		[GRPC_STATUS_UNKNOWN] = "UNKNOWN",
		[GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
		[GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
		[GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
		[GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
		[GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
		[GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
		[GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
		[GRPC_STATUS_ABORTED] = "ABORTED",
		[GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
		[GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
		[GRPC_STATUS_INTERNAL] = "INTERNAL",
		[GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
		[GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
		[GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
	};

	if ((unsigned int)code >= sizeof(names) / sizeof(names[0]) || !names[code])
		return "UNKNOWN_STATUS";
	return names[code];
}

grpc_status_code status_fail(char **ret_details, int err, const char *fmt, ...)
{
	va_list ap;

	free(*ret_details);
	va_start(ap, fmt);
	if (vasprintf(ret_details, fmt, ap) < 0)
		*ret_details = NULL;
	va_end(ap);
	return status_from_errno(err);
}

grpc_status_code status_reply_empty(const ProtobufCMessageDescriptor *desc,
				    ProtobufCMessage **ret_resp)
{
	ProtobufCMessage *resp = malloc(desc->sizeof_message);

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	protobuf_c_message_init(desc, resp);
	*ret_resp = resp;
	return GRPC_STATUS_OK;
}
