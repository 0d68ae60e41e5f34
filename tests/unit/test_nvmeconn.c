// SPDX-License-Identifier: GPL-2.0
/*
 * nvmeconn: the namespace block device behind a controller, found in a
 * fixture sysfs and /dev (plain and native-multipath names, other
 * namespaces skipped, a device that never appears times out), and the
 * connect parameters refused before anything reaches the kernel.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/nvmeconn.h"
#include "lib/roots.h"

struct fixture {
	char dir[64];
	char sys[96];
	char dev[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/atomblk-nvmeconn-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->sys, sizeof(f->sys), "%s/sys", f->dir);
	snprintf(f->dev, sizeof(f->dev), "%s/dev", f->dir);
	if (mkdir(f->sys, 0755) < 0 || mkdir(f->dev, 0755) < 0 || roots_set(ROOT_SYS, f->sys) < 0 ||
	    roots_set(ROOT_DEV, f->dev) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	roots_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* sys/class/nvme/<ctrl>/<entry>/ with an nsid attribute (none if @nsid < 0). */
static void add_namespace_entry(const struct fixture *f, const char *ctrl, const char *entry,
				int nsid)
{
	char path[PATH_MAX], cmd[PATH_MAX + 16];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/class/nvme/%s/%s", f->sys, ctrl, entry);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
	if (nsid < 0)
		return;
	strcat(path, "/nsid");
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%d\n", nsid);
	fclose(fp);
}

/* A block device node /dev/<name> (any numbers: only its type is looked at). */
static bool add_block_node(const struct fixture *f, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dev, name);
	return mknod(path, S_IFBLK | 0600, makedev(259, 99)) == 0;
}

static void a_plain_namespace_is_the_controllers_nvmeXnY(void **state)
{
	struct fixture *f = *state;
	char dev[PATH_MAX], want[PATH_MAX];

	add_namespace_entry(f, "nvme3", "nvme3n1", 1);
	if (!add_block_node(f, "nvme3n1"))
		skip(); /* mknod needs CAP_MKNOD */
	assert_int_equal(nvmeconn_namespace("nvme3", 1, 0, dev, sizeof(dev)), 0);
	snprintf(want, sizeof(want), "%s/nvme3n1", f->dev);
	assert_string_equal(dev, want);
}

static void a_multipath_path_leads_to_its_head_device(void **state)
{
	struct fixture *f = *state;
	char dev[PATH_MAX], want[PATH_MAX];

	add_namespace_entry(f, "nvme4", "nvme2c4n1", 1);
	if (!add_block_node(f, "nvme2n1"))
		skip();
	assert_int_equal(nvmeconn_namespace("nvme4", 1, 0, dev, sizeof(dev)), 0);
	snprintf(want, sizeof(want), "%s/nvme2n1", f->dev);
	assert_string_equal(dev, want);
}

static void other_namespaces_and_entries_are_skipped(void **state)
{
	struct fixture *f = *state;
	char dev[PATH_MAX], want[PATH_MAX];

	add_namespace_entry(f, "nvme5", "nvme5n2", 2);
	add_namespace_entry(f, "nvme5", "power", -1);
	add_namespace_entry(f, "nvme5", "nvme5n1x", -1);
	add_namespace_entry(f, "nvme5", "nvme5n7", 1); /* the nsid attribute decides */
	if (!add_block_node(f, "nvme5n2") || !add_block_node(f, "nvme5n7"))
		skip();
	assert_int_equal(nvmeconn_namespace("nvme5", 1, 0, dev, sizeof(dev)), 0);
	snprintf(want, sizeof(want), "%s/nvme5n7", f->dev);
	assert_string_equal(dev, want);
	assert_int_equal(nvmeconn_namespace("nvme5", 2, 0, dev, sizeof(dev)), 0);
	snprintf(want, sizeof(want), "%s/nvme5n2", f->dev);
	assert_string_equal(dev, want);
}

static void a_namespace_without_device_node_times_out_after_the_wait(void **state)
{
	struct fixture *f = *state;
	struct timespec a, b;
	char dev[PATH_MAX];
	long ms;

	add_namespace_entry(f, "nvme6", "nvme6n1", 1); /* sysfs has it, /dev does not (yet) */
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(nvmeconn_namespace("nvme6", 1, 300, dev, sizeof(dev)), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 300 && ms < 2000);
	assert_int_equal(nvmeconn_namespace("nvme7", 1, 0, dev, sizeof(dev)), -ETIMEDOUT);
}

static void a_regular_file_is_no_device(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], dev[PATH_MAX];
	FILE *fp;

	add_namespace_entry(f, "nvme8", "nvme8n1", 1);
	snprintf(path, sizeof(path), "%s/nvme8n1", f->dev);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(nvmeconn_namespace("nvme8", 1, 0, dev, sizeof(dev)), -ETIMEDOUT);
}

static void controller_names_with_a_slash_are_refused(void **state)
{
	char dev[PATH_MAX];

	assert_int_equal(nvmeconn_namespace("../nvme0", 1, 0, dev, sizeof(dev)), -EINVAL);
	assert_int_equal(nvmeconn_namespace("", 1, 0, dev, sizeof(dev)), -EINVAL);
	assert_int_equal(nvmeconn_rescan("../sda"), -EINVAL);
}

static void bad_connect_parameters_are_refused_before_the_kernel(void **state)
{
	const struct nvmet_address tcp = { "tcp", "ipv4", "127.0.0.2", "4420" };
	const struct nvmet_address fc = { "fc", "", "nn-0x1", "" };
	struct hostid host = { .nqn = "nqn.2014-08.org.nvmexpress:uuid:x", .id = "x" };
	struct nvmeconn_params p = {
		.nqn = "nqn.2024-01.io.atomblk:replica:r1",
		.addr = &tcp,
		.host = &host,
		.ctrl_loss_tmo = 30,
		.reconnect_delay = 2,
		.fast_io_fail_tmo = 5,
	};
	struct nvmeconn_ctrl c;
	char msg[256] = "";
	bool reused;

	p.nqn = "not-an-nqn";
	assert_int_equal(nvmeconn_connect(&p, &c, &reused, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "NQN"));
	p.nqn = "nqn.2024-01.io.atomblk:replica:r1";
	p.addr = &fc;
	assert_int_equal(nvmeconn_connect(&p, &c, &reused, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "tcp or rdma"));
	p.addr = &tcp;
	p.reconnect_delay = 0;
	assert_int_equal(nvmeconn_connect(&p, &c, &reused, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "reconnect_delay"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_plain_namespace_is_the_controllers_nvmeXnY, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_multipath_path_leads_to_its_head_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(other_namespaces_and_entries_are_skipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_namespace_without_device_node_times_out_after_the_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(a_regular_file_is_no_device, setup, teardown),
		cmocka_unit_test(controller_names_with_a_slash_are_refused),
		cmocka_unit_test(bad_connect_parameters_are_refused_before_the_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
