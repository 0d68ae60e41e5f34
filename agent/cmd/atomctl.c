// SPDX-License-Identifier: GPL-2.0
/*
 * atomctl — the atomblk operator CLI.
 *
 *   atomctl [--endpoint E] [--timeout SECS] csi <Method> [JSON|-]
 *
 * calls any CSI method of a running agent (or any CSI plugin) with a JSON
 * request and prints the reply as JSON.
 *
 *   atomctl target [--address HOST:PORT] [--tls-dir DIR] <Method> [JSON|-]
 *
 * calls a method of a storage node's target API (proto/target.proto) over
 * mutual TLS, with this node's certificate (the agent's --tls-dir).
 *
 *   atomctl status [--json]
 *   atomctl upgrade --client PATH [--params P]
 *   atomctl rollback
 *
 * work on the node itself, with or without a running agent: status reads
 * sysfs, the client's control device and the upgrade journal; upgrade and
 * rollback run the agent's own sequence (lib/upgrade.h) under the same lock.
 * Their options: --state-dir, --run-dir, --modules-dir (as the agent's).
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
#include "target.pb-c.h"
#include "lib/atomsys.h"
#include "lib/config.h"
#include "lib/endpoint.h"
#include "lib/journal.h"
#include "lib/kmods.h"
#include "lib/pbjson.h"
#include "lib/rpc_client.h"
#include "lib/status.h"
#include "lib/target_client.h"
#include "lib/tls.h"
#include "lib/upgrade.h"
#include "lib/volctl.h"

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

/*
 * One call of @m (of @service) with the packed request, its outcome on
 * stdout/stderr; the exit code (EXIT_STATUS_BASE + the gRPC status when it
 * is not OK).
 */
static int call_and_print(const struct atomctl_opts *opts, struct rpc_client *client,
			  const ProtobufCServiceDescriptor *service,
			  const ProtobufCMethodDescriptor *m, const uint8_t *req, size_t req_len)
{
	struct rpc_reply reply = { 0 };
	char path[256];
	int r, code;

	snprintf(path, sizeof(path), "/%s/%s", service->name, m->name);
	r = rpc_client_call(client, path, req, req_len, (int64_t)(opts->timeout_secs * 1000 + 0.5),
			    &reply);
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
	return code;
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
	struct endpoint ep;
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
	code = call_and_print(opts, client, service, m, req, req_len);
	free(req);
	rpc_client_free(client);
	return code;
}

/* --- target: the storage nodes' API -------------------------------------------------- */

#define TARGET_DEFAULT_ADDRESS "127.0.0.1:9810"

static void target_usage(FILE *f)
{
	fprintf(f,
		"usage: atomctl [--timeout SECS] target [--address HOST:PORT] [--tls-dir DIR] <Method> [JSON|-]\n"
		"       atomctl target --list\n"
		"Call a method of a storage node's target API (mutual TLS); JSON is the\n"
		"request (default {}), - reads it from stdin.\n"
		"  --address HOST:PORT  the node's --target-endpoint (default: $ATOMBLK_TARGET_ENDPOINT,\n"
		"                       else " TARGET_DEFAULT_ADDRESS ")\n"
		"  --tls-dir DIR        ca.crt, tls.crt, tls.key (default: $ATOMBLK_TLS_DIR,\n"
		"                       else " CONFIG_DEFAULT_TLS_DIR ")\n"
		"Method: GetInfo, Target.GetInfo or /atomblk.target.v1.Target/GetInfo.\n");
}

