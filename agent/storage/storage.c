// SPDX-License-Identifier: GPL-2.0
/*
 * The storage role: start-up (pool, journal, nvmet, ports, reflink probe),
 * reconcile, journal records and exports. The target API's handlers are in
 * methods.c. See storage.h and internal.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/fs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <openssl/sha.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/journal.h"
#include "lib/kmods.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/roots.h"
#include "lib/rpc_server.h"
#include "storage/internal.h"

extern char **environ;

/* --- journal records ---------------------------------------------------------- */

int storage_record_get(struct storage *s, const char *id, json_t **ret)
{
	int r = journal_get(s->journal, id, ret);

	if (r == 0 && !json_is_object(*ret)) {
		json_decref(*ret);
		return -ENOENT; /* not a record of ours: treat as absent */
	}
	return r;
}

bool storage_record_is_snapshot(json_t *rec)
{
	return json_is_true(json_object_get(rec, "snapshot"));
}

const char *storage_record_source(json_t *rec)
{
	const char *src = json_string_value(json_object_get(rec, "source_id"));

	return src ? src : "";
}

json_t *storage_record_labels(json_t *rec)
{
	json_t *labels = json_object_get(rec, "labels");

	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(rec, "labels", labels);
	}
	return labels;
}

json_t *storage_record_hosts(json_t *rec)
{
	json_t *hosts = json_object_get(rec, "hosts");

	if (!json_is_array(hosts)) {
		hosts = json_array();
		json_object_set_new(rec, "hosts", hosts);
	}
	return hosts;
}

json_t *storage_record_new(bool snapshot, const char *source_id, json_t *labels)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return json_pack("{s:b, s:s, s:O, s:[], s:I, s:i}", "snapshot", snapshot, "source_id",
			 source_id ? source_id : "", "labels", labels, "hosts", "created_seconds",
			 (json_int_t)now.tv_sec, "created_nanos", (int)now.tv_nsec);
}

/* --- nvmet ------------------------------------------------------------------------ */

static bool storage_nvmet_present(struct storage *s)
{
	char path[PATH_MAX];
	struct stat st;

	if (s->nvmet_root)
		snprintf(path, sizeof(path), "%s", s->nvmet_root);
	else if (roots_path(ROOT_SYS, "kernel/config/nvmet", path, sizeof(path)))
		return false;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return true;
	snprintf(s->nvmet_error, sizeof(s->nvmet_error), "%.200s: %s", path,
		 stat(path, &st) < 0 ? strerror(errno) : "not a directory");
	return false;
}

/* The default tree is absent: load nvmet and its transports (best effort). */
static void storage_nvmet_load(struct storage *s, bool rdma)
{
	static const char *const modules[] = { "nvmet", "nvmet-tcp", "nvmet-rdma" };

	for (unsigned int i = 0; i < (rdma ? 3u : 2u); i++) {
		int r = kmods_modprobe(modules[i]);

		if (r < 0)
			log_warn("cannot load a kernel module", "module=%s error=\"%s\"",
				 modules[i], r == -ENOENT ? "modprobe failed" : strerror(-r));
	}
}

/* Allow exactly the record's hosts on @id's subsystem. */
static int storage_hosts_sync(struct storage *s, const char *id, json_t *rec)
{
	json_t *want = storage_record_hosts(rec), *h;
	char **have = NULL;
	size_t n_have = 0, i;
	int r;

	const char *name = STORAGE_XNAME(s, id);

	r = nvmet_list_hosts(s->nvmet_root, name, &have, &n_have);
	if (r)
		return r;
	json_array_foreach(want, i, h) {
		const char *nqn = json_string_value(h);

		if (nqn && (r = nvmet_allow_host(s->nvmet_root, name, nqn)))
			goto out;
	}
	for (i = 0; i < n_have; i++) {
		bool wanted = false;
		size_t j;

		json_array_foreach(want, j, h)
			if (!strcmp(have[i], json_string_value(h) ?: ""))
				wanted = true;
		if (!wanted && (r = nvmet_disallow_host(s->nvmet_root, name, have[i])))
			goto out;
	}
out:
	nvmet_hosts_free(have, n_have);
	return r;
}

