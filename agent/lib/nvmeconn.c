// SPDX-License-Identifier: GPL-2.0
/* nvmeconn — connect, find, disconnect NVMe-oF controllers with libnvme (see nvmeconn.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <nvme/fabrics.h>
#include <nvme/ioctl.h>
#include <nvme/tree.h>

#include "lib/kmods.h"
#include "lib/nvmeconn.h"
#include "lib/roots.h"

#define NVMECONN_POLL_MS 50

/*
 * libnvme.a's tree code (nvme_tree.c.o) calls its JSON configuration reader
 * and writer (nvme_json.c.o, json-c) from nvme_read_config(),
 * nvme_update_config(), nvme_dump_config() and nvme_dump_tree(). We call
 * none of them, and Debian has no static json-c: defining these internal
 * symbols here keeps the static link from pulling nvme_json.c.o in. They
 * are not exported by libnvme.so, so a dynamic link (the sanitizer and test
 * builds) ignores them.
 */
int json_read_config(nvme_root_t r, const char *config_file);
int json_update_config(nvme_root_t r, const char *config_file);
int json_dump_tree(nvme_root_t r);

int json_read_config(nvme_root_t r, const char *config_file)
{
	errno = ENOTSUP;
	return -1;
}

int json_update_config(nvme_root_t r, const char *config_file)
{
	errno = ENOTSUP;
	return -1;
}

int json_dump_tree(nvme_root_t r)
{
	errno = ENOTSUP;
	return -1;
}

static pthread_mutex_t nvmeconn_lock = PTHREAD_MUTEX_INITIALIZER;

/* A scanned topology whose library messages (errors only) go to a memory buffer. */
struct scan {
	nvme_root_t root;
	FILE *log;
	char *log_text;
	size_t log_size;
};

static int scan_open(struct scan *s)
{
	memset(s, 0, sizeof(*s));
	s->log = open_memstream(&s->log_text, &s->log_size);
	if (!s->log)
		return -ENOMEM;
	s->root = nvme_create_root(s->log, LOG_ERR);
	if (!s->root) {
		fclose(s->log);
		free(s->log_text);
		return -ENOMEM;
	}
	/* A missing /sys/class/nvme (no nvme module yet) is an empty topology. */
	nvme_scan_topology(s->root, NULL, NULL);
	return 0;
}

static void scan_close(struct scan *s)
{
	nvme_free_tree(s->root);
	fclose(s->log);
	free(s->log_text);
}

/* The last line libnvme logged, for an error message; "" if none. */
static const char *scan_last_message(struct scan *s)
{
	char *end, *line;

	fflush(s->log);
	if (!s->log_text || !s->log_text[0])
		return "";
	end = s->log_text + strlen(s->log_text);
	while (end > s->log_text && end[-1] == '\n')
		*--end = '\0';
	line = strrchr(s->log_text, '\n');
	return line ? line + 1 : s->log_text;
}

