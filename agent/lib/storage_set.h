/* SPDX-License-Identifier: GPL-2.0 */
/*
 * storage_set — the storage nodes a controller talks to, found afresh for
 * every CSI call: a static list ("host:port,..."), a DNS name resolving to
 * all of them ("name:port"; a headless Service: every A/AAAA record is a
 * storage node), and the in-process storage role (--mode all). Each view
 * asks every node GetInfo in parallel with a short deadline; a node that
 * does not answer stays in the view without info, so callers know the
 * picture is incomplete.
 *
 * Connections are cached by address (a gRPC channel is costly to set up)
 * and dropped once an address is no longer resolved and no view uses it.
 * Thread-safe: views may be taken concurrently.
 */
#ifndef ATOMBLK_STORAGE_SET_H
#define ATOMBLK_STORAGE_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/target_client.h"

#define STORAGE_SET_INFO_TIMEOUT_MS 5000 /* GetInfo deadline per node */

struct tls_files;

struct storage_set_config {
	const char *nodes; /* "host:port[,host:port...]", or NULL */
	const char *service; /* "name:port", or NULL */
	const struct tls_files *tls; /* for remote nodes; NULL: they are unreachable */
	target_local_fn local_fn; /* the in-process storage role, or NULL */
	void *local;
	int info_timeout_ms; /* 0 = STORAGE_SET_INFO_TIMEOUT_MS */
};

struct storage_conn;
struct storage_set;

/* One storage node of a view. */
struct storage_node {
	const char *address; /* "host:port"; "" for the in-process storage role */
	struct target_conn *conn; /* valid for the view's lifetime */
	Atomblk__Target__V1__GetInfoResponse *info; /* NULL: did not answer */
	char *error; /* why not (malloc'd), or NULL */
	struct storage_conn *entry; /* private */
};

struct storage_view {
	struct storage_node *nodes;
	size_t n; /* nodes, answering or not */
	size_t answered; /* nodes with info */
	char *resolve_error; /* the DNS name did not resolve (malloc'd), or NULL */
};

/* storage_set_new() - Return: 0; -EINVAL (no source at all, bad list); -ENOMEM. */
int storage_set_new(const struct storage_set_config *cfg, struct storage_set **ret);
struct storage_set *storage_set_free(struct storage_set *s);

/*
 * storage_set_view() - resolve the nodes and ask each GetInfo. Nodes that
 * answer with the node id of another (the in-process role also listed by
 * address) appear once, the in-process one first.
 * Return: 0 (even when nobody answers); -ENOMEM.
 */
int storage_set_view(struct storage_set *s, struct storage_view **ret);

/* storage_view_free() - NULL-safe. */
void storage_view_free(struct storage_set *s, struct storage_view *v);

/* storage_view_complete() - every node of the view answered (and the name resolved). */
bool storage_view_complete(const struct storage_view *v);

#endif