const char *storage_export_name(const struct storage *s, const char *id, char *buf)
{
	if (snprintf(buf, POOL_NAME_MAX + 1, "%s%s", s->export_prefix, id) > POOL_NAME_MAX)
		buf[0] = '\0';
	return buf;
}

const char *storage_export_id(const struct storage *s, const char *name)
{
	size_t len = strlen(s->export_prefix);

	return strncmp(name, s->export_prefix, len) ? NULL : name + len;
}

/*
 * The node tag of export names: the node id when it is a short pool-name
 * word, else "n" + 24 hex digits of its SHA-256.
 */
static void storage_export_prefix_set(struct storage *s)
{
	const char *id = s->node_id;
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t len = strlen(id);

	if (len <= STORAGE_EXPORT_TAG_MAX && pool_name_is_valid(id)) {
		snprintf(s->export_prefix, sizeof(s->export_prefix), "%s.", id);
		return;
	}
	SHA256((const unsigned char *)id, len, md);
	snprintf(s->export_prefix, sizeof(s->export_prefix), "n");
	for (unsigned int i = 0; i < 12; i++)
		snprintf(s->export_prefix + 1 + 2 * i, 3, "%02x", md[i]);
	strcat(s->export_prefix, ".");
}

int storage_export_sync(struct storage *s, const char *id, json_t *rec)
{
	char path[PATH_MAX];
	int r;

	r = pool_path(s->pool, id, path, sizeof(path));
	if (r)
		return r;
	r = nvmet_export(s->nvmet_root, STORAGE_XNAME(s, id), path, NULL, &s->tcp,
			 s->rdma_on ? &s->rdma : NULL);
	if (r && s->rdma_on && !s->rdma_required) {
		/* auto: no RDMA after all; TCP only from now on */
		log_warn("cannot listen on RDMA, serving NVMe/TCP only",
			 "address=%s port=%s error=\"%s\"", s->rdma.traddr, s->rdma.trsvcid,
			 strerror(-r));
		s->rdma_on = false;
		r = nvmet_export(s->nvmet_root, STORAGE_XNAME(s, id), path, NULL, &s->tcp, NULL);
	}
	if (r)
		return r;
	return storage_hosts_sync(s, id, rec);
}

/*
 * Exports after a start (or nvmet's late arrival): every replica of the
 * journal exported with its hosts; exports of ours the journal does not
 * know are logged and left alone (another agent's, or a hand-made one).
 */
static void storage_reconcile_exports(struct storage *s)
{
	struct nvmet_export *exports = NULL;
	size_t n_exports = 0, recreated = 0, kept = 0;
	json_t *keys, *k;
	size_t i;
	int r;

	r = nvmet_list(s->nvmet_root, &exports, &n_exports);
	if (r) {
		log_error("cannot list nvmet exports", "error=\"%s\"", strerror(-r));
		return;
	}
	if (journal_keys(s->journal, &keys) == 0) {
		json_array_foreach(keys, i, k) {
			const char *id = json_string_value(k);
			bool present = false;
			json_t *rec;

			if (storage_record_get(s, id, &rec))
				continue;
			if (storage_record_is_snapshot(rec)) {
				json_decref(rec);
				continue;
			}
			for (size_t e = 0; e < n_exports; e++)
				if (!strcmp(storage_export_id(s, exports[e].name) ?: "", id))
					present = true;
			r = storage_export_sync(s, id, rec);
			if (r)
				log_error("cannot export a replica", "id=%s error=\"%s\"", id,
					  strerror(-r));
			else if (!present)
				recreated++;
			else
				kept++;
			json_decref(rec);
		}
		json_decref(keys);
	}
	for (size_t e = 0; e < n_exports; e++) {
		const char *id = storage_export_id(s, exports[e].name);
		json_t *rec;

		if (!id)
			continue; /* another node's (a shared configfs tree) */
		if (storage_record_get(s, id, &rec) == 0) {
			json_decref(rec);
			continue;
		}
		log_warn("an nvmet export of ours has no journal entry: left alone",
			 "nqn=%s device_path=\"%s\"", exports[e].nqn, exports[e].device_path);
	}
	free(exports);
	log_info("nvmet exports reconciled", "recreated=%zu unchanged=%zu", recreated, kept);
}

