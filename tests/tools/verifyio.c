// SPDX-License-Identifier: GPL-2.0
/*
 * verifyio - a verifying random writer for the VM tests and the benchmark.
 *
 *   verifyio [-d DEPTH] [-s SIZE] [-t SECS] [-S STOPFILE] [-p STALL_MS]
 *            [-r READ_PCT] [-P PROGRESSFILE] [-l] [-q] [-n] PATH
 *
 * DEPTH threads (default 16) issue 4 KiB O_DIRECT IOs at random block
 * offsets of PATH (a block device, or a file created at SIZE) until SECS
 * pass (0 = no limit), STOPFILE appears, or SIGINT/SIGTERM. Thread i owns
 * the blocks with index % DEPTH == i, so one thread knows what each of its
 * blocks must hold: every block carries its offset, a sequence number and a
 * checksum, and every read (READ_PCT percent of the IOs, and the final pass
 * over every written block unless -n) is checked against them.
 *
 * An IO that takes STALL_MS (default 100) or more is a stall; overlapping
 * stalls of the threads merge into one application-visible pause, listed as
 * "stall at_ms=A ms=B" (A from the start); -l also lists every stalled IO
 * on its own as "io_stall at_ms=A ms=B". The summary line:
 *   ios=N writes=N reads=N errors=N verify_failures=N max_stall_ms=X
 *   max_latency_ms=X stalls=N iops=N secs=X
 * Exit status 0 only with no IO error and no verify failure (1 otherwise,
 * 2 for usage or setup errors). -P rewrites PROGRESSFILE every 100 ms with
 * "ios=N errors=N verify_failures=N" so a test can watch IO stop or resume.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VIO_BLOCK_SIZE 4096
#define VIO_BLOCK_WORDS (VIO_BLOCK_SIZE / sizeof(uint64_t))
#define VIO_BLOCK_MAGIC 0x6f69796669726576ULL /* "verifyio" */
#define MAX_REPORTED_ERRORS 10

/* Expected content of a block, per block: 0 never written, else its seq. */
#define SEQ_UNKNOWN UINT64_MAX /* a write failed: content undefined */

/* The self-describing block header (the rest of the block is payload). */
struct block_header {
	uint64_t magic; /* VIO_BLOCK_MAGIC */
	uint64_t offset; /* byte offset the block was written at */
	uint64_t seq; /* per-block write sequence number, from 1 */
	uint64_t checksum; /* over the whole block with this field zero */
};

struct stall {
	double start_ms; /* IO issue time, from the run's start */
	double end_ms; /* IO completion time */
};

struct worker {
	pthread_t thread;
	unsigned int index; /* owns blocks with index % depth == this */
	uint64_t rng; /* xorshift state */
	uint64_t ios, writes, reads, errors, verify_failures;
	double max_latency_ms;
	struct stall *stalls; /* IOs that took stall_ms or more */
	size_t nstalls, stalls_cap;
};

static struct {
	const char *path;
	int fd;
	uint64_t size; /* bytes used, a multiple of VIO_BLOCK_SIZE */
	uint64_t nblocks;
	unsigned int depth;
	unsigned int read_pct;
	double stall_ms;
	uint64_t *expected; /* per block: expected seq (see SEQ_UNKNOWN) */
	struct timespec start;
	atomic_bool stop;
	atomic_uint_fast64_t total_ios, total_errors, total_verify_failures;
	atomic_uint reported_errors;
} run;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec - run.start.tv_sec) * 1e3 + (ts.tv_nsec - run.start.tv_nsec) / 1e6;
}

static uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static uint64_t block_checksum(const uint64_t *words)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < VIO_BLOCK_WORDS; i++) {
		uint64_t w = i == 3 ? 0 : words[i]; /* words[3] = checksum */

		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static void block_fill(uint64_t *words, uint64_t offset, uint64_t seq)
{
	struct block_header *hdr = (struct block_header *)words;
	uint64_t state = (offset * 0x9e3779b97f4a7c15ULL) ^ seq ^ 1;
	size_t i;

	for (i = sizeof(*hdr) / sizeof(uint64_t); i < VIO_BLOCK_WORDS; i++)
		words[i] = xorshift64(&state);
	hdr->magic = VIO_BLOCK_MAGIC;
	hdr->offset = offset;
	hdr->seq = seq;
	hdr->checksum = 0;
	hdr->checksum = block_checksum(words);
}

/* Check a block read back at @offset against what must be there. */
static bool block_is_valid(const uint64_t *words, uint64_t offset, uint64_t seq, char *why,
			   size_t whylen)
{
	const struct block_header *hdr = (const struct block_header *)words;

	if (hdr->magic != VIO_BLOCK_MAGIC)
		snprintf(why, whylen, "bad magic %#" PRIx64, hdr->magic);
	else if (hdr->offset != offset)
		snprintf(why, whylen, "holds offset %" PRIu64, hdr->offset);
	else if (hdr->seq != seq)
		snprintf(why, whylen, "holds seq %" PRIu64 ", expected %" PRIu64, hdr->seq, seq);
	else if (hdr->checksum != block_checksum(words))
		snprintf(why, whylen, "bad checksum");
	else
		return true;
	return false;
}

static void report_error(const char *op, uint64_t offset, const char *what)
{
	if (atomic_fetch_add(&run.reported_errors, 1) < MAX_REPORTED_ERRORS)
		fprintf(stderr, "verifyio: %s at offset %" PRIu64 ": %s\n", op, offset, what);
}

static void note_latency(struct worker *w, double start_ms, double end_ms)
{
	double lat = end_ms - start_ms;

	if (lat > w->max_latency_ms)
		w->max_latency_ms = lat;
	if (lat < run.stall_ms)
		return;
	if (w->nstalls == w->stalls_cap) {
		size_t cap = w->stalls_cap ? w->stalls_cap * 2 : 64;
		struct stall *s = realloc(w->stalls, cap * sizeof(*s));

		if (!s)
			return; /* losing a stall record beats dying */
		w->stalls = s;
		w->stalls_cap = cap;
	}
	w->stalls[w->nstalls++] = (struct stall){ start_ms, end_ms };
}

/* One IO of @w's on block @block; false when it failed or did not verify. */
static bool do_io(struct worker *w, uint64_t *buf, uint64_t block, bool write)
{
	uint64_t offset = block * VIO_BLOCK_SIZE;
	uint64_t seq = run.expected[block];
	char why[96];
	double t0, t1;
	ssize_t n;

	if (write) {
		uint64_t next = seq == SEQ_UNKNOWN ? 1 : seq + 1;

		block_fill(buf, offset, next);
		t0 = now_ms();
		n = pwrite(run.fd, buf, VIO_BLOCK_SIZE, offset);
		t1 = now_ms();
		w->writes++;
		run.expected[block] = n == VIO_BLOCK_SIZE ? next : SEQ_UNKNOWN;
	} else {
		t0 = now_ms();
		n = pread(run.fd, buf, VIO_BLOCK_SIZE, offset);
		t1 = now_ms();
		w->reads++;
	}
	w->ios++;
	atomic_fetch_add(&run.total_ios, 1);
	note_latency(w, t0, t1);
	if (n != VIO_BLOCK_SIZE) {
		w->errors++;
		atomic_fetch_add(&run.total_errors, 1);
		report_error(write ? "write" : "read", offset,
			     n < 0 ? strerror(errno) : "short transfer");
		return false;
	}
	if (!write && !block_is_valid(buf, offset, seq, why, sizeof(why))) {
		w->verify_failures++;
		atomic_fetch_add(&run.total_verify_failures, 1);
		report_error("verify", offset, why);
		return false;
	}
	return true;
}

/* A random block owned by @w (only blocks with a known content for reads). */
static bool pick_block(struct worker *w, bool for_read, uint64_t *ret_block)
{
	uint64_t owned = (run.nblocks - w->index + run.depth - 1) / run.depth;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		uint64_t block = (xorshift64(&w->rng) % owned) * run.depth + w->index;
		uint64_t seq = run.expected[block];

		if (!for_read || (seq != 0 && seq != SEQ_UNKNOWN)) {
			*ret_block = block;
			return true;
		}
	}
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t *buf;
	uint64_t block;

	if (posix_memalign((void **)&buf, VIO_BLOCK_SIZE, VIO_BLOCK_SIZE))
		return NULL;
	while (!atomic_load(&run.stop)) {
		bool read = xorshift64(&w->rng) % 100 < run.read_pct;

		if (read && pick_block(w, true, &block))
			do_io(w, buf, block, false);
		else if (pick_block(w, false, &block))
			do_io(w, buf, block, true);
	}
	free(buf);
	return NULL;
}

