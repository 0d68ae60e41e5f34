/* SPDX-License-Identifier: GPL-2.0 */
/*
 * atom.h - the in-kernel ABI between atom.ko and its client module.
 *
 * atom.ko owns every /dev/atomN gendisk. One client module at a time
 * registers an ops table and receives the requests of every disk. When the
 * client unregisters (abandon), requests are parked in the atom; when a
 * client registers again (adopt), they are re-dispatched to it.
 *
 * The ABI is versioned by ATOM_ABI_VERSION: a client built against another
 * version is refused at registration. Any change to a structure or to the
 * semantics of a function in this file bumps the version.
 *
 * Request ownership: a request passed to ->queue_rq() belongs to the client
 * until it calls atom_end_request() or atom_requeue_request() for it, exactly
 * once. The client may do that from any context (hard irq included).
 */
#ifndef ATOM_H
#define ATOM_H

#include <linux/blk-mq.h>
#include <linux/types.h>

#define ATOM_ABI_VERSION 2 /* 2: atom_disk_config.logical_block_size */
#define ATOM_VOLUME_ID_MAX 64 /* bytes, including the NUL */
#define ATOM_RECORD_MAX 8192 /* largest per-disk or global record */
#define ATOM_CLIENT_PDU_SIZE 192 /* per-request scratch space for the client */

struct atom_disk;

/**
 * struct atom_client_ops - calls the atom makes into its client
 * @queue_rq: a request for @disk; @client_data is what the client attached
 *	with atom_disk_set_client_data(). Return BLK_STS_OK when the client
 *	took ownership of the request (it will end or requeue it later), or an
 *	error status to have the atom fail it at once. Called with the fence
 *	held: atom_unregister_client() waits for every running call to return.
 *	May sleep (the atom's queues are BLK_MQ_F_BLOCKING), e.g. to allocate
 *	bios with GFP_NOIO. Runs with a block plug of its own (never the
 *	dispatching task's), flushed when the call returns. May run inside
 *	the dispatching task's own submit_bio() (current->bio_list set);
 *	submit_bio_noacct() then only queues a bio on that list, to be sent
 *	after the task's current bio, and that task may first sleep on this
 *	very disk (wbt, tags) for a bio queued ahead: submit from another
 *	context then, or the disk can deadlock.
 */
struct atom_client_ops {
	blk_status_t (*queue_rq)(struct atom_disk *disk, struct request *rq, void *client_data);
};

/**
 * struct atom_client - a client module as the atom sees it
 * @abi_version: must be ATOM_ABI_VERSION
 * @name: short name shown in /sys/kernel/atom/client_name
 * @version: shown in /sys/kernel/atom/client_version
 * @ops: the client's entry points
 */
struct atom_client {
	unsigned int abi_version;
	const char *name;
	const char *version;
	const struct atom_client_ops *ops;
};

/**
 * struct atom_disk_config - what a client asks for when it adds a disk
 * @volume_id: NUL-terminated id, unique among the atom's disks
 * @capacity_sectors: size in 512-byte sectors, non-zero, a multiple of the
 *	logical block size
 * @client_data: handed back in every ->queue_rq() call for the disk
 * @logical_block_size: the disk's logical block size in bytes: 0 (512), or a
 *	power of two from 512 to PAGE_SIZE. It must be at least the largest of
 *	the legs' (a 4Kn NVMe namespace, a file-backed nvmet namespace on XFS),
 *	or IO smaller than a leg's block fails there. Fixed for the disk's life.
 */
struct atom_disk_config {
	const char *volume_id;
	sector_t capacity_sectors;
	void *client_data;
	unsigned int logical_block_size;
};

/**
 * atom_register_client() - attach a client and adopt every existing disk
 * @client: the client; must stay valid until atom_unregister_client()
 *
 * Before calling this, the client attaches its data to every existing disk
 * with atom_disk_set_client_data(). Registration then re-dispatches the
 * requests parked on every disk to the client and bumps the generation.
 *
 * Return: 0, -EINVAL on an ABI version mismatch, -EBUSY when a client is
 * already registered, -ENXIO when a disk has no client data attached.
 */
int atom_register_client(struct atom_client *client);

/**
 * atom_unregister_client() - detach the client, parking IO (abandon)
 * @client: the registered client
 *
 * Stops dispatching (quiesces every queue), waits until the client has ended
 * or requeued every request it owns, then detaches the client: on return no
 * CPU executes a call from the atom into the client and the client owns no
 * request. Requests that arrive afterwards are held until a client
 * registers or the hold time expires. Sleeps.
 */
void atom_unregister_client(struct atom_client *client);

/**
 * atom_add_disk() - create and announce a new /dev/atomN disk
 * @cfg: volume id, capacity, client data
 * @ret_disk: the new disk on success
 *
 * Only the registered client may add disks.
 *
 * Return: 0, -EINVAL on a bad config, -EEXIST on a duplicate volume id,
 * -ENODEV when no client is registered, -ENOMEM or another -errno.
 */
