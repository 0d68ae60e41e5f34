// SPDX-License-Identifier: GPL-2.0
/* rdmasel — choose a leg's transport (see rdmasel.h). */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rdma/rdma_cma.h>

#include "lib/rdmasel.h"

/* ---- the choice ---------------------------------------------------------------- */

static const struct nvmet_address *address_of(const struct nvmet_address *addrs, size_t naddrs,
					      const char *trtype)
{
	for (size_t i = 0; i < naddrs; i++)
		if (!strcmp(addrs[i].trtype, trtype))
			return &addrs[i];
	return NULL;
}

int rdmasel_choose(enum volctx_transport want, const struct nvmet_address *addrs, size_t naddrs,
		   rdmasel_probe_fn probe, const struct nvmet_address **ret, char *why,
		   size_t why_size)
{
	const struct nvmet_address *tcp = address_of(addrs, naddrs, "tcp");
	const struct nvmet_address *rdma = address_of(addrs, naddrs, "rdma");
	char reason[160] = "";
	int r = -ENOENT;

	if (want == VOLCTX_TRANSPORT_TCP) {
		if (!tcp) {
			snprintf(why, why_size, "the leg has no tcp address (transport tcp)");
			return -ENOENT;
		}
		*ret = tcp;
		snprintf(why, why_size, "tcp %s:%s (transport tcp)", tcp->traddr, tcp->trsvcid);
		return 0;
	}

	if (rdma) {
		r = probe(rdma, RDMASEL_PROBE_TIMEOUT_MS, reason, sizeof(reason));
		if (r == 0) {
			*ret = rdma;
			snprintf(why, why_size, "rdma %s:%s (transport %s)", rdma->traddr,
				 rdma->trsvcid, want == VOLCTX_TRANSPORT_RDMA ? "rdma" : "auto");
			return 0;
		}
	}
	if (want == VOLCTX_TRANSPORT_RDMA) {
		if (!rdma)
			snprintf(why, why_size, "the leg has no rdma address (transport rdma)");
		else
			snprintf(why, why_size, "rdma %s:%s is not reachable (transport rdma): %s",
				 rdma->traddr, rdma->trsvcid, reason);
		return rdma ? -EHOSTUNREACH : -ENOENT;
	}
	if (!tcp) {
		snprintf(why, why_size, "the leg has no tcp address and rdma %s",
			 rdma ? "is not reachable" : "address either");
		return rdma ? -EHOSTUNREACH : -ENOENT;
	}
	*ret = tcp;
	if (rdma)
		snprintf(why, why_size, "tcp %s:%s (transport auto; rdma %s:%s: %s)", tcp->traddr,
			 tcp->trsvcid, rdma->traddr, rdma->trsvcid, reason);
	else
		snprintf(why, why_size, "tcp %s:%s (transport auto; the leg has no rdma address)",
			 tcp->traddr, tcp->trsvcid);
	return 0;
}

/* ---- librdmacm, loaded on first use ------------------------------------------- */

static struct {
	void *handle;
	__typeof__(rdma_create_event_channel) *create_event_channel;
	__typeof__(rdma_destroy_event_channel) *destroy_event_channel;
	__typeof__(rdma_create_id) *create_id;
	__typeof__(rdma_destroy_id) *destroy_id;
	__typeof__(rdma_resolve_addr) *resolve_addr;
	__typeof__(rdma_resolve_route) *resolve_route;
	__typeof__(rdma_get_cm_event) *get_cm_event;
	__typeof__(rdma_ack_cm_event) *ack_cm_event;
} cm;
static pthread_once_t cm_once = PTHREAD_ONCE_INIT;