/* "GetInfo", "Target.GetInfo", "atomblk.target.v1.Target.GetInfo" or the path. */
static const ProtobufCMethodDescriptor *target_method_find(const char *spec)
{
	const ProtobufCServiceDescriptor *s = &atomblk__target__v1__target__descriptor;

	for (unsigned int j = 0; j < s->n_methods; j++) {
		const ProtobufCMethodDescriptor *m = &s->methods[j];
		char full[256], dotted[256], path[256];

		snprintf(full, sizeof(full), "%s.%s", service_short_name(s), m->name);
		snprintf(dotted, sizeof(dotted), "%s.%s", s->name, m->name);
		snprintf(path, sizeof(path), "/%s/%s", s->name, m->name);
		if (!strcasecmp(spec, m->name) || !strcasecmp(spec, full) ||
		    !strcasecmp(spec, dotted) || !strcasecmp(spec, path))
			return m;
	}
	return NULL;
}

static int cmd_target(const struct atomctl_opts *opts, int argc, char **argv)
{
	static const struct option long_opts[] = { { "address", required_argument, NULL, 'a' },
						   { "tls-dir", required_argument, NULL, 'd' },
						   { "list", no_argument, NULL, 'l' },
						   { "help", no_argument, NULL, 'h' },
						   {} };
	const char *address = getenv("ATOMBLK_TARGET_ENDPOINT");
	const char *tls_dir = getenv("ATOMBLK_TLS_DIR");
	const ProtobufCServiceDescriptor *svc = &atomblk__target__v1__target__descriptor;
	const ProtobufCMethodDescriptor *m;
	struct rpc_client *client = NULL;
	struct tls_files tls = {};
	const char *missing = NULL;
	uint8_t *req = NULL;
	size_t req_len = 0;
	json_t *json;
	int c, r, code;

	if (!address || !*address)
		address = TARGET_DEFAULT_ADDRESS;
	if (!tls_dir || !*tls_dir)
		tls_dir = CONFIG_DEFAULT_TLS_DIR;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+a:d:lh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			address = optarg;
			break;
		case 'd':
			tls_dir = optarg;
			break;
		case 'l':
			for (unsigned int j = 0; j < svc->n_methods; j++)
				printf("%s.%s\n", service_short_name(svc), svc->methods[j].name);
			return 0;
		case 'h':
			target_usage(stdout);
			return 0;
		default:
			target_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		target_usage(stderr);
		return EXIT_USAGE;
	}
	m = target_method_find(argv[optind]);
	if (!m) {
		fprintf(stderr,
			"atomctl: unknown target method \"%s\" (atomctl target --list shows them)\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (!*address || address[0] == '/' || !strncmp(address, "unix:", 5)) {
		fprintf(stderr, "atomctl: invalid --address \"%s\": host:port\n", address);
		return EXIT_USAGE;
	}
	json = read_request(argc - optind == 2 ? argv[optind + 1] : NULL, m->name);
	if (!json)
		return EXIT_USAGE;
	code = pack_request(m, json, &req, &req_len);
	json_decref(json);
	if (code)
		return code;

	r = tls_files_load(tls_dir, &tls, &missing);
	if (r < 0) {
		fprintf(stderr, "atomctl: %s: cannot load the TLS material: %s/%s: %s\n", m->name,
			tls_dir, missing ? missing : "?",
			r == -EINVAL ? "not a PEM file" : strerror(-r));
		free(req);
		return EXIT_LOCAL_FAILURE;
	}
	r = rpc_client_new_tls(address, &tls, &client);
	tls_files_clear(&tls);
	if (r < 0) {
		fprintf(stderr, "atomctl: %s: cannot open a channel to %s: %s\n", m->name, address,
			strerror(-r));
		free(req);
		return EXIT_LOCAL_FAILURE;
	}
	code = call_and_print(opts, client, svc, m, req, req_len);
	free(req);
	rpc_client_free(client);
	return code;
}

/* --- node commands: status, upgrade, rollback ------------------------------------ */

struct node_opts {
	const char *state_dir; /* --state-dir */
	const char *run_dir; /* --run-dir */
	char modules_dir[PATH_MAX]; /* --modules-dir, else the agent's default */
	const char *client; /* upgrade --client */
	const char *params; /* upgrade --params */
	bool json; /* status --json */
};

