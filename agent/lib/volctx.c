// SPDX-License-Identifier: GPL-2.0
/*
 * volctx — see volctx.h. The volume context crosses a trust boundary
 * (kubelet hands it back verbatim, but anybody can write a PV), so parsing
 * checks every field and says which one is wrong. Unknown members of a leg
 * object are ignored so that a newer controller may add some; unknown keys
 * of the context itself are not ours to judge (the CO adds its own).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/volctx.h"

#define VOLCTX_HOLD_SECONDS_MAX 86400 /* one day; the controller's limit too */
#define VOLCTX_REPLICA_MAX 128 /* pool names: [A-Za-z0-9._-]{1,128} */

static const char *const transport_names[] = {
	[VOLCTX_TRANSPORT_AUTO] = "auto",
	[VOLCTX_TRANSPORT_TCP] = "tcp",
	[VOLCTX_TRANSPORT_RDMA] = "rdma",
};

const char *volctx_transport_name(enum volctx_transport t)
{
	if ((unsigned int)t >= sizeof(transport_names) / sizeof(transport_names[0]))
		return "?";
	return transport_names[t];
}

int volctx_transport_parse(const char *name, enum volctx_transport *ret)
{
	for (size_t i = 0; i < sizeof(transport_names) / sizeof(transport_names[0]); i++) {
		if (name && !strcmp(name, transport_names[i])) {
			*ret = (enum volctx_transport)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int bad(char *msg, size_t msg_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t msg_size, const char *fmt, ...)
{
	va_list ap;

	if (msg && msg_size) {
		va_start(ap, fmt);
		vsnprintf(msg, msg_size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A decimal number without sign, spaces or leading zeros, up to @max. */
static bool decimal_parse(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !s[0] || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return true;
}

static bool pool_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > VOLCTX_REPLICA_MAX || s[0] == '.')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       len;
}

static bool text_valid(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * Member @key of @obj as a string of at most @size - 1 bytes into @buf;
 * empty allowed only if @may_be_empty.
 */
static int member_string(json_t *obj, const char *key, char *buf, size_t size, bool may_be_empty,
			 const char *where, char *msg, size_t msg_size)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!v)
		return bad(msg, msg_size, VOLCTX_KEY_REPLICAS ": %s: \"%s\" is missing", where,
			   key);
	if (!json_is_string(v))
		return bad(msg, msg_size, VOLCTX_KEY_REPLICAS ": %s: \"%s\" is not a string", where,
			   key);
	s = json_string_value(v);
	if (!s[0] && !may_be_empty)
		return bad(msg, msg_size, VOLCTX_KEY_REPLICAS ": %s: \"%s\" is empty", where, key);
	if (strlen(s) >= size || strlen(s) != json_string_length(v) || !text_valid(s))
		return bad(msg, msg_size,
			   VOLCTX_KEY_REPLICAS
			   ": %s: \"%s\" is longer than %zu bytes or has control "
			   "characters",
			   where, key, size - 1);
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int address_parse(json_t *obj, const char *where, struct nvmet_address *ret, char *msg,
			 size_t msg_size)
{
	uint64_t port;
	int r;

	if (!json_is_object(obj))
		return bad(msg, msg_size, VOLCTX_KEY_REPLICAS ": %s is not an object", where);
	r = member_string(obj, "trtype", ret->trtype, sizeof(ret->trtype), false, where, msg,
			  msg_size);
	if (r == 0)
		r = member_string(obj, "adrfam", ret->adrfam, sizeof(ret->adrfam), false, where,
				  msg, msg_size);
	if (r == 0)
		r = member_string(obj, "traddr", ret->traddr, sizeof(ret->traddr), false, where,
				  msg, msg_size);
	if (r == 0)
		r = member_string(obj, "trsvcid", ret->trsvcid, sizeof(ret->trsvcid), false, where,
				  msg, msg_size);
	if (r < 0)
		return r;
	if (strcmp(ret->trtype, "tcp") && strcmp(ret->trtype, "rdma"))
		return bad(msg, msg_size,
			   VOLCTX_KEY_REPLICAS ": %s: trtype \"%s\" is not tcp or rdma", where,
			   ret->trtype);
	if (strcmp(ret->adrfam, "ipv4") && strcmp(ret->adrfam, "ipv6"))
		return bad(msg, msg_size,
			   VOLCTX_KEY_REPLICAS ": %s: adrfam \"%s\" is not ipv4 or ipv6", where,
			   ret->adrfam);
	if (!decimal_parse(ret->trsvcid, 65535, &port) || port == 0)
		return bad(msg, msg_size, VOLCTX_KEY_REPLICAS ": %s: trsvcid \"%s\" is not a port",
			   where, ret->trsvcid);
	return 0;
}

static int leg_parse(json_t *obj, size_t index, struct volctx_leg *ret, char *msg, size_t msg_size)
{
	char where[32], awhere[80];
	json_t *addrs;
	size_t i;
	int r;

	snprintf(where, sizeof(where), "leg %zu", index);
	if (!json_is_object(obj))
		return bad(msg, msg_size, VOLCTX_KEY_REPLICAS ": %s is not an object", where);
	memset(ret, 0, sizeof(*ret));
	r = member_string(obj, "node", ret->node, sizeof(ret->node), false, where, msg, msg_size);
	if (r == 0)
		r = member_string(obj, "target", ret->target, sizeof(ret->target), true, where, msg,
				  msg_size);
	if (r == 0)
		r = member_string(obj, "replica", ret->replica, sizeof(ret->replica), false, where,
				  msg, msg_size);
	if (r == 0)
		r = member_string(obj, "nqn", ret->nqn, sizeof(ret->nqn), false, where, msg,
				  msg_size);
	if (r < 0)
		return r;
	if (!pool_name_valid(ret->replica))
		return bad(msg, msg_size,
			   VOLCTX_KEY_REPLICAS ": %s: replica \"%s\" is not a replica id", where,
			   ret->replica);
	addrs = json_object_get(obj, "addresses");
	if (!json_is_array(addrs))
		return bad(msg, msg_size,
			   VOLCTX_KEY_REPLICAS ": %s: \"addresses\" is missing or not an array",
			   where);
	if (json_array_size(addrs) < 1 || json_array_size(addrs) > 2)
		return bad(msg, msg_size,
			   VOLCTX_KEY_REPLICAS ": %s: \"addresses\" must hold 1 or 2 addresses",
			   where);
	for (i = 0; i < json_array_size(addrs); i++) {
		snprintf(awhere, sizeof(awhere), "%s address %zu", where, i);
		r = address_parse(json_array_get(addrs, i), awhere, &ret->addrs[i], msg, msg_size);
		if (r < 0)
			return r;
	}
	ret->naddrs = i;
	return 0;
}

static int replicas_parse(const char *text, struct volctx *ret, char *msg, size_t msg_size)
{
	json_error_t error;
	json_t *array;
	size_t i, j;
	int r = 0;

	array = json_loads(text, JSON_REJECT_DUPLICATES, &error);
	if (!array)
		return bad(msg, msg_size, VOLCTX_KEY_REPLICAS " is not JSON: %s", error.text);
	if (!json_is_array(array)) {
		r = bad(msg, msg_size, VOLCTX_KEY_REPLICAS " is not a JSON array");
		goto out;
	}
	if (json_array_size(array) < 1 || json_array_size(array) > VOLCTX_LEGS_MAX) {
		r = bad(msg, msg_size, VOLCTX_KEY_REPLICAS " must list 1 to %d legs, not %zu",
			VOLCTX_LEGS_MAX, json_array_size(array));
		goto out;
	}
	for (i = 0; i < json_array_size(array); i++) {
		r = leg_parse(json_array_get(array, i), i, &ret->legs[i], msg, msg_size);
		if (r < 0)
			goto out;
		for (j = 0; j < i; j++) {
			if (!strcmp(ret->legs[j].node, ret->legs[i].node)) {
				r = bad(msg, msg_size,
					VOLCTX_KEY_REPLICAS
					": legs %zu and %zu are on the same node "
					"\"%s\"",
					j, i, ret->legs[i].node);
				goto out;
			}
		}
	}
	ret->nlegs = i;
out:
	json_decref(array);
	return r;
}

int volctx_parse(volctx_get_fn get, void *map, struct volctx *ret, char *msg, size_t msg_size)
{
	const char *layout, *size, *transport, *hold, *replicas;
	struct volctx v = {};
	uint64_t n;
	int r;

	if (msg && msg_size)
		msg[0] = '\0';
	replicas = get(map, VOLCTX_KEY_REPLICAS);
	if (!replicas)
		return -ENOENT;
	layout = get(map, VOLCTX_KEY_LAYOUT);
	size = get(map, VOLCTX_KEY_SIZE);
	transport = get(map, VOLCTX_KEY_TRANSPORT);
	hold = get(map, VOLCTX_KEY_HOLD);
	if (!layout)
		return bad(msg, msg_size, VOLCTX_KEY_LAYOUT " is missing");
	if (!strcmp(layout, "linear"))
		v.layout = ATOMBLK_LAYOUT_LINEAR;
	else if (!strcmp(layout, "mirror"))
		v.layout = ATOMBLK_LAYOUT_MIRROR;
	else
		return bad(msg, msg_size, VOLCTX_KEY_LAYOUT " \"%s\" is not linear or mirror",
			   layout);
	if (!size)
		return bad(msg, msg_size, VOLCTX_KEY_SIZE " is missing");
	if (!decimal_parse(size, INT64_MAX, &v.size) || v.size == 0 || v.size % 512)
		return bad(msg, msg_size,
			   VOLCTX_KEY_SIZE " \"%s\" is not a positive number of bytes (a multiple "
					   "of 512)",
			   size);
	if (!transport)
		return bad(msg, msg_size, VOLCTX_KEY_TRANSPORT " is missing");
	if (volctx_transport_parse(transport, &v.transport) < 0)
		return bad(msg, msg_size, VOLCTX_KEY_TRANSPORT " \"%s\" is not tcp, rdma or auto",
			   transport);
	if (!hold)
		return bad(msg, msg_size, VOLCTX_KEY_HOLD " is missing");
	if (!decimal_parse(hold, VOLCTX_HOLD_SECONDS_MAX, &n))
		return bad(msg, msg_size,
			   VOLCTX_KEY_HOLD " \"%s\" is not a number of seconds (0-%d)", hold,
			   VOLCTX_HOLD_SECONDS_MAX);
	v.hold_seconds = (unsigned int)n;
	r = replicas_parse(replicas, &v, msg, msg_size);
	if (r < 0)
		return r;
	if (v.layout == ATOMBLK_LAYOUT_LINEAR && v.nlegs != 1)
		return bad(msg, msg_size,
			   VOLCTX_KEY_LAYOUT " linear takes exactly one leg, " VOLCTX_KEY_REPLICAS
					     " lists %zu",
			   v.nlegs);
	if (v.layout == ATOMBLK_LAYOUT_MIRROR && v.nlegs < 2)
		return bad(msg, msg_size,
			   VOLCTX_KEY_LAYOUT " mirror takes 2 or 3 legs, " VOLCTX_KEY_REPLICAS
					     " lists %zu",
			   v.nlegs);
	*ret = v;
	return 0;
}

static json_t *address_json(const struct nvmet_address *a)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "trtype", a->trtype, "adrfam", a->adrfam, "traddr",
			 a->traddr, "trsvcid", a->trsvcid);
}

static json_t *leg_json(const struct volctx_leg *leg)
{
	json_t *addrs = json_array();

	if (!addrs)
		return NULL;
	for (size_t i = 0; i < leg->naddrs; i++) {
		if (json_array_append_new(addrs, address_json(&leg->addrs[i])) < 0) {
			json_decref(addrs);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "node", leg->node, "target", leg->target,
			 "replica", leg->replica, "nqn", leg->nqn, "addresses", addrs);
}

/* The same checks volctx_parse() makes, so that nothing unparsable is written. */
static bool volctx_valid(const struct volctx *v)
{
	if (v->layout == ATOMBLK_LAYOUT_LINEAR ? v->nlegs != 1 :
	    v->layout == ATOMBLK_LAYOUT_MIRROR ? v->nlegs < 2 || v->nlegs > VOLCTX_LEGS_MAX :
						 true)
		return false;
	if (!v->size || v->size % 512 || v->size > INT64_MAX ||
	    v->hold_seconds > VOLCTX_HOLD_SECONDS_MAX ||
	    !strcmp(volctx_transport_name(v->transport), "?"))
		return false;
	for (size_t i = 0; i < v->nlegs; i++) {
		const struct volctx_leg *leg = &v->legs[i];

		if (!leg->node[0] || !pool_name_valid(leg->replica) || !leg->nqn[0] ||
		    leg->naddrs < 1 || leg->naddrs > 2)
			return false;
	}
	return true;
}

int volctx_format(const struct volctx *v, const char *ret_keys[VOLCTX_KEYS],
		  char *ret_values[VOLCTX_KEYS])
{
	json_t *legs;
	char *values[VOLCTX_KEYS] = {};
	int i;

	if (!volctx_valid(v))
		return -EINVAL;
	legs = json_array();
	if (!legs)
		return -ENOMEM;
	for (size_t l = 0; l < v->nlegs; l++) {
		if (json_array_append_new(legs, leg_json(&v->legs[l])) < 0) {
			json_decref(legs);
			return -ENOMEM;
		}
	}
	values[0] = strdup(v->layout == ATOMBLK_LAYOUT_MIRROR ? "mirror" : "linear");
	if (asprintf(&values[1], "%" PRIu64, v->size) < 0)
		values[1] = NULL;
	values[2] = strdup(volctx_transport_name(v->transport));
	if (asprintf(&values[3], "%u", v->hold_seconds) < 0)
		values[3] = NULL;
	values[4] = json_dumps(legs, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(legs);
	for (i = 0; i < VOLCTX_KEYS; i++) {
		if (!values[i]) {
			for (i = 0; i < VOLCTX_KEYS; i++)
				free(values[i]);
			return -ENOMEM;
		}
	}
	ret_keys[0] = VOLCTX_KEY_LAYOUT;
	ret_keys[1] = VOLCTX_KEY_SIZE;
	ret_keys[2] = VOLCTX_KEY_TRANSPORT;
	ret_keys[3] = VOLCTX_KEY_HOLD;
	ret_keys[4] = VOLCTX_KEY_REPLICAS;
	for (i = 0; i < VOLCTX_KEYS; i++)
		ret_values[i] = values[i];
	return VOLCTX_KEYS;
}
