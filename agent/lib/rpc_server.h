/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rpc_server — a small generic unary gRPC server on gRPC C core.
 *
 * A method table maps full method paths ("/csi.v1.Identity/Probe") to a
 * protobuf-c input descriptor and a handler. One completion-queue thread
 * accepts calls and hands them to a pool of worker threads, so a slow handler
 * (mkfs, mount, nvme connect) never stalls the queue. Unknown methods get
 * UNIMPLEMENTED, undecodable requests INVALID_ARGUMENT.
 *
 * The unix socket is guarded against theft: a lock file "<path>.lock" is held
 * (flock) for the server's lifetime and a live socket is never replaced; a
 * stale one is. The socket gets mode 0600.
 *
 * Signals: the caller must block SIGTERM/SIGINT (and ignore SIGPIPE) before
 * rpc_server_new(), which starts grpc's own threads; they inherit the mask.
 */
#ifndef ATOMBLK_RPC_SERVER_H
#define ATOMBLK_RPC_SERVER_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

struct rpc_server;
struct tls_files;

/*
 * A method handler. Runs on a worker thread, possibly concurrently with any
 * other handler (including itself).
 * @userdata: the method's userdata.
 * @req: the decoded request (freed by the server after the call).
 * @ret_resp: on GRPC_STATUS_OK, the response message; it and everything it
 *	points to must be malloc'd: the server frees it with
 *	protobuf_c_message_free_unpacked().
 * @ret_details: optional malloc'd human message for the status (freed by
 *	the server); may be set with any status.
 * Return: the call's status.
 */
typedef grpc_status_code (*rpc_handler_fn)(void *userdata, const ProtobufCMessage *req,
					   ProtobufCMessage **ret_resp, char **ret_details);

struct rpc_method {
	const char *path; /* "/package.Service/Method" */
	const ProtobufCMessageDescriptor *input; /* request message type */
	rpc_handler_fn handler;
	void *userdata; /* passed to the handler */
};

/* Called once per finished call (any status), from a server thread. */
typedef void (*rpc_call_observer_fn)(void *userdata, const char *method, grpc_status_code status,
				     const char *details, int64_t duration_us);

/* Called once per accepted call, before it waits for a worker (cq thread). */
typedef void (*rpc_call_accept_fn)(void *userdata, const char *method);

struct rpc_server_config {
	const char *unix_path; /* absolute unix socket path, or NULL */
	const char *tcp_address; /* "host:port" for a TCP listener, or NULL */
	/*
	 * Mutual TLS on the TCP listener (lib/tls.h): the server presents
	 * tls->cert, and clients must present a certificate signed by tls->ca
	 * or the handshake fails (the client sees UNAVAILABLE; no handler
	 * runs). Read at rpc_server_start(), which copies it. NULL: insecure
	 * (CSI on a unix socket). The unix socket is never TLS.
	 */
	const struct tls_files *tls;
	unsigned int workers; /* worker threads (1..64) */
	rpc_call_observer_fn observer; /* optional, e.g. for logs and metrics */
	void *observer_userdata;
	rpc_call_accept_fn on_accept; /* optional; gets observer_userdata */
};

/* rpc_server_new() - create a server (calls grpc_init()); nothing is bound yet. */
int rpc_server_new(const struct rpc_server_config *cfg, struct rpc_server **ret);

/*
 * rpc_server_add_method() - add one method before rpc_server_start(). The
 * @method struct is copied; its path string must outlive the server.
 * Return: 0, -EEXIST for a duplicate path, -EBUSY once started, -ENOMEM.
 */
int rpc_server_add_method(struct rpc_server *s, const struct rpc_method *method);

/* rpc_server_add_methods() - rpc_server_add_method() for @n methods; the first error. */
int rpc_server_add_methods(struct rpc_server *s, const struct rpc_method *methods, size_t n);

/*
 * rpc_server_start() - bind the listeners and start serving.
 * Return: 0; -EADDRINUSE if another live server owns the unix socket (lock
 * held or socket accepting connections); -ENOTSOCK if a non-socket file is in
 * the way; -EADDRNOTAVAIL if grpc cannot bind an address; -errno.
 */
int rpc_server_start(struct rpc_server *s);

/* rpc_server_tcp_port() - the bound TCP port (useful with port 0), or 0. */
int rpc_server_tcp_port(const struct rpc_server *s);

/*
 * rpc_server_shutdown() - stop accepting calls and let in-flight calls
 * finish for up to @timeout_ms; after that, cancel them (queued calls are
 * answered UNAVAILABLE without running their handler) and wait up to one
 * more second for running handlers to return. Open connections are closed
 * as soon as every accepted call is answered: an idle client does not hold
 * the shutdown.
 * Return: 0 if every call finished in time; -ETIMEDOUT if calls had to be
 * cancelled; -EBUSY if a handler is still running (the server cannot be
 * freed: the process should exit).
 */
int rpc_server_shutdown(struct rpc_server *s, int timeout_ms);

/*
 * rpc_server_free() - shut down (with no grace) if needed, remove the unix
 * socket, release the lock, grpc_shutdown(). NULL-safe; returns NULL.
 */
struct rpc_server *rpc_server_free(struct rpc_server *s);

#endif
