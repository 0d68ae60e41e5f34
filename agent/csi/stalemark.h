/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stalemark — the node's side of stale mirror legs (lib/staleleg.h): it
 * reads the atomblk.io/stale-legs label of a leg's replica for NodeStage,
 * and writes it when a leg of a staged NVMe-oF mirror is faulty or
 * missing, so that no later stage (here or on another node) assembles the
 * mirror with a leg that missed writes.
 *
 * What is known goes to a journal first (<state dir>/stale-legs.json,
 * volume id -> legs, stale mask, what each replica is known to carry,
 * watched), then to the replicas (SetLabels after a read, so a mark is
 * never lost by a write). A mark a storage node does not take (it is
 * down) stays pending in the journal, also after Unstage, and is retried
 * by the monitor thread (every STALEMARK_RETRY_SECS) until delivered or
 * the replica is gone. The monitor also polls every watched (staged)
 * mirror's leg states (the client marks a leg faulty on an IO error) every
 * interval_ms and marks a newly faulty leg at once. Marks go to every
 * replica of the volume, the stale ones included: a stale replica that
 * carries its own index is known stale even when it is the only one that
 * answers at the next stage.
 */
#ifndef ATOMBLK_STALEMARK_H
#define ATOMBLK_STALEMARK_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/target_client.h"
#include "lib/volctx.h"

#define STALEMARK_JOURNAL_FILE "stale-legs.json"
#define STALEMARK_TIMEOUT_MS 3000 /* one target API call of a mark */
#define STALEMARK_RETRY_SECS 10 /* an undelivered mark is tried again after this */

struct tls_files;

/* A leg's replica: where its labels live. */
struct stalemark_leg {
	char node[257]; /* storage node id */
	char target[256]; /* its target API, "" = in-process only */
	char replica[129]; /* replica id */
};

struct stalemark_config {
	const char *node_id; /* this node: legs on it are reached in-process */
	const struct tls_files *tls; /* for remote storage nodes; NULL: none */
	target_local_fn local_fn; /* this process's storage role, or NULL */
	void *local;
	const char *journal_path; /* the journal file */
	unsigned int interval_ms; /* monitor period; 0 = no monitor thread */
};

struct stalemark;

/* stalemark_new() - open the journal, start the monitor. Return: 0, -EBADMSG, -errno. */
int stalemark_new(const struct stalemark_config *cfg, struct stalemark **ret);

/* stalemark_free() - stop the monitor (NULL-safe); pending marks stay in the journal. */
struct stalemark *stalemark_free(struct stalemark *sm);

/*
 * stalemark_read() - the stale-legs mask on @leg's replica, for a volume
 * of @nlegs legs.
 * Return: 0; -EHOSTUNREACH (its storage node does not answer); -EBUSY
 * (cannot be asked: no TLS material or address); -ENOENT (no such
 * replica); -EBADMSG (a label that is no leg list); -EIO; @msg says why.
 */
int stalemark_read(struct stalemark *sm, const struct stalemark_leg *leg, unsigned int nlegs,
		   unsigned int *ret_mask, char *msg, size_t msg_size);

/* stalemark_known() - the stale legs this node knows for @id (0: none or no record). */
unsigned int stalemark_known(struct stalemark *sm, const char *id);

/*
 * stalemark_watch() - volume @id is staged with @legs: @stale are its
 * stale legs now (added to what is known), @marks[i] what leg i's replica
 * was read to carry (-1: not read; NULL: none read). The marks are
 * delivered now where missing; the monitor watches the volume from now on.
 * Return: how many replicas still lack the mark (retried), or -errno.
 */
int stalemark_watch(struct stalemark *sm, const char *id, const struct stalemark_leg *legs,
		    unsigned int nlegs, unsigned int stale, const int *marks);

/*
 * stalemark_check() - compare @id's leg states in the client with what is
 * known, mark newly faulty legs (delivered now) and retry pending marks
 * that are due. @wait false: skip when the monitor is busy (stats must
 * not wait for a storage node). The stale mask in *@ret_stale (0 if none).
 */
void stalemark_check(struct stalemark *sm, const char *id, bool wait, unsigned int *ret_stale);

/* stalemark_unwatch() - @id is no longer staged; pending marks are kept until delivered. */
void stalemark_unwatch(struct stalemark *sm, const char *id);

#endif
