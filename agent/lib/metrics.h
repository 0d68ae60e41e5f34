/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics — Prometheus text exposition (format 0.0.4) on a small local HTTP
 * endpoint (GET /metrics; anything else 404). CSI calls are counted by
 * method and gRPC code with a latency histogram per method; the node's
 * state (atom disks and client volumes by state, held requests, client
 * version, generation, upgrade counters and the last pause) is read from
 * sysfs, the client's control device and the upgrade journal at each scrape,
 * so it is never stale.
 */
#ifndef ATOMBLK_METRICS_H
#define ATOMBLK_METRICS_H

#include <stdint.h>
#include <stdio.h>

struct metrics;

/* metrics_new() - an empty registry; @state_dir: where upgrade.json lives (NULL: no node metrics). */
int metrics_new(const char *state_dir, struct metrics **ret);

/* metrics_free() - stop serving, free; NULL-safe, returns NULL. */
struct metrics *metrics_free(struct metrics *m);

/* metrics_observe_call() - count one finished call (thread-safe). */
void metrics_observe_call(struct metrics *m, const char *method, int grpc_code,
			  int64_t duration_us);

/* metrics_render() - the whole exposition into @out. Return: 0, -errno. */
int metrics_render(struct metrics *m, FILE *out);

/*
 * metrics_serve() - listen on @addr ("host:port", ":port" for every
 * address, port 0 for any free one) and answer scrapes from a thread.
 * Return: 0; -EINVAL for a bad address; -errno from bind/listen.
 */
int metrics_serve(struct metrics *m, const char *addr);

/* metrics_port() - the port being served (after metrics_serve()), or -1. */
int metrics_port(struct metrics *m);

#endif
