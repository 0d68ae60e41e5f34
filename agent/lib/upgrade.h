/* SPDX-License-Identifier: GPL-2.0 */
/*
 * upgrade — bring the node's kernel side to a given client build: load the
 * atom if absent, load the client if absent (it adopts any existing disks),
 * or hot-swap a loaded client of another version; roll back to the previous
 * client on any failure. The agent runs it at start (target: the client it
 * ships), `atomctl upgrade`/`atomctl rollback` on demand; one node-local
 * lock (flock on <run_dir>/upgrade.lock) serialises them.
 *
 * A swap, in order:
 *   preflight  target vermagic = running kernel, target atom ABI (modinfo
 *              atom_abi) = the atom's abi_version, every disk attached, a
 *              copy of the running client kept for rollback
 *   record     "pending" {from, to, generation_before} in the journal
 *              (<state_dir>/upgrade.json), BEFORE rmmod
 *   swap       rmmod atom_client (abandon: IO parks), insmod target (adopt)
 *   verify     client version = target, generation bumped, every disk
 *              attached, a 4 KiB O_DIRECT read from each /dev/atomN
 *   record     "last_upgrade" (per-disk last_pause_us, swap wall time),
 *              "pending" removed
 * On a failure after rmmod: the previous client (kept by version under
 * <state_dir>/clients/<version>/<kernel release>/atom_client.ko; every build
 * is copied there before it is loaded) is loaded again and verified, and the
 * failure is recorded in "last_failure". A process killed at any step
 * leaves "pending": the next run finishes the swap (the target is loaded:
 * verify; no client: load the target) or rolls back to "pending.from".
 *
 * Journal records (JSON, atomically rewritten, see journal.h):
 *   pending      {from, to, generation_before, started_ms, trigger}
 *   last_upgrade {from, to, outcome, trigger, at, swap_us, max_pause_us,
 *                 generation, disks: {atomN: last_pause_us}, resumed}
 *   last_failure {from, to, step, error, message, at, running, outcome}
 *   counters     {upgrades, failed, rolled_back}
 */
#ifndef ATOMBLK_UPGRADE_H
#define ATOMBLK_UPGRADE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/kmods.h"

#define UPGRADE_ATOM_MODULE "atom"
#define UPGRADE_CLIENT_MODULE "atom_client"
#define UPGRADE_JOURNAL_FILE "upgrade.json"
#define UPGRADE_LOCK_FILE "upgrade.lock"
#define UPGRADE_TEST_PAUSED_FILE "test-paused"

/* What to do, given what is loaded, what is wanted and what was pending. */
enum upgrade_action {
	UPGRADE_ACTION_NONE, /* the target runs, nothing pending */
	UPGRADE_ACTION_FINISH, /* the target runs after an interrupted swap: verify, record */
	UPGRADE_ACTION_LOAD, /* no client: load the target (first install, or resume after rmmod) */
	UPGRADE_ACTION_SWAP, /* another version runs: swap it for the target */
};

struct upgrade_facts {
	const char *loaded; /* version of the loaded client; NULL: none */
	const char *target; /* version of the target build */
	const char *pending_from; /* the pending record's "from"; NULL: no record */
	const char *pending_to; /* the pending record's "to" */
};

/*
 * upgrade_plan() - the action for @facts (pure). @ret_rollback: the version
 * to fall back to if the target fails (NULL: none): the loaded client for a
 * swap, the pending record's "from" when resuming one.
 */
enum upgrade_action upgrade_plan(const struct upgrade_facts *facts, const char **ret_rollback);
const char *upgrade_action_name(enum upgrade_action action);

enum upgrade_outcome {
	UPGRADE_OUTCOME_CURRENT, /* the target already ran; nothing changed */
	UPGRADE_OUTCOME_INSTALLED, /* loaded where no client ran (no swap) */
	UPGRADE_OUTCOME_UPGRADED, /* swapped to the target (or finished a swap) */
	UPGRADE_OUTCOME_REFUSED, /* preflight failed; the old client still runs */
	UPGRADE_OUTCOME_ROLLED_BACK, /* the target failed; the previous client runs again */
	UPGRADE_OUTCOME_BROKEN, /* no client attached at the end: IO is held */
};

