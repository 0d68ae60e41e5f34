// SPDX-License-Identifier: GPL-2.0
/* Prometheus text metrics over a tiny HTTP endpoint; see metrics.h. */
#include "lib/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/atomsys.h"
#include "lib/journal.h"
#include "lib/kmods.h"
#include "lib/status.h"
#include "lib/upgrade.h"
#include "lib/volctl.h"

#define METRICS_METHODS_MAX 64
#define METRICS_CODES 17 /* gRPC status codes 0..16 */

/* Histogram bucket upper bounds, microseconds (the exposition prints seconds). */
static const int64_t bucket_us[] = { 1000,   5000,    10000,   50000,	 100000,
				     500000, 1000000, 5000000, 10000000, 60000000 };
#define METRICS_BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

struct metrics_method {
	char *name; /* "/csi.v1.Node/NodeStageVolume" */
	uint64_t calls[METRICS_CODES]; /* by status code */
	uint64_t buckets[METRICS_BUCKETS]; /* calls at or below each bound (not cumulative) */
	uint64_t count; /* all calls */
	int64_t sum_us; /* their total duration */
};

struct metrics {
	pthread_mutex_t lock; /* guards methods */
	struct metrics_method methods[METRICS_METHODS_MAX];
	unsigned int nr_methods;
	char *state_dir; /* upgrade journal's directory, or NULL */
	int listen_fd; /* -1 when not serving */
	int stop_pipe[2]; /* written to stop the server thread */
	pthread_t thread;
	bool serving;
	int port;
};

