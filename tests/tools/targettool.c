// SPDX-License-Identifier: GPL-2.0
/*
 * targettool — drives agent/lib/pool and agent/lib/nvmet from a shell, for
 * the VM case 80-nvmet-export. Exit status: 0, or the failing call's errno
 * (so a script can tell EOPNOTSUPP = 95 from ENOSPC = 28), 2 for bad usage.
 *
 *   targettool pool DIR CAPACITY create NAME SIZE | delete NAME |
 *              expand NAME SIZE | snapshot SOURCE NAME | clone SOURCE NAME [SIZE] |
 *              list | capacity
 *   targettool export NVMET_ROOT NAME DEVICE_PATH HOST_NQN TRADDR TRSVCID
 *   targettool unexport NVMET_ROOT NAME
 *   targettool exports NVMET_ROOT
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/nvmet.h"
#include "lib/pool.h"

static int usage(void)
{
	fprintf(stderr, "usage: see tests/tools/targettool.c\n");
	return 2;
}

static int finish(int ret)
{
	if (ret < 0) {
		fprintf(stderr, "targettool: %s\n", strerror(-ret));
		return -ret;
	}
	return 0;
}

static int pool_command(int argc, char **argv)
{
	struct pool *pool;
	const char *cmd;
	int ret;

	if (argc < 5)
		return usage();
	ret = pool_open(argv[2], strtoull(argv[3], NULL, 0), &pool);
	if (ret)
		return finish(ret);
	cmd = argv[4];
	if (!strcmp(cmd, "create") && argc == 7) {
		ret = pool_create(pool, argv[5], strtoull(argv[6], NULL, 0));
	} else if (!strcmp(cmd, "delete") && argc == 6) {
		ret = pool_delete(pool, argv[5]);
	} else if (!strcmp(cmd, "expand") && argc == 7) {
		ret = pool_expand(pool, argv[5], strtoull(argv[6], NULL, 0));
	} else if (!strcmp(cmd, "snapshot") && argc == 7) {
		ret = pool_snapshot(pool, argv[5], argv[6]);
	} else if (!strcmp(cmd, "clone") && (argc == 7 || argc == 8)) {
		ret = pool_clone(pool, argv[5], argv[6],
				 argc == 8 ? strtoull(argv[7], NULL, 0) : 0);
	} else if (!strcmp(cmd, "list") && argc == 5) {
		struct pool_entry *entries;
		size_t count;

		ret = pool_list(pool, &entries, &count);
		for (size_t i = 0; !ret && i < count; i++)
			printf("%s size=%" PRIu64 " allocated=%" PRIu64 " read_only=%d\n",
			       entries[i].name, entries[i].size, entries[i].allocated,
			       entries[i].read_only);
		if (!ret)
			free(entries);
	} else if (!strcmp(cmd, "capacity") && argc == 5) {
		struct pool_capacity cap;

		ret = pool_capacity(pool, &cap);
		if (!ret)
			printf("total=%" PRIu64 " used=%" PRIu64 " available=%" PRIu64
			       " allocated=%" PRIu64 "\n",
			       cap.total, cap.used, cap.available, cap.allocated);
	} else {
		pool_free(pool);
		return usage();
	}
	pool_free(pool);
	return finish(ret);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "pool"))
		return pool_command(argc, argv);
	if (!strcmp(argv[1], "export") && argc == 8) {
		struct nvmet_address tcp = { .trtype = "tcp", .adrfam = "ipv4" };

		snprintf(tcp.traddr, sizeof(tcp.traddr), "%s", argv[6]);
		snprintf(tcp.trsvcid, sizeof(tcp.trsvcid), "%s", argv[7]);
		return finish(nvmet_export(argv[2], argv[3], argv[4], argv[5], &tcp, NULL));
	}
	if (!strcmp(argv[1], "unexport") && argc == 4)
		return finish(nvmet_unexport(argv[2], argv[3]));
	if (!strcmp(argv[1], "exports") && argc == 3) {
		struct nvmet_export *exports;
		size_t count;
		int ret = nvmet_list(argv[2], &exports, &count);

		for (size_t i = 0; !ret && i < count; i++) {
			printf("%s nqn=%s device_path=%s enabled=%d host=%s", exports[i].name,
			       exports[i].nqn, exports[i].device_path, exports[i].enabled,
			       exports[i].host_nqn);
			for (size_t j = 0; j < exports[i].naddrs; j++)
				printf(" %s=%s:%s", exports[i].addrs[j].trtype,
				       exports[i].addrs[j].traddr, exports[i].addrs[j].trsvcid);
			printf("\n");
		}
		if (!ret)
			free(exports);
		return finish(ret);
	}
	return usage();
}