/* Final pass: read back every block written with a known content. */
static void *verifier_main(void *arg)
{
	struct worker *w = arg;
	uint64_t *buf;
	uint64_t block;

	if (posix_memalign((void **)&buf, VIO_BLOCK_SIZE, VIO_BLOCK_SIZE))
		return NULL;
	for (block = w->index; block < run.nblocks; block += run.depth) {
		uint64_t seq = run.expected[block];

		if (seq != 0 && seq != SEQ_UNKNOWN)
			do_io(w, buf, block, false);
	}
	free(buf);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&run.stop, true);
}

static int compare_stalls(const void *a, const void *b)
{
	const struct stall *x = a, *y = b;

	return (x->start_ms > y->start_ms) - (x->start_ms < y->start_ms);
}

static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G':
	case 'g':
		v <<= 10; /* fall through */
	case 'M':
	case 'm':
		v <<= 10; /* fall through */
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end || v < VIO_BLOCK_SIZE)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void write_progress(const char *path)
{
	char tmp[4096], line[160];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	snprintf(line, sizeof(line),
		 "ios=%" PRIuFAST64 " errors=%" PRIuFAST64 " verify_failures=%" PRIuFAST64 "\n",
		 atomic_load(&run.total_ios), atomic_load(&run.total_errors),
		 atomic_load(&run.total_verify_failures));
	fputs(line, f);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void usage(void)
{
	fprintf(stderr, "usage: verifyio [-d DEPTH] [-s SIZE] [-t SECS] [-S STOPFILE] "
			"[-p STALL_MS] [-r READ_PCT] [-P PROGRESSFILE] [-l] [-q] [-n] PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *stopfile = NULL, *progress = NULL;
	bool final_verify = true, quiet = false, list_ios = false;
	double secs = 0, elapsed, max_stall = 0, max_latency = 0;
	uint64_t size = 0, timed_ios, ios = 0, writes = 0, reads = 0, errors = 0, vfail = 0;
	struct stall *all = NULL, *merged;
	size_t nall = 0, nmerged = 0, i;
	struct worker *workers;
	struct stat st;
	unsigned int t;
	int opt;

	run.depth = 16;
	run.read_pct = 25;
	run.stall_ms = 100;
	while ((opt = getopt(argc, argv, "d:s:t:S:p:r:P:lqn")) != -1) {
		switch (opt) {
		case 'd':
			run.depth = strtoul(optarg, NULL, 0);
			break;
		case 's':
			if (parse_size(optarg, &size))
				usage();
			break;
		case 't':
			secs = strtod(optarg, NULL);
			break;
		case 'S':
			stopfile = optarg;
			break;
		case 'p':
			run.stall_ms = strtod(optarg, NULL);
			break;
		case 'r':
			run.read_pct = strtoul(optarg, NULL, 0);
			break;
		case 'P':
			progress = optarg;
			break;
		case 'l':
			list_ios = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'n':
			final_verify = false;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || run.depth < 1 || run.depth > 1024 || run.read_pct > 100)
		usage();
	run.path = argv[optind];

	run.fd = open(run.path, O_RDWR | O_DIRECT | (size ? O_CREAT : 0), 0644);
	if (run.fd < 0 || fstat(run.fd, &st)) {
		fprintf(stderr, "verifyio: %s: %s\n", run.path, strerror(errno));
		return 2;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t dev_size;

		if (ioctl(run.fd, BLKGETSIZE64, &dev_size)) {
			fprintf(stderr, "verifyio: %s: size: %s\n", run.path, strerror(errno));
			return 2;
		}
		if (!size || size > dev_size)
			size = dev_size;
	} else if (size) {
		int err = posix_fallocate(run.fd, 0, size);

		if (err) {
			fprintf(stderr, "verifyio: %s: allocate: %s\n", run.path, strerror(err));
			return 2;
		}
	} else {
		size = st.st_size;
	}
	run.size = size / VIO_BLOCK_SIZE * VIO_BLOCK_SIZE;
	run.nblocks = run.size / VIO_BLOCK_SIZE;
	if (run.nblocks < run.depth) {
		fprintf(stderr, "verifyio: %s: too small for depth %u\n", run.path, run.depth);
		return 2;
	}
	run.expected = calloc(run.nblocks, sizeof(*run.expected));
	workers = calloc(run.depth, sizeof(*workers));
	if (!run.expected || !workers) {
		fprintf(stderr, "verifyio: out of memory\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	clock_gettime(CLOCK_MONOTONIC, &run.start);
	for (t = 0; t < run.depth; t++) {
		workers[t].index = t;
		workers[t].rng =
			((uint64_t)run.start.tv_nsec << 20) ^ (t + 1) * 0x9e3779b97f4a7c15ULL;
		if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t])) {
			fprintf(stderr, "verifyio: cannot start thread %u\n", t);
			return 2;
		}
	}
	while (!atomic_load(&run.stop)) {
		usleep(100 * 1000);
		if (progress)
			write_progress(progress);
		if ((secs > 0 && now_ms() >= secs * 1e3) ||
		    (stopfile && access(stopfile, F_OK) == 0))
			atomic_store(&run.stop, true);
	}
	for (t = 0; t < run.depth; t++)
		pthread_join(workers[t].thread, NULL);
	elapsed = now_ms() / 1e3;
	timed_ios = atomic_load(&run.total_ios);

	if (final_verify) {
		for (t = 0; t < run.depth; t++)
			pthread_create(&workers[t].thread, NULL, verifier_main, &workers[t]);
		for (t = 0; t < run.depth; t++)
			pthread_join(workers[t].thread, NULL);
	}
	if (progress)
		write_progress(progress);

	for (t = 0; t < run.depth; t++) {
		struct worker *w = &workers[t];
		struct stall *grown = realloc(all, (nall + w->nstalls + 1) * sizeof(*all));

		if (grown) {
			all = grown;
			memcpy(all + nall, w->stalls, w->nstalls * sizeof(*all));
			nall += w->nstalls;
		}
		ios += w->ios;
		writes += w->writes;
		reads += w->reads;
		errors += w->errors;
		vfail += w->verify_failures;
		if (w->max_latency_ms > max_latency)
			max_latency = w->max_latency_ms;
	}
	qsort(all, nall, sizeof(*all), compare_stalls);
	for (i = 0; list_ios && i < nall; i++)
		printf("io_stall at_ms=%.0f ms=%.1f\n", all[i].start_ms,
		       all[i].end_ms - all[i].start_ms);
	/* Overlapping stalls are one pause as the application sees it. */
	merged = all;
	for (i = 0; i < nall; i++) {
		if (nmerged && all[i].start_ms <= merged[nmerged - 1].end_ms) {
			if (all[i].end_ms > merged[nmerged - 1].end_ms)
				merged[nmerged - 1].end_ms = all[i].end_ms;
		} else {
			merged[nmerged++] = all[i];
		}
	}
	for (i = 0; i < nmerged; i++) {
		double ms = merged[i].end_ms - merged[i].start_ms;

		if (ms > max_stall)
			max_stall = ms;
		if (!quiet)
			printf("stall at_ms=%.0f ms=%.1f\n", merged[i].start_ms, ms);
	}
	printf("ios=%" PRIu64 " writes=%" PRIu64 " reads=%" PRIu64 " errors=%" PRIu64
	       " verify_failures=%" PRIu64 " max_stall_ms=%.1f max_latency_ms=%.1f"
	       " stalls=%zu iops=%.0f secs=%.1f\n",
	       ios, writes, reads, errors, vfail, max_stall, max_latency, nmerged,
	       elapsed > 0 ? timed_ios / elapsed : 0.0, elapsed);
	return errors || vfail ? 1 : 0;
}
