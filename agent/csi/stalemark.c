// SPDX-License-Identifier: GPL-2.0
/*
 * stalemark — see stalemark.h. One mutex serializes every change of a
 * record and its delivery (the monitor and the handlers), so a record is
 * never read and written by two threads at once; a delivery is a few
 * target API calls with STALEMARK_TIMEOUT_MS each.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "csi/stalemark.h"
#include "lib/journal.h"
#include "lib/log.h"
#include "lib/staleleg.h"
#include "lib/volctl.h"

struct stalemark {
	char node_id[257];
	const struct tls_files *tls;
	target_local_fn local_fn;
	void *local;
	struct journal *journal; /* volume id -> struct mark_record */
	pthread_mutex_t lock; /* records and their delivery */
	pthread_mutex_t stop_lock; /* stop, with stop_cond */
	pthread_cond_t stop_cond;
	bool stop; /* the monitor is asked to end */
	bool running; /* the monitor thread exists */
	unsigned int interval_ms;
	pthread_t thread;
};

/* A journal record in C. */
struct mark_record {
	unsigned int nlegs;
	struct stalemark_leg legs[VOLCTX_LEGS_MAX];
	unsigned int stale; /* legs that missed writes */
	int marked[VOLCTX_LEGS_MAX]; /* the mask leg i's replica is known to carry; -1 unknown */
	bool watched; /* staged here: the monitor polls its leg states */
	long long retry_at; /* realtime seconds: an undelivered mark is tried again then */
};

/* ---- records ------------------------------------------------------------------ */

static int record_load(struct stalemark *sm, const char *id, struct mark_record *ret)
{
	const char *node, *target, *replica;
	json_t *rec, *legs, *marked, *leg;
	json_int_t stale, retry_at;
	int watched, r;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	r = journal_get(sm->journal, id, &rec);
	if (r < 0)
		return r;
	r = json_unpack(rec, "{s:o, s:I, s:o, s:b, s:I}", "legs", &legs, "stale", &stale, "marked",
			&marked, "watched", &watched, "retry_at", &retry_at);
	if (r < 0 || !json_is_array(legs) || json_array_size(legs) > VOLCTX_LEGS_MAX ||
	    !json_is_array(marked) || json_array_size(marked) != json_array_size(legs)) {
		json_decref(rec);
		return -EBADMSG;
	}
	json_array_foreach(legs, i, leg) {
		if (json_unpack(leg, "{s:s, s:s, s:s}", "node", &node, "target", &target, "replica",
				&replica) < 0) {
			json_decref(rec);
			return -EBADMSG;
		}
		snprintf(ret->legs[i].node, sizeof(ret->legs[i].node), "%s", node);
		snprintf(ret->legs[i].target, sizeof(ret->legs[i].target), "%s", target);
		snprintf(ret->legs[i].replica, sizeof(ret->legs[i].replica), "%s", replica);
		ret->marked[i] = (int)json_integer_value(json_array_get(marked, i));
	}
	ret->nlegs = (unsigned int)json_array_size(legs);
	ret->stale = (unsigned int)stale;
	ret->watched = watched;
	ret->retry_at = retry_at;
	json_decref(rec);
	return 0;
}

static int record_store(struct stalemark *sm, const char *id, const struct mark_record *m)
{
	json_t *rec, *legs = json_array(), *marked = json_array();
	int r = -ENOMEM;

	for (unsigned int i = 0; legs && marked && i < m->nlegs; i++) {
		if (json_array_append_new(legs,
					  json_pack("{s:s, s:s, s:s}", "node", m->legs[i].node,
						    "target", m->legs[i].target, "replica",
						    m->legs[i].replica)) < 0 ||
		    json_array_append_new(marked, json_integer(m->marked[i])) < 0)
			goto out;
	}
	if (!legs || !marked)
		goto out;
	rec = json_pack("{s:O, s:I, s:O, s:b, s:I}", "legs", legs, "stale", (json_int_t)m->stale,
			"marked", marked, "watched", m->watched, "retry_at",
			(json_int_t)m->retry_at);
	if (rec) {
		r = journal_set(sm->journal, id, rec);
		json_decref(rec);
	}
out:
	json_decref(legs);
	json_decref(marked);
	return r;
}

