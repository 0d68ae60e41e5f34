// SPDX-License-Identifier: GPL-2.0
/*
 * rpc_server — generic unary gRPC server on gRPC C core; see rpc_server.h.
 *
 * Threads:
 *   - the completion-queue thread: the only caller of
 *     grpc_completion_queue_next(). It accepts new calls (re-posting the
 *     request for that method at once), answers unknown methods itself and
 *     frees calls when their final batch completes. It never runs a handler.
 *   - workers: decode the request, run the handler, encode the response and
 *     start the call's one and only batch (initial metadata, message, status,
 *     close). One batch per call, so batches on a call never overlap.
 *
 * Lifetime of a struct rpc_call: allocated when a request is posted
 * (RPC_TAG_NEW_CALL), owned by the job queue / a worker once accepted, then by
 * grpc until its final batch completes (RPC_TAG_CALL_DONE), freed by the
 * completion-queue thread. Nobody touches it after starting the final batch.
 */
#include "lib/rpc_server.h"
#include "lib/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RPC_MAX_WORKERS 64
#define RPC_CANCEL_GRACE_MS 1000 /* after cancelling, how long handlers may still run */
/* Requests posted per method: calls arriving together need not wait for a re-post. */
#define RPC_REQUESTS_PER_METHOD 4

enum rpc_tag_kind {
	RPC_TAG_NEW_CALL, /* a posted request matched an incoming call */
	RPC_TAG_CALL_DONE, /* the call's final batch completed */
	RPC_TAG_SHUTDOWN, /* grpc_server_shutdown_and_notify() finished */
};

struct rpc_registered {
	struct rpc_method method;
	void *grpc_handle; /* from grpc_server_register_method() */
};

struct rpc_call {
	enum rpc_tag_kind tag; /* must stay first: every cq tag starts with it */
	struct rpc_server *server;
	const struct rpc_registered *method; /* NULL: generic request (unknown method) */
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array request_metadata;
	grpc_call_details details; /* generic requests only */
	grpc_byte_buffer *payload; /* registered requests: the request message */
	grpc_byte_buffer *response;
	grpc_slice status_details;
	grpc_status_code status;
	int client_cancelled; /* filled by RECV_CLOSE_ON_SERVER */
	int64_t start_us;
	struct rpc_call *next; /* job queue link */
};

struct rpc_server {
	struct rpc_server_config cfg;
	char *unix_path;
	char *tcp_address;
	struct rpc_registered *methods;
	size_t method_count;

	grpc_server *server;
	grpc_completion_queue *cq;
	pthread_t cq_thread;
	bool cq_thread_running;
	pthread_t workers[RPC_MAX_WORKERS];
	unsigned int worker_count; /* started workers */

	pthread_mutex_t lock; /* protects the fields below */
	pthread_cond_t wake; /* jobs queued, quit, shutdown done */
	struct rpc_call *jobs_head, *jobs_tail; /* accepted calls waiting for a worker */
	bool workers_quit; /* workers exit once the queue is empty */
	/*
	 * Accepted and final batch not completed: queued, in a handler, or
	 * being answered. A cancelled call stays open until its handler has
	 * returned and answered it.
	 */
	unsigned int open_calls;
	bool grpc_shutdown_done; /* the shutdown tag arrived */

	atomic_bool shutting_down; /* no more requests are posted */
	atomic_bool refuse_queued; /* queued calls get UNAVAILABLE, not their handler */

	enum rpc_tag_kind shutdown_tag; /* the tag for grpc_server_shutdown_and_notify() */
	int lock_fd; /* flock'd "<unix_path>.lock", or -1 */
	bool socket_bound; /* we created unix_path: remove it at the end */
	int tcp_port;
	bool started;
	bool stopped; /* rpc_server_shutdown() completed */
	bool stuck; /* a handler never returned: do not free */
	int shutdown_result;
};

