/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmods — kernel modules without libkmod (see kmods.c): is a module loaded
 * and in which version (/sys/module/<name>/{initstate,version}, under
 * ROOT_SYS), load a module file with parameters (finit_module), remove a
 * module by name (delete_module), and what a module file says about itself
 * (its ELF .modinfo: name, version, vermagic, the atom ABI it speaks) so a
 * build can be checked against the running kernel before it is loaded.
 */
#ifndef ATOMBLK_KMODS_H
#define ATOMBLK_KMODS_H

#include <stdbool.h>
#include <stddef.h>

#define KMODS_NAME_MAX 64
#define KMODS_VERSION_MAX 64
#define KMODS_VERMAGIC_MAX 256

/* What a module file's .modinfo says. */
struct kmods_info {
	char name[KMODS_NAME_MAX]; /* "atom_client" */
	char version[KMODS_VERSION_MAX]; /* MODULE_VERSION; "" if none */
	char vermagic[KMODS_VERMAGIC_MAX]; /* "6.1.0-56-amd64 SMP preempt ..." */
	unsigned int atom_abi; /* MODULE_INFO(atom_abi, ...) */
	bool has_atom_abi; /* the tag is present */
};

/*
 * kmods_info_add() - fold one modinfo "key=value" pair into @info (pure;
 * unknown keys are ignored, a malformed atom_abi leaves has_atom_abi false).
 * Return: 0; -ENAMETOOLONG for a value that does not fit; -EBADMSG for an
 * atom_abi that is not a number.
 */
int kmods_info_add(struct kmods_info *info, const char *key, const char *value);

/*
 * kmods_file_info() - read the modinfo of the (uncompressed) module file
 * at @path: its name, version, vermagic and atom_abi.
 * Return: 0; -ENOENT; -ENOEXEC when it is not a module; -errno.
 */
int kmods_file_info(const char *path, struct kmods_info *ret);

/*
 * kmods_vermagic_release() - the kernel release a vermagic string was built
 * for (its first word) into @buf. Return: 0, -EBADMSG, -ENAMETOOLONG.
 */
int kmods_vermagic_release(const char *vermagic, char *buf, size_t size);

/* kmods_vermagic_matches() - @vermagic was built for kernel @release. */
bool kmods_vermagic_matches(const char *vermagic, const char *release);

/* kmods_kernel_release() - the running kernel's release (uname -r). */
int kmods_kernel_release(char *buf, size_t size);

/* kmods_is_loaded() - module @name is live (initialised, not going away). */
bool kmods_is_loaded(const char *name);

/*
 * kmods_loaded_version() - the version a loaded module reports.
 * Return: 0; -ENOENT when it is not loaded or has no version; -errno.
 */
int kmods_loaded_version(const char *name, char *buf, size_t size);

/*
 * kmods_insert() - load the module file at @path with @params ("a=1 b=x",
 * NULL for none). Blocks until the module's init returned.
 * Return: 0; -EEXIST if a module of that name is loaded; the init's -errno.
 */
int kmods_insert(const char *path, const char *params);

/*
 * kmods_remove() - unload module @name (never forced). Blocks until its
 * exit returned. Return: 0; -ENOENT when it is not loaded; -EBUSY (in
 * use) or another -errno from delete_module.
 */
int kmods_remove(const char *name);

/*
 * kmods_modprobe() - load one of the kernel's own modules (nvmet, nvme-tcp,
 * ...) with its dependencies: runs "modprobe -q @name" (kmod resolves them
 * from modules.dep; our own modules use kmods_insert()). Loaded already: 0.
 * Return: 0; -ENOENT when modprobe failed; -errno when it could not run.
 */
int kmods_modprobe(const char *name);

#endif
