// SPDX-License-Identifier: GPL-2.0
/* The target API's mutual-TLS material; see tls.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/tls.h"

#define TLS_FILE_MAX (1 << 20) /* a PEM bundle larger than 1 MiB is not ours */

static int read_pem(const char *dir, const char *name, char **ret)
{
	char path[4096];
	struct stat st;
	ssize_t n;
	char *buf;
	int fd, r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > TLS_FILE_MAX) {
		r = S_ISREG(st.st_mode) ? -EINVAL : -ENOENT;
		close(fd);
		return r;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && n != st.st_size)
		r = -EIO;
	if (r == 0) {
		buf[n] = '\0';
		if (!strstr(buf, "-----BEGIN "))
			r = -EINVAL;
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}

int tls_files_load(const char *dir, struct tls_files *ret, const char **ret_missing)
{
	static const char *const names[] = { "ca.crt", "tls.crt", "tls.key" };
	struct tls_files t = {};
	char **slots[] = { &t.ca, &t.cert, &t.key };
	int r;

	if (ret_missing)
		*ret_missing = NULL;
	for (unsigned int i = 0; i < 3; i++) {
		r = read_pem(dir, names[i], slots[i]);
		if (r < 0) {
			if (ret_missing)
				*ret_missing = names[i];
			tls_files_clear(&t);
			return r;
		}
	}
	*ret = t;
	return 0;
}

void tls_files_clear(struct tls_files *t)
{
	if (!t)
		return;
	free(t->ca);
	if (t->key) /* a private key: do not leave it in freed memory */
		explicit_bzero(t->key, strlen(t->key));
	free(t->key);
	free(t->cert);
	memset(t, 0, sizeof(*t));
}
