// SPDX-License-Identifier: GPL-2.0
/*
 * client_record.c - a volume's state as the atom keeps it across client
 * swaps: layout, size, generation and each leg's path and health.
 *
 * Format (little endian, packed): a header, then nr_legs leg entries.
 * Compatibility rules, so that any client reads any other's record:
 *  - fields are only ever appended to the header or to a leg entry; the
 *    writer stores the lengths it wrote (hdr_len, leg_len) and a reader
 *    steps over fields it does not know;
 *  - a reader needs only the fields of its own version: it accepts any
 *    record whose hdr_len/leg_len cover them (an older record read by a
 *    newer client misses newer fields, which get defaults);
 *  - a change an older reader must not ignore bumps min_reader, and a
 *    reader refuses a record whose min_reader is above its version.
 *
 * Versions:
 *  1: the first format.
 *  2: a mirror leg entry may have the path "" (missing since creation,
 *     flagged faulty). A version 1 reader would try to open "" and fail
 *     in a less obvious place, so a record holding a missing leg is
 *     written with min_reader 2: an older client refuses it cleanly
 *     (-EPROTO, adoption fails, the atom keeps holding the IO; load a
 *     client of record version 2 or later). Records without a missing
 *     leg keep min_reader 1, so rolling back to an older client works
 *     for every other volume.
 *  3: leg flag bit 1, CLIENT_RECORD_LEG_SUBMIT_WORKER (the uapi's
 *     ATOMBLK_LEG_SUBMIT_WORKER), in the existing flags word; no field
 *     added, min_reader unchanged. An older reader ignores the bit (it
 *     never honoured it anyway) and the record it writes back lacks it: a
 *     volume that went through such a client keeps submitting its NVMe/TCP
 *     legs inline until it is created again (the next stage).
 */
#define pr_fmt(fmt) "atom_client: " fmt

#include <linux/slab.h>
#include <linux/string.h>

#include "client.h"

#define CLIENT_RECORD_MAGIC 0x44524341 /* "ACRD" */
#define CLIENT_RECORD_VERSION 3 /* what this client writes and reads */
#define CLIENT_RECORD_VERSION_MISSING_LEG 2 /* first that knows leg path "" */
#define CLIENT_GLOBAL_MAGIC 0x4c474341 /* "ACGL" */

#define CLIENT_RECORD_LEG_FAULTY BIT(0)
#define CLIENT_RECORD_LEG_SUBMIT_WORKER BIT(1) /* v3: ATOMBLK_LEG_SUBMIT_WORKER */

/* Version 1 header; later versions append fields. */
struct client_record_hdr {
	__le32 magic; /* CLIENT_RECORD_MAGIC */
	__le16 version; /* format version of the writer */
	__le16 min_reader; /* oldest format version that may read it */
	__le16 hdr_len; /* bytes of header written */
	__le16 leg_len; /* bytes of each leg entry written */
	__le32 nr_legs; /* leg entries after the header */
	__le32 layout; /* enum atomblk_layout */
	__le32 reserved; /* 0 */
	__le64 size_sectors; /* volume size */
	__le64 generation; /* atom generation of the last adopt */
	char id[ATOMBLK_ID_MAX]; /* volume id */
	char writer[32]; /* client version that wrote it */
} __packed;

/* Version 1 leg entry (unchanged in versions 2 and 3). */
struct client_record_leg {
	__le32 flags; /* CLIENT_RECORD_LEG_* */
	__le32 reserved; /* 0 */
	char path[ATOMBLK_PATH_MAX]; /* block device path; v2: "" = missing */
} __packed;

/* Global record: who wrote the per-disk records. */
struct client_global_record {
	__le32 magic; /* CLIENT_GLOBAL_MAGIC */
	__le16 version; /* CLIENT_RECORD_VERSION */
	__le16 len; /* bytes written */
	char writer[32]; /* client version */
} __packed;

/* The oldest record reader that understands @vol's record. */
static u16 client_record_min_reader(struct client_volume *vol)
{
	unsigned int i;

	for (i = 0; i < vol->nr_legs; i++)
		if (client_leg_is_missing(&vol->legs[i]))
			return CLIENT_RECORD_VERSION_MISSING_LEG;
	return 1;
}

int client_record_save(struct client_volume *vol)
{
	struct client_record_hdr *hdr;
	struct client_record_leg *leg;
	size_t len;
	unsigned int i;
	int ret;

	len = sizeof(*hdr) + vol->nr_legs * sizeof(*leg);
	hdr = kzalloc(len, GFP_KERNEL);
	if (!hdr)
		return -ENOMEM;
	hdr->magic = cpu_to_le32(CLIENT_RECORD_MAGIC);
	hdr->version = cpu_to_le16(CLIENT_RECORD_VERSION);
	hdr->min_reader = cpu_to_le16(client_record_min_reader(vol));
	hdr->hdr_len = cpu_to_le16(sizeof(*hdr));
	hdr->leg_len = cpu_to_le16(sizeof(*leg));
	hdr->nr_legs = cpu_to_le32(vol->nr_legs);
	hdr->layout = cpu_to_le32(vol->layout);
	hdr->size_sectors = cpu_to_le64(vol->size);
	hdr->generation = cpu_to_le64(vol->generation);
	strscpy(hdr->id, vol->id, sizeof(hdr->id));
	strscpy(hdr->writer, ATOM_CLIENT_VERSION, sizeof(hdr->writer));

	leg = (struct client_record_leg *)(hdr + 1);
	for (i = 0; i < vol->nr_legs; i++, leg++) {
		u32 flags = 0;

		if (READ_ONCE(vol->legs[i].faulty))
			flags |= CLIENT_RECORD_LEG_FAULTY;
		if (vol->legs[i].flags & ATOMBLK_LEG_SUBMIT_WORKER)
			flags |= CLIENT_RECORD_LEG_SUBMIT_WORKER;
		leg->flags = cpu_to_le32(flags);
		strscpy(leg->path, vol->legs[i].path, sizeof(leg->path));
	}
	ret = atom_disk_set_record(vol->disk, hdr, len);
	kfree(hdr);
	return ret;
}

