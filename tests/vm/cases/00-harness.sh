#!/bin/bash
# The harness itself, with the kernel's own modules only: RAM and loop legs,
# ext4 and xfs, the verifying writer on a mounted file and on a raw device,
# and that the writer catches a corrupted block.
. /tests/lib.sh
CASE=harness

t_begin harness/ext4-verifyio
make_ram_legs 2 64 || t_fail "modprobe brd"
mkfs.ext4 -q /dev/ram0 || t_fail "mkfs.ext4"
mkdir -p /mnt/a && mount /dev/ram0 /mnt/a || t_fail "mount ext4"
verifyio -d 8 -s 16M -t 3 /mnt/a/data > /tmp/v.out 2>&1 || t_fail "verifyio: $(tail -n1 /tmp/v.out)"
cat /tmp/v.out
t_check "umount" umount /mnt/a
t_check "e2fsck -fn clean" e2fsck -fn /dev/ram0
t_end

t_begin harness/xfs-loop
leg=$(make_loop_leg x 320) || t_fail "losetup"
mkfs.xfs -q "$leg" || t_fail "mkfs.xfs"
mkdir -p /mnt/x && mount "$leg" /mnt/x || t_fail "mount xfs"
verifyio -d 4 -s 8M -t 2 -q /mnt/x/data > /tmp/v.out 2>&1 || t_fail "verifyio: $(tail -n1 /tmp/v.out)"
cat /tmp/v.out
t_check "umount" umount /mnt/x
t_check "xfs_repair -n clean" xfs_repair -n "$leg"
t_end

t_begin harness/verifyio-detects-corruption
start_writer corrupt /dev/ram1 -d 2 -s 64K -r 50
wait_progress /tmp/corrupt.prog 100 10 || t_fail "writer made no progress"
dd if=/dev/zero of=/dev/ram1 bs=4096 count=16 oflag=direct 2>/dev/null
sleep 0.5
stop_writer corrupt 10
rc=$?
cat /tmp/corrupt.out
[ $rc = 1 ] || t_fail "writer exit $rc, expected 1"
[ "$(vio_field /tmp/corrupt.out verify_failures)" -gt 0 ] 2>/dev/null ||
	t_fail "no verify failure reported"
t_end
