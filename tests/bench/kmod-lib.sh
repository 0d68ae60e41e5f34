#!/bin/bash
# Sourced in the node VM by kmod-guest.sh and kmod-profile-guest.sh (the host
# scripts add it as /extra/kmod-lib.sh): the legs, the modules and the file
# both measure on. TAG is the prefix of the lines the host reads (BENCH or
# PROF).
. /tests/lib.sh
FILE_SIZE=96M

# kmod_setup TAG: six brd disks (/dev/ram0-3 legs; ram4 and ram5 back the
# nvme-tcp legs, kmod_nvme_tcp_legs) and four memory-backed null_blk legs
# (/dev/nullb0-3), raid1, atom and the production client (no fault
# injection compiled in); prints the guest's clock and the client version.
kmod_setup() {
	make_ram_legs 6 160 || return 1
	modprobe null_blk nr_devices=4 queue_mode=2 memory_backed=1 gb=1 irqmode=0 \
		submit_queues=1 hw_queue_depth=64 || { echo "$1 error=null_blk"; return 1; }
	modprobe raid1
	load_atom || return 1
	load_client prod || return 1
	mkdir -p /mnt/b
	echo "$1 clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) client=$(cat /sys/module/atom_client/version)"
}

# kmod_prepare TAG NAME DEV READ_PCT [MNT]: mkfs+mount DEV at MNT (default
# /mnt/b) and lay MNT/data out as fio does before it measures: every block written once,
# so the timed IO overwrites. In a fresh (fallocated) file each first write
# to a block converts an unwritten extent under ext4's exclusive inode lock,
# which the 16 writers then queue on; random writes keep finding such blocks
# for the first second or two, and the write rounds of one run spread widely
# (6.1 linear: 35,600 to 62,700 IOPS). For reads, verifyio then writes for
# 3 s, so the timed run reads blocks it can verify.
kmod_prepare() {
	local tag=$1 name=$2 dev=$3 rpct=$4 mnt=${5:-/mnt/b}
	mkdir -p "$mnt" && mkfs.ext4 -q -F "$dev" && mount "$dev" "$mnt" ||
		{ echo "$tag error=$name-mkfs"; return 1; }
	dd if=/dev/zero of="$mnt/data" bs=1M count=${FILE_SIZE%M} conv=fsync 2> /dev/null ||
		{ echo "$tag error=$name-layout"; umount "$mnt"; return 1; }
	[ "$rpct" -gt 0 ] || return 0
	verifyio -d 16 -r 0 -t 3 -n -q -s $FILE_SIZE "$mnt/data" > /dev/null
}

# kmod_nvme_tcp_legs: /dev/ram4 and /dev/ram5 exported by nvmet-tcp on
# loopback ports and connected with nvme-tcp (tests/vm/cases/lib-nvmet.sh):
# NVMe-oF legs as the node agent connects them, target and host in one VM.
# Prints the two namespaces' /dev nodes (the multipath heads).
kmod_nvme_tcp_legs() {
	local NQN=nqn.2026-11.io.atomblk:bench BASE_PORT=4420
	local HOSTNQN=nqn.2026-11.io.atomblk:host:bench HOSTID=6b2f1d4e-3c5a-4f7b-8d9e-0a1b2c3d4e5f
	. /tests/lib-nvmet.sh
	nvme_tcp_legs 4 5 && head_of 4 && head_of 5
}
