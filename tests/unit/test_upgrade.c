// SPDX-License-Identifier: GPL-2.0
/*
 * upgrade: the plan, and the whole sequence against a fake kernel. Module
 * loading and removal are mocked (--wrap) and act on a sysfs tree in a
 * temporary directory the way atom.ko and atom_client.ko do (insmod of a
 * client: version shown, generation bumped, disks attached; rmmod: disks
 * held). A "client build" is a small text file "VERSION ABI RELEASE [fail]"
 * that the mocked kmods_file_info() reads; "fail" makes its adoption fail.
 */
// LDFLAGS: -Wl,--wrap=kmods_insert,--wrap=kmods_remove,--wrap=kmods_file_info,--wrap=kmods_kernel_release
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/journal.h"
#include "lib/kmods.h"
#include "lib/roots.h"
#include "lib/upgrade.h"

#define RELEASE "6.1.0-56-amd64"

static char top[256]; /* the temporary directory */
static unsigned int removes; /* kmods_remove() calls on the client */
static unsigned int inserts; /* kmods_insert() calls */
static unsigned int busy_removes; /* kmods_remove() fails with EBUSY this often first */

static void write_file(const char *rel, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	for (char *p = path + strlen(top) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void read_file(const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "r");
	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static unsigned long read_number(const char *rel)
{
	char buf[64];

	read_file(rel, buf, sizeof(buf));
	return strtoul(buf, NULL, 10);
}

/* A client build file under modules/. */
static void make_build(const char *name, const char *version, unsigned int abi, const char *release,
		       bool fail)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "modules/%s", name);
	write_file(rel, "%s %u %s%s\n", version, abi, release, fail ? " fail" : "");
}

static void set_disk_state(const char *state)
{
	write_file("sys/block/atom0/atom/state", "%s\n", state);
}

/* The fake kernel: client @version loaded (NULL: none), one disk. */
static void fake_kernel(const char *version)
{
	write_file("sys/module/atom/initstate", "live\n");
	write_file("sys/kernel/atom/abi_version", "1\n");
	write_file("sys/kernel/atom/generation", "5\n");
	write_file("sys/kernel/atom/ndisks", "1\n");
	write_file("sys/kernel/atom/client_name", "%s\n", version ? "atom_client" : "");
	write_file("sys/kernel/atom/client_version", "%s\n", version ? version : "");
	if (version) {
		write_file("sys/module/atom_client/initstate", "live\n");
		write_file("sys/module/atom_client/version", "%s\n", version);
	}
	write_file("sys/block/atom0/atom/volume_id", "vol-1\n");
	set_disk_state(version ? "attached" : "held");
	write_file("sys/block/atom0/atom/held_requests", "0\n");
	write_file("sys/block/atom0/atom/last_pause_us", "0\n");
	write_file("dev/atom0", "%4096s", "");
}

int __wrap_kmods_kernel_release(char *buf, size_t size)
{
	snprintf(buf, size, "%s", RELEASE);
	return 0;
}

int __wrap_kmods_file_info(const char *path, struct kmods_info *ret)
{
	char release[128] = "", flag[16] = "";
	unsigned int abi;
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return -errno;
	memset(ret, 0, sizeof(*ret));
	n = fscanf(f, "%63s %u %127s %15s", ret->version, &abi, release, flag);
	fclose(f);
	if (n < 3)
		return -ENOEXEC;
	strcpy(ret->name, "atom_client");
	snprintf(ret->vermagic, sizeof(ret->vermagic), "%s SMP preempt", release);
	ret->atom_abi = abi;
	ret->has_atom_abi = true;
	return 0;
}