static int64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int rpc_server_new(const struct rpc_server_config *cfg, struct rpc_server **ret)
{
	struct rpc_server *s;
	pthread_condattr_t attr;

	if (!cfg->unix_path && !cfg->tcp_address)
		return -EINVAL;
	if (cfg->unix_path &&
	    (cfg->unix_path[0] != '/' ||
	     strlen(cfg->unix_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)))
		return -EINVAL;
	if (cfg->workers < 1 || cfg->workers > RPC_MAX_WORKERS)
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->lock_fd = -1;
	s->shutdown_tag = RPC_TAG_SHUTDOWN;
	s->unix_path = cfg->unix_path ? strdup(cfg->unix_path) : NULL;
	s->tcp_address = cfg->tcp_address ? strdup(cfg->tcp_address) : NULL;
	if ((cfg->unix_path && !s->unix_path) || (cfg->tcp_address && !s->tcp_address)) {
		free(s->unix_path);
		free(s->tcp_address);
		free(s);
		return -ENOMEM;
	}
	s->cfg.unix_path = s->unix_path;
	s->cfg.tcp_address = s->tcp_address;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	grpc_init();
	*ret = s;
	return 0;
}

int rpc_server_add_method(struct rpc_server *s, const struct rpc_method *method)
{
	struct rpc_registered *methods;

	if (s->started)
		return -EBUSY;
	if (!method->path || method->path[0] != '/' || !method->input || !method->handler)
		return -EINVAL;
	for (size_t i = 0; i < s->method_count; i++)
		if (!strcmp(s->methods[i].method.path, method->path))
			return -EEXIST;
	methods = realloc(s->methods, (s->method_count + 1) * sizeof(*methods));
	if (!methods)
		return -ENOMEM;
	s->methods = methods;
	s->methods[s->method_count++] = (struct rpc_registered){ .method = *method };
	return 0;
}

