// SPDX-License-Identifier: GPL-2.0
/* Stale mirror legs from replica labels; see staleleg.h. */
#include "lib/staleleg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define STALELEG_LEGS_MAX 8

int staleleg_parse(const char *text, unsigned int nlegs, unsigned int *ret_mask)
{
	unsigned int mask = 0;
	const char *p = text;

	*ret_mask = 0;
	if (!text || !*text)
		return 0;
	if (nlegs > STALELEG_LEGS_MAX)
		return -EINVAL;
	for (;;) {
		unsigned int leg;

		/* one digit per index: legs are 0-7 */
		if (*p < '0' || *p > '9')
			return -EINVAL;
		leg = (unsigned int)(*p++ - '0');
		if (leg >= nlegs || (mask & (1u << leg)))
			return -EINVAL;
		mask |= 1u << leg;
		if (!*p)
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	*ret_mask = mask;
	return 0;
}

void staleleg_format(unsigned int mask, char buf[STALELEG_TEXT_MAX])
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < STALELEG_LEGS_MAX && len + 3 < STALELEG_TEXT_MAX; i++)
		if (mask & (1u << i))
			len += (size_t)snprintf(buf + len, STALELEG_TEXT_MAX - len, "%s%u",
						len ? "," : "", i);
}

void staleleg_list(unsigned int mask, char *buf, size_t size)
{
	size_t len = 0;

	if (!size)
		return;
	buf[0] = '\0';
	for (unsigned int i = 0; i < STALELEG_LEGS_MAX; i++) {
		int n;

		if (!(mask & (1u << i)))
			continue;
		n = snprintf(buf + len, size - len, "%sleg %u", len ? ", " : "", i);
		if (n < 0 || (size_t)n >= size - len)
			return;
		len += (size_t)n;
	}
}

void staleleg_plan(unsigned int nlegs, unsigned int read, const unsigned int *marks,
		   unsigned int known, struct staleleg_plan *ret)
{
	unsigned int all = nlegs >= 32 ? ~0u : (1u << nlegs) - 1, stale = known;

	for (unsigned int i = 0; i < nlegs; i++)
		if (read & (1u << i))
			stale |= marks[i];
	stale &= all;
	ret->stale = stale;
	ret->connect = all & ~stale;
	if (!stale || (ret->connect & read))
		ret->verdict = STALELEG_STAGE;
	else if (!ret->connect)
		ret->verdict = STALELEG_SPLIT;
	else
		ret->verdict = STALELEG_WAIT;
}