static void ctrl_copy(nvme_ctrl_t c, struct nvmeconn_ctrl *ret)
{
	const char *state = nvme_ctrl_get_state(c);

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", nvme_ctrl_get_name(c) ?: "");
	snprintf(ret->transport, sizeof(ret->transport), "%s", nvme_ctrl_get_transport(c) ?: "");
	snprintf(ret->state, sizeof(ret->state), "%s", state ?: "unknown");
	snprintf(ret->traddr, sizeof(ret->traddr), "%s", nvme_ctrl_get_traddr(c) ?: "");
	snprintf(ret->trsvcid, sizeof(ret->trsvcid), "%s", nvme_ctrl_get_trsvcid(c) ?: "");
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/*
 * Walk the controllers @hostnqn has to subsystem @nqn: @fn(c, arg) for each
 * until it returns non-zero, which is returned. Hosts are matched on the
 * NQN only: a kernel without a hostid attribute leaves it unknown.
 */
static int for_each_ctrl(struct scan *s, const char *nqn, const char *hostnqn,
			 int (*fn)(nvme_ctrl_t c, void *arg), void *arg)
{
	nvme_host_t h;
	nvme_subsystem_t sub;
	nvme_ctrl_t c, next;
	int r;

	nvme_for_each_host(s->root, h)
	{
		if (!str_eq(nvme_host_get_hostnqn(h), hostnqn))
			continue;
		nvme_for_each_subsystem(h, sub)
		{
			if (!str_eq(nvme_subsystem_get_nqn(sub), nqn))
				continue;
			nvme_subsystem_for_each_ctrl_safe(sub, c, next)
			{
				r = fn(c, arg);
				if (r)
					return r;
			}
		}
	}
	return 0;
}

/* ---- the plan of a leg ------------------------------------------------------- */

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int nvmeconn_leg_plan(const struct volctx *v, size_t leg, const char *node_id, bool have_local,
		      bool have_tls, struct nvmeconn_leg_plan *ret, char *msg, size_t msg_size)
{
	const struct volctx_leg *l;
	int hold;

	if (leg >= v->nlegs) {
		snprintf(msg, msg_size, "no leg %zu", leg);
		return -EINVAL;
	}
	l = &v->legs[leg];
	hold = (int)(v->hold_seconds > 86400 ? 86400 : v->hold_seconds);
	memset(ret, 0, sizeof(*ret));
	if (have_local && !strcmp(l->node, node_id)) {
		ret->route = NVMECONN_ROUTE_LOCAL;
	} else if (!l->target[0]) {
		snprintf(msg, msg_size,
			 "storage node %s has no target API address and is not this node (%s)",
			 l->node, node_id);
		return -EBUSY;
	} else if (!have_tls) {
		snprintf(msg, msg_size,
			 "no TLS material (--tls-dir) to reach storage node %s's target API at %s",
			 l->node, l->target);
		return -EBUSY;
	} else {
		ret->route = NVMECONN_ROUTE_REMOTE;
	}
	ret->reconnect_delay = clamp(hold, 1, NVMECONN_RECONNECT_DELAY_MAX);
	if (v->layout == ATOMBLK_LAYOUT_MIRROR) {
		ret->fast_io_fail_tmo = clamp(hold, 1, NVMECONN_MIRROR_FAST_FAIL_MAX);
		ret->ctrl_loss_tmo =
			hold > NVMECONN_MIRROR_LOSS_MIN ? hold : NVMECONN_MIRROR_LOSS_MIN;
	} else {
		ret->fast_io_fail_tmo = -1;
		ret->ctrl_loss_tmo = hold < 1 ? 1 : hold;
	}
	return 0;
}

/* ---- connect ------------------------------------------------------------------- */

struct match_arg {
	const struct nvmet_address *addr;
	struct nvmeconn_ctrl *ret;
	bool found;
};

static int match_address(nvme_ctrl_t c, void *arg)
{
	struct match_arg *m = arg;

	if (!str_eq(nvme_ctrl_get_transport(c), m->addr->trtype) ||
	    !str_eq(nvme_ctrl_get_traddr(c), m->addr->traddr) ||
	    !str_eq(nvme_ctrl_get_trsvcid(c), m->addr->trsvcid))
		return 0;
	ctrl_copy(c, m->ret);
	m->found = true;
	/* A live one wins; otherwise keep looking, remembering this one. */
	return !strcmp(m->ret->state, "live");
}

static bool params_valid(const struct nvmeconn_params *p, char *msg, size_t msg_size)
{
	if (!p->nqn || !nvmet_host_nqn_is_valid(p->nqn)) {
		snprintf(msg, msg_size, "subsystem NQN '%s' is not valid", p->nqn ?: "");
		return false;
	}
	if (!p->addr || (strcmp(p->addr->trtype, "tcp") && strcmp(p->addr->trtype, "rdma")) ||
	    !p->addr->traddr[0] || !p->addr->trsvcid[0]) {
		snprintf(msg, msg_size,
			 "the leg's address is not a tcp or rdma address with a port");
		return false;
	}
	if (!p->host || !p->host->nqn[0] || !p->host->id[0]) {
		snprintf(msg, msg_size, "no host NQN and host id");
		return false;
	}
	if (p->reconnect_delay < 1 || p->ctrl_loss_tmo < 1) {
		snprintf(msg, msg_size, "reconnect_delay and ctrl_loss_tmo must be at least 1 s");
		return false;
	}
	return true;
}

/*
 * The host side of the transport: nvme-tcp or nvme-rdma (each pulls in
 * nvme-fabrics, which makes /dev/nvme-fabrics). Nothing else loads them on a
 * fresh node; loaded already, nothing to do.
 */
static int transport_load(const char *trtype, char *msg, size_t msg_size)
{
	const bool rdma = !strcmp(trtype, "rdma");
	const char *name = rdma ? "nvme_rdma" : "nvme_tcp",
		   *module = rdma ? "nvme-rdma" : "nvme-tcp";
	int r;

	if (kmods_is_loaded(name))
		return 0;
	r = kmods_modprobe(module);
	if (r < 0)
		snprintf(msg, msg_size, "cannot load the kernel module %s (modprobe %s): %s",
			 module, r == -ENOENT ? "failed" : "could not run", strerror(-r));
	return r;
}

int nvmeconn_connect(const struct nvmeconn_params *p, struct nvmeconn_ctrl *ret, bool *ret_reused,
		     char *msg, size_t msg_size)
{
	struct nvme_fabrics_config cfg;
	struct match_arg m = { .addr = p->addr, .ret = ret };
	struct scan s;
	nvme_host_t h;
	nvme_ctrl_t c;
	int r, err;

	*ret_reused = false;
	if (!params_valid(p, msg, msg_size))
		return -EINVAL;
	pthread_mutex_lock(&nvmeconn_lock);
	r = scan_open(&s);
	if (r < 0)
		goto out_unlock;

	for_each_ctrl(&s, p->nqn, p->host->nqn, match_address, &m);
	if (m.found) {
		if (!strcmp(ret->state, "live")) {
			*ret_reused = true;
			r = 0;
		} else {
			snprintf(msg, msg_size, "controller %s to %s is %s (lost, reconnecting)",
				 ret->name, p->addr->traddr, ret->state);
			r = -EAGAIN;
		}
		goto out;
	}

	r = transport_load(p->addr->trtype, msg, msg_size);
	if (r < 0)
		goto out;
	h = nvme_lookup_host(s.root, p->host->nqn, p->host->id);
	c = h ? nvme_create_ctrl(s.root, p->nqn, p->addr->trtype, p->addr->traddr, NULL, NULL,
				 p->addr->trsvcid) :
		NULL;
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	nvmf_default_config(&cfg);
	cfg.ctrl_loss_tmo = p->ctrl_loss_tmo;
	cfg.reconnect_delay = p->reconnect_delay;
	cfg.fast_io_fail_tmo = p->fast_io_fail_tmo;
	errno = 0;
	r = nvmf_add_ctrl(h, c, &cfg);
	if (r < 0) {
		err = errno > 0 ? errno : (r < -1 ? -r : EIO);
		snprintf(msg, msg_size, "connect %s %s:%s: %s%s%s", p->addr->trtype,
			 p->addr->traddr, p->addr->trsvcid,
			 err >= ENVME_CONNECT_RESOLVE ? nvme_errno_to_string(err) : strerror(err),
			 scan_last_message(&s)[0] ? ": " : "", scan_last_message(&s));
		nvme_free_ctrl(c);
		r = -err;
		goto out;
	}
	ctrl_copy(c, ret);
	r = 0;
out:
	scan_close(&s);
out_unlock:
	pthread_mutex_unlock(&nvmeconn_lock);
	return r;
}

/* ---- find, disconnect -------------------------------------------------------- */

struct find_arg {
	struct nvmeconn_ctrl *ret;
	bool found;
};

static int find_one(nvme_ctrl_t c, void *arg)
{
	struct find_arg *f = arg;

	ctrl_copy(c, f->ret);
	f->found = true;
	return !strcmp(f->ret->state, "live");
}

int nvmeconn_find(const char *nqn, const char *hostnqn, struct nvmeconn_ctrl *ret)
{
	struct find_arg f = { .ret = ret };
	struct scan s;
	int r;

	pthread_mutex_lock(&nvmeconn_lock);
	r = scan_open(&s);
	if (r == 0) {
		for_each_ctrl(&s, nqn, hostnqn, find_one, &f);
		scan_close(&s);
		r = f.found ? 0 : -ENOENT;
	}
	pthread_mutex_unlock(&nvmeconn_lock);
	return r;
}

struct disconnect_arg {
	unsigned int count;
	int err;
	char name[NVMECONN_NAME_MAX];
};

static int disconnect_one(nvme_ctrl_t c, void *arg)
{
	struct disconnect_arg *d = arg;

	errno = 0;
	if (nvme_disconnect_ctrl(c) < 0 && errno != ENOENT) {
		d->err = errno ? errno : EIO;
		snprintf(d->name, sizeof(d->name), "%s", nvme_ctrl_get_name(c) ?: "?");
		return 1;
	}
	d->count++;
	return 0;
}

int nvmeconn_disconnect(const char *nqn, const char *hostnqn, unsigned int *ret_count, char *msg,
			size_t msg_size)
{
	struct disconnect_arg d = { 0 };
	struct scan s;
	int r;

	pthread_mutex_lock(&nvmeconn_lock);
	r = scan_open(&s);
	if (r == 0) {
		for_each_ctrl(&s, nqn, hostnqn, disconnect_one, &d);
		if (d.err) {
			snprintf(msg, msg_size, "disconnect %s: %s", d.name, strerror(d.err));
			r = -d.err;
		}
		scan_close(&s);
	}
	pthread_mutex_unlock(&nvmeconn_lock);
	if (ret_count)
		*ret_count = d.count;
	return r;
}

/* ---- namespace device, rescan ---------------------------------------------- */

/*
 * Is @entry, in controller @ctrl's sysfs directory, namespace @nsid? A
 * namespace is "nvme<ctrl>n<N>" (no multipath) or "nvme<subsys>c<ctrl>n<N>"
 * (a path of the multipath head "nvme<subsys>n<N>"). Its nsid attribute
 * decides; without one, N does. The block device's name goes to @disk.
 */
static bool entry_is_namespace(const char *ctrl, const char *entry, unsigned int nsid,
			       char disk[NVMECONN_NAME_MAX])
{
	unsigned int subsys, cinst, n;
	char rel[PATH_MAX], attr[32];
	int used = 0;

	if (sscanf(entry, "nvme%uc%un%u%n", &subsys, &cinst, &n, &used) == 3 && !entry[used]) {
		snprintf(disk, NVMECONN_NAME_MAX, "nvme%un%u", subsys, n);
	} else if (used = 0, sscanf(entry, "nvme%un%u%n", &cinst, &n, &used) == 2 && !entry[used] &&
				     used < NVMECONN_NAME_MAX) {
		memcpy(disk, entry, (size_t)used + 1);
	} else {
		return false;
	}
	snprintf(rel, sizeof(rel), "class/nvme/%s/%s/nsid", ctrl, entry);
	if (roots_read_attr(ROOT_SYS, rel, attr, sizeof(attr)) == 0)
		return strtoul(attr, NULL, 10) == nsid;
	return n == nsid;
}

/* One look: 0 and the device path when the namespace is there, else -ENOENT. */
static int namespace_lookup(const char *ctrl, unsigned int nsid, char *buf, size_t size)
{
	char dir[PATH_MAX], disk[NVMECONN_NAME_MAX], dev[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int r = -ENOENT;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/class/nvme/%s", roots_get(ROOT_SYS), ctrl);
	d = opendir(dir);
	if (!d)
		return -ENOENT;
	while (r == -ENOENT && (de = readdir(d))) {
		if (!entry_is_namespace(ctrl, de->d_name, nsid, disk))
			continue;
		if (roots_path(ROOT_DEV, disk, dev, sizeof(dev)) < 0) {
			r = -ENAMETOOLONG;
			break;
		}
		if (stat(dev, &st) == 0 && S_ISBLK(st.st_mode))
			r = snprintf(buf, size, "%s", dev) >= (int)size ? -ENAMETOOLONG : 0;
	}
	closedir(d);
	return r;
}

int nvmeconn_namespace(const char *ctrl, unsigned int nsid, int timeout_ms, char *buf, size_t size)
{
	struct timespec pause = { 0, NVMECONN_POLL_MS * 1000000L };
	int waited = 0, r;

	if (!ctrl[0] || strchr(ctrl, '/'))
		return -EINVAL;
	for (;;) {
		r = namespace_lookup(ctrl, nsid, buf, size);
		if (r != -ENOENT)
			return r;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
		waited += NVMECONN_POLL_MS;
	}
}

int nvmeconn_rescan(const char *ctrl)
{
	char path[PATH_MAX];
	int fd, r;

	if (!ctrl[0] || strchr(ctrl, '/'))
		return -EINVAL;
	r = roots_path(ROOT_DEV, ctrl, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = nvme_ns_rescan(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}
