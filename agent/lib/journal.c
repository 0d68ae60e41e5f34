// SPDX-License-Identifier: GPL-2.0
/* Atomically rewritten JSON journal; see journal.h. */
#include "lib/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct journal {
	pthread_mutex_t lock; /* guards records and the file */
	char path[PATH_MAX]; /* the journal file */
	json_t *records; /* object: key -> record */
};

static int journal_load(const char *path, json_t **ret_records)
{
	json_error_t error;
	json_t *root, *version, *records;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
	if (!root) {
		if (json_error_code(&error) == json_error_cannot_open_file)
			return access(path, F_OK) < 0 && errno == ENOENT ? -ENOENT : -EIO;
		return -EBADMSG;
	}
	version = json_object_get(root, "version");
	records = json_object_get(root, "records");
	if (!json_is_integer(version) || json_integer_value(version) < 1 ||
	    json_integer_value(version) > JOURNAL_FORMAT_VERSION || !json_is_object(records)) {
		json_decref(root);
		return -EBADMSG;
	}
	*ret_records = json_incref(records);
	json_decref(root);
	return 0;
}

int journal_open(const char *path, struct journal **ret)
{
	struct journal *j;
	int r;

	if (strlen(path) + 8 >= sizeof(j->path))
		return -ENAMETOOLONG;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	strcpy(j->path, path);
	r = journal_load(path, &j->records);
	if (r == -ENOENT) {
		j->records = json_object();
		r = j->records ? 0 : -ENOMEM;
	}
	if (r < 0) {
		journal_free(j);
		return r;
	}
	*ret = j;
	return 0;
}

struct journal *journal_free(struct journal *j)
{
	if (!j)
		return NULL;
	json_decref(j->records);
	pthread_mutex_destroy(&j->lock);
	free(j);
	return NULL;
}

/* fsync the directory holding @path, so that a rename in it is durable. */
static int fsync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, r = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Write @records as the journal file: temp file, fsync, rename, fsync dir. */
static int journal_write(const char *path, json_t *records)
{
	char tmp[PATH_MAX + 8];
	json_t *root;
	char *text;
	size_t len, done = 0;
	int fd, r = 0;

	root = json_pack("{s:i, s:O}", "version", JOURNAL_FORMAT_VERSION, "records", records);
	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	len = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out_free;
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	else
		r = fsync_parent_dir(path);
out_free:
	free(text);
	return r;
}

int journal_get(struct journal *j, const char *key, json_t **ret)
{
	json_t *value;
	int r = 0;

	pthread_mutex_lock(&j->lock);
	value = json_object_get(j->records, key);
	if (!value)
		r = -ENOENT;
	else if (!(*ret = json_deep_copy(value)))
		r = -ENOMEM;
	pthread_mutex_unlock(&j->lock);
	return r;
}

/* Apply a change to a copy, write it, and only then make it the journal. */
static int journal_commit(struct journal *j, const char *key, json_t *value)
{
	json_t *next;
	int r;

	pthread_mutex_lock(&j->lock);
	next = json_deep_copy(j->records);
	if (!next) {
		r = -ENOMEM;
		goto out_unlock;
	}
	if (value)
		r = json_object_set_new(next, key, json_deep_copy(value)) < 0 ? -ENOMEM : 0;
	else
		r = json_object_del(next, key) < 0 ? 1 : 0; /* 1: absent, nothing to write */
	if (r == 0)
		r = journal_write(j->path, next);
	if (r == 0) {
		json_decref(j->records);
		j->records = next;
		next = NULL;
	}
	if (r == 1)
		r = 0;
	json_decref(next);
out_unlock:
	pthread_mutex_unlock(&j->lock);
	return r;
}

int journal_set(struct journal *j, const char *key, json_t *value)
{
	if (!value)
		return -EINVAL;
	return journal_commit(j, key, value);
}

int journal_remove(struct journal *j, const char *key)
{
	return journal_commit(j, key, NULL);
}

size_t journal_count(struct journal *j)
{
	size_t n;

	pthread_mutex_lock(&j->lock);
	n = json_object_size(j->records);
	pthread_mutex_unlock(&j->lock);
	return n;
}

int journal_keys(struct journal *j, json_t **ret)
{
	json_t *keys = json_array();
	const char *key;
	json_t *value;
	int r = 0;

	if (!keys)
		return -ENOMEM;
	pthread_mutex_lock(&j->lock);
	json_object_foreach(j->records, key, value) {
		if (json_array_append_new(keys, json_string(key)) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	pthread_mutex_unlock(&j->lock);
	if (r < 0) {
		json_decref(keys);
		return r;
	}
	*ret = keys;
	return 0;
}
