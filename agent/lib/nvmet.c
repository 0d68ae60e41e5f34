// SPDX-License-Identifier: GPL-2.0
/*
 * nvmet — exports through the kernel target's configfs. Attribute and
 * directory names are those of drivers/nvme/target/configfs.c:
 *   hosts/<hostnqn>/
 *   subsystems/<nqn>/{attr_allow_any_host, allowed_hosts/<hostnqn> -> hosts/<hostnqn>,
 *                     namespaces/<nsid>/{device_path, enable}}
 *   ports/<id>/{addr_trtype, addr_adrfam, addr_traddr, addr_trsvcid,
 *               subsystems/<nqn> -> subsystems/<nqn>}
 * A port is enabled by the kernel when the first subsystem is linked into it,
 * so its address attributes are written before that link.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/nvmet.h"
#include "lib/pool.h"
#include "lib/roots.h"

#define NVMET_PORT_ID_MAX 65535 /* port ids are a u16 (disc_addr.portid) */

static int nvmet_root(const char *root, char *buf, size_t size)
{
	if (root) {
		if ((size_t)snprintf(buf, size, "%s", root) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	return roots_path(ROOT_SYS, "kernel/config/nvmet", buf, size);
}

/* printf into a PATH_MAX buffer; -ENAMETOOLONG when it does not fit. */
static int __attribute__((format(printf, 2, 3))) nvmet_pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/*
 * Write one attribute. O_CREAT is harmless on configfs (the attribute
 * exists, and a misspelt one cannot be created there) and lets tests run
 * against a plain directory tree.
 */
static int nvmet_write_attr(const char *path, const char *value)
{
	size_t len = strlen(value);
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

/* Read one attribute, trailing newline dropped. */
static int nvmet_read_attr(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int nvmet_mkdir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int nvmet_symlink(const char *target, const char *link)
{
	if (symlink(target, link) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

bool nvmet_host_nqn_is_valid(const char *nqn)
{
	size_t len = nqn ? strnlen(nqn, NVMET_NQN_MAX + 1) : 0;

	return len > 4 && len <= NVMET_NQN_MAX && !strncmp(nqn, "nqn.", 4) && !strchr(nqn, '/');
}

static bool nvmet_address_is_valid(const struct nvmet_address *a, const char *trtype)
{
	return !strcmp(a->trtype, trtype) &&
	       (!strcmp(a->adrfam, "ipv4") || !strcmp(a->adrfam, "ipv6")) && a->traddr[0] &&
	       a->trsvcid[0] && !strchr(a->traddr, '\n') && !strchr(a->trsvcid, '\n');
}

int nvmet_nqn(const char *name, char *buf, size_t size)
{
	if (!pool_name_is_valid(name))
		return -EINVAL;
	if ((size_t)snprintf(buf, size, NVMET_NQN_PREFIX "%s", name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static bool nvmet_port_matches(const char *top, unsigned int id, const struct nvmet_address *a)
{
	static const char *const attrs[] = { "addr_trtype", "addr_adrfam", "addr_traddr",
					     "addr_trsvcid" };
	const char *want[] = { a->trtype, a->adrfam, a->traddr, a->trsvcid };
	char path[PATH_MAX], value[64];

	for (size_t i = 0; i < 4; i++) {
		if (nvmet_pathf(path, "%s/ports/%u/%s", top, id, attrs[i]) ||
		    nvmet_read_attr(path, value, sizeof(value)) || strcmp(value, want[i]))
			return false;
	}
	return true;
}

/*
 * The id of the port listening on @a: an existing one, or the smallest free
 * id, created with @a's attributes (written before any subsystem link
 * enables the port).
 */
static int nvmet_port_get(const char *top, const struct nvmet_address *a, unsigned int *ret_id)
{
	char path[PATH_MAX];
	unsigned int id;
	int ret;

	for (id = 1; id <= NVMET_PORT_ID_MAX; id++) {
		struct stat st;

		ret = nvmet_pathf(path, "%s/ports/%u", top, id);
		if (ret)
			return ret;
		if (stat(path, &st) < 0) {
			if (errno != ENOENT)
				return -errno;
			break;
		}
		if (nvmet_port_matches(top, id, a)) {
			*ret_id = id;
			return 0;
		}
	}
	if (id > NVMET_PORT_ID_MAX)
		return -ENOSPC;
	if (mkdir(path, 0755) < 0)
		return -errno;
	{
		static const char *const attrs[] = { "addr_trtype", "addr_adrfam", "addr_traddr",
						     "addr_trsvcid" };
		const char *values[] = { a->trtype, a->adrfam, a->traddr, a->trsvcid };
		char attr[PATH_MAX];

		for (size_t i = 0; i < 4; i++) {
			ret = nvmet_pathf(attr, "%s/%s", path, attrs[i]);
			if (!ret)
				ret = nvmet_write_attr(attr, values[i]);
			if (ret) {
				rmdir(path);
				return ret;
			}
		}
	}
	*ret_id = id;
	return 0;
}

/* Link subsystem @nqn into the port for @a. */
static int nvmet_port_link(const char *top, const char *nqn, const struct nvmet_address *a)
{
	char target[PATH_MAX], link[PATH_MAX];
	unsigned int id = 0;
	int ret;

	ret = nvmet_port_get(top, a, &id);
	if (ret)
		return ret;
	ret = nvmet_pathf(target, "%s/subsystems/%s", top, nqn);
	if (!ret)
		ret = nvmet_pathf(link, "%s/ports/%u/subsystems/%s", top, id, nqn);
	if (!ret)
		ret = nvmet_symlink(target, link);
	return ret;
}

/*
 * Namespace 1 backed by @device_path, enabled. An enabled namespace with
 * another backing file is someone else's export: -EEXIST.
 */
static int nvmet_namespace_enable(const char *subsys, const char *device_path)
{
	char ns[PATH_MAX], path[PATH_MAX], value[PATH_MAX];
	int ret;

	ret = nvmet_pathf(ns, "%s/namespaces/%d", subsys, NVMET_NSID);
	if (!ret)
		ret = nvmet_mkdir(ns);
	if (ret)
		return ret;
	if (!nvmet_pathf(path, "%s/enable", ns) && !nvmet_read_attr(path, value, sizeof(value)) &&
	    !strcmp(value, "1")) {
		if (nvmet_pathf(path, "%s/device_path", ns) ||
		    nvmet_read_attr(path, value, sizeof(value)))
			return -EIO;
		return strcmp(value, device_path) ? -EEXIST : 0;
	}
	ret = nvmet_pathf(path, "%s/device_path", ns);
	if (!ret)
		ret = nvmet_write_attr(path, device_path);
	if (!ret)
		ret = nvmet_pathf(path, "%s/enable", ns);
	if (!ret)
		ret = nvmet_write_attr(path, "1");
	return ret;
}

int nvmet_export(const char *root, const char *name, const char *device_path, const char *host_nqn,
		 const struct nvmet_address *tcp, const struct nvmet_address *rdma)
{
	char top[PATH_MAX], nqn[NVMET_NQN_MAX + 1], subsys[PATH_MAX], path[PATH_MAX],
		target[PATH_MAX];
	bool created = false;
	struct stat st;
	int ret;

	if (nvmet_nqn(name, nqn, sizeof(nqn)) || !device_path || device_path[0] != '/' ||
	    (host_nqn && !nvmet_host_nqn_is_valid(host_nqn)) || !tcp ||
	    !nvmet_address_is_valid(tcp, "tcp") || (rdma && !nvmet_address_is_valid(rdma, "rdma")))
		return -EINVAL;
	ret = nvmet_root(root, top, sizeof(top));
	if (ret)
		return ret;
	if (stat(top, &st) < 0)
		return -errno;

	/* The host entry first: allowed_hosts/ links point at it. */
	if (host_nqn) {
		ret = nvmet_pathf(path, "%s/hosts/%s", top, host_nqn);
		if (!ret)
			ret = nvmet_mkdir(path);
		if (ret)
			return ret;
	}

	ret = nvmet_pathf(subsys, "%s/subsystems/%s", top, nqn);
	if (ret)
		return ret;
	if (mkdir(subsys, 0755) == 0)
		created = true;
	else if (errno != EEXIST)
		return -errno;

	/* Closed before anything can connect: no host but @host_nqn. */
	ret = nvmet_pathf(path, "%s/attr_allow_any_host", subsys);
	if (!ret)
		ret = nvmet_write_attr(path, "0");
	if (!ret && host_nqn)
		ret = nvmet_pathf(target, "%s/hosts/%s", top, host_nqn);
	if (!ret && host_nqn)
		ret = nvmet_pathf(path, "%s/allowed_hosts/%s", subsys, host_nqn);
	if (!ret && host_nqn)
		ret = nvmet_symlink(target, path);
	if (!ret)
		ret = nvmet_namespace_enable(subsys, device_path);
	/* Ports last: a linked port serves the subsystem at once. */
	if (!ret)
		ret = nvmet_port_link(top, nqn, tcp);
	if (!ret && rdma)
		ret = nvmet_port_link(top, nqn, rdma);
	if (ret && created)
		nvmet_unexport(root, name);
	return ret;
}

/* Is host @host_nqn allowed by any subsystem? */
static bool nvmet_host_in_use(const char *top, const char *host_nqn)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool used = false;
	DIR *d;

	if (nvmet_pathf(path, "%s/subsystems", top) || !(d = opendir(path)))
		return true; /* when in doubt, keep it */
	while (!used && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (!nvmet_pathf(path, "%s/subsystems/%s/allowed_hosts/%s", top, de->d_name,
				 host_nqn) &&
		    lstat(path, &st) == 0)
			used = true;
	}
	closedir(d);
	return used;
}

/* Unlink @nqn from every port; remove ports left with no subsystem. */
static int nvmet_ports_unlink(const char *top, const char *nqn)
{
	char path[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if (nvmet_pathf(path, "%s/ports", top))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char link[PATH_MAX], subs[PATH_MAX], port[PATH_MAX];
		struct dirent *sde;
		bool empty = true;
		DIR *sd;

		if (de->d_name[0] == '.')
			continue;
		if (nvmet_pathf(port, "%s/ports/%s", top, de->d_name) ||
		    nvmet_pathf(link, "%s/subsystems/%s", port, nqn) ||
		    nvmet_pathf(subs, "%s/subsystems", port))
			continue;
		if (unlink(link) < 0 && errno != ENOENT) {
			ret = -errno;
			continue;
		}
		sd = opendir(subs);
		if (!sd)
			continue;
		while ((sde = readdir(sd)))
			if (sde->d_name[0] != '.')
				empty = false;
		closedir(sd);
		if (empty && rmdir(port) < 0 && errno != ENOENT && !ret)
			ret = -errno;
	}
	closedir(d);
	return ret;
}

int nvmet_unexport(const char *root, const char *name)
{
	char top[PATH_MAX], nqn[NVMET_NQN_MAX + 1], subsys[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int ret;

	if (nvmet_nqn(name, nqn, sizeof(nqn)))
		return -EINVAL;
	ret = nvmet_root(root, top, sizeof(top));
	if (!ret)
		ret = nvmet_pathf(subsys, "%s/subsystems/%s", top, nqn);
	if (ret)
		return ret;

	/* 1. No new connections: out of every port. */
	ret = nvmet_ports_unlink(top, nqn);
	if (ret)
		return ret;

	if (stat(subsys, &st) < 0)
		return errno == ENOENT ? 0 : -errno;

	/* 2. The namespace: disabled, then removed. */
	ret = nvmet_pathf(path, "%s/namespaces/%d/enable", subsys, NVMET_NSID);
	if (ret)
		return ret;
	if (nvmet_write_attr(path, "0") == 0) {
		path[strlen(path) - strlen("/enable")] = '\0';
		if (rmdir(path) < 0 && errno != ENOENT)
			return -errno;
	}

	/* 3. The allowed hosts, and host entries nobody else allows. */
	ret = nvmet_pathf(path, "%s/allowed_hosts", subsys);
	if (ret)
		return ret;
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			char link[PATH_MAX], host[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			if (nvmet_pathf(link, "%s/allowed_hosts/%s", subsys, de->d_name) ||
			    unlink(link) < 0)
				continue;
			if (!nvmet_host_in_use(top, de->d_name) &&
			    !nvmet_pathf(host, "%s/hosts/%s", top, de->d_name))
				rmdir(host);
		}
		closedir(d);
	}

	/* 4. The subsystem itself. */
	if (rmdir(subsys) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* The top directory and replica @name's subsystem directory, which must exist. */
static int nvmet_subsys_dir(const char *root, const char *name, char *top, char *subsys)
{
	char nqn[NVMET_NQN_MAX + 1];
	struct stat st;
	int ret;

	if (nvmet_nqn(name, nqn, sizeof(nqn)))
		return -EINVAL;
	ret = nvmet_root(root, top, PATH_MAX);
	if (!ret)
		ret = nvmet_pathf(subsys, "%s/subsystems/%s", top, nqn);
	if (ret)
		return ret;
	if (stat(subsys, &st) < 0)
		return -errno;
	return 0;
}

int nvmet_allow_host(const char *root, const char *name, const char *host_nqn)
{
	char top[PATH_MAX], subsys[PATH_MAX], host[PATH_MAX], link[PATH_MAX];
	bool created = false;
	int ret;

	if (!nvmet_host_nqn_is_valid(host_nqn))
		return -EINVAL;
	ret = nvmet_subsys_dir(root, name, top, subsys);
	if (ret)
		return ret;
	ret = nvmet_pathf(host, "%s/hosts/%s", top, host_nqn);
	if (!ret)
		ret = nvmet_pathf(link, "%s/allowed_hosts/%s", subsys, host_nqn);
	if (ret)
		return ret;
	if (mkdir(host, 0755) == 0)
		created = true;
	else if (errno != EEXIST)
		return -errno;
	ret = nvmet_symlink(host, link);
	if (ret && created)
		rmdir(host);
	return ret;
}

int nvmet_disallow_host(const char *root, const char *name, const char *host_nqn)
{
	char top[PATH_MAX], subsys[PATH_MAX], host[PATH_MAX], link[PATH_MAX];
	int ret;

	if (!nvmet_host_nqn_is_valid(host_nqn))
		return -EINVAL;
	ret = nvmet_subsys_dir(root, name, top, subsys);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = nvmet_pathf(host, "%s/hosts/%s", top, host_nqn);
	if (!ret)
		ret = nvmet_pathf(link, "%s/allowed_hosts/%s", subsys, host_nqn);
	if (ret)
		return ret;
	if (unlink(link) < 0 && errno != ENOENT)
		return -errno;
	if (!nvmet_host_in_use(top, host_nqn))
		rmdir(host); /* best effort: another tool may use the entry */
	return 0;
}

int nvmet_list_hosts(const char *root, const char *name, char ***ret_hosts, size_t *ret_count)
{
	char top[PATH_MAX], subsys[PATH_MAX], path[PATH_MAX];
	char **hosts = NULL, **grown;
	size_t count = 0;
	struct dirent *de;
	DIR *d;
	int ret;

	ret = nvmet_subsys_dir(root, name, top, subsys);
	if (!ret)
		ret = nvmet_pathf(path, "%s/allowed_hosts", subsys);
	if (ret)
		return ret;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		grown = realloc(hosts, (count + 1) * sizeof(*hosts));
		if (!grown || !(grown[count] = strdup(de->d_name))) {
			hosts = grown ? grown : hosts;
			ret = -ENOMEM;
			break;
		}
		hosts = grown;
		count++;
	}
	closedir(d);
	if (ret) {
		nvmet_hosts_free(hosts, count);
		return ret;
	}
	*ret_hosts = hosts;
	*ret_count = count;
	return 0;
}

void nvmet_hosts_free(char **hosts, size_t count)
{
	for (size_t i = 0; hosts && i < count; i++)
		free(hosts[i]);
	free(hosts);
}

int nvmet_revalidate_size(const char *root, const char *name)
{
	char top[PATH_MAX], subsys[PATH_MAX], path[PATH_MAX];
	int ret;

	ret = nvmet_subsys_dir(root, name, top, subsys);
	if (!ret)
		ret = nvmet_pathf(path, "%s/namespaces/%d/revalidate_size", subsys, NVMET_NSID);
	if (!ret)
		ret = nvmet_write_attr(path, "1");
	return ret;
}

/* The ports subsystem @nqn is linked into, at most ARRAY_SIZE(e->addrs). */
static void nvmet_list_ports(const char *top, struct nvmet_export *e)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (nvmet_pathf(path, "%s/ports", top) || !(d = opendir(path)))
		return;
	while ((de = readdir(d)) && e->naddrs < sizeof(e->addrs) / sizeof(e->addrs[0])) {
		struct nvmet_address *a = &e->addrs[e->naddrs];
		struct stat st;

		if (de->d_name[0] == '.' ||
		    nvmet_pathf(path, "%s/ports/%s/subsystems/%s", top, de->d_name, e->nqn) ||
		    lstat(path, &st) < 0)
			continue;
		memset(a, 0, sizeof(*a));
		if (!nvmet_pathf(path, "%s/ports/%s/addr_trtype", top, de->d_name))
			nvmet_read_attr(path, a->trtype, sizeof(a->trtype));
		if (!nvmet_pathf(path, "%s/ports/%s/addr_adrfam", top, de->d_name))
			nvmet_read_attr(path, a->adrfam, sizeof(a->adrfam));
		if (!nvmet_pathf(path, "%s/ports/%s/addr_traddr", top, de->d_name))
			nvmet_read_attr(path, a->traddr, sizeof(a->traddr));
		if (!nvmet_pathf(path, "%s/ports/%s/addr_trsvcid", top, de->d_name))
			nvmet_read_attr(path, a->trsvcid, sizeof(a->trsvcid));
		e->naddrs++;
	}
	closedir(d);
}

static void nvmet_list_one(const char *top, struct nvmet_export *e)
{
	char path[PATH_MAX], value[8];
	struct dirent *de;
	DIR *d;

	if (!nvmet_pathf(path, "%s/subsystems/%s/namespaces/%d/device_path", top, e->nqn,
			 NVMET_NSID))
		nvmet_read_attr(path, e->device_path, sizeof(e->device_path));
	if (!nvmet_pathf(path, "%s/subsystems/%s/namespaces/%d/enable", top, e->nqn, NVMET_NSID) &&
	    !nvmet_read_attr(path, value, sizeof(value)))
		e->enabled = !strcmp(value, "1");
	if (!nvmet_pathf(path, "%s/subsystems/%s/allowed_hosts", top, e->nqn) &&
	    (d = opendir(path))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && !e->host_nqn[0])
				snprintf(e->host_nqn, sizeof(e->host_nqn), "%.*s", NVMET_NQN_MAX,
					 de->d_name);
		closedir(d);
	}
	nvmet_list_ports(top, e);
}

static int nvmet_export_compare(const void *a, const void *b)
{
	return strcmp(((const struct nvmet_export *)a)->name,
		      ((const struct nvmet_export *)b)->name);
}

int nvmet_list(const char *root, struct nvmet_export **ret_exports, size_t *ret_count)
{
	struct nvmet_export *exports = NULL;
	size_t count = 0, allocated = 0;
	char top[PATH_MAX], path[PATH_MAX];
	size_t prefix = strlen(NVMET_NQN_PREFIX);
	struct dirent *de;
	int ret;
	DIR *d;

	ret = nvmet_root(root, top, sizeof(top));
	if (!ret)
		ret = nvmet_pathf(path, "%s/subsystems", top);
	if (ret)
		return ret;
	d = opendir(path);
	if (!d) {
		if (errno != ENOENT)
			return -errno;
		*ret_exports = NULL;
		*ret_count = 0;
		return 0;
	}
	while ((de = readdir(d))) {
		struct nvmet_export *e;

		if (strncmp(de->d_name, NVMET_NQN_PREFIX, prefix) ||
		    !pool_name_is_valid(de->d_name + prefix))
			continue;
		if (count == allocated) {
			size_t n = allocated ? allocated * 2 : 8;
			struct nvmet_export *grown = realloc(exports, n * sizeof(*exports));

			if (!grown) {
				closedir(d);
				free(exports);
				return -ENOMEM;
			}
			exports = grown;
			allocated = n;
		}
		e = &exports[count++];
		memset(e, 0, sizeof(*e));
		snprintf(e->nqn, sizeof(e->nqn), "%.*s", NVMET_NQN_MAX, de->d_name);
		snprintf(e->name, sizeof(e->name), "%s", de->d_name + prefix);
		nvmet_list_one(top, e);
	}
	closedir(d);
	if (count)
		qsort(exports, count, sizeof(*exports), nvmet_export_compare);
	*ret_exports = exports;
	*ret_count = count;
	return 0;
}
