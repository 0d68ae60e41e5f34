// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel modules through their ELF files, the module syscalls and sysfs;
 * see kmods.h.
 *
 * Not libkmod: it links a dynamic OpenSSL (for signature details) into an
 * agent that already carries grpc's static one, and that alone costs about
 * 1.7 MB of resident memory for the three things needed here: a module
 * file's .modinfo (read straight from the ELF), finit_module() and
 * delete_module().
 */
#include "lib/kmods.h"

#include <elf.h>
#include <errno.h>
#include <sys/wait.h>
#include <spawn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/roots.h"

extern char **environ;

static int copy_value(char *dst, size_t size, const char *value)
{
	size_t len = strlen(value);

	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(dst, value, len + 1);
	return 0;
}

int kmods_info_add(struct kmods_info *info, const char *key, const char *value)
{
	if (!strcmp(key, "name"))
		return copy_value(info->name, sizeof(info->name), value);
	if (!strcmp(key, "version"))
		return copy_value(info->version, sizeof(info->version), value);
	if (!strcmp(key, "vermagic"))
		return copy_value(info->vermagic, sizeof(info->vermagic), value);
	if (!strcmp(key, "atom_abi")) {
		char *end;
		unsigned long abi;

		errno = 0;
		abi = strtoul(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-' || abi > UINT_MAX)
			return -EBADMSG;
		info->atom_abi = (unsigned int)abi;
		info->has_atom_abi = true;
	}
	return 0;
}

/*
 * The .modinfo section of the 64-bit ELF object in @map (@size bytes):
 * "key=value" strings separated by NULs. Every offset is checked against
 * the file: a truncated or hostile file gets -ENOEXEC, never a bad read.
 */
static int elf_modinfo(const unsigned char *map, size_t size, const char **ret, size_t *ret_len)
{
	const Elf64_Ehdr *eh = (const void *)map;
	const Elf64_Shdr *sh, *strtab;
	unsigned int i;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(*sh) ||
	    eh->e_shoff > size || eh->e_shnum > (size - eh->e_shoff) / sizeof(*sh) ||
	    eh->e_shstrndx >= eh->e_shnum)
		return -ENOEXEC;
	sh = (const void *)(map + eh->e_shoff);
	strtab = &sh[eh->e_shstrndx];
	if (strtab->sh_offset > size || strtab->sh_size > size - strtab->sh_offset)
		return -ENOEXEC;
	for (i = 0; i < eh->e_shnum; i++) {
		const char *name = (const char *)map + strtab->sh_offset + sh[i].sh_name;

		if (sh[i].sh_name >= strtab->sh_size ||
		    strnlen(name, strtab->sh_size - sh[i].sh_name) ==
			    strtab->sh_size - sh[i].sh_name ||
		    strcmp(name, ".modinfo"))
			continue;
		if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset)
			return -ENOEXEC;
		*ret = (const char *)map + sh[i].sh_offset;
		*ret_len = sh[i].sh_size;
		return 0;
	}
	return -ENOEXEC;
}

int kmods_file_info(const char *path, struct kmods_info *ret)
{
	struct kmods_info info = {};
	const char *modinfo = NULL, *p, *end;
	size_t len = 0;
	struct stat st;
	void *map;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return -ENOEXEC;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	r = map == MAP_FAILED ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	r = elf_modinfo(map, st.st_size, &modinfo, &len);
	for (p = modinfo, end = modinfo + len; r == 0 && p < end; p += strnlen(p, end - p) + 1) {
		char entry[KMODS_VERMAGIC_MAX * 2], *eq;
		size_t n = strnlen(p, end - p);

		if (n == 0 || n >= sizeof(entry))
			continue; /* padding, or a long description we do not need */
		memcpy(entry, p, n);
		entry[n] = '\0';
		eq = strchr(entry, '=');
		if (!eq)
			continue;
		*eq = '\0';
		r = kmods_info_add(&info, entry, eq + 1);
	}
	munmap(map, st.st_size);
	if (r < 0)
		return r;
	if (!info.vermagic[0] || !info.name[0])
		return -ENOEXEC;
	*ret = info;
	return 0;
}

int kmods_vermagic_release(const char *vermagic, char *buf, size_t size)
{
	size_t len = strcspn(vermagic, " \t");

	if (len == 0)
		return -EBADMSG;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, vermagic, len);
	buf[len] = '\0';
	return 0;
}

bool kmods_vermagic_matches(const char *vermagic, const char *release)
{
	char built[KMODS_VERMAGIC_MAX];

	return kmods_vermagic_release(vermagic, built, sizeof(built)) == 0 &&
	       !strcmp(built, release);
}

int kmods_kernel_release(char *buf, size_t size)
{
	struct utsname u;

	if (uname(&u) < 0)
		return -errno;
	return copy_value(buf, size, u.release);
}

/* Read /sys/module/<name>/<attr> (ROOT_SYS) without its newline. */
static int module_attr_read(const char *name, const char *attr, char *buf, size_t size)
{
	char rel[PATH_MAX];

	if (!name[0] || strchr(name, '/'))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "module/%s/%s", name, attr);
	return roots_read_attr(ROOT_SYS, rel, buf, size);
}

bool kmods_is_loaded(const char *name)
{
	char state[32];

	return module_attr_read(name, "initstate", state, sizeof(state)) == 0 &&
	       !strcmp(state, "live");
}

int kmods_loaded_version(const char *name, char *buf, size_t size)
{
	int r;

	if (!kmods_is_loaded(name))
		return -ENOENT;
	r = module_attr_read(name, "version", buf, size);
	if (r == 0 && !buf[0])
		return -ENOENT;
	return r;
}

int kmods_insert(const char *path, const char *params)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = syscall(SYS_finit_module, fd, params ? params : "", 0) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int kmods_remove(const char *name)
{
	if (!kmods_is_loaded(name))
		return -ENOENT;
	/* O_NONBLOCK: refuse (EWOULDBLOCK) rather than wait while it is in use. */
	if (syscall(SYS_delete_module, name, O_NONBLOCK) < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}

int kmods_modprobe(const char *name)
{
	char *argv[] = { "modprobe", "-q", (char *)name, NULL };
	int status, r;
	pid_t pid;

	r = posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ);
	if (r)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ENOENT;
}
