// SPDX-License-Identifier: GPL-2.0
/*
 * storage_set — see storage_set.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/storage_set.h"

#define STORAGE_ADDR_MAX 280 /* "[ipv6]:port" or a host name and port */

/* A cached connection. Lives in the set's list while resolved or in use. */
struct storage_conn {
	char address[STORAGE_ADDR_MAX]; /* "" for the in-process role */
	struct target_conn *conn;
	unsigned int refs; /* views using it */
	unsigned long seen; /* generation of the last resolution listing it */
	struct storage_conn *next;
};

struct storage_set {
	char *nodes; /* the static list */
	char *service_host; /* the DNS name ... */
	char *service_port; /* ... and its port */
	const struct tls_files *tls;
	int info_timeout_ms;
	struct storage_conn *local; /* the in-process role, or NULL */
	pthread_mutex_t lock; /* guards conns and generation */
	struct storage_conn *conns; /* remote connections */
	unsigned long generation;
};

int storage_set_new(const struct storage_set_config *cfg, struct storage_set **ret)
{
	struct storage_set *s;
	const char *colon;

	if ((!cfg->nodes || !cfg->nodes[0]) && (!cfg->service || !cfg->service[0]) &&
	    !cfg->local_fn)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->tls = cfg->tls;
	s->info_timeout_ms =
		cfg->info_timeout_ms > 0 ? cfg->info_timeout_ms : STORAGE_SET_INFO_TIMEOUT_MS;
	if (cfg->nodes && cfg->nodes[0] && !(s->nodes = strdup(cfg->nodes)))
		goto fail_nomem;
	if (cfg->service && cfg->service[0]) {
		colon = strrchr(cfg->service, ':');
		if (!colon || colon == cfg->service || !colon[1]) {
			storage_set_free(s);
			return -EINVAL;
		}
		s->service_host = strndup(cfg->service, (size_t)(colon - cfg->service));
		s->service_port = strdup(colon + 1);
		if (!s->service_host || !s->service_port)
			goto fail_nomem;
	}
	if (cfg->local_fn) {
		s->local = calloc(1, sizeof(*s->local));
		if (!s->local || target_conn_local(cfg->local_fn, cfg->local, &s->local->conn) < 0)
			goto fail_nomem;
	}
	*ret = s;
	return 0;
fail_nomem:
	storage_set_free(s);
	return -ENOMEM;
}

static void storage_conn_free(struct storage_conn *c)
{
	if (c) {
		target_conn_free(c->conn);
		free(c);
	}
}

struct storage_set *storage_set_free(struct storage_set *s)
{
	struct storage_conn *c, *next;

	if (!s)
		return NULL;
	for (c = s->conns; c; c = next) {
		next = c->next;
		storage_conn_free(c);
	}
	storage_conn_free(s->local);
	pthread_mutex_destroy(&s->lock);
	free(s->nodes);
	free(s->service_host);
	free(s->service_port);
	free(s);
	return NULL;
}

/* The cached connection to @address, created if new. Locked. */
static struct storage_conn *conn_get(struct storage_set *s, const char *address)
{
	struct storage_conn *c;

	for (c = s->conns; c; c = c->next)
		if (!strcmp(c->address, address))
			break;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		snprintf(c->address, sizeof(c->address), "%s", address);
		/* Without TLS material conn stays NULL: the node is unreachable. */
		if (s->tls && target_conn_remote(address, s->tls, &c->conn) < 0)
			c->conn = NULL;
		c->next = s->conns;
		s->conns = c;
	}
	c->seen = s->generation;
	return c;
}

/* Drop connections that the last resolution did not list and nobody uses. Locked. */
static void conns_prune(struct storage_set *s)
{
	struct storage_conn **p = &s->conns, *c;

	while ((c = *p)) {
		if (!c->refs && c->seen != s->generation) {
			*p = c->next;
			storage_conn_free(c);
		} else {
			p = &c->next;
		}
	}
}

/* Room for one more node in @v. */
static int view_grow(struct storage_view *v, size_t *cap)
{
	struct storage_node *nodes;

	if (v->n < *cap)
		return 0;
	nodes = realloc(v->nodes, (*cap * 2 + 4) * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	v->nodes = nodes;
	*cap = *cap * 2 + 4;
	return 0;
}

/* Append the node of connection @c (one more reference). Locked. */
static void view_append(struct storage_view *v, struct storage_conn *c)
{
	memset(&v->nodes[v->n], 0, sizeof(v->nodes[v->n]));
	c->refs++;
	v->nodes[v->n].entry = c;
	v->nodes[v->n].address = c->address;
	v->nodes[v->n].conn = c->conn;
	v->n++;
}

static int view_add(struct storage_set *s, struct storage_view *v, size_t *cap, const char *address)
{
	struct storage_conn *c;

	for (size_t i = 0; i < v->n; i++)
		if (v->nodes[i].entry != s->local && !strcmp(v->nodes[i].address, address))
			return 0; /* listed twice */
	if (view_grow(v, cap) < 0)
		return -ENOMEM;
	c = conn_get(s, address);
	if (!c)
		return -ENOMEM;
	view_append(v, c);
	return 0;
}

/* Every A/AAAA record of the service name, as "addr:port" / "[addr]:port". */
static int view_add_service(struct storage_set *s, struct storage_view *v, size_t *cap)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	char host[INET6_ADDRSTRLEN], address[STORAGE_ADDR_MAX];
	int r;

	r = getaddrinfo(s->service_host, s->service_port, &hints, &res);
	if (r) {
		if (asprintf(&v->resolve_error, "cannot resolve %s: %s", s->service_host,
			     gai_strerror(r)) < 0)
			v->resolve_error = NULL;
		return r == EAI_MEMORY ? -ENOMEM : 0;
	}
	for (ai = res, r = 0; ai && r == 0; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, host,
				  sizeof(host));
			snprintf(address, sizeof(address), "%s:%s", host, s->service_port);
		} else if (ai->ai_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, host,
				  sizeof(host));
			snprintf(address, sizeof(address), "[%s]:%s", host, s->service_port);
		} else {
			continue;
		}
		r = view_add(s, v, cap, address);
	}
	freeaddrinfo(res);
	return r;
}