/* Parse the node commands' options; EXIT_USAGE or 0. */
static int node_opts_parse(int argc, char **argv, struct node_opts *o)
{
	static const struct option long_opts[] = { { "state-dir", required_argument, NULL, 's' },
						   { "run-dir", required_argument, NULL, 'r' },
						   { "modules-dir", required_argument, NULL, 'm' },
						   { "client", required_argument, NULL, 'c' },
						   { "params", required_argument, NULL, 'p' },
						   { "json", no_argument, NULL, 'j' },
						   {} };
	int c;

	o->state_dir = getenv("ATOMBLK_STATE_DIR");
	if (!o->state_dir || !*o->state_dir)
		o->state_dir = CONFIG_DEFAULT_STATE_DIR;
	o->run_dir = getenv("ATOMBLK_RUN_DIR");
	if (!o->run_dir || !*o->run_dir)
		o->run_dir = CONFIG_DEFAULT_RUN_DIR;
	if (getenv("ATOMBLK_MODULES_DIR") && *getenv("ATOMBLK_MODULES_DIR"))
		snprintf(o->modules_dir, sizeof(o->modules_dir), "%s",
			 getenv("ATOMBLK_MODULES_DIR"));
	else if (upgrade_default_modules_dir(CONFIG_DEFAULT_MODULES_BASE, ATOMBLK_VERSION,
					     o->modules_dir, sizeof(o->modules_dir)) < 0)
		snprintf(o->modules_dir, sizeof(o->modules_dir), "%s", CONFIG_DEFAULT_MODULES_BASE);
	optind = 0; /* a full rescan: main parsed with another optstring */
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->state_dir = optarg;
			break;
		case 'r':
			o->run_dir = optarg;
			break;
		case 'm':
			snprintf(o->modules_dir, sizeof(o->modules_dir), "%s", optarg);
			break;
		case 'c':
			o->client = optarg;
			break;
		case 'p':
			o->params = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "atomctl: %s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

/* The upgrade journal's records (read-only), or an empty object. */
static json_t *upgrade_records(const char *state_dir)
{
	static const char *const keys[] = { "pending", "last_upgrade", "last_failure", "counters" };
	json_t *out = json_object();
	struct journal *j;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" UPGRADE_JOURNAL_FILE, state_dir);
	if (journal_open(path, &j) < 0)
		return out;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v;

		if (journal_get(j, keys[i], &v) == 0)
			json_object_set_new(out, keys[i], v);
	}
	journal_free(j);
	return out;
}

/* Everything status shows, as one JSON object. */
static json_t *status_collect(const struct node_opts *o)
{
	struct atomblk_list_entry *vols = NULL;
	struct atomsys_disk *disks = NULL;
	struct atomsys_module m;
	char version[KMODS_VERSION_MAX];
	size_t ndisks = 0, nvols = 0;
	uint64_t held = 0;
	json_t *st, *jdisks, *jvols;
	bool atom_loaded;

	st = json_object();
	atom_loaded = atomsys_module_read(&m) == 0;
	json_object_set_new(st, "atom",
			    atom_loaded ? json_pack("{s:b, s:i}", "loaded", 1, "abi_version",
						    (int)m.abi_version) :
					  json_pack("{s:b}", "loaded", 0));
	if (kmods_loaded_version(UPGRADE_CLIENT_MODULE, version, sizeof(version)) == 0)
		json_object_set_new(st, "client",
				    json_pack("{s:b, s:s}", "loaded", 1, "version", version));
	else
		json_object_set_new(st, "client", json_pack("{s:b}", "loaded", 0));
	if (atom_loaded) {
		json_object_set_new(st, "generation", json_integer((json_int_t)m.generation));
		json_object_set_new(st, "attached_client", json_string(m.client_version));
	}
	jdisks = json_array();
	if (atomsys_disks_list(&disks, &ndisks) == 0) {
		for (size_t i = 0; i < ndisks; i++) {
			held += disks[i].held_requests;
			json_array_append_new(
				jdisks,
				json_pack("{s:s, s:s, s:s, s:I, s:I}", "disk", disks[i].name,
					  "volume_id", disks[i].volume_id, "state",
					  atomsys_disk_state_name(disks[i].state), "held_requests",
					  (json_int_t)disks[i].held_requests, "last_pause_us",
					  (json_int_t)disks[i].last_pause_us));
		}
		free(disks);
	}
	json_object_set_new(st, "disks", jdisks);
	json_object_set_new(st, "held_requests", json_integer((json_int_t)held));
	jvols = json_array();
	if (volctl_list(&vols, &nvols) == 0) {
		for (size_t i = 0; i < nvols; i++)
			json_array_append_new(jvols,
					      json_pack("{s:s, s:s, s:s, s:I, s:s}", "id",
							vols[i].id, "disk", vols[i].disk, "layout",
							volctl_layout_name(vols[i].layout), "size",
							(json_int_t)vols[i].size, "state",
							volctl_volume_state_name(vols[i].state)));
		free(vols);
	}
	json_object_set_new(st, "volumes", jvols);
	json_object_set_new(st, "upgrade", upgrade_records(o->state_dir));
	return st;
}

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && *s ? s : "-";
}

