// SPDX-License-Identifier: GPL-2.0
/* Kernel modules through libkmod and sysfs; see kmods.h. */
#include "lib/kmods.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <libkmod.h>

#include "lib/roots.h"

static void kmod_unrefp(struct kmod_ctx **ctx)
{
	if (*ctx)
		kmod_unref(*ctx);
}

static void kmod_module_unrefp(struct kmod_module **mod)
{
	if (*mod)
		kmod_module_unref(*mod);
}

#define _cleanup_kmod_ __attribute__((cleanup(kmod_unrefp)))
#define _cleanup_kmod_module_ __attribute__((cleanup(kmod_module_unrefp)))

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

/* A context that reads no module index: only path- and name-based calls. */
static int kmods_ctx_new(struct kmod_ctx **ret)
{
	static const char *const null_config[] = { NULL };
	struct kmod_ctx *ctx;

	ctx = kmod_new("/nonexistent", null_config);
	if (!ctx)
		return -ENOMEM;
	*ret = ctx;
	return 0;
}

int kmods_file_info(const char *path, struct kmods_info *ret)
{
	_cleanup_kmod_ struct kmod_ctx *ctx = NULL;
	_cleanup_kmod_module_ struct kmod_module *mod = NULL;
	struct kmod_list *list = NULL, *l;
	struct kmods_info info = {};
	int r;

	if (access(path, R_OK) < 0)
		return -errno;
	r = kmods_ctx_new(&ctx);
	if (r < 0)
		return r;
	r = kmod_module_new_from_path(ctx, path, &mod);
	if (r < 0)
		return r;
	r = kmod_module_get_info(mod, &list);
	if (r < 0)
		return r == -ENOENT ? -ENOEXEC : r;
	r = 0;
	kmod_list_foreach(l, list)
	{
		const char *key = kmod_module_info_get_key(l);
		const char *value = kmod_module_info_get_value(l);

		if (!key || !value)
			continue;
		r = kmods_info_add(&info, key, value);
		if (r < 0)
			break;
	}
	kmod_module_info_free_list(list);
	if (r < 0)
		return r;
	if (!info.vermagic[0])
		return -ENOEXEC;
	if (!info.name[0] &&
	    copy_value(info.name, sizeof(info.name), kmod_module_get_name(mod)) < 0)
		return -ENAMETOOLONG;
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
	_cleanup_kmod_ struct kmod_ctx *ctx = NULL;
	_cleanup_kmod_module_ struct kmod_module *mod = NULL;
	int r;

	r = kmods_ctx_new(&ctx);
	if (r < 0)
		return r;
	r = kmod_module_new_from_path(ctx, path, &mod);
	if (r < 0)
		return r;
	r = kmod_module_insert_module(mod, 0, params ? params : "");
	return r > 0 ? -r : r;
}

int kmods_remove(const char *name)
{
	_cleanup_kmod_ struct kmod_ctx *ctx = NULL;
	_cleanup_kmod_module_ struct kmod_module *mod = NULL;
	int r;

	if (!kmods_is_loaded(name))
		return -ENOENT;
	r = kmods_ctx_new(&ctx);
	if (r < 0)
		return r;
	r = kmod_module_new_from_name(ctx, name, &mod);
	if (r < 0)
		return r;
	r = kmod_module_remove_module(mod, 0);
	if (r == -EAGAIN || r == -EWOULDBLOCK)
		r = -EBUSY;
	return r > 0 ? -r : r;
}
