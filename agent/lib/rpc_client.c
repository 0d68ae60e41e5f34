// SPDX-License-Identifier: GPL-2.0
/*
 * rpc_client — generic unary gRPC client on gRPC C core (see rpc_client.h).
 *
 * Each call: its own completion queue, one batch holding every op of a unary
 * call (send metadata + message + close, receive metadata + message +
 * status), wait for that batch, copy the results out, then tear the call and
 * the queue down. The call's deadline bounds the wait.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "lib/rpc_client.h"
#include "lib/tls.h"

struct rpc_client {
	grpc_channel *channel; /* thread-safe; shared by every call */
};

/* A client on a channel to @target: mutual TLS with @tls when @tls_creds, else insecure. */
static int rpc_client_create(const char *target, bool tls_creds, const struct tls_files *tls,
			     struct rpc_client **ret)
{
	grpc_arg arg = {
		.type = GRPC_ARG_STRING,
		.key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
		.value.string = TLS_TARGET_NAME,
	};
	grpc_channel_args args = { .num_args = 1, .args = &arg };
	grpc_ssl_pem_key_cert_pair pair;
	grpc_channel_credentials *creds;
	struct rpc_client *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;

	grpc_init();
	if (tls_creds) {
		pair.private_key = tls->key;
		pair.cert_chain = tls->cert;
		creds = grpc_ssl_credentials_create(tls->ca, &pair, NULL, NULL);
	} else {
		creds = grpc_insecure_credentials_create();
	}
	/* Never NULL: a bad target gives a "lame" channel that fails every call. */
	c->channel = creds ? grpc_channel_create(target, creds, tls_creds ? &args : NULL) : NULL;
	if (creds)
		grpc_channel_credentials_release(creds);
	if (!c->channel) {
		grpc_shutdown();
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

int rpc_client_new(const char *target, struct rpc_client **ret)
{
	if (!target || !*target || !ret)
		return -EINVAL;
	return rpc_client_create(target, false, NULL, ret);
}

int rpc_client_new_tls(const char *target, const struct tls_files *tls, struct rpc_client **ret)
{
	if (!target || !*target || !ret || !tls || !tls->ca || !tls->cert || !tls->key)
		return -EINVAL;
	return rpc_client_create(target, true, tls, ret);
}

struct rpc_client *rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return NULL;
	grpc_channel_destroy(c->channel);
	/*
	 * Blocking: when this was grpc's last user, wait for the channel's
	 * resolver and load-balancing objects, which grpc frees on its own
	 * threads, to be gone; with plain grpc_shutdown() a process exiting
	 * right after (a client whose server was just killed) left them behind
	 * and LeakSanitizer reported them (once in the ASan gRPC suite). With
	 * other users left it only drops the reference.
	 */
	grpc_shutdown_blocking();
	free(c);
	return NULL;
}

void rpc_reply_clear(struct rpc_reply *r)
{
	if (!r)
		return;
	free(r->details);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

/* Copy a received message into one malloc'd buffer (NULL when empty). */
static int byte_buffer_copy(grpc_byte_buffer *bb, uint8_t **ret_data, size_t *ret_len)
{
	grpc_byte_buffer_reader reader;
	grpc_slice slice;
	size_t len, off = 0;
	uint8_t *data;

	*ret_data = NULL;
	*ret_len = 0;
	if (!bb)
		return 0;
	len = grpc_byte_buffer_length(bb);
	if (len == 0)
		return 0;
	data = malloc(len);
	if (!data)
		return -ENOMEM;
	if (!grpc_byte_buffer_reader_init(&reader, bb)) {
		free(data);
		return -EIO;
	}
	while (grpc_byte_buffer_reader_next(&reader, &slice)) {
		size_t n = GRPC_SLICE_LENGTH(slice);

		if (n > len - off)
			n = len - off;
		memcpy(data + off, GRPC_SLICE_START_PTR(slice), n);
		off += n;
		grpc_slice_unref(slice);
	}
	grpc_byte_buffer_reader_destroy(&reader);
	*ret_data = data;
	*ret_len = off;
	return 0;
}

/* Shut a completion queue down, drain it, and destroy it. */
static void completion_queue_destroy(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

int rpc_client_call(struct rpc_client *c, const char *method, const uint8_t *req, size_t req_len,
		    int64_t timeout_ms, struct rpc_reply *ret)
{
	grpc_metadata_array initial_md, trailing_md;
	grpc_byte_buffer *send_bb = NULL, *recv_bb = NULL;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_slice payload;
	gpr_timespec deadline;
	grpc_event ev;
	grpc_op ops[6];
	int r = 0;

	if (!c || !method || method[0] != '/' || (!req && req_len) || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));

	if (timeout_ms > 0)
		deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
	else
		deadline = gpr_inf_future(GPR_CLOCK_REALTIME);

	cq = grpc_completion_queue_create_for_next(NULL);
	if (!cq)
		return -ENOMEM;
	call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
					grpc_slice_from_static_string(method), NULL, deadline,
					NULL);
	if (!call) {
		completion_queue_destroy(cq);
		return -EIO;
	}

	payload = req_len ? grpc_slice_from_copied_buffer((const char *)req, req_len) :
			    grpc_empty_slice();
	send_bb = grpc_raw_byte_buffer_create(&payload, 1);
	grpc_slice_unref(payload);
	grpc_metadata_array_init(&initial_md);
	grpc_metadata_array_init(&trailing_md);

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send_bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv_bb;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;

	if (grpc_call_start_batch(call, ops, 6, ops, NULL) != GRPC_CALL_OK) {
		r = -EIO;
		goto out;
	}
	/* The deadline guarantees this batch completes. */
	ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (ev.type != GRPC_OP_COMPLETE || ev.tag != ops || !ev.success) {
		r = -EIO;
		goto out;
	}

	ret->status = status;
	ret->details =
		strndup((const char *)GRPC_SLICE_START_PTR(details), GRPC_SLICE_LENGTH(details));
	if (!ret->details) {
		r = -ENOMEM;
		goto out;
	}
	r = byte_buffer_copy(recv_bb, &ret->data, &ret->len);
out:
	if (r < 0)
		rpc_reply_clear(ret);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&initial_md);
	grpc_metadata_array_destroy(&trailing_md);
	grpc_byte_buffer_destroy(send_bb);
	if (recv_bb)
		grpc_byte_buffer_destroy(recv_bb);
	grpc_call_unref(call);
	completion_queue_destroy(cq);
	return r;
}