int __wrap_kmods_insert(const char *path, const char *params)
{
	struct kmods_info info;
	char flag[16] = "", line[256];
	FILE *f;

	inserts++;
	if (strstr(path, "atom.ko")) {
		write_file("sys/module/atom/initstate", "live\n");
		write_file("sys/kernel/atom/abi_version", "1\n");
		write_file("sys/kernel/atom/generation", "0\n");
		write_file("sys/kernel/atom/ndisks", "0\n");
		write_file("sys/kernel/atom/client_name", "\n");
		write_file("sys/kernel/atom/client_version", "\n");
		return 0;
	}
	if (kmods_is_loaded("atom_client"))
		return -EEXIST;
	assert_int_equal(__wrap_kmods_file_info(path, &info), 0);
	f = fopen(path, "r");
	if (fgets(line, sizeof(line), f))
		sscanf(line, "%*s %*u %*s %15s", flag);
	fclose(f);
	if (!strcmp(flag, "fail") || (params && strstr(params, "fail_adopt=1")))
		return -EIO; /* adoption failed: IO stays held */
	write_file("sys/module/atom_client/initstate", "live\n");
	write_file("sys/module/atom_client/version", "%s\n", info.version);
	write_file("sys/kernel/atom/client_name", "atom_client\n");
	write_file("sys/kernel/atom/client_version", "%s\n", info.version);
	write_file("sys/kernel/atom/generation", "%lu\n",
		   read_number("sys/kernel/atom/generation") + 1);
	set_disk_state("attached");
	write_file("sys/block/atom0/atom/last_pause_us", "1234\n");
	return 0;
}

int __wrap_kmods_remove(const char *name)
{
	char path[PATH_MAX];

	assert_string_equal(name, "atom_client");
	if (!kmods_is_loaded(name))
		return -ENOENT;
	if (busy_removes) {
		busy_removes--;
		return -EBUSY; /* a control call holds a module reference */
	}
	removes++;
	snprintf(path, sizeof(path), "%s/sys/module/atom_client/initstate", top);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sys/module/atom_client/version", top);
	unlink(path);
	write_file("sys/kernel/atom/client_name", "\n");
	write_file("sys/kernel/atom/client_version", "\n");
	set_disk_state("held");
	return 0;
}

