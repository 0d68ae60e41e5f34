// SPDX-License-Identifier: GPL-2.0
/*
 * atomctl — the atomblk operator CLI.
 *
 *   atomctl [--endpoint E] [--timeout SECS] csi <Method> [JSON|-]
 *
 * calls any CSI method of a running agent (or any CSI plugin) with a JSON
 * request and prints the reply as JSON. Further commands (status, upgrade,
 * rollback) plug into the command table below.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "csi.pb-c.h"
#include "lib/endpoint.h"
#include "lib/pbjson.h"
#include "lib/rpc_client.h"
#include "lib/status.h"

/* Exit codes: scripts may rely on these. */
#define EXIT_LOCAL_FAILURE 1 /* could not run the call or decode the reply */
#define EXIT_USAGE 2 /* bad arguments or request; no call was made */
#define EXIT_STATUS_BASE 10 /* the call returned gRPC status N != OK: exit 10 + N */

#define DEFAULT_ENDPOINT "unix:///csi/csi.sock"
#define DEFAULT_TIMEOUT_SECS 30.0

struct atomctl_opts {
	const char *endpoint; /* --endpoint, else $CSI_ENDPOINT, else DEFAULT_ENDPOINT */
	double timeout_secs; /* --timeout; 0 = no deadline */
};

struct atomctl_command {
	const char *name;
	int (*run)(const struct atomctl_opts *opts, int argc, char **argv);
	const char *args; /* usage synopsis after the command name */
	const char *help; /* one line */
};

static const ProtobufCServiceDescriptor *const csi_services[] = {
	&csi__v1__identity__descriptor,
	&csi__v1__controller__descriptor,
	&csi__v1__group_controller__descriptor,
	&csi__v1__snapshot_metadata__descriptor,
	&csi__v1__node__descriptor,
};

#define N_CSI_SERVICES (sizeof(csi_services) / sizeof(csi_services[0]))

/* "csi.v1.Identity" -> "Identity" */
static const char *service_short_name(const ProtobufCServiceDescriptor *s)
{
	const char *dot = strrchr(s->name, '.');

	return dot ? dot + 1 : s->name;
}

/*
 * Find a CSI method by "Probe", "Identity.Probe", "csi.v1.Identity.Probe" or
 * "/csi.v1.Identity/Probe" (case-insensitive; CSI method names are unique
 * across its services).
 */
static const ProtobufCMethodDescriptor *
csi_method_find(const char *spec, const ProtobufCServiceDescriptor **ret_service)
{
	for (size_t i = 0; i < N_CSI_SERVICES; i++) {
		const ProtobufCServiceDescriptor *s = csi_services[i];

		for (unsigned int j = 0; j < s->n_methods; j++) {
			const ProtobufCMethodDescriptor *m = &s->methods[j];
			char full[256], dotted[256], path[256];

			snprintf(full, sizeof(full), "%s.%s", service_short_name(s), m->name);
			snprintf(dotted, sizeof(dotted), "%s.%s", s->name, m->name);
			snprintf(path, sizeof(path), "/%s/%s", s->name, m->name);
			if (!strcasecmp(spec, m->name) || !strcasecmp(spec, full) ||
			    !strcasecmp(spec, dotted) || !strcasecmp(spec, path)) {
				*ret_service = s;
				return m;
			}
		}
	}
	return NULL;
}

static void csi_method_list(FILE *f)
{
	for (size_t i = 0; i < N_CSI_SERVICES; i++) {
		const ProtobufCServiceDescriptor *s = csi_services[i];

		for (unsigned int j = 0; j < s->n_methods; j++)
			fprintf(f, "%s.%s\n", service_short_name(s), s->methods[j].name);
	}
}

/* The request JSON: the argument, stdin for "-", or {} when absent. */
static json_t *read_request(const char *arg, const char *method)
{
	json_error_t jerr;
	json_t *j;

	if (!arg)
		return json_object();
	if (!strcmp(arg, "-"))
		j = json_loadf(stdin, 0, &jerr);
	else
		j = json_loads(arg, 0, &jerr);
	if (!j)
		fprintf(stderr, "atomctl: %s: invalid JSON request%s: %s (line %d, column %d)\n",
			method, !strcmp(arg, "-") ? " on stdin" : "", jerr.text, jerr.line,
			jerr.column);
	return j;
}

