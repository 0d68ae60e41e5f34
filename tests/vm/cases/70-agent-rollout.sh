#!/bin/bash
# vm-timeout: 420
# The rollout replay: agent "image A" (shipping client build a) runs with
# three volumes, each under a verifying writer: ext4 on a linear volume, xfs
# on a 2-way mirror, and a raw block volume. The kubelet's rolling update is
# replayed: SIGTERM to A (modules stay, IO goes on), agent "image B" (client
# build b) started as the DaemonSet starts it; B swaps the client and only
# then becomes ready. Then B -> A (downgrade) the same way. The writers see
# zero errors and every block verifies.
CASE=agent-rollout
. /tests/lib-agent.sh
need_modules /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko
ver_a=$(client_version_of a) ver_b=$(client_version_of b)

t_begin agent-rollout/install
img_a=$(make_image a a) && img_b=$(make_image b b) || t_fail "images"
make_ram_legs 2 96 || t_fail "modprobe brd"
leg_m0=$(make_loop_leg m0 320) && leg_m1=$(make_loop_leg m1 320) || t_fail "loop legs"
start_agent A1 "$img_a"
wait_agent_ready 60 || t_fail "agent A not ready (first install)"
[ "$(atom_attr client_version)" = "$ver_a" ] || t_fail "client '$(atom_attr client_version)' after install, expected $ver_a"
dev_e=$(atomtool create vol-ext4 80M linear /dev/ram0) || t_fail "create ext4 volume"
dev_x=$(atomtool create vol-xfs 304M mirror "$leg_m0" "$leg_m1") || t_fail "create xfs mirror volume"
dev_r=$(atomtool create vol-raw 64M linear /dev/ram1) || t_fail "create raw volume"
bounded 60 mkfs.ext4 -q "$dev_e" || t_fail "mkfs.ext4"
bounded 60 mkfs.xfs -q -f "$dev_x" || t_fail "mkfs.xfs"
mkdir -p /mnt/e /mnt/x
bounded 30 mount "$dev_e" /mnt/e || t_fail "mount ext4"
bounded 30 mount "$dev_x" /mnt/x || t_fail "mount xfs"
DISKS=("${dev_e#/dev/}" "${dev_x#/dev/}" "${dev_r#/dev/}")
WRITERS=(we wx wr)
t_end
[ -n "$T_REASONS" ] && { show_agent_log; exit 1; }

start_writer we /mnt/e/data -d 4 -s 16M -p 50
start_writer wx /mnt/x/data -d 4 -s 16M -p 50
start_writer wr "$dev_r" -d 4 -s 16M -p 50
wait_progress /tmp/we.prog 200 30 && wait_progress /tmp/wx.prog 200 30 &&
	wait_progress /tmp/wr.prog 200 30 || t_fail "writers made no progress"

t_begin agent-rollout/upgrade-a-to-b
rollout A1 B "$img_b" "$ver_a" "$ver_b"
t_end

t_begin agent-rollout/downgrade-b-to-a
rollout B A2 "$img_a" "$ver_b" "$ver_a"
t_end

t_begin agent-rollout/writers-clean
for w in we wx wr; do
	stop_writer $w 60; rc=$?
	cat /tmp/$w.out
	[ $rc = 0 ] && writer_clean $w || t_fail "writer $w: exit $rc, $(grep '^ios=' /tmp/$w.out)"
done
t_check "umount ext4" umount /mnt/e
t_check "umount xfs" umount /mnt/x
t_check "e2fsck -fn" e2fsck -fn "$dev_e"
t_check "xfs_repair -n" xfs_repair -n "$dev_x"
s0=$(dd if="$leg_m0" bs=1M count=304 2>/dev/null | md5sum | cut -d' ' -f1)
s1=$(dd if="$leg_m1" bs=1M count=304 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$s0" = "$s1" ] || t_fail "mirror legs differ"
atomctl status
t_end

t_begin agent-rollout/teardown
stop_agent || t_fail "agent A2 did not stop"
is_loaded atom_client || t_fail "SIGTERM unloaded the client"
for v in vol-ext4 vol-xfs vol-raw; do t_check "remove $v" atomtool remove $v; done
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