int metrics_new(const char *state_dir, struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->listen_fd = -1;
	m->stop_pipe[0] = m->stop_pipe[1] = -1;
	m->port = -1;
	if (state_dir && !(m->state_dir = strdup(state_dir))) {
		metrics_free(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

struct metrics *metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	if (m->serving) {
		char byte = 1;

		if (write(m->stop_pipe[1], &byte, 1) < 0) {
			/* the thread also stops when the pipe closes */
		}
		pthread_join(m->thread, NULL);
	}
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	for (int i = 0; i < 2; i++)
		if (m->stop_pipe[i] >= 0)
			close(m->stop_pipe[i]);
	for (unsigned int i = 0; i < m->nr_methods; i++)
		free(m->methods[i].name);
	free(m->state_dir);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

void metrics_observe_call(struct metrics *m, const char *method, int grpc_code, int64_t duration_us)
{
	struct metrics_method *mm = NULL;

	if (!m || !method)
		return;
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nr_methods; i++)
		if (!strcmp(m->methods[i].name, method))
			mm = &m->methods[i];
	if (!mm && m->nr_methods < METRICS_METHODS_MAX) {
		mm = &m->methods[m->nr_methods];
		mm->name = strdup(method);
		if (mm->name)
			m->nr_methods++;
		else
			mm = NULL;
	}
	if (mm) {
		if (grpc_code >= 0 && grpc_code < METRICS_CODES)
			mm->calls[grpc_code]++;
		for (unsigned int b = 0; b < METRICS_BUCKETS; b++) {
			if (duration_us <= bucket_us[b]) {
				mm->buckets[b]++;
				break;
			}
		}
		mm->count++;
		mm->sum_us += duration_us > 0 ? duration_us : 0;
	}
	pthread_mutex_unlock(&m->lock);
}

static void render_calls(struct metrics *m, FILE *out)
{
	fputs("# HELP atomblk_csi_calls_total CSI calls by method and gRPC status code.\n"
	      "# TYPE atomblk_csi_calls_total counter\n",
	      out);
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nr_methods; i++)
		for (int c = 0; c < METRICS_CODES; c++)
			if (m->methods[i].calls[c])
				fprintf(out,
					"atomblk_csi_calls_total{method=\"%s\",code=\"%s\"} %llu\n",
					m->methods[i].name, status_name((grpc_status_code)c),
					(unsigned long long)m->methods[i].calls[c]);
	fputs("# HELP atomblk_csi_call_duration_seconds CSI call latency by method.\n"
	      "# TYPE atomblk_csi_call_duration_seconds histogram\n",
	      out);
	for (unsigned int i = 0; i < m->nr_methods; i++) {
		const struct metrics_method *mm = &m->methods[i];
		uint64_t cumulative = 0;

		for (unsigned int b = 0; b < METRICS_BUCKETS; b++) {
			cumulative += mm->buckets[b];
			fprintf(out,
				"atomblk_csi_call_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n",
				mm->name, (double)bucket_us[b] / 1e6,
				(unsigned long long)cumulative);
		}
		fprintf(out,
			"atomblk_csi_call_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n",
			mm->name, (unsigned long long)mm->count);
		fprintf(out, "atomblk_csi_call_duration_seconds_sum{method=\"%s\"} %.6f\n",
			mm->name, (double)mm->sum_us / 1e6);
		fprintf(out, "atomblk_csi_call_duration_seconds_count{method=\"%s\"} %llu\n",
			mm->name, (unsigned long long)mm->count);
	}
	pthread_mutex_unlock(&m->lock);
}

/* The node: atom disks, client volumes, versions, upgrades (read now). */
static void render_node(struct metrics *m, FILE *out)
{
	unsigned int disks_by_state[ATOMSYS_DISK_UNKNOWN + 1] = {}, vols_by_state[3] = {};
	struct atomblk_list_entry *vols;
	struct atomsys_disk *disks;
	struct atomsys_module am;
	char version[KMODS_VERSION_MAX], path[PATH_MAX];
	uint64_t held = 0;
	size_t count;
	bool atom_loaded = atomsys_module_read(&am) == 0;
	bool client_loaded =
		kmods_loaded_version(UPGRADE_CLIENT_MODULE, version, sizeof(version)) == 0;
	struct journal *j;

	if (atomsys_disks_list(&disks, &count) == 0) {
		for (size_t i = 0; i < count; i++) {
			disks_by_state[disks[i].state <= ATOMSYS_DISK_UNKNOWN ?
					       disks[i].state :
					       ATOMSYS_DISK_UNKNOWN]++;
			held += disks[i].held_requests;
		}
		free(disks);
	}
	fputs("# HELP atomblk_disks Atom disks by state.\n# TYPE atomblk_disks gauge\n", out);
	for (unsigned int s = 0; s <= ATOMSYS_DISK_UNKNOWN; s++)
		fprintf(out, "atomblk_disks{state=\"%s\"} %u\n", atomsys_disk_state_name(s),
			disks_by_state[s]);
	if (client_loaded && volctl_list(&vols, &count) == 0) {
		for (size_t i = 0; i < count; i++)
			if (vols[i].state < 3)
				vols_by_state[vols[i].state]++;
		free(vols);
	}
	fputs("# HELP atomblk_volumes Client volumes by state.\n# TYPE atomblk_volumes gauge\n",
	      out);
	for (unsigned int s = 0; s < 3; s++)
		fprintf(out, "atomblk_volumes{state=\"%s\"} %u\n", volctl_volume_state_name(s),
			vols_by_state[s]);
	fprintf(out,
		"# HELP atomblk_held_requests Requests parked by the atom with no client.\n"
		"# TYPE atomblk_held_requests gauge\natomblk_held_requests %llu\n",
		(unsigned long long)held);
	fputs("# HELP atomblk_client_info The loaded client module's version.\n"
	      "# TYPE atomblk_client_info gauge\n",
	      out);
	if (client_loaded)
		fprintf(out, "atomblk_client_info{version=\"%s\"} 1\n", version);
	fprintf(out,
		"# HELP atomblk_client_loaded Whether a client module is loaded.\n"
		"# TYPE atomblk_client_loaded gauge\natomblk_client_loaded %d\n",
		client_loaded);
	if (atom_loaded)
		fprintf(out,
			"# HELP atomblk_atom_generation Client adoptions since the atom loaded.\n"
			"# TYPE atomblk_atom_generation counter\natomblk_atom_generation %llu\n",
			(unsigned long long)am.generation);

	if (!m->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/" UPGRADE_JOURNAL_FILE, m->state_dir);
	if (journal_open(path, &j) == 0) {
		json_t *counters = NULL, *last = NULL;

		journal_get(j, "counters", &counters);
		journal_get(j, "last_upgrade", &last);
		fprintf(out,
			"# HELP atomblk_upgrades_total Client hot swaps that succeeded.\n"
			"# TYPE atomblk_upgrades_total counter\natomblk_upgrades_total %lld\n"
			"# HELP atomblk_upgrades_failed_total Upgrades that failed (refused, rolled back or broken).\n"
			"# TYPE atomblk_upgrades_failed_total counter\natomblk_upgrades_failed_total %lld\n"
			"# HELP atomblk_upgrades_rolled_back_total Failed upgrades rolled back to the previous client.\n"
			"# TYPE atomblk_upgrades_rolled_back_total counter\natomblk_upgrades_rolled_back_total %lld\n",
			(long long)json_integer_value(json_object_get(counters, "upgrades")),
			(long long)json_integer_value(json_object_get(counters, "failed")),
			(long long)json_integer_value(json_object_get(counters, "rolled_back")));
		if (last)
			fprintf(out,
				"# HELP atomblk_last_upgrade_pause_seconds Longest per-disk IO pause of the last client change.\n"
				"# TYPE atomblk_last_upgrade_pause_seconds gauge\n"
				"atomblk_last_upgrade_pause_seconds %.6f\n",
				(double)json_integer_value(json_object_get(last, "max_pause_us")) /
					1e6);
		json_decref(counters);
		json_decref(last);
		journal_free(j);
	}
}

int metrics_render(struct metrics *m, FILE *out)
{
	render_calls(m, out);
	render_node(m, out);
	return ferror(out) ? -EIO : 0;
}

static int parse_addr(const char *addr, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t hlen;

	if (!colon || !colon[1] || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	hlen = (size_t)(colon - addr);
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res) != 0)
		return -EINVAL;
	memcpy(ret, res->ai_addr, res->ai_addrlen);
	*ret_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Answer one connection: read the request head, write the response. */
static void serve_one(struct metrics *m, int fd)
{
	struct timeval tv = { .tv_sec = 2 };
	char req[2048], *body = NULL;
	size_t used = 0, body_len = 0;
	FILE *out;
	bool found;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (used < sizeof(req) - 1) {
		ssize_t n = read(fd, req + used, sizeof(req) - 1 - used);

		if (n <= 0)
			break;
		used += (size_t)n;
		req[used] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[used] = '\0';
	found = !strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13);
	out = open_memstream(&body, &body_len);
	if (!out)
		return;
	if (found)
		metrics_render(m, out);
	else
		fputs("not found: try /metrics\n", out);
	fclose(out);
	dprintf(fd,
		"HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n",
		found ? "200 OK" : "404 Not Found", body_len);
	for (size_t done = 0; done < body_len;) {
		ssize_t n = write(fd, body + done, body_len - done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	free(body);
}

static void *serve_thread(void *arg)
{
	struct metrics *m = arg;
	struct pollfd fds[2] = { { .fd = m->listen_fd, .events = POLLIN },
				 { .fd = m->stop_pipe[0], .events = POLLIN } };

	for (;;) {
		int fd;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & POLLIN))
			continue;
		fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(m, fd);
		close(fd);
	}
	return NULL;
}

int metrics_serve(struct metrics *m, const char *addr)
{
	struct sockaddr_storage sa, bound;
	socklen_t len, blen = sizeof(bound);
	int one = 1, r;

	if (m->serving)
		return -EALREADY;
	r = parse_addr(addr, &sa, &len);
	if (r < 0)
		return r;
	m->listen_fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0)
		return -errno;
	setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->listen_fd, (struct sockaddr *)&sa, len) < 0 || listen(m->listen_fd, 16) < 0 ||
	    getsockname(m->listen_fd, (struct sockaddr *)&bound, &blen) < 0 ||
	    pipe2(m->stop_pipe, O_CLOEXEC) < 0) {
		r = -errno;
		close(m->listen_fd);
		m->listen_fd = -1;
		return r;
	}
	m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port :
						      ((struct sockaddr_in *)&bound)->sin_port);
	r = -pthread_create(&m->thread, NULL, serve_thread, m);
	if (r < 0)
		return r;
	m->serving = true;
	return 0;
}

int metrics_port(struct metrics *m)
{
	return m->port;
}
