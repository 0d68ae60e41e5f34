/* SPDX-License-Identifier: GPL-2.0 */
/*
 * journal — a small JSON file of named records for what the kernel cannot
 * tell the agent (which staging path a volume was staged at, how, whether a
 * stage finished). Each change rewrites the whole file atomically: a
 * temporary file in the same directory, fsync, rename over the old one,
 * fsync of the directory. A crash at any point leaves the old or the new
 * file, never a mix.
 *
 * File format: {"version": 1, "records": {"<key>": <any JSON value>, ...}}.
 * A journal is safe to use from many threads.
 */
#ifndef ATOMBLK_JOURNAL_H
#define ATOMBLK_JOURNAL_H

#include <stddef.h>

#include <jansson.h>

#define JOURNAL_FORMAT_VERSION 1

struct journal;

/*
 * journal_open() - load the journal at @path, or start an empty one if the
 * file does not exist (nothing is written until the first change).
 * Return: 0; -EBADMSG if the file is not a journal (bad JSON, wrong shape,
 * newer format version); -errno from reading it; -ENOMEM.
 */
int journal_open(const char *path, struct journal **ret);

/* journal_free() - NULL-safe; returns NULL. */
struct journal *journal_free(struct journal *j);

/*
 * journal_get() - a copy of the record under @key (json_decref() it).
 * Return: 0; -ENOENT if there is none; -ENOMEM.
 */
int journal_get(struct journal *j, const char *key, json_t **ret);

/*
 * journal_set() - store @value (copied; the caller keeps its reference)
 * under @key and write the file.
 * Return: 0; -errno from writing (the in-memory journal is left unchanged).
 */
int journal_set(struct journal *j, const char *key, json_t *value);

/* journal_remove() - drop @key and write the file; 0 also if it was absent. */
int journal_remove(struct journal *j, const char *key);

/* journal_count() - how many records there are. */
size_t journal_count(struct journal *j);

/*
 * journal_keys() - a copy of every key, as a JSON array of strings
 * (json_decref() it), for walking the records at start-up.
 */
int journal_keys(struct journal *j, json_t **ret);

#endif
