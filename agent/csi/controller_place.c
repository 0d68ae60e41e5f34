// SPDX-License-Identifier: GPL-2.0
/*
 * controller_place — see controller_place.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "csi/controller_place.h"

#define CO_PARAMETER_PREFIX "csi.storage.k8s.io/"

static int bad(int err, char *msg, size_t msg_size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad(int err, char *msg, size_t msg_size, const char *fmt, ...)
{
	va_list ap;

	if (msg && msg_size) {
		va_start(ap, fmt);
		vsnprintf(msg, msg_size, fmt, ap);
		va_end(ap);
	}
	return err;
}

void ctrl_id_from_name(const char *prefix, const char *name, char ret[CTRL_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)name, strlen(name), digest);
	memcpy(ret, prefix, 2);
	for (size_t i = 0; i < CTRL_ID_HEX / 2; i++) {
		ret[2 + 2 * i] = hex[digest[i] >> 4];
		ret[3 + 2 * i] = hex[digest[i] & 0xf];
	}
	ret[CTRL_ID_LEN] = '\0';
}

bool ctrl_id_valid(const char *prefix, const char *id)
{
	return id && strlen(id) == CTRL_ID_LEN && !strncmp(id, prefix, 2) &&
	       strspn(id + 2, "0123456789abcdef") == CTRL_ID_HEX;
}

/* A decimal number in [@min, @max], no sign, spaces or leading zeros. */
static bool number_parse(const char *s, unsigned int min, unsigned int max, unsigned int *ret)
{
	unsigned long v = 0;

	if (!s || !s[0] || (s[0] == '0' && s[1]) || strlen(s) > 9)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > max)
		return false;
	*ret = (unsigned int)v;
	return true;
}

int ctrl_params_parse(const struct ctrl_kv *kv, size_t n, struct ctrl_params *ret, char *msg,
		      size_t msg_size)
{
	struct ctrl_params p = {
		.replicas = 1,
		.transport = VOLCTX_TRANSPORT_AUTO,
		.hold_seconds = CTRL_HOLD_SECONDS_DEFAULT,
	};

	for (size_t i = 0; i < n; i++) {
		const char *key = kv[i].key, *value = kv[i].value ? kv[i].value : "";

		if (!strcmp(key, "replicas")) {
			if (!number_parse(value, 1, CTRL_REPLICAS_MAX, &p.replicas))
				return bad(-EINVAL, msg, msg_size,
					   "parameter replicas \"%s\" is not 1, 2 or 3", value);
		} else if (!strcmp(key, "transport")) {
			if (volctx_transport_parse(value, &p.transport) < 0)
				return bad(-EINVAL, msg, msg_size,
					   "parameter transport \"%s\" is not tcp, rdma or auto",
					   value);
		} else if (!strcmp(key, "holdSeconds")) {
			if (!number_parse(value, 0, CTRL_HOLD_SECONDS_MAX, &p.hold_seconds))
				return bad(
					-EINVAL, msg, msg_size,
					"parameter holdSeconds \"%s\" is not a number of seconds "
					"(0-%d)",
					value, CTRL_HOLD_SECONDS_MAX);
		} else if (strncmp(key, CO_PARAMETER_PREFIX, strlen(CO_PARAMETER_PREFIX))) {
			return bad(-EINVAL, msg, msg_size,
				   "unknown parameter \"%s\" (known: replicas, transport, "
				   "holdSeconds)",
				   key);
		}
	}
	*ret = p;
	return 0;
}

static uint64_t align_up(uint64_t v)
{
	return (v + CTRL_SIZE_ALIGN - 1) / CTRL_SIZE_ALIGN * CTRL_SIZE_ALIGN;
}

int ctrl_size_pick(int64_t required, int64_t limit, uint64_t minimum, uint64_t *ret, char *msg,
		   size_t msg_size)
{
	uint64_t size;

	if (required < 0 || limit < 0)
		return bad(-EINVAL, msg, msg_size, "capacity_range has a negative size");
	if (limit && required > limit)
		return bad(-EINVAL, msg, msg_size,
			   "capacity_range: required_bytes %" PRId64
			   " exceeds limit_bytes %" PRId64,
			   required, limit);
	if (minimum > (uint64_t)INT64_MAX - CTRL_SIZE_ALIGN)
		return bad(-ERANGE, msg, msg_size, "the source is too large");
	if (required) {
		size = (uint64_t)required > minimum ? (uint64_t)required : minimum;
		if (size > (uint64_t)INT64_MAX - CTRL_SIZE_ALIGN)
			return bad(-ERANGE, msg, msg_size,
				   "required_bytes %" PRId64 " is too large", required);
		size = align_up(size);
	} else {
		size = align_up(minimum > CTRL_SIZE_DEFAULT ? minimum : CTRL_SIZE_DEFAULT);
		if (limit && size > (uint64_t)limit)
			size = (uint64_t)limit / CTRL_SIZE_ALIGN * CTRL_SIZE_ALIGN;
	}
	if (limit && size > (uint64_t)limit)
		return bad(-ERANGE, msg, msg_size,
			   "no multiple of %llu bytes lies between required_bytes %" PRId64
			   " and limit_bytes %" PRId64,
			   CTRL_SIZE_ALIGN, required, limit);
	if (!size || size < minimum)
		return bad(-ERANGE, msg, msg_size,
			   "limit_bytes %" PRId64 " is below the source's size %" PRIu64, limit,
			   minimum);
	*ret = size;
	return 0;
}