bool storage_nvmet_check(struct storage *s)
{
	if (s->nvmet_available)
		return true;
	if (!storage_nvmet_present(s))
		return false;
	s->nvmet_available = true;
	log_info("nvmet is available", NULL);
	storage_reconcile_exports(s);
	return true;
}

/* Journal entries whose file is gone (a crash mid-create, a lost file) are dropped. */
static void storage_reconcile_journal(struct storage *s)
{
	struct pool_entry entry;
	json_t *keys, *k;
	size_t i;

	if (journal_keys(s->journal, &keys))
		return;
	json_array_foreach(keys, i, k) {
		const char *id = json_string_value(k);
		int r = pool_stat(s->pool, id, &entry);

		if (r != -ENOENT && r != -EINVAL)
			continue;
		log_warn("journal entry without its pool file dropped", "id=%s", id);
		if (s->nvmet_available && r == -ENOENT)
			nvmet_unexport(s->nvmet_root, STORAGE_XNAME(s, id));
		journal_remove(s->journal, id);
	}
	json_decref(keys);
}

/* --- start-up ------------------------------------------------------------------- */

static int mkdir_p(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -EINVAL;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* "k=v[,k=v]" (NULL or "": the node's own segment). */
static int storage_parse_topology(struct storage *s, const char *text, const char *node_id)
{
	char *copy, *save = NULL, *item;
	int r = 0;

	if (!text || !*text) {
		s->topology_keys[0] = strdup("topology.atomblk.io/node");
		s->topology_values[0] = strdup(node_id);
		s->n_topology = 1;
		return s->topology_keys[0] && s->topology_values[0] ? 0 : -ENOMEM;
	}
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq || eq == item || s->n_topology >= STORAGE_TOPOLOGY_MAX) {
			r = -EINVAL;
			break;
		}
		*eq = '\0';
		s->topology_keys[s->n_topology] = strdup(item);
		s->topology_values[s->n_topology] = strdup(eq + 1);
		s->n_topology++;
		if (!s->topology_keys[s->n_topology - 1] ||
		    !s->topology_values[s->n_topology - 1]) {
			r = -ENOMEM;
			break;
		}
	}
	free(copy);
	return r;
}

static int storage_address_fill(struct nvmet_address *a, const char *trtype, const char *addr,
				const char *port)
{
	if (!addr || !*addr || !port || !*port || strlen(addr) >= sizeof(a->traddr) ||
	    strlen(port) >= sizeof(a->trsvcid))
		return -EINVAL;
	snprintf(a->trtype, sizeof(a->trtype), "%s", trtype);
	snprintf(a->adrfam, sizeof(a->adrfam), "%s", strchr(addr, ':') ? "ipv6" : "ipv4");
	snprintf(a->traddr, sizeof(a->traddr), "%s", addr);
	snprintf(a->trsvcid, sizeof(a->trsvcid), "%s", port);
	return 0;
}

/* The network interface holding @addr, into @ifname; false if none does. */
static bool storage_address_netdev(const char *addr, char *ifname, size_t size)
{
	struct in6_addr want6;
	struct in_addr want4;
	struct ifaddrs *ifa, *i;
	bool v6 = strchr(addr, ':') != NULL, found = false;

	if ((v6 ? inet_pton(AF_INET6, addr, &want6) : inet_pton(AF_INET, addr, &want4)) != 1)
		return false;
	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (!v6 && i->ifa_addr->sa_family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, &want4,
					sizeof(want4));
		else if (v6 && i->ifa_addr->sa_family == AF_INET6)
			found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &want6,
					sizeof(want6));
		if (found)
			snprintf(ifname, size, "%s", i->ifa_name);
	}
	freeifaddrs(ifa);
	return found;
}