static int setup(void **state)
{
	char path[PATH_MAX];

	snprintf(top, sizeof(top), "/tmp/atomblk-test-upgrade.XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(path, sizeof(path), "%s/sys", top);
	mkdir(path, 0755);
	assert_int_equal(roots_set(ROOT_SYS, path), 0);
	snprintf(path, sizeof(path), "%s/sys/block", top); /* always there in a kernel */
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dev", top);
	mkdir(path, 0755);
	assert_int_equal(roots_set(ROOT_DEV, path), 0);
	removes = inserts = busy_removes = 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	roots_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Run the sequence towards modules/<build>, as the agent does. */
static void run(const char *build, const char *params, struct upgrade_report *rep)
{
	char modules[PATH_MAX], client[PATH_MAX], state_dir[PATH_MAX], run_dir[PATH_MAX];
	const struct upgrade_config cfg = {
		.modules_dir = modules,
		.client_path = client,
		.client_params = params,
		.state_dir = state_dir,
		.run_dir = run_dir,
		.trigger = "test",
		.lock_timeout_ms = 300,
	};

	snprintf(modules, sizeof(modules), "%s/modules", top);
	snprintf(client, sizeof(client), "%s/modules/%s", top, build);
	snprintf(state_dir, sizeof(state_dir), "%s/state", top);
	snprintf(run_dir, sizeof(run_dir), "%s/run", top);
	assert_int_equal(upgrade_run(&cfg, rep), 0);
}

/* A record of the upgrade journal (NULL if absent; json_decref() it). */
static json_t *record(const char *key)
{
	char path[PATH_MAX];
	struct journal *j;
	json_t *v = NULL;

	snprintf(path, sizeof(path), "%s/state/upgrade.json", top);
	assert_int_equal(journal_open(path, &j), 0);
	journal_get(j, key, &v);
	journal_free(j);
	return v;
}

static const char *field(json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

static void write_pending(const char *from, const char *to, unsigned int generation)
{
	char path[PATH_MAX];
	struct journal *j;
	json_t *rec = json_pack("{s:s, s:s, s:i, s:i}", "from", from, "to", to, "generation_before",
				generation, "started_ms", 1);

	snprintf(path, sizeof(path), "%s/state", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/state/upgrade.json", top);
	assert_int_equal(journal_open(path, &j), 0);
	assert_int_equal(journal_set(j, "pending", rec), 0);
	journal_free(j);
	json_decref(rec);
}

static bool kept(const char *version)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/state/clients/%s/" RELEASE "/atom_client.ko", top,
		 version);
	return access(path, F_OK) == 0;
}

/* Client 0.1.0 installed by an agent (so a copy of it is kept). */
static void installed_010(void)
{
	struct upgrade_report rep;

	fake_kernel(NULL);
	make_build("old.ko", "0.1.0", 1, RELEASE, false);
	run("old.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_INSTALLED);
	removes = inserts = 0;
}

static void plan_follows_loaded_target_and_pending(void **state)
{
	const char *back;

	assert_int_equal(upgrade_plan(&(struct upgrade_facts){ .target = "2" }, &back),
			 UPGRADE_ACTION_LOAD);
	assert_null(back);
	assert_int_equal(
		upgrade_plan(&(struct upgrade_facts){ .loaded = "2", .target = "2" }, &back),
		UPGRADE_ACTION_NONE);
	assert_null(back);
	assert_int_equal(
		upgrade_plan(&(struct upgrade_facts){ .loaded = "1", .target = "2" }, &back),
		UPGRADE_ACTION_SWAP);
	assert_string_equal(back, "1");
	/* Killed after rmmod: load the target, fall back to where we came from. */
	assert_int_equal(upgrade_plan(&(struct upgrade_facts){ .target = "2",
							       .pending_from = "1",
							       .pending_to = "2" },
				      &back),
			 UPGRADE_ACTION_LOAD);
	assert_string_equal(back, "1");
	/* Killed after insmod: verify and record. */
	assert_int_equal(upgrade_plan(&(struct upgrade_facts){ .loaded = "2",
							       .target = "2",
							       .pending_from = "1",
							       .pending_to = "2" },
				      &back),
			 UPGRADE_ACTION_FINISH);
	assert_string_equal(back, "1");
	/* Killed before rmmod: a plain swap from what runs. */
	assert_int_equal(upgrade_plan(&(struct upgrade_facts){ .loaded = "1",
							       .target = "2",
							       .pending_from = "1",
							       .pending_to = "2" },
				      &back),
			 UPGRADE_ACTION_SWAP);
	assert_string_equal(back, "1");
	/* A pending record towards this very target has nothing to go back to. */
	assert_int_equal(
		upgrade_plan(&(struct upgrade_facts){ .target = "2", .pending_from = "2" }, &back),
		UPGRADE_ACTION_LOAD);
	assert_null(back);
}

static void names_and_pause_points_parse(void **state)
{
	enum upgrade_pause_point p;

	assert_string_equal(upgrade_outcome_name(UPGRADE_OUTCOME_ROLLED_BACK), "rolled_back");
	assert_string_equal(upgrade_action_name(UPGRADE_ACTION_FINISH), "finish");
	assert_true(upgrade_outcome_failed(UPGRADE_OUTCOME_BROKEN));
	assert_false(upgrade_outcome_failed(UPGRADE_OUTCOME_CURRENT));
	assert_int_equal(upgrade_pause_point_parse("after-rmmod", &p), 0);
	assert_int_equal(p, UPGRADE_PAUSE_AFTER_RMMOD);
	assert_int_equal(upgrade_pause_point_parse("before-anything", &p), -EINVAL);
}

static void first_install_loads_atom_and_client_and_keeps_a_copy(void **state)
{
	struct upgrade_report rep;
	json_t *last;

	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	write_file("modules/atom.ko", "1.0 1 " RELEASE "\n");
	run("new.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_INSTALLED);
	assert_int_equal(inserts, 2);
	assert_string_equal(rep.running, "0.2.0");
	assert_true(kept("0.2.0"));
	last = record("last_upgrade");
	assert_string_equal(field(last, "outcome"), "installed");
	json_decref(last);
}

static void the_shipped_version_running_changes_nothing(void **state)
{
	struct upgrade_report rep;
	json_t *last;

	installed_010();
	run("old.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_CURRENT);
	assert_int_equal(inserts + removes, 0);
	last = record("last_upgrade");
	assert_string_equal(field(last, "outcome"), "installed"); /* unchanged */
	json_decref(last);
}

static void a_swap_upgrades_verifies_and_records_the_pause(void **state)
{
	struct upgrade_report rep;
	json_t *last, *pending;

	installed_010();
	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	run("new.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_UPGRADED);
	assert_string_equal(rep.from, "0.1.0");
	assert_string_equal(rep.running, "0.2.0");
	assert_int_equal(removes, 1);
	assert_int_equal(rep.max_pause_us, 1234);
	assert_int_equal(rep.disks, 1);
	assert_int_equal(read_number("sys/kernel/atom/generation"), 7); /* install + swap */
	last = record("last_upgrade");
	assert_string_equal(field(last, "from"), "0.1.0");
	assert_string_equal(field(last, "to"), "0.2.0");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(last, "disks"), "atom0")), 1234);
	json_decref(last);
	pending = record("pending");
	assert_null(pending);
	assert_true(kept("0.2.0"));
}

static void a_client_briefly_in_use_is_removed_once_free(void **state)
{
	struct upgrade_report rep;

	installed_010();
	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	busy_removes = 3;
	run("new.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_UPGRADED);
	assert_int_equal(busy_removes, 0);
	assert_int_equal(removes, 1);
}

static void a_failed_adoption_rolls_back_to_the_kept_client(void **state)
{
	struct upgrade_report rep;
	json_t *failure, *counters;

	installed_010();
	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	run("new.ko", "fail_adopt=1", &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_ROLLED_BACK);
	assert_string_equal(rep.step, "insmod");
	assert_int_equal(rep.error, -EIO);
	assert_string_equal(rep.running, "0.1.0");
	assert_int_equal(read_number("sys/kernel/atom/generation"), 7); /* install + rollback */
	failure = record("last_failure");
	assert_string_equal(field(failure, "outcome"), "rolled_back");
	assert_string_equal(field(failure, "running"), "0.1.0");
	json_decref(failure);
	counters = record("counters");
	assert_int_equal(json_integer_value(json_object_get(counters, "rolled_back")), 1);
	assert_int_equal(json_integer_value(json_object_get(counters, "failed")), 1);
	json_decref(counters);
	assert_null(record("pending"));
}

static void no_swap_without_a_way_back(void **state)
{
	struct upgrade_report rep;

	fake_kernel("0.0.9"); /* loaded by hand: no copy kept */
	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	run("new.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_REFUSED);
	assert_string_equal(rep.step, "preflight");
	assert_int_equal(removes, 0);
	assert_string_equal(rep.running, "0.0.9");
}

static void preflight_refuses_wrong_kernel_wrong_abi_and_unhealthy_disks(void **state)
{
	struct upgrade_report rep;

	installed_010();
	make_build("other-kernel.ko", "0.2.0", 1, "6.12.117+deb12-amd64", false);
	run("other-kernel.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_REFUSED);
	assert_int_equal(rep.error, -ENOEXEC);

	make_build("other-abi.ko", "0.2.0", 2, RELEASE, false);
	run("other-abi.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_REFUSED);
	assert_int_equal(rep.error, -EPROTO);

	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	set_disk_state("abnormal");
	run("new.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_REFUSED);
	assert_int_equal(rep.error, -EBUSY);
	assert_int_equal(removes, 0);
	assert_int_equal(inserts, 0);
}

static void killed_after_rmmod_the_next_run_finishes_the_swap(void **state)
{
	struct upgrade_report rep;
	json_t *last;

	installed_010();
	__wrap_kmods_remove("atom_client");
	write_pending("0.1.0", "0.2.0", 6);
	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	run("new.ko", NULL, &rep);
	assert_int_equal(rep.action, UPGRADE_ACTION_LOAD);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_UPGRADED);
	assert_true(rep.resumed);
	assert_string_equal(rep.from, "0.1.0");
	last = record("last_upgrade");
	assert_string_equal(field(last, "from"), "0.1.0");
	assert_true(json_is_true(json_object_get(last, "resumed")));
	json_decref(last);
	assert_null(record("pending"));
}

static void killed_after_rmmod_with_a_bad_target_rolls_back_to_pending_from(void **state)
{
	struct upgrade_report rep;
	char disk_state[32];

	installed_010();
	__wrap_kmods_remove("atom_client");
	write_pending("0.1.0", "0.2.0", 6);
	make_build("bad.ko", "0.2.0", 1, RELEASE, true);
	run("bad.ko", NULL, &rep);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_ROLLED_BACK);
	assert_string_equal(rep.running, "0.1.0");
	read_file("sys/block/atom0/atom/state", disk_state, sizeof(disk_state));
	assert_string_equal(disk_state, "attached");
}

static void killed_after_insmod_the_next_run_verifies_and_records(void **state)
{
	struct upgrade_report rep;

	char build[PATH_MAX];

	installed_010();
	make_build("new.ko", "0.2.0", 1, RELEASE, false);
	write_pending("0.1.0", "0.2.0", (unsigned int)read_number("sys/kernel/atom/generation"));
	__wrap_kmods_remove("atom_client");
	snprintf(build, sizeof(build), "%s/modules/new.ko", top);
	assert_int_equal(__wrap_kmods_insert(build, NULL), 0);
	removes = inserts = 0;
	run("new.ko", NULL, &rep);
	assert_int_equal(rep.action, UPGRADE_ACTION_FINISH);
	assert_int_equal(rep.outcome, UPGRADE_OUTCOME_UPGRADED);
	assert_true(rep.resumed);
	assert_string_equal(rep.from, "0.1.0");
	assert_int_equal(inserts + removes, 0);
	assert_null(record("pending"));
}

static void a_held_lock_makes_the_run_wait_then_give_up(void **state)
{
	struct upgrade_report rep;
	char path[PATH_MAX];
	int fd;

	installed_010();
	snprintf(path, sizeof(path), "%s/run/upgrade.lock", top);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	{
		char modules[PATH_MAX], state_dir[PATH_MAX], run_dir[PATH_MAX];
		const struct upgrade_config cfg = {
			.modules_dir = modules,
			.state_dir = state_dir,
			.run_dir = run_dir,
			.lock_timeout_ms = 200,
		};

		snprintf(modules, sizeof(modules), "%s/modules", top);
		snprintf(state_dir, sizeof(state_dir), "%s/state", top);
		snprintf(run_dir, sizeof(run_dir), "%s/run", top);
		assert_int_equal(upgrade_run(&cfg, &rep), -EBUSY);
	}
	close(fd);
	assert_int_equal(inserts + removes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plan_follows_loaded_target_and_pending),
		cmocka_unit_test(names_and_pause_points_parse),
		cmocka_unit_test_setup_teardown(
			first_install_loads_atom_and_client_and_keeps_a_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(the_shipped_version_running_changes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_swap_upgrades_verifies_and_records_the_pause,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_client_briefly_in_use_is_removed_once_free, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_failed_adoption_rolls_back_to_the_kept_client,
						setup, teardown),
		cmocka_unit_test_setup_teardown(no_swap_without_a_way_back, setup, teardown),
		cmocka_unit_test_setup_teardown(
			preflight_refuses_wrong_kernel_wrong_abi_and_unhealthy_disks, setup,
			teardown),
		cmocka_unit_test_setup_teardown(killed_after_rmmod_the_next_run_finishes_the_swap,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			killed_after_rmmod_with_a_bad_target_rolls_back_to_pending_from, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			killed_after_insmod_the_next_run_verifies_and_records, setup, teardown),
		cmocka_unit_test_setup_teardown(a_held_lock_makes_the_run_wait_then_give_up, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