static int view_add_list(struct storage_set *s, struct storage_view *v, size_t *cap)
{
	char address[STORAGE_ADDR_MAX];
	const char *p = s->nodes;
	int r = 0;

	while (p && *p && r == 0) {
		size_t len = strcspn(p, ",");

		if (len && len < sizeof(address)) {
			memcpy(address, p, len);
			address[len] = '\0';
			r = view_add(s, v, cap, address);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return r;
}

struct info_job {
	struct storage_node *node;
	int timeout_ms;
	pthread_t thread;
	bool started;
};

static void *info_ask(void *arg)
{
	struct info_job *job = arg;
	Atomblk__Target__V1__GetInfoRequest req = ATOMBLK__TARGET__V1__GET_INFO_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	grpc_status_code code;
	char *details = NULL;

	if (!job->node->conn) {
		job->node->error = strdup("no TLS material to reach remote storage nodes");
		return NULL;
	}
	code = target_call(job->node->conn, TARGET_GET_INFO, &req.base, &resp, &details,
			   job->timeout_ms);
	if (code == GRPC_STATUS_OK) {
		job->node->info = (Atomblk__Target__V1__GetInfoResponse *)resp;
		free(details);
	} else if (details && details[0]) {
		job->node->error = details;
	} else {
		free(details);
		if (asprintf(&job->node->error, "GetInfo failed with gRPC status %d", (int)code) <
		    0)
			job->node->error = NULL;
	}
	return NULL;
}

/* Ask every node GetInfo at once: a dead node costs one deadline, not one each. */
static void view_ask_info(struct storage_set *s, struct storage_view *v)
{
	struct info_job *jobs = calloc(v->n ? v->n : 1, sizeof(*jobs));
	size_t i;

	if (!jobs) {
		for (i = 0; i < v->n; i++) {
			struct info_job job = { .node = &v->nodes[i],
						.timeout_ms = s->info_timeout_ms };

			info_ask(&job);
		}
		return;
	}
	for (i = 0; i < v->n; i++) {
		jobs[i].node = &v->nodes[i];
		jobs[i].timeout_ms = s->info_timeout_ms;
		/* The in-process role answers at once: no thread for it. */
		if (v->n > 1 && v->nodes[i].entry != s->local)
			jobs[i].started =
				!pthread_create(&jobs[i].thread, NULL, info_ask, &jobs[i]);
		if (!jobs[i].started)
			info_ask(&jobs[i]);
	}
	for (i = 0; i < v->n; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
	free(jobs);
}

/* Keep one node per node id: the first (the in-process role is first). */
static void view_dedupe(struct storage_set *s, struct storage_view *v)
{
	size_t i, j, out = 0;

	for (i = 0; i < v->n; i++) {
		bool dup = false;

		for (j = 0; j < out && v->nodes[i].info && !dup; j++)
			dup = v->nodes[j].info &&
			      !strcmp(v->nodes[j].info->node_id, v->nodes[i].info->node_id);
		if (dup) {
			protobuf_c_message_free_unpacked(&v->nodes[i].info->base, NULL);
			free(v->nodes[i].error);
			pthread_mutex_lock(&s->lock);
			v->nodes[i].entry->refs--;
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		v->nodes[out++] = v->nodes[i];
	}
	v->n = out;
	v->answered = 0;
	for (i = 0; i < v->n; i++)
		v->answered += v->nodes[i].info != NULL;
}

int storage_set_view(struct storage_set *s, struct storage_view **ret)
{
	struct storage_view *v = calloc(1, sizeof(*v));
	size_t cap = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	s->generation++;
	if (s->local) {
		r = view_grow(v, &cap);
		if (r == 0)
			view_append(v, s->local);
	}
	if (r == 0 && s->nodes)
		r = view_add_list(s, v, &cap);
	if (r == 0 && s->service_host)
		r = view_add_service(s, v, &cap);
	conns_prune(s);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		storage_view_free(s, v);
		return r;
	}
	view_ask_info(s, v);
	view_dedupe(s, v);
	*ret = v;
	return 0;
}

void storage_view_free(struct storage_set *s, struct storage_view *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < v->n; i++) {
		if (v->nodes[i].entry)
			v->nodes[i].entry->refs--;
		if (v->nodes[i].info)
			protobuf_c_message_free_unpacked(&v->nodes[i].info->base, NULL);
		free(v->nodes[i].error);
	}
	pthread_mutex_unlock(&s->lock);
	free(v->nodes);
	free(v->resolve_error);
	free(v);
}

bool storage_view_complete(const struct storage_view *v)
{
	return v->answered == v->n && !v->resolve_error;
}