static long long jint(json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

static void status_print_human(json_t *st)
{
	json_t *atom = json_object_get(st, "atom"), *client = json_object_get(st, "client");
	json_t *up = json_object_get(st, "upgrade"), *v, *rec;
	size_t i;

	printf("atom:        %s",
	       json_is_true(json_object_get(atom, "loaded")) ? "loaded" : "not loaded");
	if (json_is_true(json_object_get(atom, "loaded")))
		printf(" (abi %lld, generation %lld)", jint(atom, "abi_version"),
		       jint(st, "generation"));
	printf("\nclient:      %s\n", json_is_true(json_object_get(client, "loaded")) ?
					      jstr(client, "version") :
					      "not loaded");
	printf("held:        %lld requests\n", jint(st, "held_requests"));
	printf("disks:\n");
	json_array_foreach(json_object_get(st, "disks"), i, v)
		printf("  %-8s %-24s %-9s held=%lld last_pause_us=%lld\n", jstr(v, "disk"),
		       jstr(v, "volume_id"), jstr(v, "state"), jint(v, "held_requests"),
		       jint(v, "last_pause_us"));
	printf("volumes:\n");
	json_array_foreach(json_object_get(st, "volumes"), i, v)
		printf("  %-24s %-8s %-7s %lld bytes %s\n", jstr(v, "id"), jstr(v, "disk"),
		       jstr(v, "layout"), jint(v, "size"), jstr(v, "state"));
	rec = json_object_get(up, "pending");
	if (rec)
		printf("pending:     swap %s -> %s (unfinished)\n", jstr(rec, "from"),
		       jstr(rec, "to"));
	rec = json_object_get(up, "last_upgrade");
	if (rec)
		printf("last change: %s %s -> %s at %lld, swap %lld us, max pause %lld us (%s)\n",
		       jstr(rec, "outcome"), jstr(rec, "from"), jstr(rec, "to"), jint(rec, "at"),
		       jint(rec, "swap_us"), jint(rec, "max_pause_us"), jstr(rec, "trigger"));
	rec = json_object_get(up, "last_failure");
	if (rec)
		printf("last failure: %s -> %s at %lld, %s in %s: %s (running %s)\n",
		       jstr(rec, "from"), jstr(rec, "to"), jint(rec, "at"), jstr(rec, "outcome"),
		       jstr(rec, "step"), jstr(rec, "message"), jstr(rec, "running"));
	rec = json_object_get(up, "counters");
	if (rec)
		printf("counters:    upgrades=%lld installs=%lld failed=%lld rolled_back=%lld\n",
		       jint(rec, "upgrades"), jint(rec, "installs"), jint(rec, "failed"),
		       jint(rec, "rolled_back"));
}

static int cmd_status(const struct atomctl_opts *opts, int argc, char **argv)
{
	struct node_opts o = {};
	json_t *st;
	int code;

	code = node_opts_parse(argc, argv, &o);
	if (code)
		return code;
	st = status_collect(&o);
	if (o.json) {
		char *text = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		status_print_human(st);
	}
	json_decref(st);
	return fflush(stdout) == 0 ? 0 : EXIT_LOCAL_FAILURE;
}

/* Run the upgrade sequence towards @client and print what happened. */
static int node_upgrade(const struct node_opts *o, const char *client, const char *params,
			const char *trigger)
{
	const struct upgrade_config cfg = {
		.modules_dir = o->modules_dir,
		.client_path = client,
		.client_params = params,
		.state_dir = o->state_dir,
		.run_dir = o->run_dir,
		.trigger = trigger,
	};
	struct upgrade_report rep;
	int r;

	r = upgrade_run(&cfg, &rep);
	if (r < 0) {
		fprintf(stderr, "atomctl: %s: %s\n", trigger,
			r == -EBUSY ? "another upgrade holds the node's lock" : strerror(-r));
		return EXIT_LOCAL_FAILURE;
	}
	printf("outcome=%s from=%s to=%s running=%s disks=%u swap_us=%llu max_pause_us=%llu\n",
	       upgrade_outcome_name(rep.outcome), rep.from[0] ? rep.from : "none",
	       rep.to[0] ? rep.to : "unknown", rep.running[0] ? rep.running : "none", rep.disks,
	       (unsigned long long)rep.swap_us, (unsigned long long)rep.max_pause_us);
	if (upgrade_outcome_failed(rep.outcome)) {
		fprintf(stderr, "atomctl: %s failed at %s: %s\n", trigger, rep.step, rep.message);
		return EXIT_LOCAL_FAILURE;
	}
	return 0;
}

static int cmd_upgrade(const struct atomctl_opts *opts, int argc, char **argv)
{
	struct node_opts o = {};
	int code;

	code = node_opts_parse(argc, argv, &o);
	if (code)
		return code;
	if (!o.client) {
		fprintf(stderr, "atomctl: upgrade: --client PATH is required\n");
		return EXIT_USAGE;
	}
	return node_upgrade(&o, o.client, o.params, "atomctl upgrade");
}

static int cmd_rollback(const struct atomctl_opts *opts, int argc, char **argv)
{
	char version[KMODS_VERSION_MAX], kept[PATH_MAX];
	struct node_opts o = {};
	int code, r;

	code = node_opts_parse(argc, argv, &o);
	if (code)
		return code;
	r = upgrade_previous_version(o.state_dir, version, sizeof(version));
	if (r == 0)
		r = upgrade_kept_client(o.state_dir, version, kept, sizeof(kept));
	if (r < 0) {
		fprintf(stderr, "atomctl: rollback: %s\n",
			r == -ENOENT ? "no upgrade recorded on this node" : strerror(-r));
		return EXIT_LOCAL_FAILURE;
	}
	return node_upgrade(&o, kept, NULL, "atomctl rollback");
}

static const struct atomctl_command commands[] = {
	{ "csi", cmd_csi, "<Method> [JSON|-]",
	  "call a CSI method with a JSON request, print the JSON reply" },
	{ "target", cmd_target, "[OPTS] <Method> [JSON|-]",
	  "call a storage node's target API (mutual TLS), print the JSON reply" },
	{ "status", cmd_status, "[--json]",
	  "modules, versions, disks, volumes, last upgrade (no agent needed)" },
	{ "upgrade", cmd_upgrade, "--client PATH [--params P]",
	  "hot-swap the client module for the build at PATH, rolling back on failure" },
	{ "rollback", cmd_rollback, "",
	  "go back to the client the last upgrade replaced (kept on the node)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: atomctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char synopsis[64];

		snprintf(synopsis, sizeof(synopsis), "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  %-35s %s\n", synopsis, commands[i].help);
	}
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
