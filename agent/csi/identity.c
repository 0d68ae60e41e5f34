// SPDX-License-Identifier: GPL-2.0
/*
 * CSI Identity service: GetPluginInfo, GetPluginCapabilities, Probe.
 * Handlers only describe the plugin; they never fail on a valid request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csi.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "csi/csi.h"

#ifndef ATOMBLK_VERSION
#error "ATOMBLK_VERSION must come from the build (the top-level VERSION file)"
#endif

bool csi_plugin_ready(struct csi_plugin *plugin)
{
	if (!atomic_load(&plugin->serving))
		return false;
	return !plugin->kernel_ready || plugin->kernel_ready(plugin);
}

static grpc_status_code identity_get_plugin_info(void *userdata, const ProtobufCMessage *req,
						 ProtobufCMessage **ret_resp, char **ret_details)
{
	Csi__V1__GetPluginInfoResponse *resp = malloc(sizeof(*resp));

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	csi__v1__get_plugin_info_response__init(resp);
	resp->name = strdup(CSI_PLUGIN_NAME);
	resp->vendor_version = strdup(ATOMBLK_VERSION);
	*ret_resp = &resp->base;
	if (!resp->name || !resp->vendor_version)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	return GRPC_STATUS_OK;
}

/* Append a SERVICE capability of @type. */
static int capabilities_add_service(Csi__V1__GetPluginCapabilitiesResponse *resp,
				    Csi__V1__PluginCapability__Service__Type type)
{
	Csi__V1__PluginCapability **caps, *cap;
	Csi__V1__PluginCapability__Service *service;

	caps = realloc(resp->capabilities, (resp->n_capabilities + 1) * sizeof(*caps));
	if (!caps)
		return -ENOMEM;
	resp->capabilities = caps;
	cap = malloc(sizeof(*cap));
	service = malloc(sizeof(*service));
	if (!cap || !service) {
		free(cap);
		free(service);
		return -ENOMEM;
	}
	csi__v1__plugin_capability__init(cap);
	csi__v1__plugin_capability__service__init(service);
	service->type = type;
	cap->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE;
	cap->service = service;
	caps[resp->n_capabilities++] = cap;
	return 0;
}

/* Append a VOLUME_EXPANSION capability of @type. */
static int capabilities_add_expansion(Csi__V1__GetPluginCapabilitiesResponse *resp,
				      Csi__V1__PluginCapability__VolumeExpansion__Type type)
{
	Csi__V1__PluginCapability **caps, *cap;
	Csi__V1__PluginCapability__VolumeExpansion *expansion;

	caps = realloc(resp->capabilities, (resp->n_capabilities + 1) * sizeof(*caps));
	if (!caps)
		return -ENOMEM;
	resp->capabilities = caps;
	cap = malloc(sizeof(*cap));
	expansion = malloc(sizeof(*expansion));
	if (!cap || !expansion) {
		free(cap);
		free(expansion);
		return -ENOMEM;
	}
	csi__v1__plugin_capability__init(cap);
	csi__v1__plugin_capability__volume_expansion__init(expansion);
	expansion->type = type;
	cap->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_VOLUME_EXPANSION;
	cap->volume_expansion = expansion;
	caps[resp->n_capabilities++] = cap;
	return 0;
}

/*
 * Only what this process really answers is advertised:
 *   - VOLUME_ACCESSIBILITY_CONSTRAINTS, in every mode: NodeGetInfo reports
 *     the node's topology segment, and the spec ("NodeGetInfo") allows
 *     accessible_topology only from a plugin with this capability; where
 *     the Controller runs, CreateVolume also honours requisite and
 *     preferred topology when it places replicas.
 *   - CONTROLLER_SERVICE, only where the Controller service is registered
 *     (controller and all modes): CreateVolume and the rest
 *     (csi/controller.c).
 *   - VolumeExpansion ONLINE, with the Controller: ControllerExpandVolume
 *     grows the replicas and NodeExpandVolume grows a staged (even
 *     published) volume and its filesystem in place.
 */
static grpc_status_code identity_get_plugin_capabilities(void *userdata,
							 const ProtobufCMessage *req,
							 ProtobufCMessage **ret_resp,
							 char **ret_details)
{
	struct csi_plugin *plugin = userdata;
	Csi__V1__GetPluginCapabilitiesResponse *resp = malloc(sizeof(*resp));
	bool controller;

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	csi__v1__get_plugin_capabilities_response__init(resp);
	*ret_resp = &resp->base;
	controller = plugin->controller_registered;
	if ((controller &&
	     capabilities_add_service(
		     resp, CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE) < 0) ||
	    capabilities_add_service(
		    resp,
		    CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__VOLUME_ACCESSIBILITY_CONSTRAINTS) <
		    0 ||
	    (controller &&
	     capabilities_add_expansion(
		     resp, CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__TYPE__ONLINE) < 0))
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	return GRPC_STATUS_OK;
}

static grpc_status_code identity_probe(void *userdata, const ProtobufCMessage *req,
				       ProtobufCMessage **ret_resp, char **ret_details)
{
	struct csi_plugin *plugin = userdata;
	Csi__V1__ProbeResponse *resp = malloc(sizeof(*resp));
	Google__Protobuf__BoolValue *ready;

	if (plugin->test_probe_delay_ms) {
		struct timespec delay = {
			.tv_sec = plugin->test_probe_delay_ms / 1000,
			.tv_nsec = (long)(plugin->test_probe_delay_ms % 1000) * 1000000,
		};

		nanosleep(&delay, NULL);
	}
	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	csi__v1__probe_response__init(resp);
	*ret_resp = &resp->base;
	ready = malloc(sizeof(*ready));
	if (!ready)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	google__protobuf__bool_value__init(ready);
	ready->value = csi_plugin_ready(plugin);
	resp->ready = ready;
	return GRPC_STATUS_OK;
}

int csi_identity_register(struct rpc_server *server, struct csi_plugin *plugin)
{
	const struct rpc_method methods[] = {
		{ "/csi.v1.Identity/GetPluginInfo", &csi__v1__get_plugin_info_request__descriptor,
		  identity_get_plugin_info, plugin },
		{ "/csi.v1.Identity/GetPluginCapabilities",
		  &csi__v1__get_plugin_capabilities_request__descriptor,
		  identity_get_plugin_capabilities, plugin },
		{ "/csi.v1.Identity/Probe", &csi__v1__probe_request__descriptor, identity_probe,
		  plugin },
	};

	return rpc_server_add_methods(server, methods, sizeof(methods) / sizeof(methods[0]));
}
