/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rdmasel — which of a leg's NVMe-oF addresses a node connects to, from the
 * volume's transport policy:
 *
 *   tcp   the leg's tcp address;
 *   rdma  its rdma address, which must be reachable over a local RDMA device
 *         (an error otherwise: the volume asked for RDMA);
 *   auto  rdma when the leg has an rdma address reachable over a local RDMA
 *         device, else tcp.
 *
 * Reachability is asked of librdmacm (address and route resolution to the
 * target's address, short timeout), opened with dlopen("librdmacm.so.1") on
 * the first probe so an agent that never stages an RDMA-capable volume does
 * not carry it (nor libibverbs and its providers) in memory.
 */
#ifndef ATOMBLK_RDMASEL_H
#define ATOMBLK_RDMASEL_H

#include <stddef.h>

#include "lib/nvmet.h"
#include "lib/volctx.h"

#define RDMASEL_PROBE_TIMEOUT_MS 1000 /* per resolution step */

/*
 * A reachability probe: 0 when @addr (an rdma address) is reachable over a
 * local RDMA device; -errno otherwise with the reason in @msg.
 */
typedef int (*rdmasel_probe_fn)(const struct nvmet_address *addr, int timeout_ms, char *msg,
				size_t msg_size);

/*
 * rdmasel_choose() - the address of a leg (@addrs, @naddrs) to connect to
 * under @want. @probe is called for an rdma address only (never for tcp).
 * Return: 0 with *@ret pointing into @addrs and @why saying what was chosen
 * and why ("rdma 10.0.0.2:4420", "tcp 127.0.0.2:4420 (rdma 10.0.0.2: no
 * RDMA device)"); -ENOENT when the leg has no address of the transport
 * required; -EHOSTUNREACH when rdma is required and not reachable; @why
 * says which.
 */
int rdmasel_choose(enum volctx_transport want, const struct nvmet_address *addrs, size_t naddrs,
		   rdmasel_probe_fn probe, const struct nvmet_address **ret, char *why,
		   size_t why_size);

/*
 * rdmasel_probe() - the librdmacm probe (an rdmasel_probe_fn): resolve
 * @addr's address, then a route to it, each within @timeout_ms.
 * Return: 0; -ENOSYS (librdmacm cannot be loaded), -ENODEV (no RDMA device
 * or no rdma_cm), -EHOSTUNREACH / -ETIMEDOUT (not reachable), -EINVAL (bad
 * address).
 */
int rdmasel_probe(const struct nvmet_address *addr, int timeout_ms, char *msg, size_t msg_size);

#endif