static void cm_load(void)
{
	void *h = dlopen("librdmacm.so.1", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
#define CM_SYM(name) (cm.name = (__typeof__(cm.name))dlsym(h, "rdma_" #name))
	if (!CM_SYM(create_event_channel) || !CM_SYM(destroy_event_channel) || !CM_SYM(create_id) ||
	    !CM_SYM(destroy_id) || !CM_SYM(resolve_addr) || !CM_SYM(resolve_route) ||
	    !CM_SYM(get_cm_event) || !CM_SYM(ack_cm_event)) {
		dlclose(h);
		return;
	}
#undef CM_SYM
	cm.handle = h;
}

/* Wait up to @timeout_ms for the next event on @ch; 0 if it is @want. */
static int cm_wait(struct rdma_event_channel *ch, enum rdma_cm_event_type want, int timeout_ms,
		   char *msg, size_t msg_size)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;
	int status, n;

	/* librdmacm times out on its own; the margin only guards a lost event. */
	do
		n = poll(&pfd, 1, timeout_ms + 500);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		snprintf(msg, msg_size, "no answer within %d ms", timeout_ms);
		return -ETIMEDOUT;
	}
	if (cm.get_cm_event(ch, &ev) < 0) {
		snprintf(msg, msg_size, "rdma_get_cm_event: %s", strerror(errno));
		return -EIO;
	}
	got = ev->event;
	status = ev->status;
	cm.ack_cm_event(ev);
	if (got == want)
		return 0;
	snprintf(msg, msg_size, "%s (status %d)",
		 got == RDMA_CM_EVENT_ADDR_ERROR  ? "address not reachable over RDMA" :
		 got == RDMA_CM_EVENT_ROUTE_ERROR ? "no route over RDMA" :
						    "unexpected rdma_cm event",
		 status);
	return status == -ETIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH;
}

static int address_parse(const struct nvmet_address *addr, struct sockaddr_storage *ret)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
	struct sockaddr_in *in = (struct sockaddr_in *)ret;

	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, addr->traddr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, addr->traddr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int rdmasel_probe(const struct nvmet_address *addr, int timeout_ms, char *msg, size_t msg_size)
{
	struct rdma_event_channel *ch;
	struct sockaddr_storage dst;
	struct rdma_cm_id *id;
	int r;

	if (address_parse(addr, &dst) < 0) {
		snprintf(msg, msg_size, "'%s' is not an IP address", addr->traddr);
		return -EINVAL;
	}
	pthread_once(&cm_once, cm_load);
	if (!cm.handle) {
		snprintf(msg, msg_size, "librdmacm.so.1 cannot be loaded");
		return -ENOSYS;
	}
	ch = cm.create_event_channel();
	if (!ch) {
		r = errno;
		snprintf(msg, msg_size, "no rdma_cm (%s): no RDMA device", strerror(r));
		return -ENODEV;
	}
	if (cm.create_id(ch, &id, NULL, RDMA_PS_TCP) < 0) {
		r = errno;
		snprintf(msg, msg_size, "rdma_create_id: %s: no RDMA device", strerror(r));
		cm.destroy_event_channel(ch);
		return -ENODEV;
	}
	if (cm.resolve_addr(id, NULL, (struct sockaddr *)&dst, timeout_ms) < 0) {
		r = errno;
		snprintf(msg, msg_size, "rdma_resolve_addr: %s", strerror(r));
		r = r == ENODEV ? -ENODEV : -EHOSTUNREACH;
	} else {
		r = cm_wait(ch, RDMA_CM_EVENT_ADDR_RESOLVED, timeout_ms, msg, msg_size);
	}
	if (r == 0 && cm.resolve_route(id, timeout_ms) < 0) {
		snprintf(msg, msg_size, "rdma_resolve_route: %s", strerror(errno));
		r = -EHOSTUNREACH;
	} else if (r == 0) {
		r = cm_wait(ch, RDMA_CM_EVENT_ROUTE_RESOLVED, timeout_ms, msg, msg_size);
	}
	if (r == 0 && id->verbs)
		snprintf(msg, msg_size, "over %s", id->verbs->device->name);
	cm.destroy_id(id);
	cm.destroy_event_channel(ch);
	return r;
}
