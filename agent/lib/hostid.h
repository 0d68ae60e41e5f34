/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hostid — this node's NVMe host identity: a host NQN and a host id (a
 * UUID), kept in the agent's state directory as <ROOT_STATE>/hostnqn and
 * <ROOT_STATE>/hostid (one line each). Created on first use and never
 * changed afterwards: storage nodes allow the host NQN, and the kernel's
 * nvme-fabrics (6.12) refuses one host id with two different host NQNs, so
 * the pair must stay the same for the life of the node.
 *
 * The host id is a random UUID (getrandom); the host NQN is
 * "nqn.2014-08.org.nvmexpress:uuid:<host id>". The host id file is written
 * first, each file atomically (a temporary file linked into place, so two
 * racing agents agree on one winner); a crash between the two leaves a host
 * id whose NQN the next call derives. A file that exists but does not hold
 * what it should is an error, never replaced.
 */
#ifndef ATOMBLK_HOSTID_H
#define ATOMBLK_HOSTID_H

#include <stdbool.h>
#include <stddef.h>

#define HOSTID_NQN_MAX 223 /* NVMe: an NQN is at most 223 bytes */
#define HOSTID_UUID_LEN 36 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
#define HOSTID_NQN_PREFIX "nqn.2014-08.org.nvmexpress:uuid:"
#define HOSTID_NQN_FILE "hostnqn"
#define HOSTID_ID_FILE "hostid"

struct hostid {
	char nqn[HOSTID_NQN_MAX + 1]; /* host NQN */
	char id[HOSTID_UUID_LEN + 1]; /* host id, lower-case UUID */
};

/*
 * hostid_load() - read this node's host identity from the state directory,
 * creating it (and the directory) on first use.
 * Return: 0; -EBADMSG when a file is malformed (@msg names it and says
 * why); -errno from the filesystem (@msg says which file).
 */
int hostid_load(struct hostid *ret, char *msg, size_t msg_size);

/* hostid_uuid_valid() - @s is a UUID in its 36-character text form. */
bool hostid_uuid_valid(const char *s);

/*
 * hostid_nqn_valid() - @s looks like an NQN: "nqn." followed by printable
 * characters without blanks, at most HOSTID_NQN_MAX bytes.
 */
bool hostid_nqn_valid(const char *s);

#endif