/* Does leg @i's replica still lack part of the stale mask? */
static bool record_leg_pending(const struct mark_record *m, unsigned int i)
{
	unsigned int has = m->marked[i] < 0 ? 0 : (unsigned int)m->marked[i];

	return (m->stale & ~has) != 0;
}

static unsigned int record_pending(const struct mark_record *m)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < m->nlegs; i++)
		n += record_leg_pending(m, i);
	return n;
}

/* ---- target API ----------------------------------------------------------------- */

/* A connection to @leg's storage node: in-process when it is this node. */
static int conn_open(struct stalemark *sm, const struct stalemark_leg *leg,
		     struct target_conn **ret, char *msg, size_t msg_size)
{
	int r;

	if (sm->local_fn && !strcmp(leg->node, sm->node_id))
		r = target_conn_local(sm->local_fn, sm->local, ret);
	else if (!leg->target[0] || !sm->tls) {
		snprintf(msg, msg_size, "storage node %s cannot be asked (%s)", leg->node,
			 leg->target[0] ? "no TLS material" : "no target API address");
		return -EBUSY;
	} else
		r = target_conn_remote(leg->target, sm->tls, ret);
	if (r < 0)
		snprintf(msg, msg_size, "target API of %s: %s", leg->node, strerror(-r));
	return r;
}

