/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvmet — a storage node's replicas exported as NVMe-oF namespaces through
 * the kernel target's configfs tree (drivers/nvme/target/configfs.c).
 *
 * One subsystem per replica, NQN NVMET_NQN_PREFIX<replica name>, namespace 1
 * backed by the replica's file, attr_allow_any_host 0 and only the consuming
 * nodes' host NQNs allowed (hosts/<hostnqn> linked into allowed_hosts/;
 * none at first, then nvmet_allow_host() / nvmet_disallow_host()). Ports
 * are shared: a subsystem is linked into the port with the same transport,
 * address and service id, created (smallest free id) when there is none.
 *
 * The configfs tree is the truth: nothing is cached, nvmet_list() reads the
 * tree. @root is the nvmet directory; NULL means <ROOT_SYS>/kernel/config/nvmet.
 *
 * Not thread-safe: the caller serialises calls on one tree.
 */
#ifndef ATOMBLK_NVMET_H
#define ATOMBLK_NVMET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define NVMET_NQN_PREFIX "nqn.2026-11.io.atomblk:"
#define NVMET_NQN_MAX 223 /* NVMe: NQN bytes, NUL excluded */
#define NVMET_NSID 1 /* the one namespace of a replica's subsystem */

struct nvmet_address {
	char trtype[8]; /* "tcp" or "rdma" */
	char adrfam[8]; /* "ipv4" or "ipv6" */
	char traddr[64]; /* listening address */
	char trsvcid[16]; /* port number */
};

struct nvmet_export {
	char name[129]; /* replica name (POOL_NAME_MAX) */
	char nqn[NVMET_NQN_MAX + 1]; /* subsystem NQN */
	char device_path[PATH_MAX]; /* namespace 1's backing file */
	bool enabled; /* namespace 1 enabled */
	char host_nqn[NVMET_NQN_MAX + 1]; /* the first allowed host ("" for none) */
	struct nvmet_address addrs[2]; /* ports the subsystem is linked into */
	size_t naddrs; /* valid entries of addrs */
};

/*
 * nvmet_nqn() - the subsystem NQN of replica @name into @buf.
 * Return: 0, -EINVAL (not a valid pool name), -ENAMETOOLONG.
 */
int nvmet_nqn(const char *name, char *buf, size_t size);

/* nvmet_host_nqn_is_valid() - "nqn." and more, at most NVMET_NQN_MAX bytes, no '/'. */
bool nvmet_host_nqn_is_valid(const char *nqn);

/*
 * nvmet_export() - export @device_path as replica @name's subsystem to
 * @host_nqn only (NULL: to no host yet; hosts already allowed stay),
 * listening on @tcp and, when not NULL, on @rdma.
 * Idempotent: an existing identical export is completed, not duplicated.
 * On failure a subsystem this call created is removed again.
 * Return: 0, -EINVAL (bad name, host NQN or address), -EEXIST (the name is
 * exported with another backing file), -ENOENT (nvmet not loaded), or the
 * -errno the kernel gave (for example -EADDRINUSE).
 */
int nvmet_export(const char *root, const char *name, const char *device_path, const char *host_nqn,
		 const struct nvmet_address *tcp, const struct nvmet_address *rdma);

/*
 * nvmet_allow_host() - let @host_nqn connect to replica @name's subsystem.
 * Idempotent. Return: 0, -EINVAL, -ENOENT (not exported), -errno.
 */
int nvmet_allow_host(const char *root, const char *name, const char *host_nqn);

/*
 * nvmet_disallow_host() - take @host_nqn off replica @name's allowed hosts
 * (the host entry goes when no subsystem allows it any more). Connected
 * controllers are not cut. Idempotent, also when @name is not exported.
 * Return: 0, -EINVAL, -errno.
 */
int nvmet_disallow_host(const char *root, const char *name, const char *host_nqn);

/*
 * nvmet_list_hosts() - the host NQNs replica @name's subsystem allows, in
 * directory order; free with nvmet_hosts_free().
 * Return: 0, -EINVAL, -ENOENT (not exported), -ENOMEM, -errno.
 */
int nvmet_list_hosts(const char *root, const char *name, char ***ret_hosts, size_t *ret_count);
void nvmet_hosts_free(char **hosts, size_t count);

/*
 * nvmet_revalidate_size() - make nvmet re-read the size of replica @name's
 * backing file (namespace attribute revalidate_size): a changed size is
 * announced to connected hosts (namespace attribute changed AEN), which
 * then resize their namespace.
 * Return: 0, -EINVAL (bad name, or the namespace is not enabled), -ENOENT
 * (not exported), -errno.
 */
int nvmet_revalidate_size(const char *root, const char *name);

/*
 * nvmet_unexport() - remove replica @name's export in reverse order: unlink
 * it from every port (removing ports left without subsystems), disable and
 * remove the namespace, drop the allowed hosts (and a host entry no other
 * subsystem allows), remove the subsystem. Idempotent.
 * Return: 0, -EINVAL, or -errno.
 */
int nvmet_unexport(const char *root, const char *name);

/*
 * nvmet_list() - every atomblk export in the tree, sorted by name; free
 * *ret_exports. Subsystems without our NQN prefix are skipped.
 * Return: 0 (no nvmet directory: 0 exports), -ENOMEM, or -errno.
 */
int nvmet_list(const char *root, struct nvmet_export **ret_exports, size_t *ret_count);

#endif