/* Is @ifname the netdev of an RDMA device (/sys/class/infiniband/<dev>/ports/N/gid_attrs/ndevs/M)? */
static bool storage_netdev_has_rdma(const char *ifname)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], ndev[IF_NAMESIZE + 2];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (roots_path(ROOT_SYS, "class/infiniband", dir, sizeof(dir)) || !(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* the device's netdev (rxe, most RoCE NICs) or a GID's netdev */
		for (int idx = -1; idx < 8 && !found; idx++) {
			FILE *f;

			if (idx < 0)
				snprintf(path, sizeof(path), "%s/%s/parent", dir, de->d_name);
			else
				snprintf(path, sizeof(path), "%s/%s/ports/1/gid_attrs/ndevs/%d",
					 dir, de->d_name, idx);
			f = fopen(path, "re");
			if (!f)
				continue;
			if (fgets(ndev, sizeof(ndev), f)) {
				ndev[strcspn(ndev, "\n")] = '\0';
				found = !strcmp(ndev, ifname);
			}
			fclose(f);
		}
		if (!found) {
			snprintf(path, sizeof(path), "%s/%s/device/net/%s", dir, de->d_name,
				 ifname);
			found = access(path, F_OK) == 0;
		}
	}
	closedir(d);
	return found;
}

/* FICLONE between two temporaries in the pool (".tmp." names: pool_open cleans them up). */
static bool storage_probe_reflink(const char *pool_dir)
{
	char a[PATH_MAX], b[PATH_MAX];
	bool ok = false;
	int fa, fb;

	snprintf(a, sizeof(a), "%s/.tmp.reflink-probe-a.%d", pool_dir, (int)getpid());
	snprintf(b, sizeof(b), "%s/.tmp.reflink-probe-b.%d", pool_dir, (int)getpid());
	fa = open(a, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fb = open(b, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fa >= 0 && fb >= 0 && write(fa, "reflink?", 8) == 8)
		ok = ioctl(fb, FICLONE, fa) == 0;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	unlink(a);
	unlink(b);
	return ok;
}

static int storage_open_pool(struct storage *s, const struct storage_config *cfg)
{
	uint64_t capacity = cfg->pool_capacity;
	struct statvfs sv;
	int r;

	r = mkdir_p(cfg->pool_dir, 0700);
	if (r)
		return r;
	if (!capacity) {
		if (statvfs(cfg->pool_dir, &sv) < 0)
			return -errno;
		capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
		if (!capacity)
			return -ENOSPC;
	}
	snprintf(s->pool_dir, sizeof(s->pool_dir), "%s", cfg->pool_dir);
	return pool_open(cfg->pool_dir, capacity, &s->pool);
}

static int storage_open_journal(struct storage *s, const char *state_dir)
{
	char path[PATH_MAX];
	int r;

	r = mkdir_p(state_dir, 0700);
	if (r)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/" STORAGE_JOURNAL_NAME, state_dir) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	return journal_open(path, &s->journal);
}

/* Ports: TCP always; RDMA when asked for, or (auto) when an RDMA device holds the address. */
static int storage_setup_ports(struct storage *s, const struct storage_config *cfg)
{
	char ifname[IF_NAMESIZE + 1];
	int r;

	r = storage_address_fill(&s->tcp, "tcp", cfg->nvme_address, cfg->nvme_port);
	if (r)
		return r;
	s->rdma_required = cfg->rdma == 1;
	if (cfg->rdma == 1)
		s->rdma_on = true;
	else if (cfg->rdma < 0)
		s->rdma_on = storage_address_netdev(cfg->nvme_address, ifname, sizeof(ifname)) &&
			     storage_netdev_has_rdma(ifname);
	if (s->rdma_on)
		storage_address_fill(&s->rdma, "rdma", cfg->nvme_address, cfg->nvme_port);
	return 0;
}

int storage_new(const struct storage_config *cfg, struct storage **ret)
{
	struct storage *s;
	int r;

	*ret = NULL;
	if (!cfg || !cfg->node_id || !*cfg->node_id || !cfg->state_dir ||
	    cfg->state_dir[0] != '/' || !cfg->pool_dir || cfg->pool_dir[0] != '/' ||
	    !cfg->nvme_address || !cfg->nvme_port || cfg->rdma < -1 || cfg->rdma > 1)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	for (unsigned int i = 0; i < TARGET_METHOD_COUNT; i++)
		s->bindings[i] = (struct storage_binding){ .s = s, .method = i };
	s->node_id = strdup(cfg->node_id);
	s->nvmet_root = cfg->nvmet_root ? strdup(cfg->nvmet_root) : NULL;
	s->nvmet_managed = !cfg->nvmet_root;
	if (!s->node_id || (cfg->nvmet_root && !s->nvmet_root)) {
		r = -ENOMEM;
		goto fail;
	}
	storage_export_prefix_set(s);
	r = storage_parse_topology(s, cfg->topology, cfg->node_id);
	if (r == 0)
		r = storage_setup_ports(s, cfg);
	if (r == 0)
		r = storage_open_pool(s, cfg);
	if (r == 0)
		r = storage_open_journal(s, cfg->state_dir);
	if (r)
		goto fail;
	s->reflink = storage_probe_reflink(s->pool_dir);

	if (!storage_nvmet_present(s) && s->nvmet_managed)
		storage_nvmet_load(s, s->rdma_on);
	s->nvmet_available = storage_nvmet_present(s);
	if (!s->nvmet_available)
		log_warn("nvmet is not available: replicas cannot be exported", "error=\"%s\"",
			 s->nvmet_error);
	storage_reconcile_journal(s);
	if (s->nvmet_available)
		storage_reconcile_exports(s);
	log_info("storage role ready",
		 "pool_dir=\"%s\" replicas=%zu reflink=%s nvmet=%s tcp=%s:%s rdma=%s", s->pool_dir,
		 journal_count(s->journal), s->reflink ? "yes" : "no",
		 s->nvmet_available ? "yes" : "no", s->tcp.traddr, s->tcp.trsvcid,
		 s->rdma_on ? "yes" : "no");
	*ret = s;
	return 0;

fail:
	storage_free(s);
	return r;
}

struct storage *storage_free(struct storage *s)
{
	if (!s)
		return NULL;
	journal_free(s->journal);
	pool_free(s->pool);
	for (unsigned int i = 0; i < s->n_topology; i++) {
		free(s->topology_keys[i]);
		free(s->topology_values[i]);
	}
	free(s->nvmet_root);
	free(s->node_id);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

/* --- calls -------------------------------------------------------------------------- */

grpc_status_code storage_call(void *local, enum target_method method, const ProtobufCMessage *req,
			      ProtobufCMessage **ret_resp, char **ret_details)
{
	struct storage *s = local;
	grpc_status_code code;

	*ret_resp = NULL;
	if (!s || (unsigned int)method >= TARGET_METHOD_COUNT || !req ||
	    req->descriptor != target_methods[method].input) {
		*ret_details = strdup("bad in-process target call");
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	pthread_mutex_lock(&s->lock);
	code = storage_method_call(s, method, req, ret_resp, ret_details);
	pthread_mutex_unlock(&s->lock);
	return code;
}

static grpc_status_code storage_handler(void *userdata, const ProtobufCMessage *req,
					ProtobufCMessage **ret_resp, char **ret_details)
{
	struct storage_binding *b = userdata;

	return storage_call(b->s, b->method, req, ret_resp, ret_details);
}

int storage_register(struct rpc_server *server, struct storage *s)
{
	for (unsigned int i = 0; i < TARGET_METHOD_COUNT; i++) {
		const struct rpc_method m = {
			.path = target_methods[i].path,
			.input = target_methods[i].input,
			.handler = storage_handler,
			.userdata = &s->bindings[i],
		};
		int r = rpc_server_add_method(server, &m);

		if (r)
			return r;
	}
	return 0;
}