/* Copy a fixed-size string field that must hold a NUL. */
static int client_record_string(char *dst, const char *src, size_t size)
{
	if (!memchr(src, '\0', size))
		return -EINVAL;
	strscpy(dst, src, size);
	return 0;
}

/*
 * Parse a record into a new volume (legs not opened). The volume id must be
 * the disk's. Returns the volume or an ERR_PTR.
 */
static struct client_volume *client_record_parse(struct atom_disk *disk, const u8 *buf, size_t len)
{
	const struct client_record_hdr *hdr = (const void *)buf;
	struct client_volume *vol;
	size_t hdr_len, leg_len;
	unsigned int i;
	int ret = -EINVAL;

	if (len < offsetofend(struct client_record_hdr, leg_len) ||
	    le32_to_cpu(hdr->magic) != CLIENT_RECORD_MAGIC)
		return ERR_PTR(-EINVAL);
	if (le16_to_cpu(hdr->min_reader) > CLIENT_RECORD_VERSION) {
		pr_err("%s: record needs reader version %u, this is %u\n", atom_disk_name(disk),
		       le16_to_cpu(hdr->min_reader), CLIENT_RECORD_VERSION);
		return ERR_PTR(-EPROTO);
	}
	hdr_len = le16_to_cpu(hdr->hdr_len);
	leg_len = le16_to_cpu(hdr->leg_len);
	if (hdr_len < sizeof(*hdr) || leg_len < sizeof(struct client_record_leg) ||
	    le32_to_cpu(hdr->nr_legs) < 1 || le32_to_cpu(hdr->nr_legs) > ATOMBLK_LEGS_MAX ||
	    len < hdr_len + le32_to_cpu(hdr->nr_legs) * leg_len)
		return ERR_PTR(-EINVAL);

	vol = kzalloc(sizeof(*vol), GFP_KERNEL);
	if (!vol)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&vol->node);
	if (client_record_string(vol->id, hdr->id, sizeof(hdr->id)))
		goto out_free;
	if (strcmp(vol->id, atom_disk_volume_id(disk)))
		goto out_free;
	vol->layout = le32_to_cpu(hdr->layout);
	if (vol->layout != ATOMBLK_LAYOUT_LINEAR && vol->layout != ATOMBLK_LAYOUT_MIRROR)
		goto out_free;
	vol->nr_legs = le32_to_cpu(hdr->nr_legs);
	vol->size = le64_to_cpu(hdr->size_sectors);
	vol->generation = le64_to_cpu(hdr->generation);
	for (i = 0; i < vol->nr_legs; i++) {
		const struct client_record_leg *leg = (const void *)(buf + hdr_len + i * leg_len);

		if (client_record_string(vol->legs[i].path, leg->path, sizeof(leg->path)))
			goto out_free;
		vol->legs[i].faulty = le32_to_cpu(leg->flags) & CLIENT_RECORD_LEG_FAULTY;
		if (le32_to_cpu(leg->flags) & CLIENT_RECORD_LEG_SUBMIT_WORKER)
			vol->legs[i].flags |= ATOMBLK_LEG_SUBMIT_WORKER;
	}
	if (!client_volume_legs_valid(vol))
		goto out_free;
	return vol;

out_free:
	kfree(vol);
	return ERR_PTR(ret);
}

struct client_volume *client_record_load(struct atom_disk *disk)
{
	struct client_volume *vol;
	ssize_t len;
	u8 *buf;

	buf = kmalloc(ATOM_RECORD_MAX, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	len = atom_disk_get_record(disk, buf, ATOM_RECORD_MAX);
	if (len <= 0 || len > ATOM_RECORD_MAX) {
		pr_err("%s: no usable state record\n", atom_disk_name(disk));
		vol = ERR_PTR(-ENODATA);
	} else {
		vol = client_record_parse(disk, buf, len);
		if (IS_ERR(vol))
			pr_err("%s: bad state record (%ld)\n", atom_disk_name(disk), PTR_ERR(vol));
	}
	kfree(buf);
	return vol;
}

int client_global_record_save(void)
{
	struct client_global_record rec = {
		.magic = cpu_to_le32(CLIENT_GLOBAL_MAGIC),
		.version = cpu_to_le16(CLIENT_RECORD_VERSION),
		.len = cpu_to_le16(sizeof(rec)),
	};

	strscpy(rec.writer, ATOM_CLIENT_VERSION, sizeof(rec.writer));
	return atom_set_global_record(&rec, sizeof(rec));
}