bool ctrl_size_in_range(uint64_t size, int64_t required, int64_t limit)
{
	return (required <= 0 || size >= (uint64_t)required) &&
	       (limit <= 0 || size <= (uint64_t)limit);
}

bool ctrl_segment_matches(const struct ctrl_segment *node, const struct ctrl_segment *segment)
{
	for (size_t i = 0; i < segment->n; i++) {
		bool found = false;

		for (size_t j = 0; j < node->n && !found; j++)
			found = !strcmp(node->kv[j].key, segment->kv[i].key) &&
				!strcmp(node->kv[j].value, segment->kv[i].value);
		if (!found)
			return false;
	}
	return true;
}

struct ranked {
	size_t index;
	size_t preference; /* index of the first preferred segment matched; npreferred if none */
	const struct ctrl_candidate *cand;
};

static int ranked_compare(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	if (x->cand->available != y->cand->available)
		return x->cand->available > y->cand->available ? -1 : 1;
	return strcmp(x->cand->node_id, y->cand->node_id);
}

int ctrl_place(const struct ctrl_candidate *cands, size_t n, const struct ctrl_segment *requisite,
	       size_t nrequisite, const struct ctrl_segment *preferred, size_t npreferred,
	       uint64_t size, unsigned int want, size_t *ret, size_t *ret_qualified)
{
	struct ranked *r = calloc(n ? n : 1, sizeof(*r));
	size_t q = 0, i, j;

	if (!r)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		bool ok = nrequisite == 0;

		if (!cands[i].eligible || cands[i].available < size)
			continue;
		for (j = 0; j < nrequisite && !ok; j++)
			ok = ctrl_segment_matches(&cands[i].topology, &requisite[j]);
		if (!ok)
			continue;
		r[q].index = i;
		r[q].cand = &cands[i];
		r[q].preference = npreferred;
		for (j = 0; j < npreferred; j++) {
			if (ctrl_segment_matches(&cands[i].topology, &preferred[j])) {
				r[q].preference = j;
				break;
			}
		}
		q++;
	}
	if (ret_qualified)
		*ret_qualified = q;
	if (q < want) {
		free(r);
		return -ENOSPC;
	}
	qsort(r, q, sizeof(*r), ranked_compare);
	for (i = 0; i < want; i++)
		ret[i] = r[i].index;
	free(r);
	return (int)want;
}

static int u64_descending(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x > y ? -1 : x < y ? 1 : 0;
}

void ctrl_capacity(const uint64_t *available, size_t n, unsigned int replicas,
		   uint64_t *ret_available, uint64_t *ret_max)
{
	uint64_t sum = 0, *sorted;

	*ret_available = 0;
	*ret_max = 0;
	if (!n || !replicas)
		return;
	for (size_t i = 0; i < n; i++)
		sum = sum + available[i] < sum ? UINT64_MAX : sum + available[i];
	*ret_available = sum / replicas;
	if (n < replicas)
		return;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return;
	memcpy(sorted, available, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), u64_descending);
	*ret_max = sorted[replicas - 1];
	free(sorted);
}

int ctrl_page(const char *const *ids, size_t n, int32_t max_entries, const char *token,
	      const char *prefix, size_t *ret_start, size_t *ret_count, const char **ret_next)
{
	size_t start = 0, count;

	if (max_entries < 0)
		return -EINVAL;
	if (token && token[0]) {
		if (!ctrl_id_valid(prefix, token))
			return -ENOENT;
		while (start < n && strcmp(ids[start], token) < 0)
			start++;
	}
	count = n - start;
	if (max_entries && count > (size_t)max_entries)
		count = (size_t)max_entries;
	*ret_start = start;
	*ret_count = count;
	*ret_next = start + count < n ? ids[start + count] : NULL;
	return 0;
}
