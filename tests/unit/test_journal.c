// SPDX-License-Identifier: GPL-2.0
/* journal: records survive a reopen, writes are atomic, bad files are refused. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/journal.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/atomblk-journal-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/node.json", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Files in the directory other than the journal (leftover temp files). */
static int stray_files(const struct fixture *f)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "node.json"))
			n++;
	closedir(d);
	return n;
}

static void a_missing_file_is_an_empty_journal_and_is_not_created(void **state)
{
	struct fixture *f = *state;
	struct journal *j;
	json_t *v;

	assert_int_equal(journal_open(f->path, &j), 0);
	assert_int_equal(journal_count(j), 0);
	assert_int_equal(journal_get(j, "vol-1", &v), -ENOENT);
	assert_int_equal(access(f->path, F_OK), -1);
	journal_free(j);
}

static void records_survive_a_reopen(void **state)
{
	struct fixture *f = *state;
	struct journal *j;
	json_t *rec = json_pack("{s:s, s:b}", "disk", "atom3", "staged", 1), *got;

	assert_int_equal(journal_open(f->path, &j), 0);
	assert_int_equal(journal_set(j, "vol-1", rec), 0);
	assert_int_equal(journal_set(j, "vol-2", rec), 0);
	journal_free(j);

	assert_int_equal(journal_open(f->path, &j), 0);
	assert_int_equal(journal_count(j), 2);
	assert_int_equal(journal_get(j, "vol-1", &got), 0);
	assert_true(json_equal(got, rec));
	json_decref(got);
	assert_int_equal(stray_files(f), 0);
	journal_free(j);
	json_decref(rec);
}

static void get_returns_a_copy_the_caller_may_change(void **state)
{
	struct fixture *f = *state;
	struct journal *j;
	json_t *rec = json_pack("{s:s}", "disk", "atom0"), *got, *again;

	assert_int_equal(journal_open(f->path, &j), 0);
	assert_int_equal(journal_set(j, "v", rec), 0);
	json_object_set_new(rec, "disk", json_string("changed-after-set"));
	assert_int_equal(journal_get(j, "v", &got), 0);
	json_object_set_new(got, "disk", json_string("changed-after-get"));
	assert_int_equal(journal_get(j, "v", &again), 0);
	assert_string_equal(json_string_value(json_object_get(again, "disk")), "atom0");
	json_decref(got);
	json_decref(again);
	json_decref(rec);
	journal_free(j);
}

static void remove_drops_the_record_on_disk_and_tolerates_absence(void **state)
{
	struct fixture *f = *state;
	struct journal *j;
	json_t *rec = json_pack("{s:i}", "n", 1), *keys;

	assert_int_equal(journal_open(f->path, &j), 0);
	assert_int_equal(journal_set(j, "a", rec), 0);
	assert_int_equal(journal_set(j, "b", rec), 0);
	assert_int_equal(journal_remove(j, "a"), 0);
	assert_int_equal(journal_remove(j, "a"), 0);
	journal_free(j);
	assert_int_equal(journal_open(f->path, &j), 0);
	assert_int_equal(journal_keys(j, &keys), 0);
	assert_int_equal(json_array_size(keys), 1);
	assert_string_equal(json_string_value(json_array_get(keys, 0)), "b");
	json_decref(keys);
	journal_free(j);
	json_decref(rec);
}

static void the_file_has_the_documented_shape(void **state)
{
	struct fixture *f = *state;
	struct journal *j;
	json_t *rec = json_pack("{s:s}", "k", "v"), *root;

	assert_int_equal(journal_open(f->path, &j), 0);
	assert_int_equal(journal_set(j, "vol", rec), 0);
	journal_free(j);
	root = json_load_file(f->path, 0, NULL);
	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(root, "version")), 1);
	assert_true(json_equal(json_object_get(json_object_get(root, "records"), "vol"), rec));
	json_decref(root);
	json_decref(rec);
}

static void a_failed_write_leaves_memory_and_file_unchanged(void **state)
{
	struct fixture *f = *state;
	struct journal *j;
	json_t *rec = json_pack("{s:i}", "n", 1), *got;
	char dir_gone[160], cmd[200];

	/* Journal in a directory that disappears: rename target unreachable. */
	snprintf(dir_gone, sizeof(dir_gone), "%s/sub", f->dir);
	assert_int_equal(mkdir(dir_gone, 0700), 0);
	strcat(dir_gone, "/node.json");
	assert_int_equal(journal_open(dir_gone, &j), 0);
	assert_int_equal(journal_set(j, "kept", rec), 0);
	dir_gone[strlen(dir_gone) - strlen("/node.json")] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir_gone);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(journal_set(j, "lost", rec), -ENOENT);
	assert_int_equal(journal_get(j, "lost", &got), -ENOENT);
	assert_int_equal(journal_count(j), 1);
	assert_int_equal(journal_remove(j, "kept"), -ENOENT);
	assert_int_equal(journal_get(j, "kept", &got), 0);
	json_decref(got);
	journal_free(j);
	json_decref(rec);
}

static void corrupt_or_newer_files_are_refused(void **state)
{
	struct fixture *f = *state;
	struct journal *j = NULL;

	write_file(f->path, "{\"version\": 1, \"records\": {\"a\": 1}"); /* truncated */
	assert_int_equal(journal_open(f->path, &j), -EBADMSG);
	write_file(f->path, "{\"version\": 2, \"records\": {}}");
	assert_int_equal(journal_open(f->path, &j), -EBADMSG);
	write_file(f->path, "{\"version\": 1, \"records\": []}");
	assert_int_equal(journal_open(f->path, &j), -EBADMSG);
	write_file(f->path, "[]");
	assert_int_equal(journal_open(f->path, &j), -EBADMSG);
	assert_null(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			a_missing_file_is_an_empty_journal_and_is_not_created, setup, teardown),
		cmocka_unit_test_setup_teardown(records_survive_a_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(get_returns_a_copy_the_caller_may_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			remove_drops_the_record_on_disk_and_tolerates_absence, setup, teardown),
		cmocka_unit_test_setup_teardown(the_file_has_the_documented_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_write_leaves_memory_and_file_unchanged,
						setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_or_newer_files_are_refused, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