int rpc_server_add_methods(struct rpc_server *s, const struct rpc_method *methods, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = rpc_server_add_method(s, &methods[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* --- calls ------------------------------------------------------------------ */

static void rpc_call_free(struct rpc_call *c)
{
	if (c->call)
		grpc_call_unref(c->call);
	grpc_metadata_array_destroy(&c->request_metadata);
	if (!c->method)
		grpc_call_details_destroy(&c->details);
	if (c->payload)
		grpc_byte_buffer_destroy(c->payload);
	if (c->response)
		grpc_byte_buffer_destroy(c->response);
	grpc_slice_unref(c->status_details);
	free(c);
}

/* An accepted call is over (its final batch completed or could not start). */
static void rpc_call_close(struct rpc_call *c)
{
	struct rpc_server *s = c->server;

	rpc_call_free(c);
	pthread_mutex_lock(&s->lock);
	s->open_calls--;
	if (atomic_load(&s->shutting_down))
		pthread_cond_broadcast(&s->wake); /* rpc_server_shutdown() waits for it */
	pthread_mutex_unlock(&s->lock);
}

/*
 * Post one request for @method (NULL: the generic request that catches every
 * unregistered method). RPC_REQUESTS_PER_METHOD requests per method (one
 * generic) are outstanding at any time: the completion-queue thread posts a
 * new one as soon as one matches. Calls arriving when none is posted wait
 * inside grpc; they are not lost.
 */
static int rpc_post_request(struct rpc_server *s, const struct rpc_registered *method)
{
	struct rpc_call *c;
	grpc_call_error err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tag = RPC_TAG_NEW_CALL;
	c->server = s;
	c->method = method;
	c->status_details = grpc_empty_slice();
	grpc_metadata_array_init(&c->request_metadata);
	if (method) {
		err = grpc_server_request_registered_call(s->server, method->grpc_handle, &c->call,
							  &c->deadline, &c->request_metadata,
							  &c->payload, s->cq, s->cq, c);
	} else {
		grpc_call_details_init(&c->details);
		err = grpc_server_request_call(s->server, &c->call, &c->details,
					       &c->request_metadata, s->cq, s->cq, c);
	}
	if (err != GRPC_CALL_OK) {
		rpc_call_free(c);
		return -EIO;
	}
	return 0;
}

/*
 * Start the call's final batch: headers, the response message if any, the
 * status, and the wait for the client's close. After this, @c belongs to grpc
 * until RPC_TAG_CALL_DONE comes out of the completion queue.
 */
static void rpc_call_finish(struct rpc_call *c, grpc_status_code status, const char *details)
{
	grpc_op ops[4];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	c->status = status;
	if (details && *details) {
		grpc_slice_unref(c->status_details);
		c->status_details = grpc_slice_from_copied_string(details);
	}
	ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n++].data.send_initial_metadata.count = 0;
	if (c->response && status == GRPC_STATUS_OK) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = c->response;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = status;
	ops[n].data.send_status_from_server.trailing_metadata_count = 0;
	ops[n++].data.send_status_from_server.status_details =
		GRPC_SLICE_LENGTH(c->status_details) ? &c->status_details : NULL;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &c->client_cancelled;

	c->tag = RPC_TAG_CALL_DONE;
	if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK)
		rpc_call_close(c); /* no completion will come for it */
}

/* Decode the request payload; NULL if it is missing or not a valid message. */
static ProtobufCMessage *rpc_call_decode(struct rpc_call *c)
{
	grpc_byte_buffer_reader reader;
	ProtobufCMessage *msg;
	grpc_slice slice;

	if (!c->payload || !grpc_byte_buffer_reader_init(&reader, c->payload))
		return NULL;
	slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	msg = protobuf_c_message_unpack(c->method->method.input, NULL, GRPC_SLICE_LENGTH(slice),
					GRPC_SLICE_START_PTR(slice));
	grpc_slice_unref(slice);
	return msg;
}

static grpc_byte_buffer *rpc_encode(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(len);
	grpc_byte_buffer *buf;

	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	buf = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return buf;
}

/* Worker side of a registered call: decode, run the handler, answer. */
static void rpc_call_run(struct rpc_call *c)
{
	const struct rpc_method *m = &c->method->method;
	ProtobufCMessage *req, *resp = NULL;
	char *details = NULL;
	grpc_status_code status;

	if (atomic_load(&c->server->refuse_queued)) {
		rpc_call_finish(c, GRPC_STATUS_UNAVAILABLE, "the server is shutting down");
		return;
	}
	if (gpr_time_cmp(c->deadline, gpr_now(c->deadline.clock_type)) < 0) {
		rpc_call_finish(c, GRPC_STATUS_DEADLINE_EXCEEDED,
				"deadline passed before the call started");
		return;
	}
	req = rpc_call_decode(c);
	if (!req) {
		char msg[300];

		snprintf(msg, sizeof(msg), "malformed request message for %s", m->path);
		rpc_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, msg);
		return;
	}

	/*
	 * Hook point: per-volume serialisation (a second concurrent call on the
	 * same volume answered ABORTED, as the CSI spec asks) goes here, keyed
	 * on the request's volume id, once the Node service needs it.
	 */
	status = m->handler(m->userdata, req, &resp, &details);
	if (status == GRPC_STATUS_OK && !resp) {
		status = GRPC_STATUS_INTERNAL;
		free(details);
		details = strdup("the handler returned no response");
	}
	if (status == GRPC_STATUS_OK)
		c->response = rpc_encode(resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	protobuf_c_message_free_unpacked(req, NULL);
	rpc_call_finish(c, status, details);
	free(details);
}

/* --- threads ---------------------------------------------------------------- */

static void *rpc_worker_main(void *arg)
{
	struct rpc_server *s = arg;
	struct rpc_call *c;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->jobs_head && !s->workers_quit)
			pthread_cond_wait(&s->wake, &s->lock);
		c = s->jobs_head;
		if (!c) { /* quitting and nothing left */
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		s->jobs_head = c->next;
		if (!s->jobs_head)
			s->jobs_tail = NULL;
		pthread_mutex_unlock(&s->lock);
		rpc_call_run(c);
	}
}

