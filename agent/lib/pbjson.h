/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pbjson — JSON <-> protobuf-c messages, for any message type, driven by its
 * ProtobufCMessageDescriptor. Follows the proto3 JSON mapping:
 *
 *  - field names in lowerCamelCase ("volumeId"); input accepts the proto name
 *    ("volume_id") too;
 *  - enums by value name; input accepts the number too;
 *  - 64-bit integers as decimal strings; input accepts JSON numbers too;
 *  - bytes as base64 (input: standard or URL-safe alphabet, padding optional);
 *  - repeated fields as arrays, map fields as objects, a oneof as whichever
 *    member is set;
 *  - google.protobuf wrapper types (BoolValue, Int64Value, ...) as their bare
 *    value, google.protobuf.Timestamp as an RFC 3339 string
 *    ("2024-05-01T12:00:00.5Z");
 *  - output omits fields that hold their default value (proto3 has no
 *    presence for them) but keeps every set message, wrapper and oneof member;
 *  - input null means "default" for any field.
 *
 * Input errors (unknown field, wrong JSON type, out-of-range number, bad enum
 * name, bad base64, bad timestamp, two members of one oneof) return -EINVAL
 * and, when @err is given, a message naming the field path, e.g.
 * "volumeCapability.accessMode.mode: unknown enum value \"RWX\" for
 * csi.v1.VolumeCapability.AccessMode.Mode".
 */
#ifndef ATOMBLK_PBJSON_H
#define ATOMBLK_PBJSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define PBJSON_ERR_MAX 512 /* a comfortable size for @err buffers */

/*
 * pbjson_message_to_json() - convert @msg to a new JSON value (an object, or
 * the bare value of a wrapper / Timestamp message).
 * Return: 0 and *@ret (json_decref() it); -EINVAL for a message JSON cannot
 * carry (a string that is not UTF-8, a Timestamp out of range), with @err
 * filled in; -ENOMEM.
 */
int pbjson_message_to_json(const ProtobufCMessage *msg, json_t **ret, char *err, size_t err_size);

/*
 * pbjson_message_from_json() - build a new message of type @desc from @json.
 * Return: 0 and *@ret (free with pbjson_message_free()); -EINVAL with @err
 * filled in; -ENOMEM.
 */
int pbjson_message_from_json(const ProtobufCMessageDescriptor *desc, const json_t *json,
			     ProtobufCMessage **ret, char *err, size_t err_size);

/*
 * pbjson_message_free() - free a message from pbjson_message_from_json() or
 * protobuf_c_message_unpack(NULL allocator). NULL-safe; returns NULL.
 */
ProtobufCMessage *pbjson_message_free(ProtobufCMessage *msg);

/*
 * pbjson_value_size() - bytes one value of @type occupies in a protobuf-c
 * message (and so one element of a repeated field's array).
 */
size_t pbjson_value_size(ProtobufCType type);

/*
 * pbjson_json_name() - the proto3 JSON name of a field name: underscores
 * dropped, the letter after each one upper-cased ("volume_id" -> "volumeId").
 * Return: 0; -ENAMETOOLONG if it does not fit @size.
 */
int pbjson_json_name(const char *field_name, char *buf, size_t size);

#endif