/* Pack a JSON request as message @desc; exit code on failure, 0 on success. */
static int pack_request(const ProtobufCMethodDescriptor *m, json_t *json, uint8_t **ret_buf,
			size_t *ret_len)
{
	char err[PBJSON_ERR_MAX];
	ProtobufCMessage *req = NULL;
	uint8_t *buf;
	size_t len;
	int r;

	r = pbjson_message_from_json(m->input, json, &req, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "atomctl: %s: bad request for %s: %s\n", m->name, m->input->name,
			r == -EINVAL ? err : strerror(-r));
		return r == -EINVAL ? EXIT_USAGE : EXIT_LOCAL_FAILURE;
	}
	len = protobuf_c_message_get_packed_size(req);
	buf = malloc(len ? len : 1);
	if (!buf) {
		pbjson_message_free(req);
		fprintf(stderr, "atomctl: %s: %s\n", m->name, strerror(ENOMEM));
		return EXIT_LOCAL_FAILURE;
	}
	protobuf_c_message_pack(req, buf);
	pbjson_message_free(req);
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/* Print a reply as pretty JSON on stdout; exit code. */
static int print_reply(const ProtobufCMethodDescriptor *m, const struct rpc_reply *reply)
{
	char err[PBJSON_ERR_MAX];
	ProtobufCMessage *msg;
	json_t *json = NULL;
	char *text;
	int r;

	msg = protobuf_c_message_unpack(m->output, NULL, reply->len, reply->data);
	if (!msg) {
		fprintf(stderr, "atomctl: %s: cannot decode the %zu-byte reply as %s\n", m->name,
			reply->len, m->output->name);
		return EXIT_LOCAL_FAILURE;
	}
	r = pbjson_message_to_json(msg, &json, err, sizeof(err));
	pbjson_message_free(msg);
	if (r < 0) {
		fprintf(stderr, "atomctl: %s: cannot print the reply: %s\n", m->name,
			r == -EINVAL ? err : strerror(-r));
		return EXIT_LOCAL_FAILURE;
	}
	text = json_dumps(json, JSON_INDENT(2) | JSON_ENCODE_ANY);
	json_decref(json);
	if (!text) {
		fprintf(stderr, "atomctl: %s: %s\n", m->name, strerror(ENOMEM));
		return EXIT_LOCAL_FAILURE;
	}
	printf("%s\n", text);
	free(text);
	return fflush(stdout) == 0 ? 0 : EXIT_LOCAL_FAILURE;
}

static void csi_usage(FILE *f)
{
	fprintf(f, "usage: atomctl [OPTIONS] csi <Method> [JSON|-]\n"
		   "       atomctl csi --list\n"
		   "Call a CSI method; JSON is the request (default {}), - reads it from stdin.\n"
		   "Method: Probe, Identity.Probe or /csi.v1.Identity/Probe.\n");
}

