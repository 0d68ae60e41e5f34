// SPDX-License-Identifier: GPL-2.0
/* Endpoint specification parsing; see endpoint.h. */
#include "lib/endpoint.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define UNIX_PATH_MAX_LEN 107 /* sizeof(sun_path) - 1 */

static int endpoint_parse_unix(const char *path, struct endpoint *ret)
{
	size_t len = strlen(path);

	if (path[0] != '/' || len > UNIX_PATH_MAX_LEN)
		return -EINVAL;
	ret->kind = ENDPOINT_UNIX;
	memcpy(ret->path, path, len + 1);
	snprintf(ret->target, sizeof(ret->target), "unix:%s", path);
	return 0;
}

static bool port_is_valid(const char *port)
{
	unsigned long value = 0;

	if (!*port || strlen(port) > 5)
		return false;
	for (const char *c = port; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return false;
		value = value * 10 + (unsigned long)(*c - '0');
	}
	return value >= 1 && value <= 65535;
}

/* "host:port" or "[v6]:port"; the host must not be empty. */
static int endpoint_parse_tcp(const char *hostport, struct endpoint *ret)
{
	const char *colon;

	if (strlen(hostport) >= sizeof(ret->target))
		return -EINVAL;
	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');

		if (!close || close == hostport + 1 || close[1] != ':')
			return -EINVAL;
		colon = close + 1;
	} else {
		colon = strchr(hostport, ':');
		if (!colon || colon == hostport || strchr(colon + 1, ':'))
			return -EINVAL; /* no port, no host, or a bare IPv6 address */
		for (const char *c = hostport; c < colon; c++)
			if (isspace((unsigned char)*c) || *c == '/')
				return -EINVAL;
	}
	if (!port_is_valid(colon + 1))
		return -EINVAL;
	ret->kind = ENDPOINT_TCP;
	ret->path[0] = '\0';
	strcpy(ret->target, hostport);
	return 0;
}

int endpoint_parse(const char *spec, struct endpoint *ret)
{
	struct endpoint ep = {};
	int r;

	if (!spec || !*spec)
		return -EINVAL;
	if (!strncmp(spec, "unix://", 7))
		r = endpoint_parse_unix(spec + 7, &ep); /* only an empty authority */
	else if (!strncmp(spec, "unix:", 5))
		r = endpoint_parse_unix(spec + 5, &ep);
	else if (spec[0] == '/')
		r = endpoint_parse_unix(spec, &ep);
	else if (!strncmp(spec, "tcp://", 6))
		r = endpoint_parse_tcp(spec + 6, &ep);
	else if (strstr(spec, "://"))
		r = -EINVAL; /* some other scheme */
	else
		r = endpoint_parse_tcp(spec, &ep);
	if (r < 0)
		return r;
	*ret = ep;
	return 0;
}