const char *upgrade_outcome_name(enum upgrade_outcome outcome);

/* upgrade_outcome_failed() - the target did not end up running. */
bool upgrade_outcome_failed(enum upgrade_outcome outcome);

/* Test hook: where upgrade_run() stops (see struct upgrade_config). */
enum upgrade_pause_point {
	UPGRADE_PAUSE_NONE,
	UPGRADE_PAUSE_LOCKED, /* lock taken, nothing done */
	UPGRADE_PAUSE_AFTER_RMMOD, /* old client removed, IO parked */
	UPGRADE_PAUSE_AFTER_INSMOD, /* target loaded, not verified nor recorded */
};

/* "locked", "after-rmmod", "after-insmod" -> point; -EINVAL otherwise. */
int upgrade_pause_point_parse(const char *name, enum upgrade_pause_point *ret);

struct upgrade_config {
	const char *modules_dir; /* the shipped atom.ko (and default client) */
	const char *client_path; /* target client build; NULL: <modules_dir>/atom_client.ko */
	const char *client_params; /* insmod parameters for the target only; NULL: none */
	const char *state_dir; /* journal and the kept client builds */
	const char *run_dir; /* the lock */
	const char *trigger; /* who asked: "agent", "atomctl upgrade", ... */
	int lock_timeout_ms; /* how long to wait for the lock; 0: 60 s */
	/*
	 * Test hook (ATOMBLK_TEST_PAUSE_AT in the agent): at this point write
	 * <run_dir>/test-paused (the point's name) and sleep until killed,
	 * so a test can kill -9 the process exactly there.
	 */
	enum upgrade_pause_point test_pause_at;
};

#define UPGRADE_MESSAGE_MAX 512

struct upgrade_report {
	enum upgrade_action action; /* what was planned */
	enum upgrade_outcome outcome;
	char from[KMODS_VERSION_MAX]; /* client version before ("" none) */
	char to[KMODS_VERSION_MAX]; /* the target's version */
	char running[KMODS_VERSION_MAX]; /* client version at the end ("" none) */
	int error; /* -errno of the failure, 0 */
	char step[32]; /* where it failed: lock, atom, preflight, ... */
	char message[UPGRADE_MESSAGE_MAX]; /* the failure, human-readable */
	uint64_t swap_us; /* rmmod start to target adopted */
	uint64_t max_pause_us; /* largest per-disk last_pause_us */
	unsigned int disks; /* atom disks at the end */
	bool resumed; /* finished a swap an earlier run began */
};

/*
 * upgrade_run() - bring the node to the target client (see the file
 * comment). The report says what happened; the return value only whether
 * the function itself could run.
 * Return: 0 (look at ret->outcome); -EBUSY when the lock stayed taken;
 * -errno when the journal cannot be read or written.
 */
int upgrade_run(const struct upgrade_config *cfg, struct upgrade_report *ret);

/*
 * upgrade_kept_client() - the kept build of client @version for the running
 * kernel: <state_dir>/clients/<version>/<release>/atom_client.ko.
 * Return: 0 (the path, whether or not it exists), -EINVAL, -ENAMETOOLONG.
 */
int upgrade_kept_client(const char *state_dir, const char *version, char *buf, size_t size);

/*
 * upgrade_previous_version() - the version the last successful upgrade
 * came from (what `atomctl rollback` goes back to).
 * Return: 0; -ENOENT when no upgrade was recorded; -errno.
 */
int upgrade_previous_version(const char *state_dir, char *buf, size_t size);

/* upgrade_default_modules_dir() - <base>/<version>/<uname -r>. */
int upgrade_default_modules_dir(const char *base, const char *version, char *buf, size_t size);

#endif
