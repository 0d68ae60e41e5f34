// SPDX-License-Identifier: GPL-2.0
/*
 * Per-volume try-locks; see vollock.h. The held set is small (one entry
 * per CSI call in flight, at most the worker count), so a list is enough.
 */
#include "lib/vollock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vollock_entry {
	struct vollock_entry *next;
	char id[]; /* the locked volume */
};

struct vollock {
	pthread_mutex_t mutex; /* guards held */
	struct vollock_entry *held; /* volumes locked now */
};

int vollock_new(struct vollock **ret)
{
	struct vollock *vl = calloc(1, sizeof(*vl));

	if (!vl)
		return -ENOMEM;
	pthread_mutex_init(&vl->mutex, NULL);
	*ret = vl;
	return 0;
}

struct vollock *vollock_free(struct vollock *vl)
{
	if (!vl)
		return NULL;
	while (vl->held) {
		struct vollock_entry *e = vl->held;

		vl->held = e->next;
		free(e);
	}
	pthread_mutex_destroy(&vl->mutex);
	free(vl);
	return NULL;
}

int vollock_try(struct vollock *vl, const char *volume_id)
{
	struct vollock_entry *e;
	size_t len = strlen(volume_id);
	int r = 0;

	pthread_mutex_lock(&vl->mutex);
	for (e = vl->held; e; e = e->next) {
		if (!strcmp(e->id, volume_id)) {
			r = -EBUSY;
			goto out;
		}
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(e->id, volume_id, len + 1);
	e->next = vl->held;
	vl->held = e;
out:
	pthread_mutex_unlock(&vl->mutex);
	return r;
}

void vollock_release(struct vollock *vl, const char *volume_id)
{
	struct vollock_entry **p;

	pthread_mutex_lock(&vl->mutex);
	for (p = &vl->held; *p; p = &(*p)->next) {
		if (!strcmp((*p)->id, volume_id)) {
			struct vollock_entry *e = *p;

			*p = e->next;
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&vl->mutex);
}

unsigned int vollock_held(struct vollock *vl)
{
	unsigned int n = 0;

	pthread_mutex_lock(&vl->mutex);
	for (struct vollock_entry *e = vl->held; e; e = e->next)
		n++;
	pthread_mutex_unlock(&vl->mutex);
	return n;
}
