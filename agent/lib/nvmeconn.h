/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvmeconn — this node's NVMe-oF host side, through libnvme: connect a
 * volume's leg (one subsystem, namespace 1) over tcp or rdma, find the
 * namespace's block device, disconnect, rescan after a target grew.
 *
 * libnvme is linked statically into the agent (agent/agent.mk): it then
 * uses the OpenSSL already linked in instead of loading libcrypto.so next
 * to it. Its JSON configuration file support (json-c, which Debian ships
 * only as a shared library) is never used: this file defines the three
 * internal entry points that would read or write it, so the static link
 * does not pull it in (see nvmeconn.c).
 *
 * libnvme keeps process-wide state (its root for log messages), so every
 * call here holds one lock; they are short apart from a connect, which the
 * kernel bounds (nvme-fabrics answers once the controller is live or has
 * failed).
 */
#ifndef ATOMBLK_NVMECONN_H
#define ATOMBLK_NVMECONN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/hostid.h"
#include "lib/nvmet.h"
#include "lib/volctx.h"

#define NVMECONN_NAME_MAX 32 /* "nvme12", "nvme3n1" */
#define NVMECONN_NSID 1 /* a replica is namespace 1 of its subsystem */
#define NVMECONN_MIRROR_FAST_FAIL_MAX 5 /* s: a mirror's lost leg fails IO this soon at most */
#define NVMECONN_MIRROR_LOSS_MIN 600 /* s: a mirror leg's controller keeps reconnecting */
#define NVMECONN_RECONNECT_DELAY_MAX 2 /* s */

/* What to connect, and the controller's loss policy (seconds, -1 = kernel default). */
struct nvmeconn_params {
	const char *nqn; /* subsystem NQN */
	const struct nvmet_address *addr; /* the target's address (trtype tcp or rdma) */
	const struct hostid *host; /* our host NQN and host id */
	int ctrl_loss_tmo; /* give the controller up after this long lost */
	int reconnect_delay; /* between reconnect attempts */
	int fast_io_fail_tmo; /* fail IO after this long lost, -1: only at ctrl_loss_tmo */
};

/* A controller of ours, as sysfs shows it. */
struct nvmeconn_ctrl {
	char name[NVMECONN_NAME_MAX]; /* "nvme3": /dev/nvme3, /sys/class/nvme/nvme3 */
	char transport[8]; /* "tcp", "rdma" */
	char state[16]; /* "live", "connecting", "resetting", "deleting"... */
	char traddr[64];
	char trsvcid[16];
};

/* How a node reaches a leg's storage node (its target API) and the leg's loss policy. */
enum nvmeconn_route {
	NVMECONN_ROUTE_LOCAL, /* the storage role of this very process */
	NVMECONN_ROUTE_REMOTE, /* gRPC with mutual TLS to the leg's target address */
};

struct nvmeconn_leg_plan {
	enum nvmeconn_route route;
	int ctrl_loss_tmo; /* see struct nvmeconn_params */
	int reconnect_delay;
	int fast_io_fail_tmo;
};

/*
 * nvmeconn_leg_plan() - how to stage leg @leg of @v on node @node_id, which
 * has an in-process storage role (@have_local) and TLS material for remote
 * target APIs (@have_tls) or not.
 *
 * The route: local when the leg's storage node is this node and the
 * storage role runs here, else remote to the leg's target address.
 * The loss policy follows the hold time: a single replica is the atom's
 * hold over the network (IO waits up to hold_seconds for the controller to
 * come back, then fails: ctrl_loss_tmo = hold, fast_io_fail_tmo off); a
 * mirror leg fails IO within min(hold, NVMECONN_MIRROR_FAST_FAIL_MAX)
 * seconds so the mirror goes on with the other legs instead of stalling,
 * while its controller keeps reconnecting (ctrl_loss_tmo at least
 * NVMECONN_MIRROR_LOSS_MIN) so a returning leg is seen. reconnect_delay is
 * min(hold, NVMECONN_RECONNECT_DELAY_MAX); every time at least 1 s.
 * Return: 0; -EINVAL (no such leg); -EBUSY when the leg's storage node
 * cannot be reached (remote without TLS material or without a target
 * address), @msg saying why.
 */
int nvmeconn_leg_plan(const struct volctx *v, size_t leg, const char *node_id, bool have_local,
		      bool have_tls, struct nvmeconn_leg_plan *ret, char *msg, size_t msg_size);

/*
 * nvmeconn_connect() - connect @p's subsystem at @p->addr as @p->host, or
 * reuse a live controller of ours to the same subsystem and address.
 * *@ret_reused says which. A controller of ours to that subsystem and
 * address that is not live (reconnecting after a loss) is not reused: it
 * answers -EAGAIN.
 * Return: 0; -EINVAL (bad parameters); -EAGAIN; -errno of the connect
 * (-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -EIO, -ENODEV when the
 * transport module is not loaded...), with @msg saying what failed.
 */
int nvmeconn_connect(const struct nvmeconn_params *p, struct nvmeconn_ctrl *ret, bool *ret_reused,
		     char *msg, size_t msg_size);

/*
 * nvmeconn_find() - our (@hostnqn's) controller to subsystem @nqn, the live
 * one if there are several.
 * Return: 0; -ENOENT when there is none; -ENOMEM.
 */
int nvmeconn_find(const char *nqn, const char *hostnqn, struct nvmeconn_ctrl *ret);

/*
 * nvmeconn_disconnect() - delete every controller @hostnqn has to
 * subsystem @nqn. Idempotent: none is fine. *@ret_count (may be NULL) says
 * how many went.
 * Return: 0; -errno of the first that could not be deleted (@msg says it).
 */
int nvmeconn_disconnect(const char *nqn, const char *hostnqn, unsigned int *ret_count, char *msg,
			size_t msg_size);

/*
 * nvmeconn_namespace() - the block device of namespace @nsid behind
 * controller @ctrl ("nvme3"), "/dev/nvme3n1" (or the multipath head
 * "/dev/nvmeXnY" when native multipath is on), waiting up to @timeout_ms
 * for it to appear in sysfs (ROOT_SYS) and as a device node (ROOT_DEV).
 * Return: 0; -ETIMEDOUT; -ENAMETOOLONG.
 */
int nvmeconn_namespace(const char *ctrl, unsigned int nsid, int timeout_ms, char *buf, size_t size);

/*
 * nvmeconn_rescan() - ask controller @ctrl to rescan its namespaces
 * (NVME_IOCTL_RESCAN on /dev/<ctrl>), so a grown namespace shows its new
 * size. Return: 0; -errno.
 */
int nvmeconn_rescan(const char *ctrl);

#endif