static int call_errno(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK:
		return 0;
	case GRPC_STATUS_UNAVAILABLE:
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return -EHOSTUNREACH;
	case GRPC_STATUS_NOT_FOUND:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/* The label's value on the replica (*@ret_text: malloc'd, NULL when absent). */
static int label_get(struct target_conn *conn, const struct stalemark_leg *leg, char **ret_text,
		     char *msg, size_t msg_size)
{
	Atomblk__Target__V1__ListReplicasRequest req =
		ATOMBLK__TARGET__V1__LIST_REPLICAS_REQUEST__INIT;
	Atomblk__Target__V1__ListReplicasResponse *l;
	ProtobufCMessage *resp = NULL;
	grpc_status_code code;
	char *details = NULL;
	int r;

	*ret_text = NULL;
	req.id = (char *)leg->replica;
	code = target_call(conn, TARGET_LIST_REPLICAS, &req.base, &resp, &details,
			   STALEMARK_TIMEOUT_MS);
	r = call_errno(code);
	if (r < 0) {
		snprintf(msg, msg_size, "ListReplicas on %s: %s", leg->node,
			 details ? details : "failed");
		free(details);
		return r;
	}
	free(details);
	l = (Atomblk__Target__V1__ListReplicasResponse *)resp;
	if (l->n_replicas != 1) {
		snprintf(msg, msg_size, "storage node %s has no replica %s", leg->node,
			 leg->replica);
		r = -ENOENT;
	}
	for (size_t i = 0; r == 0 && i < l->replicas[0]->n_labels; i++) {
		if (strcmp(l->replicas[0]->labels[i]->key, STALELEG_LABEL))
			continue;
		*ret_text = strdup(l->replicas[0]->labels[i]->value);
		if (!*ret_text)
			r = -ENOMEM;
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return r;
}

static int label_set(struct target_conn *conn, const struct stalemark_leg *leg, unsigned int mask,
		     char *msg, size_t msg_size)
{
	Atomblk__Target__V1__SetLabelsRequest req = ATOMBLK__TARGET__V1__SET_LABELS_REQUEST__INIT;
	Atomblk__Target__V1__SetLabelsRequest__SetEntry e =
		ATOMBLK__TARGET__V1__SET_LABELS_REQUEST__SET_ENTRY__INIT;
	Atomblk__Target__V1__SetLabelsRequest__SetEntry *ep = &e;
	char text[STALELEG_TEXT_MAX];
	ProtobufCMessage *resp = NULL;
	grpc_status_code code;
	char *details = NULL;
	int r;

	staleleg_format(mask, text);
	e.key = STALELEG_LABEL;
	e.value = text;
	req.id = (char *)leg->replica;
	req.n_set = 1;
	req.set = &ep;
	code = target_call(conn, TARGET_SET_LABELS, &req.base, &resp, &details,
			   STALEMARK_TIMEOUT_MS);
	r = call_errno(code);
	if (code == GRPC_STATUS_UNIMPLEMENTED)
		snprintf(msg, msg_size,
			 "storage node %s is older than target API v2 (no SetLabels)", leg->node);
	else if (r < 0)
		snprintf(msg, msg_size, "SetLabels on %s: %s", leg->node,
			 details ? details : "failed");
	free(details);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return r;
}

int stalemark_read(struct stalemark *sm, const struct stalemark_leg *leg, unsigned int nlegs,
		   unsigned int *ret_mask, char *msg, size_t msg_size)
{
	struct target_conn *conn;
	char *text;
	int r;

	*ret_mask = 0;
	r = conn_open(sm, leg, &conn, msg, msg_size);
	if (r < 0)
		return r;
	r = label_get(conn, leg, &text, msg, msg_size);
	target_conn_free(conn);
	if (r < 0)
		return r;
	if (staleleg_parse(text, nlegs, ret_mask) < 0) {
		snprintf(msg, msg_size,
			 "replica %s on %s: label " STALELEG_LABEL " \"%.32s\" is not a "
			 "list of leg indexes below %u",
			 leg->replica, leg->node, text, nlegs);
		r = -EBADMSG;
	}
	free(text);
	return r;
}

/*
 * Add @mask to leg @leg's replica's label (read, union, write when it
 * changes): a mark there is never lost. *@ret_has: what it carries now.
 */
static int label_merge(struct stalemark *sm, const struct stalemark_leg *leg, unsigned int nlegs,
		       unsigned int mask, unsigned int *ret_has, char *msg, size_t msg_size)
{
	struct target_conn *conn;
	unsigned int has = 0;
	char *text = NULL;
	int r;

	r = conn_open(sm, leg, &conn, msg, msg_size);
	if (r < 0)
		return r;
	r = label_get(conn, leg, &text, msg, msg_size);
	if (r == 0 && staleleg_parse(text, nlegs, &has) < 0) {
		log_warn("a malformed stale-legs label is replaced",
			 "node=%s replica=%s value=\"%.32s\"", leg->node, leg->replica, text);
		has = 0;
	}
	if (r == 0 && (has | mask) != has)
		r = label_set(conn, leg, has | mask, msg, msg_size);
	target_conn_free(conn);
	free(text);
	if (r == 0)
		*ret_has = has | mask;
	return r;
}

/*
 * Deliver the stale mask to every replica that lacks it. A replica that
 * is gone (deleted with its volume) needs no mark. Called with sm->lock.
 */
static void record_deliver(struct stalemark *sm, const char *id, struct mark_record *m)
{
	char text[STALELEG_TEXT_MAX], why[512];
	bool failed = false;
	unsigned int has;
	int r;

	staleleg_format(m->stale, text);
	for (unsigned int i = 0; i < m->nlegs; i++) {
		if (!record_leg_pending(m, i))
			continue;
		r = label_merge(sm, &m->legs[i], m->nlegs, m->stale, &has, why, sizeof(why));
		if (r == 0) {
			m->marked[i] = (int)has;
			log_info("stale legs marked on a replica",
				 "volume_id=%s leg=%u node=%s replica=%s stale_legs=%s", id, i,
				 m->legs[i].node, m->legs[i].replica, text);
		} else if (r == -ENOENT) {
			m->marked[i] = (int)m->stale;
			log_info("replica gone: no stale-legs mark needed",
				 "volume_id=%s leg=%u node=%s "
				 "replica=%s",
				 id, i, m->legs[i].node, m->legs[i].replica);
		} else {
			failed = true;
			log_warn("stale-legs mark not delivered; kept and retried",
				 "volume_id=%s leg=%u node=%s stale_legs=%s error=\"%s\"", id, i,
				 m->legs[i].node, text, why);
		}
	}
	m->retry_at = failed ? (long long)time(NULL) + STALEMARK_RETRY_SECS : 0;
}

/* Store @m, or drop it when it is neither watched nor pending. Called with sm->lock. */
static void record_save(struct stalemark *sm, const char *id, const struct mark_record *m)
{
	int r;

	if (!m->watched && !record_pending(m))
		r = journal_remove(sm->journal, id);
	else
		r = record_store(sm, id, m);
	if (r < 0)
		log_error("stale-legs journal not written", "volume_id=%s error=\"%s\"", id,
			  strerror(-r));
}

/* ---- the node's calls ------------------------------------------------------------ */

unsigned int stalemark_known(struct stalemark *sm, const char *id)
{
	struct mark_record m;

	return record_load(sm, id, &m) == 0 ? m.stale : 0;
}

int stalemark_watch(struct stalemark *sm, const char *id, const struct stalemark_leg *legs,
		    unsigned int nlegs, unsigned int stale, const int *marks)
{
	struct mark_record m, old;
	bool had;
	int r;

	if (!nlegs || nlegs > VOLCTX_LEGS_MAX)
		return -EINVAL;
	pthread_mutex_lock(&sm->lock);
	had = record_load(sm, id, &old) == 0 && old.nlegs == nlegs;
	memset(&m, 0, sizeof(m));
	m.nlegs = nlegs;
	m.stale = stale | (had ? old.stale : 0);
	m.watched = true;
	for (unsigned int i = 0; i < nlegs; i++) {
		m.legs[i] = legs[i];
		m.marked[i] = marks && marks[i] >= 0 ? marks[i] : had ? old.marked[i] : -1;
	}
	/* journal first: the mark survives a crash before it is delivered */
	r = record_store(sm, id, &m);
	if (r == 0) {
		if (record_pending(&m))
			record_deliver(sm, id, &m);
		record_save(sm, id, &m);
		r = (int)record_pending(&m);
	}
	pthread_mutex_unlock(&sm->lock);
	return r;
}

/* The client's faulty legs of @id as a mask; -errno (-ENOENT: not assembled). */
static int faulty_legs(const char *id, unsigned int nlegs, unsigned int *ret)
{
	struct atomblk_status status;
	int r;

	r = volctl_status(id, &status);
	if (r < 0)
		return r;
	*ret = 0;
	if (status.layout != ATOMBLK_LAYOUT_MIRROR || status.nr_legs != nlegs)
		return -EINVAL;
	for (unsigned int i = 0; i < status.nr_legs; i++)
		if (status.legs[i].state == ATOMBLK_LEG_FAULTY)
			*ret |= 1u << i;
	return 0;
}

/* The body of stalemark_check() and of the monitor's rounds; called with sm->lock. */
static void check_locked(struct stalemark *sm, const char *id, unsigned int *ret_stale)
{
	struct mark_record m;
	unsigned int faulty, fresh;
	char text[STALELEG_TEXT_MAX];

	if (record_load(sm, id, &m) < 0)
		return;
	if (m.watched && faulty_legs(id, m.nlegs, &faulty) == 0 && (fresh = faulty & ~m.stale)) {
		m.stale |= fresh;
		staleleg_format(fresh, text);
		log_warn("mirror leg faulty: it misses writes from now on and is marked stale",
			 "volume_id=%s legs=%s", id, text);
		/* journal first, then the replicas */
		if (record_store(sm, id, &m) == 0)
			record_deliver(sm, id, &m);
		record_save(sm, id, &m);
	} else if (record_pending(&m) && time(NULL) >= m.retry_at) {
		record_deliver(sm, id, &m);
		record_save(sm, id, &m);
	} else if (!m.watched && !record_pending(&m)) {
		record_save(sm, id, &m); /* drops it */
	}
	if (ret_stale)
		*ret_stale = m.stale;
}

void stalemark_check(struct stalemark *sm, const char *id, bool wait, unsigned int *ret_stale)
{
	if (ret_stale)
		*ret_stale = stalemark_known(sm, id);
	if (!wait ? pthread_mutex_trylock(&sm->lock) != 0 : pthread_mutex_lock(&sm->lock) != 0)
		return;
	check_locked(sm, id, ret_stale);
	pthread_mutex_unlock(&sm->lock);
}

void stalemark_unwatch(struct stalemark *sm, const char *id)
{
	struct mark_record m;

	pthread_mutex_lock(&sm->lock);
	if (record_load(sm, id, &m) == 0) {
		m.watched = false;
		record_save(sm, id, &m);
	}
	pthread_mutex_unlock(&sm->lock);
}

/* ---- the monitor --------------------------------------------------------------------- */

static void *monitor_main(void *arg)
{
	struct stalemark *sm = arg;
	struct timespec until;
	json_t *keys, *key;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&sm->stop_lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += sm->interval_ms / 1000;
		until.tv_nsec += (long)(sm->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!sm->stop &&
		       pthread_cond_timedwait(&sm->stop_cond, &sm->stop_lock, &until) == 0)
			;
		if (sm->stop) {
			pthread_mutex_unlock(&sm->stop_lock);
			return NULL;
		}
		pthread_mutex_unlock(&sm->stop_lock);
		if (journal_count(sm->journal) == 0 || journal_keys(sm->journal, &keys) < 0)
			continue;
		json_array_foreach(keys, i, key) {
			pthread_mutex_lock(&sm->lock);
			check_locked(sm, json_string_value(key), NULL);
			pthread_mutex_unlock(&sm->lock);
		}
		json_decref(keys);
	}
}

int stalemark_new(const struct stalemark_config *cfg, struct stalemark **ret)
{
	pthread_condattr_t attr;
	struct stalemark *sm;
	int r;

	sm = calloc(1, sizeof(*sm));
	if (!sm)
		return -ENOMEM;
	snprintf(sm->node_id, sizeof(sm->node_id), "%s", cfg->node_id ? cfg->node_id : "");
	sm->tls = cfg->tls;
	sm->local_fn = cfg->local_fn;
	sm->local = cfg->local;
	sm->interval_ms = cfg->interval_ms;
	pthread_mutex_init(&sm->lock, NULL);
	pthread_mutex_init(&sm->stop_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&sm->stop_cond, &attr);
	pthread_condattr_destroy(&attr);
	r = journal_open(cfg->journal_path, &sm->journal);
	if (r == 0 && cfg->interval_ms) {
		r = -pthread_create(&sm->thread, NULL, monitor_main, sm);
		sm->running = r == 0;
	}
	if (r < 0) {
		stalemark_free(sm);
		return r;
	}
	*ret = sm;
	return 0;
}

struct stalemark *stalemark_free(struct stalemark *sm)
{
	if (!sm)
		return NULL;
	if (sm->running) {
		pthread_mutex_lock(&sm->stop_lock);
		sm->stop = true;
		pthread_cond_signal(&sm->stop_cond);
		pthread_mutex_unlock(&sm->stop_lock);
		pthread_join(sm->thread, NULL);
	}
	journal_free(sm->journal);
	pthread_cond_destroy(&sm->stop_cond);
	pthread_mutex_destroy(&sm->stop_lock);
	pthread_mutex_destroy(&sm->lock);
	free(sm);
	return NULL;
}
