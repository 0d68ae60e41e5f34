/* SPDX-License-Identifier: GPL-2.0 */
/*
 * staleleg — which legs of a mirror hold old data, as the replicas' labels
 * say (pure functions; the node's stalemark.c reads and writes the labels).
 *
 * The client module keeps no per-leg metadata and cannot resync: a leg that
 * failed while the volume was staged missed writes for good. The node that
 * sees it writes the label STALELEG_LABEL on the volume's replicas: a
 * comma-separated list of leg indexes (volume-context order) that missed
 * writes, e.g. "1" or "0,2". A replica may list its own index: then it is
 * the stale one (written when its storage node answers again). Marks are
 * only ever added (nothing resyncs a leg); the stale set of a volume is the
 * union of the labels of every replica that can be read.
 */
#ifndef ATOMBLK_STALELEG_H
#define ATOMBLK_STALELEG_H

#include <stdbool.h>
#include <stddef.h>

#define STALELEG_LABEL "atomblk.io/stale-legs"
#define STALELEG_TEXT_MAX 16 /* "0,1,2" and its NUL, with room */

/*
 * staleleg_parse() - the leg mask of a label value ("" or NULL: none) for a
 * volume of @nlegs legs (at most 8).
 * Return: 0; -EINVAL when it is not a list of distinct leg indexes below
 * @nlegs (a hand-edited or foreign label: the caller refuses to guess).
 */
int staleleg_parse(const char *text, unsigned int nlegs, unsigned int *ret_mask);

/* staleleg_format() - the label value of @mask into @buf ("" for none). */
void staleleg_format(unsigned int mask, char buf[STALELEG_TEXT_MAX]);

enum staleleg_verdict {
	STALELEG_STAGE, /* connect the legs of plan->connect */
	STALELEG_WAIT, /* no leg with current data answers: UNAVAILABLE */
	STALELEG_SPLIT, /* every leg is marked stale: FAILED_PRECONDITION */
};

struct staleleg_plan {
	unsigned int stale; /* legs that missed writes: created missing, never connected */
	unsigned int connect; /* the others */
	enum staleleg_verdict verdict;
};

/*
 * staleleg_plan() - what a stage of a mirror of @nlegs legs may use.
 * @read: the legs whose replica's label could be read; @marks[i] the mask
 * read from leg i (for i in @read); @known: marks this node still has to
 * deliver (its journal). stale = @known and every mark read; the others
 * are connected. When none of the others could be read (so none is known
 * to answer) and some leg is stale, nothing may be assembled: STALELEG_SPLIT
 * when every leg is stale (each side marked the other: two histories, an
 * operator has to choose), else STALELEG_WAIT (the current legs may come
 * back). With no stale leg the plan is to connect every leg, as before.
 */
void staleleg_plan(unsigned int nlegs, unsigned int read, const unsigned int *marks,
		   unsigned int known, struct staleleg_plan *ret);

/* staleleg_list() - "leg 0, leg 2" style text of @mask into @buf. */
void staleleg_list(unsigned int mask, char *buf, size_t size);

#endif
