/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tls — the mutual-TLS material of the target API, read from a directory
 * laid out as a mounted kubernetes.io/tls Secret with the CA added:
 *   <dir>/ca.crt   the CA that signs every agent's certificate (PEM)
 *   <dir>/tls.crt  this agent's certificate (PEM), used as server and client
 *   <dir>/tls.key  its private key (PEM)
 * Every agent presents its certificate both ways and trusts only that CA;
 * the peer's host name is not checked (pod IPs change), the CA is the trust:
 * clients verify the server's certificate against TLS_TARGET_NAME, a SAN
 * every agent certificate carries.
 */
#ifndef ATOMBLK_TLS_H
#define ATOMBLK_TLS_H

#define TLS_TARGET_NAME "atomblk-target" /* SAN of every agent certificate */

struct tls_files {
	char *ca; /* PEM, NUL-terminated, malloc'd */
	char *cert;
	char *key;
};

/*
 * tls_files_load() - read the three files of @dir.
 * Return: 0; -ENOENT naming nothing (a file is missing: *ret_missing points
 * into a static name "ca.crt"/"tls.crt"/"tls.key"); -EINVAL (not PEM); -errno.
 */
int tls_files_load(const char *dir, struct tls_files *ret, const char **ret_missing);

/* tls_files_clear() - free and zero. NULL-safe. */
void tls_files_clear(struct tls_files *t);

#endif
