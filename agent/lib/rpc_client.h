/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rpc_client — a generic unary gRPC client on gRPC C core: one channel, any
 * method, serialized request bytes in, status + serialized reply bytes out.
 * Messages are opaque here; callers pack and unpack them with protobuf-c.
 *
 * One client may be used by many threads at once: every call has its own
 * completion queue and the channel is thread-safe.
 *
 * rpc_client_new() is insecure (CSI over a unix socket); rpc_client_new_tls()
 * speaks mutual TLS for the agent-to-agent target API (lib/tls.h).
 */
#ifndef ATOMBLK_RPC_CLIENT_H
#define ATOMBLK_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct rpc_client;
struct tls_files;

/* The outcome of one completed call. */
struct rpc_reply {
	int status; /* grpc_status_code: 0 (OK) ... 16 (UNAUTHENTICATED) */
	char *details; /* status details, malloc'd, never NULL after a call */
	uint8_t *data; /* reply message bytes, malloc'd; NULL when len is 0 */
	size_t len; /* length of data; 0 for an empty or missing reply */
};

/*
 * rpc_client_new() - open a channel to @target, a gRPC target string such as
 * "unix:/run/csi.sock", "unix:///run/csi.sock" or "127.0.0.1:5000".
 * Connecting is lazy: an unreachable target shows up as UNAVAILABLE (or
 * DEADLINE_EXCEEDED) on the first call, not here.
 * Return: 0 and *@ret set; -EINVAL for an empty target; -ENOMEM.
 */
int rpc_client_new(const char *target, struct rpc_client **ret);

/*
 * rpc_client_new_tls() - rpc_client_new() with mutual TLS: this agent
 * presents @tls->cert (key @tls->key) and accepts only a server whose
 * certificate @tls->ca signed and that carries the SAN TLS_TARGET_NAME
 * (whatever host name or address @target uses). The PEM strings are copied.
 * A server that refuses our certificate, or that we refuse, shows up as
 * UNAVAILABLE on the first call.
 * Return: 0 and *@ret set; -EINVAL for an empty target or incomplete @tls;
 * -ENOMEM.
 */
int rpc_client_new_tls(const char *target, const struct tls_files *tls, struct rpc_client **ret);

/* rpc_client_free() - close the channel. NULL-safe; returns NULL. */
struct rpc_client *rpc_client_free(struct rpc_client *c);

/*
 * rpc_client_call() - one unary call of @method ("/csi.v1.Identity/Probe")
 * with the serialized request @req (@req_len bytes, may be 0).
 * @timeout_ms: call deadline; <= 0 means none.
 * @ret: filled in on success; release with rpc_reply_clear().
 * Return: 0 when the call completed, whatever its gRPC status (look at
 * ret->status); -EINVAL for bad arguments; -ENOMEM; -EIO if grpc refused to
 * start or complete the call locally.
 */
int rpc_client_call(struct rpc_client *c, const char *method, const uint8_t *req, size_t req_len,
		    int64_t timeout_ms, struct rpc_reply *ret);

/* rpc_reply_clear() - free a reply's buffers and zero it. NULL-safe. */
void rpc_reply_clear(struct rpc_reply *r);

#endif
