/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vollock — per-volume try-locks. The CSI spec wants a second call on a
 * volume that already has one in progress answered with ABORTED, not
 * queued: a call takes the volume's lock with vollock_try() and gets
 * -EBUSY if another call holds it.
 */
#ifndef ATOMBLK_VOLLOCK_H
#define ATOMBLK_VOLLOCK_H

struct vollock;

int vollock_new(struct vollock **ret);

/* vollock_free() - NULL-safe; returns NULL. Every lock must be released. */
struct vollock *vollock_free(struct vollock *vl);

/* vollock_try() - take @volume_id's lock. Return: 0; -EBUSY if held; -ENOMEM. */
int vollock_try(struct vollock *vl, const char *volume_id);

/* vollock_release() - drop @volume_id's lock (taken by vollock_try()). */
void vollock_release(struct vollock *vl, const char *volume_id);

/* vollock_held() - how many volumes are locked now (for tests). */
unsigned int vollock_held(struct vollock *vl);

#endif