int atom_add_disk(const struct atom_disk_config *cfg, struct atom_disk **ret_disk);

/**
 * atom_remove_disk() - delete a disk and free it
 * @disk: a disk of the atom
 *
 * Requests still held on the disk fail with an IO error first, so removal
 * never waits for a client. Requests owned by the client are waited for.
 * Sleeps.
 */
void atom_remove_disk(struct atom_disk *disk);

/**
 * atom_disk_set_capacity() - resize a disk and notify userspace
 * @disk: a disk of the atom
 * @capacity_sectors: new size in 512-byte sectors, non-zero
 *
 * Return: 0 or -EINVAL.
 */
int atom_disk_set_capacity(struct atom_disk *disk, sector_t capacity_sectors);

/**
 * atom_disk_capacity() - current size of a disk
 * @disk: a disk of the atom
 *
 * Return: size in 512-byte sectors.
 */
sector_t atom_disk_capacity(struct atom_disk *disk);

/**
 * atom_disk_volume_id() - the volume id the disk was created with
 * @disk: a disk of the atom
 *
 * Return: NUL-terminated id, valid as long as the disk exists.
 */
const char *atom_disk_volume_id(struct atom_disk *disk);

/**
 * atom_disk_name() - the kernel name of the disk, e.g. "atom0"
 * @disk: a disk of the atom
 *
 * Return: NUL-terminated name, valid as long as the disk exists.
 */
const char *atom_disk_name(struct atom_disk *disk);

/**
 * atom_disk_set_client_data() - attach the client's per-disk data
 * @disk: a disk of the atom
 * @client_data: passed to every ->queue_rq() call for the disk
 *
 * Used while adopting, before atom_register_client(). The pointer is cleared
 * when the client unregisters.
 */
void atom_disk_set_client_data(struct atom_disk *disk, void *client_data);

/**
 * atom_disk_set_record() - store the client's state record of a disk
 * @disk: a disk of the atom
 * @buf: opaque bytes, copied by the atom
 * @len: length of @buf, at most ATOM_RECORD_MAX
 *
 * The atom keeps the copy across client unload, for the next client.
 *
 * Return: 0, -EINVAL if @len is too large, -ENOMEM.
 */
int atom_disk_set_record(struct atom_disk *disk, const void *buf, size_t len);

/**
 * atom_disk_get_record() - fetch a copy of a disk's state record
 * @disk: a disk of the atom
 * @buf: destination
 * @len: size of @buf
 *
 * Return: the record length (which may exceed @len: only @len bytes are
 * copied then), 0 when no record was stored.
 */
ssize_t atom_disk_get_record(struct atom_disk *disk, void *buf, size_t len);

/**
 * atom_set_global_record() - store the client's global state record
 * @buf: opaque bytes, copied by the atom
 * @len: length of @buf, at most ATOM_RECORD_MAX
 *
 * Return: 0, -EINVAL if @len is too large, -ENOMEM.
 */
int atom_set_global_record(const void *buf, size_t len);

/**
 * atom_get_global_record() - fetch a copy of the global state record
 * @buf: destination
 * @len: size of @buf
 *
 * Return: the record length (only @len bytes are copied if larger), 0 when
 * none was stored.
 */
ssize_t atom_get_global_record(void *buf, size_t len);

/**
 * atom_for_each_disk() - call @fn on every disk, in creation order
 * @fn: callback; a non-zero return stops the walk and is returned
 * @priv: passed to @fn
 *
 * Holds the atom's configuration lock: @fn must not add or remove disks or
 * (un)register the client. It may sleep.
 *
 * Return: 0 or the first non-zero value @fn returned.
 */
int atom_for_each_disk(int (*fn)(struct atom_disk *disk, void *priv), void *priv);

/**
 * atom_generation() - the adopt counter
 *
 * Return: the number of client registrations since atom.ko was loaded.
 */
u64 atom_generation(void);

/**
 * atom_rq_client_pdu() - the client's scratch space in a request
 * @rq: a request the client owns
 *
 * Return: ATOM_CLIENT_PDU_SIZE bytes, 8-byte aligned, uninitialised at
 * each ->queue_rq().
 */
void *atom_rq_client_pdu(struct request *rq);

/**
 * atom_end_request() - the client completes a request it owns
 * @rq: the request
 * @status: BLK_STS_OK or an error
 *
 * Any context.
 */
void atom_end_request(struct request *rq, blk_status_t status);

/**
 * atom_requeue_request() - the client hands a request back to the atom
 * @rq: the request
 *
 * The request is dispatched again: to the client if one is registered, else
 * held. Any context.
 */
void atom_requeue_request(struct request *rq);

#endif /* ATOM_H */
