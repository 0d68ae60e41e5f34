// SPDX-License-Identifier: GPL-2.0
/* The client hot upgrade with rollback; see upgrade.h. */
#include "lib/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/atomsys.h"
#include "lib/journal.h"
#include "lib/roots.h"

#define KEEP_FILE_NAME "atom_client.ko"
#define VERIFY_ATTACH_WAIT_MS 5000
#define DEFAULT_LOCK_TIMEOUT_MS 60000
#define VERIFY_READ_SIZE 4096
#define CLIENT_REMOVE_WAIT_MS 5000
#define CLIENT_REMOVE_RETRY_MS 50

/* One run: its configuration, journal and report. */
struct upgrade_run {
	const struct upgrade_config *cfg;
	struct upgrade_report *rep;
	struct journal *journal;
	char release[KMODS_VERMAGIC_MAX]; /* uname -r */
	char target_path[PATH_MAX]; /* the build to load */
	struct kmods_info target; /* its modinfo */
	json_t *pauses; /* disk -> last_pause_us at the last verify */
	uint64_t generation_before; /* the atom's generation before the change */
	bool have_generation_before;
	uint64_t started_ms; /* when the change began (wall clock) */
	uint64_t swap_start_us; /* monotonic, at rmmod/insmod */
};

static void close_fdp(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static void json_putp(json_t **j)
{
	json_decref(*j);
}

#define _cleanup_close_ __attribute__((cleanup(close_fdp)))
#define _cleanup_json_ __attribute__((cleanup(json_putp)))

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* --- the plan (pure) ---------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

enum upgrade_action upgrade_plan(const struct upgrade_facts *f, const char **ret_rollback)
{
	const char *fallback = NULL;
	enum upgrade_action action;

	/* A pending record names the client that ran before an interrupted swap. */
	if (f->pending_from && f->pending_from[0] && !str_eq(f->pending_from, f->target))
		fallback = f->pending_from;

	if (!f->loaded) {
		action = UPGRADE_ACTION_LOAD;
	} else if (str_eq(f->loaded, f->target)) {
		action = f->pending_from ? UPGRADE_ACTION_FINISH : UPGRADE_ACTION_NONE;
		if (action == UPGRADE_ACTION_NONE)
			fallback = NULL;
	} else {
		/* Whatever was pending, the loaded client is what we return to. */
		action = UPGRADE_ACTION_SWAP;
		fallback = f->loaded;
	}
	if (ret_rollback)
		*ret_rollback = fallback;
	return action;
}

const char *upgrade_action_name(enum upgrade_action action)
{
	static const char *const names[] = {
		[UPGRADE_ACTION_NONE] = "none",
		[UPGRADE_ACTION_FINISH] = "finish",
		[UPGRADE_ACTION_LOAD] = "load",
		[UPGRADE_ACTION_SWAP] = "swap",
	};

	return (unsigned int)action <= UPGRADE_ACTION_SWAP ? names[action] : "unknown";
}

const char *upgrade_outcome_name(enum upgrade_outcome outcome)
{
	static const char *const names[] = {
		[UPGRADE_OUTCOME_CURRENT] = "current",
		[UPGRADE_OUTCOME_INSTALLED] = "installed",
		[UPGRADE_OUTCOME_UPGRADED] = "upgraded",
		[UPGRADE_OUTCOME_REFUSED] = "refused",
		[UPGRADE_OUTCOME_ROLLED_BACK] = "rolled_back",
		[UPGRADE_OUTCOME_BROKEN] = "broken",
	};

	return (unsigned int)outcome <= UPGRADE_OUTCOME_BROKEN ? names[outcome] : "unknown";
}

bool upgrade_outcome_failed(enum upgrade_outcome outcome)
{
	return outcome == UPGRADE_OUTCOME_REFUSED || outcome == UPGRADE_OUTCOME_ROLLED_BACK ||
	       outcome == UPGRADE_OUTCOME_BROKEN;
}

int upgrade_pause_point_parse(const char *name, enum upgrade_pause_point *ret)
{
	static const char *const names[] = {
		[UPGRADE_PAUSE_NONE] = "",
		[UPGRADE_PAUSE_LOCKED] = "locked",
		[UPGRADE_PAUSE_AFTER_RMMOD] = "after-rmmod",
		[UPGRADE_PAUSE_AFTER_INSMOD] = "after-insmod",
	};

	for (unsigned int i = 0; i <= UPGRADE_PAUSE_AFTER_INSMOD; i++) {
		if (!strcmp(name, names[i])) {
			*ret = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* --- paths, files, the lock ------------------------------------------------------ */

/* A version or release usable as one path component. */
static bool path_component_valid(const char *s)
{
	return s[0] && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/');
}

int upgrade_default_modules_dir(const char *base, const char *version, char *buf, size_t size)
{
	char release[KMODS_VERMAGIC_MAX];
	int r, n;

	r = kmods_kernel_release(release, sizeof(release));
	if (r < 0)
		return r;
	n = snprintf(buf, size, "%s/%s/%s", base, version, release);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int kept_client_path(const char *state_dir, const char *version, const char *release,
			    char *buf, size_t size)
{
	int n;

	if (!path_component_valid(version) || !path_component_valid(release))
		return -EINVAL;
	n = snprintf(buf, size, "%s/clients/%s/%s/" KEEP_FILE_NAME, state_dir, version, release);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int upgrade_kept_client(const char *state_dir, const char *version, char *buf, size_t size)
{
	char release[KMODS_VERMAGIC_MAX];
	int r;

	r = kmods_kernel_release(release, sizeof(release));
	if (r < 0)
		return r;
	return kept_client_path(state_dir, version, release, buf, size);
}

/* mkdir -p, mode 0755. */
static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Copy @src to @dst atomically (temp file, fsync, rename). */
static int copy_file_atomic(const char *src, const char *dst)
{
	char tmp[PATH_MAX + 8], buf[65536];
	_cleanup_close_ int in = -1;
	int out, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), done = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		while (done < n) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r = -errno;
				break;
			}
			done += w;
		}
		if (r < 0)
			break;
	}
	if (!r && fsync(out) < 0)
		r = -errno;
	if (close(out) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, dst) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Keep a copy of build @path (client @version) for later rollbacks. */
static int keep_client(struct upgrade_run *u, const char *path, const char *version, bool overwrite)
{
	char dst[PATH_MAX], dir[PATH_MAX];
	char *slash;
	int r;

	r = kept_client_path(u->cfg->state_dir, version, u->release, dst, sizeof(dst));
	if (r < 0)
		return r;
	if (!strcmp(dst, path))
		return 0;
	if (!overwrite && access(dst, F_OK) == 0)
		return 0;
	strcpy(dir, dst);
	slash = strrchr(dir, '/');
	*slash = '\0';
	r = mkdir_parents(dir);
	if (r < 0)
		return r;
	return copy_file_atomic(path, dst);
}

/* flock(LOCK_EX) on <run_dir>/upgrade.lock, polling up to @timeout_ms. */
static int lock_take(const char *run_dir, int timeout_ms, int *ret_fd)
{
	char path[PATH_MAX];
	int fd, r, waited = 0;

	if (snprintf(path, sizeof(path), "%s/" UPGRADE_LOCK_FILE, run_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = mkdir_parents(run_dir);
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			r = -errno;
			close(fd);
			return r;
		}
		if (waited >= timeout_ms) {
			close(fd);
			return -EBUSY;
		}
		sleep_ms(100);
		waited += 100;
	}
	*ret_fd = fd;
	return 0;
}

/* The test hook: say where we are, then wait to be killed. */
static void test_pause(struct upgrade_run *u, enum upgrade_pause_point point, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	if (u->cfg->test_pause_at != point || point == UPGRADE_PAUSE_NONE)
		return;
	/* Renamed into place: whoever sees the file sees its content. */
	snprintf(path, sizeof(path), "%s/" UPGRADE_TEST_PAUSED_FILE, u->cfg->run_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (f) {
		fprintf(f, "%s\n", name);
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	for (;;)
		sleep_ms(1000);
}

/* --- the journal ----------------------------------------------------------------- */

static void report_failure(struct upgrade_run *u, const char *step, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The first failure is the one that counts; later ones (rollback) append. */
static void report_failure(struct upgrade_run *u, const char *step, int err, const char *fmt, ...)
{
	struct upgrade_report *rep = u->rep;
	size_t len = strlen(rep->message);
	va_list ap;

	if (!rep->error) {
		rep->error = err < 0 ? err : -EIO;
		snprintf(rep->step, sizeof(rep->step), "%s", step);
	}
	if (len && len + 2 < sizeof(rep->message)) {
		strcpy(rep->message + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(rep->message + len, sizeof(rep->message) - len, fmt, ap);
	va_end(ap);
}

static int counters_bump(struct upgrade_run *u, const char *name)
{
	_cleanup_json_ json_t *counters = NULL;
	json_int_t n;

	if (journal_get(u->journal, "counters", &counters) < 0 || !json_is_object(counters)) {
		json_decref(counters);
		counters = json_object();
		if (!counters)
			return -ENOMEM;
	}
	n = json_integer_value(json_object_get(counters, name));
	json_object_set_new(counters, name, json_integer(n + 1));
	return journal_set(u->journal, "counters", counters);
}

static int pending_write(struct upgrade_run *u, const char *from)
{
	_cleanup_json_ json_t *rec = NULL;

	rec = json_pack("{s:s, s:s, s:I, s:I, s:s}", "from", from ? from : "", "to",
			u->target.version, "generation_before", (json_int_t)u->generation_before,
			"started_ms", (json_int_t)u->started_ms, "trigger",
			u->cfg->trigger ? u->cfg->trigger : "");
	if (!rec)
		return -ENOMEM;
	return journal_set(u->journal, "pending", rec);
}

/* The run's end in the journal: last_upgrade or last_failure, counters. */
static void record_end(struct upgrade_run *u)
{
	struct upgrade_report *rep = u->rep;
	_cleanup_json_ json_t *rec = NULL;

	if (rep->outcome == UPGRADE_OUTCOME_CURRENT)
		return;
	if (!upgrade_outcome_failed(rep->outcome)) {
		rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:O, s:b}", "from",
				rep->from, "to", rep->to, "outcome",
				upgrade_outcome_name(rep->outcome), "trigger",
				u->cfg->trigger ? u->cfg->trigger : "", "at",
				(json_int_t)(wall_ms() / 1000), "swap_us", (json_int_t)rep->swap_us,
				"max_pause_us", (json_int_t)rep->max_pause_us, "generation",
				(json_int_t)u->generation_before, "disks",
				u->pauses ? u->pauses : json_null(), "resumed", rep->resumed);
		if (rec && journal_set(u->journal, "last_upgrade", rec) == 0)
			counters_bump(u, rep->outcome == UPGRADE_OUTCOME_UPGRADED ? "upgrades" :
										    "installs");
	} else {
		/* max_pause_us: of the rollback's adoption, when there was one. */
		rec = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:I}", "from", rep->from,
			"to", rep->to, "outcome", upgrade_outcome_name(rep->outcome), "step",
			rep->step, "error", strerror(-rep->error), "errno", -rep->error, "message",
			rep->message, "running", rep->running, "at", (json_int_t)(wall_ms() / 1000),
			"max_pause_us", (json_int_t)rep->max_pause_us);
		if (rec && journal_set(u->journal, "last_failure", rec) == 0) {
			counters_bump(u, "failed");
			if (rep->outcome == UPGRADE_OUTCOME_ROLLED_BACK)
				counters_bump(u, "rolled_back");
		}
	}
	/* Done either way: a next run starts from what is loaded now. */
	if (rep->outcome != UPGRADE_OUTCOME_BROKEN)
		journal_remove(u->journal, "pending");
}

/* --- verification ---------------------------------------------------------------- */

static bool disks_all_attached(void)
{
	struct atomsys_disk *disks;
	size_t count;
	bool ok = true;

	if (atomsys_disks_list(&disks, &count) < 0)
		return false;
	for (size_t i = 0; i < count; i++)
		ok = ok && disks[i].state == ATOMSYS_DISK_ATTACHED;
	free(disks);
	return ok;
}

/* A 4 KiB O_DIRECT read from the start of /dev/<disk>. */
static int disk_read_check(const char *disk)
{
	char rel[64], path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	void *buf;
	ssize_t n;
	int r;

	snprintf(rel, sizeof(rel), "%s", disk);
	r = roots_path(ROOT_DEV, rel, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (posix_memalign(&buf, VERIFY_READ_SIZE, VERIFY_READ_SIZE))
		return -ENOMEM;
	n = pread(fd, buf, VERIFY_READ_SIZE, 0);
	r = n < 0 ? -errno : n != VERIFY_READ_SIZE ? -EIO : 0;
	free(buf);
	return r;
}

/*
 * The client @version runs and serves every disk: the atom names it, the
 * generation moved past generation_before (when known), every disk is
 * attached (waited for a moment) and answers a read. Fills the pauses.
 */
static int verify(struct upgrade_run *u, const char *version)
{
	struct upgrade_report *rep = u->rep;
	struct atomsys_disk *disks = NULL;
	struct atomsys_module m;
	char loaded[KMODS_VERSION_MAX];
	size_t count = 0;
	int r, waited;

	r = kmods_loaded_version(UPGRADE_CLIENT_MODULE, loaded, sizeof(loaded));
	if (r < 0 || strcmp(loaded, version)) {
		report_failure(u, "verify", r < 0 ? r : -EPROTO, "client %s is not loaded (%s)",
			       version, r < 0 ? strerror(-r) : loaded);
		return r < 0 ? r : -EPROTO;
	}
	r = atomsys_module_read(&m);
	if (r < 0) {
		report_failure(u, "verify", r, "cannot read the atom's status: %s", strerror(-r));
		return r;
	}
	if (strcmp(m.client_version, version)) {
		report_failure(u, "verify", -EPROTO, "the atom reports client '%s', expected %s",
			       m.client_version, version);
		return -EPROTO;
	}
	if (u->have_generation_before && m.generation <= u->generation_before) {
		report_failure(u, "verify", -EPROTO, "generation %llu did not move past %llu",
			       (unsigned long long)m.generation,
			       (unsigned long long)u->generation_before);
		return -EPROTO;
	}
	for (waited = 0; !disks_all_attached() && waited < VERIFY_ATTACH_WAIT_MS; waited += 50)
		sleep_ms(50);
	r = atomsys_disks_list(&disks, &count);
	if (r < 0) {
		report_failure(u, "verify", r, "cannot list the atom disks: %s", strerror(-r));
		return r;
	}
	json_decref(u->pauses);
	u->pauses = json_object();
	rep->max_pause_us = 0;
	rep->disks = (unsigned int)count;
	for (size_t i = 0; i < count && r == 0; i++) {
		const struct atomsys_disk *d = &disks[i];

		if (d->state != ATOMSYS_DISK_ATTACHED) {
			report_failure(u, "verify", -EIO, "disk %s (volume %s) is %s", d->name,
				       d->volume_id, atomsys_disk_state_name(d->state));
			r = -EIO;
			break;
		}
		r = disk_read_check(d->name);
		if (r < 0) {
			report_failure(u, "verify", r, "reading disk %s failed: %s", d->name,
				       strerror(-r));
			break;
		}
		if (d->last_pause_us > rep->max_pause_us)
			rep->max_pause_us = d->last_pause_us;
		json_object_set_new(u->pauses, d->name, json_integer((json_int_t)d->last_pause_us));
	}
	free(disks);
	u->generation_before = m.generation;
	return r;
}

/* --- steps ----------------------------------------------------------------------- */

/*
 * rmmod atom_client. A control call in flight (a CSI call, a metrics
 * scrape, atomtool) holds a module reference for a moment and makes
 * delete_module fail with EBUSY at once: retry for a while.
 */
static int client_remove(void)
{
	int r, waited;

	for (waited = 0;; waited += CLIENT_REMOVE_RETRY_MS) {
		r = kmods_remove(UPGRADE_CLIENT_MODULE);
		if (r != -EBUSY || waited >= CLIENT_REMOVE_WAIT_MS)
			return r;
		sleep_ms(CLIENT_REMOVE_RETRY_MS);
	}
}

static void set_running(struct upgrade_run *u)
{
	char v[KMODS_VERSION_MAX];

	if (kmods_loaded_version(UPGRADE_CLIENT_MODULE, v, sizeof(v)) == 0)
		snprintf(u->rep->running, sizeof(u->rep->running), "%s", v);
	else
		u->rep->running[0] = '\0';
}

/* Load the atom from the modules directory when it is not loaded. */
static int atom_ensure(struct upgrade_run *u)
{
	struct kmods_info info;
	char path[PATH_MAX];
	int r;

	if (kmods_is_loaded(UPGRADE_ATOM_MODULE))
		return 0;
	if (snprintf(path, sizeof(path), "%s/atom.ko", u->cfg->modules_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = kmods_file_info(path, &info);
	if (r < 0) {
		report_failure(u, "atom", r, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	if (!kmods_vermagic_matches(info.vermagic, u->release)) {
		report_failure(u, "atom", -ENOEXEC, "%s is built for '%s', the kernel is %s", path,
			       info.vermagic, u->release);
		return -ENOEXEC;
	}
	r = kmods_insert(path, NULL);
	if (r < 0 && r != -EEXIST) {
		report_failure(u, "atom", r, "insmod %s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

/* Can the target be loaded here? For a swap also: can we hand over and come back? */
static int preflight(struct upgrade_run *u, const char *running)
{
	struct atomsys_module m;
	char kept[PATH_MAX];
	struct kmods_info info;
	int r;

	if (!u->target.version[0]) {
		report_failure(u, "preflight", -EINVAL, "%s has no version", u->target_path);
		return -EINVAL;
	}
	if (!kmods_vermagic_matches(u->target.vermagic, u->release)) {
		report_failure(u, "preflight", -ENOEXEC, "%s is built for '%s', the kernel is %s",
			       u->target_path, u->target.vermagic, u->release);
		return -ENOEXEC;
	}
	r = atomsys_module_read(&m);
	if (r < 0) {
		report_failure(u, "preflight", r, "cannot read the atom's status: %s",
			       strerror(-r));
		return r;
	}
	if (u->target.has_atom_abi && u->target.atom_abi != m.abi_version) {
		report_failure(u, "preflight", -EPROTO,
			       "client %s speaks atom ABI %u, the loaded atom %u",
			       u->target.version, u->target.atom_abi, m.abi_version);
		return -EPROTO;
	}
	if (!running)
		return 0;
	if (!disks_all_attached()) {
		report_failure(u, "preflight", -EBUSY,
			       "a disk is not attached (held or abnormal): not handing over");
		return -EBUSY;
	}
	r = kept_client_path(u->cfg->state_dir, running, u->release, kept, sizeof(kept));
	if (r == 0)
		r = kmods_file_info(kept, &info);
	if (r == 0 && strcmp(info.version, running))
		r = -ESTALE;
	if (r < 0) {
		report_failure(u, "preflight", r,
			       "no usable copy of the running client %s kept at %s (%s): "
			       "no way back, not swapping",
			       running, kept, strerror(-r));
		return r;
	}
	return 0;
}

/*
 * The target failed (the report says how): go back to client @version,
 * kept on the node, and verify it. The target, if loaded, is removed first.
 */
static void roll_back(struct upgrade_run *u, const char *version)
{
	struct upgrade_report *rep = u->rep;
	struct atomsys_module m;
	char kept[PATH_MAX];
	int r;

	rep->outcome = UPGRADE_OUTCOME_BROKEN;
	if (!version) {
		report_failure(u, "rollback", -ENOENT, "no previous client to roll back to");
		goto out;
	}
	r = kept_client_path(u->cfg->state_dir, version, u->release, kept, sizeof(kept));
	if (r < 0) {
		report_failure(u, "rollback", r, "bad version '%s'", version);
		goto out;
	}
	if (kmods_is_loaded(UPGRADE_CLIENT_MODULE)) {
		r = client_remove();
		if (r < 0 && r != -ENOENT) {
			report_failure(u, "rollback", r, "rmmod of the failed client: %s",
				       strerror(-r));
			goto out;
		}
	}
	u->have_generation_before = atomsys_module_read(&m) == 0;
	if (u->have_generation_before)
		u->generation_before = m.generation;
	r = kmods_insert(kept, NULL);
	if (r < 0) {
		report_failure(u, "rollback", r, "insmod %s: %s", kept, strerror(-r));
		goto out;
	}
	if (verify(u, version) == 0)
		rep->outcome = UPGRADE_OUTCOME_ROLLED_BACK;
out:
	set_running(u);
}

/* Load the target where no client runs; roll back to @fallback on failure. */
static void do_load(struct upgrade_run *u, const char *fallback)
{
	struct upgrade_report *rep = u->rep;
	struct atomsys_module m;
	int r;

	if (preflight(u, NULL) < 0)
		return roll_back(u, fallback);
	r = keep_client(u, u->target_path, u->target.version, true);
	if (r < 0) {
		report_failure(u, "keep", r, "cannot keep a copy of %s: %s", u->target_path,
			       strerror(-r));
		return roll_back(u, fallback);
	}
	if (!u->have_generation_before && atomsys_module_read(&m) == 0) {
		u->generation_before = m.generation;
		u->have_generation_before = true;
	}
	if (!u->started_ms)
		u->started_ms = wall_ms();
	u->swap_start_us = mono_us();
	r = kmods_insert(u->target_path, u->cfg->client_params);
	if (r < 0) {
		report_failure(u, "insmod", r, "insmod %s (client %s): %s", u->target_path,
			       u->target.version, strerror(-r));
		return roll_back(u, fallback);
	}
	rep->swap_us = mono_us() - u->swap_start_us;
	test_pause(u, UPGRADE_PAUSE_AFTER_INSMOD, "after-insmod");
	if (verify(u, u->target.version) < 0)
		return roll_back(u, fallback);
	rep->outcome = rep->resumed ? UPGRADE_OUTCOME_UPGRADED : UPGRADE_OUTCOME_INSTALLED;
	set_running(u);
}

/* Swap the running client @running for the target. */
static void do_swap(struct upgrade_run *u, const char *running)
{
	struct upgrade_report *rep = u->rep;
	struct atomsys_module m;
	int r;

	if (preflight(u, running) < 0) {
		rep->outcome = UPGRADE_OUTCOME_REFUSED;
		return set_running(u);
	}
	r = keep_client(u, u->target_path, u->target.version, true);
	if (r == 0)
		r = atomsys_module_read(&m);
	if (r < 0) {
		report_failure(u, "keep", r, "cannot keep a copy of %s: %s", u->target_path,
			       strerror(-r));
		rep->outcome = UPGRADE_OUTCOME_REFUSED;
		return set_running(u);
	}
	u->generation_before = m.generation;
	u->have_generation_before = true;
	u->started_ms = wall_ms();
	/* Crash safety: the way back is on disk before the old client goes. */
	r = pending_write(u, running);
	if (r < 0) {
		report_failure(u, "journal", r, "cannot record the pending swap: %s", strerror(-r));
		rep->outcome = UPGRADE_OUTCOME_REFUSED;
		return set_running(u);
	}
	u->swap_start_us = mono_us();
	r = client_remove();
	if (r < 0 && kmods_is_loaded(UPGRADE_CLIENT_MODULE)) {
		report_failure(u, "rmmod", r, "rmmod %s (client %s): %s", UPGRADE_CLIENT_MODULE,
			       running, strerror(-r));
		rep->outcome = UPGRADE_OUTCOME_REFUSED;
		return set_running(u);
	}
	test_pause(u, UPGRADE_PAUSE_AFTER_RMMOD, "after-rmmod");
	r = kmods_insert(u->target_path, u->cfg->client_params);
	if (r < 0) {
		report_failure(u, "insmod", r, "insmod %s (client %s): %s", u->target_path,
			       u->target.version, strerror(-r));
		return roll_back(u, running);
	}
	rep->swap_us = mono_us() - u->swap_start_us;
	test_pause(u, UPGRADE_PAUSE_AFTER_INSMOD, "after-insmod");
	if (verify(u, u->target.version) < 0)
		return roll_back(u, running);
	rep->outcome = UPGRADE_OUTCOME_UPGRADED;
	set_running(u);
}

/* Read the pending record's fields into the run (resuming its clock and generation). */
static void pending_read(struct upgrade_run *u, json_t *pending, const char **ret_from,
			 const char **ret_to)
{
	json_t *gen = json_object_get(pending, "generation_before");
	json_t *started = json_object_get(pending, "started_ms");

	*ret_from = json_string_value(json_object_get(pending, "from"));
	*ret_to = json_string_value(json_object_get(pending, "to"));
	if (!*ret_from)
		*ret_from = "";
	if (json_is_integer(gen)) {
		u->generation_before = (uint64_t)json_integer_value(gen);
		u->have_generation_before = true;
	}
	if (json_is_integer(started))
		u->started_ms = (uint64_t)json_integer_value(started);
}

static int journal_open_in(const char *state_dir, struct journal **ret)
{
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/" UPGRADE_JOURNAL_FILE, state_dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	r = mkdir_parents(state_dir);
	if (r < 0)
		return r;
	return journal_open(path, ret);
}

int upgrade_run(const struct upgrade_config *cfg, struct upgrade_report *ret)
{
	struct upgrade_run u = { .cfg = cfg, .rep = ret };
	_cleanup_close_ int lock_fd = -1;
	_cleanup_json_ json_t *pending = NULL;
	const char *pending_from = NULL, *pending_to = NULL, *fallback = NULL;
	char loaded[KMODS_VERSION_MAX];
	bool have_loaded;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = lock_take(cfg->run_dir,
		      cfg->lock_timeout_ms > 0 ? cfg->lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS,
		      &lock_fd);
	if (r < 0)
		return r;
	test_pause(&u, UPGRADE_PAUSE_LOCKED, "locked");
	r = kmods_kernel_release(u.release, sizeof(u.release));
	if (r < 0)
		return r;
	r = journal_open_in(cfg->state_dir, &u.journal);
	if (r < 0)
		return r;
	if (journal_get(u.journal, "pending", &pending) == 0 && json_is_object(pending))
		pending_read(&u, pending, &pending_from, &pending_to);

	if (cfg->client_path)
		snprintf(u.target_path, sizeof(u.target_path), "%s", cfg->client_path);
	else
		snprintf(u.target_path, sizeof(u.target_path), "%s/" KEEP_FILE_NAME,
			 cfg->modules_dir);

	have_loaded = kmods_loaded_version(UPGRADE_CLIENT_MODULE, loaded, sizeof(loaded)) == 0;
	snprintf(ret->from, sizeof(ret->from), "%s",
		 have_loaded  ? loaded :
		 pending_from ? pending_from :
				"");
	set_running(&u);

	if (atom_ensure(&u) < 0) {
		ret->outcome = have_loaded ? UPGRADE_OUTCOME_REFUSED : UPGRADE_OUTCOME_BROKEN;
		goto out_record;
	}
	r = kmods_file_info(u.target_path, &u.target);
	if (r < 0) {
		report_failure(&u, "preflight", r, "cannot read the client build %s: %s",
			       u.target_path, strerror(-r));
		if (have_loaded) {
			ret->outcome = UPGRADE_OUTCOME_REFUSED;
		} else {
			upgrade_plan(&(struct upgrade_facts){ .target = "",
							      .pending_from = pending_from },
				     &fallback);
			roll_back(&u, fallback);
		}
		goto out_record;
	}
	snprintf(ret->to, sizeof(ret->to), "%s", u.target.version);

	ret->action = upgrade_plan(
		&(struct upgrade_facts){
			.loaded = have_loaded ? loaded : NULL,
			.target = u.target.version,
			.pending_from = pending_from,
			.pending_to = pending_to,
		},
		&fallback);
	if (pending_from && pending_from[0] &&
	    (ret->action == UPGRADE_ACTION_FINISH || ret->action == UPGRADE_ACTION_LOAD))
		snprintf(ret->from, sizeof(ret->from), "%s", pending_from);
	switch (ret->action) {
	case UPGRADE_ACTION_NONE:
		/* Keep a copy of the running build for a later rollback. */
		keep_client(&u, u.target_path, u.target.version, false);
		ret->outcome = UPGRADE_OUTCOME_CURRENT;
		break;
	case UPGRADE_ACTION_FINISH:
		ret->resumed = true;
		if (verify(&u, u.target.version) < 0) {
			roll_back(&u, fallback);
		} else {
			ret->outcome = UPGRADE_OUTCOME_UPGRADED;
			if (u.started_ms)
				ret->swap_us = (wall_ms() - u.started_ms) * 1000;
		}
		break;
	case UPGRADE_ACTION_LOAD:
		ret->resumed = pending_from != NULL;
		do_load(&u, fallback);
		if (ret->resumed && ret->outcome == UPGRADE_OUTCOME_UPGRADED && u.started_ms)
			ret->swap_us = (wall_ms() - u.started_ms) * 1000;
		break;
	case UPGRADE_ACTION_SWAP:
		do_swap(&u, loaded);
		break;
	}
out_record:
	set_running(&u);
	{
		struct atomsys_disk *disks;
		size_t count;

		if (atomsys_disks_list(&disks, &count) == 0) {
			ret->disks = (unsigned int)count;
			free(disks);
		}
	}
	record_end(&u);
	json_decref(u.pauses);
	journal_free(u.journal);
	return 0;
}

int upgrade_previous_version(const char *state_dir, char *buf, size_t size)
{
	_cleanup_json_ json_t *last = NULL;
	struct journal *j;
	const char *from;
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/" UPGRADE_JOURNAL_FILE, state_dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	r = journal_open(path, &j);
	if (r < 0)
		return r;
	r = journal_get(j, "last_upgrade", &last);
	journal_free(j);
	if (r < 0)
		return r;
	from = json_string_value(json_object_get(last, "from"));
	if (!from || !from[0])
		return -ENOENT;
	if (strlen(from) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, from);
	return 0;
}
