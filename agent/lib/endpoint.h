/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Endpoint specifications as users write them (flags, CSI_ENDPOINT) turned
 * into what the socket code and grpc need. Shared by the agent and atomctl.
 */
#ifndef ATOMBLK_ENDPOINT_H
#define ATOMBLK_ENDPOINT_H

enum endpoint_kind {
	ENDPOINT_UNIX,
	ENDPOINT_TCP,
};

struct endpoint {
	enum endpoint_kind kind;
	char path[108]; /* unix socket path (absolute), "" for TCP */
	char target[320]; /* grpc address: "unix:/abs/path" or "host:port" */
};

/*
 * endpoint_parse() - parse an endpoint specification.
 * @spec: "unix:///abs/path", "unix:/abs/path", "/abs/path", "tcp://host:port",
 *	"host:port" or "[v6addr]:port".
 * @ret: filled in on success.
 *
 * Return: 0, or -EINVAL for an empty spec, a relative or over-long (more than
 * 107 bytes) unix path, a missing or invalid port, an empty host, an
 * unbracketed IPv6 address, or an unknown scheme.
 */
int endpoint_parse(const char *spec, struct endpoint *ret);

#endif