/* Count an accepted call open and, if it has a handler, queue it; s->lock held. */
static void rpc_call_accept_locked(struct rpc_server *s, struct rpc_call *c)
{
	s->open_calls++;
	if (!c->method)
		return;
	c->next = NULL;
	if (s->jobs_tail)
		s->jobs_tail->next = c;
	else
		s->jobs_head = c;
	s->jobs_tail = c;
	/*
	 * @wake also has rpc_server_shutdown() waiting on it: once it waits, a
	 * signal could wake it instead of an idle worker.
	 */
	if (atomic_load(&s->shutting_down))
		pthread_cond_broadcast(&s->wake);
	else
		pthread_cond_signal(&s->wake);
}

static void rpc_answer_unimplemented(struct rpc_call *c)
{
	char *method = grpc_slice_to_c_string(c->details.method);
	char msg[300];

	snprintf(msg, sizeof(msg), "unknown method %s", method);
	gpr_free(method);
	rpc_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, msg);
}

static void rpc_observe(struct rpc_server *s, struct rpc_call *c)
{
	char *details, *method;

	if (!s->cfg.observer)
		return;
	details = grpc_slice_to_c_string(c->status_details);
	method = c->method ? NULL : grpc_slice_to_c_string(c->details.method);
	s->cfg.observer(s->cfg.observer_userdata, c->method ? c->method->method.path : method,
			c->status, details, monotonic_us() - c->start_us);
	gpr_free(details);
	gpr_free(method);
}

static void *rpc_cq_main(void *arg)
{
	struct rpc_server *s = arg;

	for (;;) {
		grpc_event ev =
			grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		struct rpc_call *c;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			return NULL;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (*(enum rpc_tag_kind *)ev.tag == RPC_TAG_SHUTDOWN) {
			pthread_mutex_lock(&s->lock);
			s->grpc_shutdown_done = true;
			pthread_cond_broadcast(&s->wake);
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		c = ev.tag;
		switch (c->tag) {
		case RPC_TAG_NEW_CALL:
			if (!ev.success) { /* request cancelled by the server's shutdown */
				rpc_call_free(c);
				break;
			}
			if (!atomic_load(&s->shutting_down))
				rpc_post_request(s, c->method);
			c->start_us = monotonic_us();
			if (c->method && s->cfg.on_accept)
				s->cfg.on_accept(s->cfg.observer_userdata, c->method->method.path);
			pthread_mutex_lock(&s->lock);
			rpc_call_accept_locked(s, c);
			pthread_mutex_unlock(&s->lock);
			if (!c->method)
				rpc_answer_unimplemented(c);
			break;
		case RPC_TAG_CALL_DONE:
			rpc_observe(s, c);
			rpc_call_close(c);
			break;
		default:
			break;
		}
	}
}

/* --- listeners ------------------------------------------------------------ */

static bool unix_socket_is_live(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	bool live;
	int fd;

	strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	live = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return live;
}

/*
 * Claim the unix socket path: take the lock beside it (another agent holding
 * it means the path is in use), refuse if anything else serves the socket,
 * remove a stale socket. grpc itself would silently unlink a live server's
 * socket and bind over it.
 */
static int rpc_claim_unix_path(struct rpc_server *s)
{
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct stat st;
	int fd, r;

	snprintf(lock_path, sizeof(lock_path), "%s.lock", s->unix_path);
	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		close(fd);
		return r;
	}
	if (lstat(s->unix_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			return -ENOTSOCK;
		}
		if (unix_socket_is_live(s->unix_path)) {
			close(fd);
			return -EADDRINUSE;
		}
		if (unlink(s->unix_path) < 0 && errno != ENOENT) {
			r = -errno;
			close(fd);
			return r;
		}
	} else if (errno != ENOENT) {
		r = -errno;
		close(fd);
		return r;
	}
	s->lock_fd = fd;
	return 0;
}