static int cmd_csi(const struct atomctl_opts *opts, int argc, char **argv)
{
	const ProtobufCServiceDescriptor *service;
	const ProtobufCMethodDescriptor *m;
	struct rpc_client *client = NULL;
	struct rpc_reply reply = { 0 };
	struct endpoint ep;
	char path[256];
	uint8_t *req = NULL;
	size_t req_len = 0;
	json_t *json;
	int r, code;

	if (argc >= 2 && (!strcmp(argv[1], "--list") || !strcmp(argv[1], "-l"))) {
		csi_method_list(stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		csi_usage(stdout);
		return 0;
	}
	if (argc < 2 || argc > 3) {
		csi_usage(stderr);
		return EXIT_USAGE;
	}
	m = csi_method_find(argv[1], &service);
	if (!m) {
		fprintf(stderr,
			"atomctl: unknown CSI method \"%s\" (atomctl csi --list shows them)\n",
			argv[1]);
		return EXIT_USAGE;
	}
	r = endpoint_parse(opts->endpoint, &ep);
	if (r < 0) {
		fprintf(stderr, "atomctl: invalid endpoint \"%s\"\n", opts->endpoint);
		return EXIT_USAGE;
	}

	json = read_request(argc == 3 ? argv[2] : NULL, m->name);
	if (!json)
		return EXIT_USAGE;
	code = pack_request(m, json, &req, &req_len);
	json_decref(json);
	if (code)
		return code;

	r = rpc_client_new(ep.target, &client);
	if (r < 0) {
		fprintf(stderr, "atomctl: %s: cannot open a channel to %s: %s\n", m->name,
			ep.target, strerror(-r));
		free(req);
		return EXIT_LOCAL_FAILURE;
	}
	snprintf(path, sizeof(path), "/%s/%s", service->name, m->name);
	r = rpc_client_call(client, path, req, req_len, (int64_t)(opts->timeout_secs * 1000 + 0.5),
			    &reply);
	free(req);
	if (r < 0) {
		fprintf(stderr, "atomctl: %s: call failed: %s\n", m->name, strerror(-r));
		code = EXIT_LOCAL_FAILURE;
	} else if (reply.status != GRPC_STATUS_OK) {
		fprintf(stderr, "atomctl: %s: %s: %s\n", m->name, status_name(reply.status),
			reply.details);
		code = EXIT_STATUS_BASE + reply.status;
	} else {
		code = print_reply(m, &reply);
	}
	rpc_reply_clear(&reply);
	rpc_client_free(client);
	return code;
}

static const struct atomctl_command commands[] = {
	{ "csi", cmd_csi, "<Method> [JSON|-]",
	  "call a CSI method with a JSON request, print the JSON reply" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: atomctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %-20s %s\n", commands[i].name, commands[i].args, commands[i].help);
	fprintf(f,
		"\nOptions:\n"
		"  -e, --endpoint E   agent endpoint: unix:///path, /path, host:port\n"
		"                     (default: $CSI_ENDPOINT, else " DEFAULT_ENDPOINT ")\n"
		"  -t, --timeout SECS call deadline in seconds, 0 for none (default: %g)\n"
		"  -h, --help         this text\n"
		"  -V, --version      print the version\n"
		"\nExit status:\n"
		"  0        success\n"
		"  1        local failure (cannot reach grpc, cannot decode the reply)\n"
		"  2        usage error or invalid request; nothing was sent\n"
		"  10 + N   the call ended with gRPC status N, e.g. 15 NOT_FOUND,\n"
		"           22 UNIMPLEMENTED, 24 UNAVAILABLE, 14 DEADLINE_EXCEEDED\n",
		DEFAULT_TIMEOUT_SECS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = { { "endpoint", required_argument, NULL, 'e' },
						   { "timeout", required_argument, NULL, 't' },
						   { "help", no_argument, NULL, 'h' },
						   { "version", no_argument, NULL, 'V' },
						   {} };
	struct atomctl_opts opts = {
		.endpoint = getenv("CSI_ENDPOINT"),
		.timeout_secs = DEFAULT_TIMEOUT_SECS,
	};
	char *end;
	int c;

	if (!opts.endpoint || !*opts.endpoint)
		opts.endpoint = DEFAULT_ENDPOINT;
	/* "+": options end at the command, whose own arguments may start with '-' */
	while ((c = getopt_long(argc, argv, "+e:t:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			opts.endpoint = optarg;
			break;
		case 't':
			errno = 0;
			opts.timeout_secs = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(opts.timeout_secs) ||
			    opts.timeout_secs < 0 || opts.timeout_secs > 86400 * 365) {
				fprintf(stderr, "atomctl: invalid --timeout \"%s\" (seconds)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("atomctl %s\n", ATOMBLK_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			return commands[i].run(&opts, argc - optind, argv + optind);
	fprintf(stderr, "atomctl: unknown command \"%s\" (atomctl --help lists them)\n",
		argv[optind]);
	return EXIT_USAGE;
}