/*
 * TCP first, unix socket last: a unix socket that accepts connections is the
 * sign (for kubelet and the tests) that every listener is up, and a failing
 * TCP address must not expose the unix socket even briefly.
 */
/*
 * The TCP listener's credentials: mutual TLS when the config has TLS
 * material (the client must present a certificate our CA signed, or the
 * handshake fails), insecure otherwise.
 */
static grpc_server_credentials *rpc_tcp_credentials(const struct rpc_server *s)
{
	const struct tls_files *tls = s->cfg.tls;
	grpc_ssl_pem_key_cert_pair pair;

	if (!tls)
		return grpc_insecure_server_credentials_create();
	pair.private_key = tls->key;
	pair.cert_chain = tls->cert;
	return grpc_ssl_server_credentials_create_ex(
		tls->ca, &pair, 1, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY,
		NULL);
}

static int rpc_add_listeners(struct rpc_server *s)
{
	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	char target[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int port, r = 0;

	if (s->tcp_address) {
		grpc_server_credentials *tcp_creds = rpc_tcp_credentials(s);

		port = tcp_creds ?
			       grpc_server_add_http2_port(s->server, s->tcp_address, tcp_creds) :
			       0;
		if (tcp_creds)
			grpc_server_credentials_release(tcp_creds);
		if (!port)
			r = -EADDRNOTAVAIL;
		s->tcp_port = port;
	}
	if (!r && s->unix_path) {
		mode_t old_umask;

		/* The socket is created 0600 (grpc has no option for its mode). */
		snprintf(target, sizeof(target), "unix:%s", s->unix_path);
		old_umask = umask(0177);
		port = grpc_server_add_http2_port(s->server, target, creds);
		umask(old_umask);
		if (!port)
			r = -EADDRNOTAVAIL;
		else
			s->socket_bound = true;
	}
	grpc_server_credentials_release(creds);
	return r;
}

int rpc_server_start(struct rpc_server *s)
{
	grpc_arg arg = {
		.type = GRPC_ARG_INTEGER,
		.key = GRPC_ARG_ALLOW_REUSEPORT, /* a busy TCP port must fail, not be shared */
		.value.integer = 0,
	};
	grpc_channel_args args = { .num_args = 1, .args = &arg };
	int r, listen_err;

	if (s->started)
		return -EBUSY;
	if (s->unix_path) {
		r = rpc_claim_unix_path(s);
		if (r < 0)
			return r;
	}

	s->server = grpc_server_create(&args, NULL);
	s->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	for (size_t i = 0; i < s->method_count; i++)
		s->methods[i].grpc_handle =
			grpc_server_register_method(s->server, s->methods[i].method.path, NULL,
						    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	listen_err = rpc_add_listeners(s);

	/*
	 * Started even when a listener failed, so that the one teardown path
	 * (rpc_server_shutdown) applies to every server that has a grpc_server.
	 */
	grpc_server_start(s->server);
	s->started = true;
	if (s->socket_bound && chmod(s->unix_path, 0600) < 0 && !listen_err)
		listen_err = -errno;

	r = -pthread_create(&s->cq_thread, NULL, rpc_cq_main, s);
	if (r < 0)
		return r;
	s->cq_thread_running = true;
	for (unsigned int i = 0; i < s->cfg.workers; i++) {
		r = -pthread_create(&s->workers[i], NULL, rpc_worker_main, s);
		if (r < 0)
			return r;
		s->worker_count++;
	}
	if (listen_err)
		return listen_err;

	for (size_t i = 0; i < s->method_count; i++) {
		for (int n = 0; n < RPC_REQUESTS_PER_METHOD; n++) {
			r = rpc_post_request(s, &s->methods[i]);
			if (r < 0)
				return r;
		}
	}
	return rpc_post_request(s, NULL);
}

int rpc_server_tcp_port(const struct rpc_server *s)
{
	return s->tcp_port;
}

/* --- shutdown ----------------------------------------------------------------- */

static struct timespec deadline_after_ms(int timeout_ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	return deadline;
}

/* Every accepted call answered (so no handler runs and none is queued). */
static bool rpc_calls_done_locked(const struct rpc_server *s)
{
	return !s->open_calls;
}

/* ... and grpc's shutdown tag arrived: nothing of the server is in use. */
static bool rpc_quiescent_locked(const struct rpc_server *s)
{
	return s->grpc_shutdown_done && rpc_calls_done_locked(s);
}

/*
 * Wait until @done(s) holds or until @deadline. A cancelled call is
 * "finished" for grpc while its handler may still be running, hence our own
 * count of open calls next to grpc's tag.
 */
static bool rpc_wait_until(struct rpc_server *s, bool (*done)(const struct rpc_server *),
			   const struct timespec *deadline)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	while (!(ok = done(s)))
		if (pthread_cond_timedwait(&s->wake, &s->lock, deadline) == ETIMEDOUT) {
			ok = done(s);
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void rpc_release_unix_path(struct rpc_server *s)
{
	/* Still holding the lock: nobody else can have bound the path since. */
	if (s->socket_bound)
		unlink(s->unix_path);
	s->socket_bound = false;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}

int rpc_server_shutdown(struct rpc_server *s, int timeout_ms)
{
	struct timespec deadline;
	int r = 0;

	if (!s->started || s->stopped || s->stuck)
		return s->stuck ? -EBUSY : s->shutdown_result;

	/*
	 * Stop accepting: listeners close, pending requests fail, calls already
	 * accepted keep running until they are answered.
	 */
	deadline = deadline_after_ms(timeout_ms);
	atomic_store(&s->shutting_down, true);
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
	if (!rpc_wait_until(s, rpc_calls_done_locked, &deadline)) {
		r = -ETIMEDOUT;
		atomic_store(&s->refuse_queued, true);
	}
	/*
	 * Cancel what is left. With every call answered this cancels nothing
	 * and only closes the connections: grpc's shutdown tag waits for every
	 * connection to go, and an idle client (the kubelet keeps one open)
	 * would otherwise hold the agent for the whole timeout.
	 */
	grpc_server_cancel_all_calls(s->server);
	deadline = deadline_after_ms(RPC_CANCEL_GRACE_MS);
	if (!rpc_wait_until(s, rpc_quiescent_locked, &deadline)) {
		/* A handler is still running, or grpc still holds a connection. */
		s->stuck = true; /* leave everything */
		return -EBUSY;
	}

	/* The queue is empty: workers exit once back from their last call. */
	pthread_mutex_lock(&s->lock);
	s->workers_quit = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	for (unsigned int i = 0; i < s->worker_count; i++)
		pthread_join(s->workers[i], NULL);
	s->worker_count = 0;

	grpc_server_destroy(s->server);
	s->server = NULL;
	/* The cq thread delivers the remaining completions, then sees QUEUE_SHUTDOWN. */
	grpc_completion_queue_shutdown(s->cq);
	if (s->cq_thread_running)
		pthread_join(s->cq_thread, NULL);
	s->cq_thread_running = false;
	grpc_completion_queue_destroy(s->cq);
	s->cq = NULL;

	rpc_release_unix_path(s);
	s->stopped = true;
	s->shutdown_result = r;
	return r;
}

struct rpc_server *rpc_server_free(struct rpc_server *s)
{
	if (!s)
		return NULL;
	if (s->started && rpc_server_shutdown(s, 0) == -EBUSY)
		return NULL; /* threads still use it; the process is about to exit */
	if (s->started && !s->stopped)
		return NULL;
	rpc_release_unix_path(s);
	free(s->methods);
	free(s->unix_path);
	free(s->tcp_address);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	grpc_shutdown_blocking();
	return NULL;
}
