#!/bin/bash
# vm-timeout: 480
# The rollout replay with CSI volumes: agent "image A" (client build a)
# stages and publishes three volumes through its CSI socket, as the kubelet
# would — ext4 on a linear volume, xfs on a 2-way mirror, a raw block volume
# — each under a verifying writer on its published path. SIGTERM to A,
# agent "image B" (client b) started as the DaemonSet starts it: it swaps
# the client and becomes ready; then B -> A the same way. Zero writer
# errors, every block verifies, and the volumes unpublish and unstage
# cleanly through the agent that runs after the swaps.
CASE=agent-rollout-csi
. /tests/lib-agent.sh
need_modules /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko
ver_a=$(client_version_of a) ver_b=$(client_version_of b)
K=/var/lib/kubelet
PLUG=$K/plugins/kubernetes.io/csi/csi.atomblk.io
DEVS=$K/plugins/kubernetes.io/csi/volumeDevices
PODS=$K/pods

# csi METHOD JSON: a call to the running agent (the chart's CSI_ENDPOINT).
csi() {
	local out
	out=$(atomctl --timeout 120 csi "$1" "$2" 2>&1) || { t_fail "$1: $(tr '\n' ' ' <<< "$out" | cut -c1-300)"; return 1; }
}
cap_mount() { echo "{\"mount\":{\"fsType\":\"$1\"},\"accessMode\":{\"mode\":\"SINGLE_NODE_WRITER\"}}"; }
cap_block() { echo '{"block":{},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}'; }
ctx() { echo "{\"atomblk.io/layout\":\"$1\",\"atomblk.io/legs\":\"$2\"}"; }
# stage_publish ID CAP CTX STAGING TARGET
stage_publish() {
	csi NodeStageVolume "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$4\",\"volumeCapability\":$2,\"volumeContext\":$3}" &&
		csi NodePublishVolume "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$4\",\"targetPath\":\"$5\",\"volumeCapability\":$2,\"readonly\":false}"
}
unpublish_unstage() { # ID STAGING TARGET
	csi NodeUnpublishVolume "{\"volumeId\":\"$1\",\"targetPath\":\"$3\"}" &&
		csi NodeUnstageVolume "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\"}"
}
disk_of() { atomtool list | awk -v id="$1" '$1 == id { sub("^/dev/", "", $2); print $2 }'; }

t_begin agent-rollout-csi/publish
img_a=$(make_image a a) && img_b=$(make_image b b) || t_fail "images"
make_ram_legs 2 96 || t_fail "modprobe brd"
leg_x0=$(make_loop_leg x0 320) && leg_x1=$(make_loop_leg x1 320) || t_fail "loop legs"
start_agent A1 "$img_a"
wait_agent_ready 60 || t_fail "agent A not ready (first install)"
stg_e=$PLUG/v-ext4/globalmount tgt_e=$PODS/p1/volumes/kubernetes.io~csi/v-ext4/mount
stg_x=$PLUG/v-xfs/globalmount tgt_x=$PODS/p1/volumes/kubernetes.io~csi/v-xfs/mount
stg_r=$DEVS/staging/v-raw tgt_r=$DEVS/publish/v-raw/p1
mkdir -p "$stg_e" "$stg_x" "$stg_r" "$(dirname "$tgt_e")" "$(dirname "$tgt_x")" "$(dirname "$tgt_r")"
stage_publish v-ext4 "$(cap_mount ext4)" "$(ctx linear /dev/ram0)" "$stg_e" "$tgt_e"
stage_publish v-xfs "$(cap_mount xfs)" "$(ctx mirror "$leg_x0,$leg_x1")" "$stg_x" "$tgt_x"
stage_publish v-raw "$(cap_block)" "$(ctx linear /dev/ram1)" "$stg_r" "$tgt_r"
atomtool list
DISKS=($(disk_of v-ext4) $(disk_of v-xfs) $(disk_of v-raw))
WRITERS=(we wx wr)
[ ${#DISKS[@]} = 3 ] || t_fail "volumes not assembled: ${DISKS[*]}"
[ -b "$tgt_r" ] || t_fail "raw block target $tgt_r is not a block device"
t_end
[ -n "$T_REASONS" ] && { show_agent_log; exit 1; }

start_writer we "$tgt_e/data" -d 4 -s 16M -p 50
start_writer wx "$tgt_x/data" -d 4 -s 16M -p 50
start_writer wr "$tgt_r" -d 4 -s 16M -p 50
wait_progress /tmp/we.prog 200 30 && wait_progress /tmp/wx.prog 200 30 &&
	wait_progress /tmp/wr.prog 200 30 || t_fail "writers made no progress"

t_begin agent-rollout-csi/upgrade-a-to-b
rollout A1 B "$img_b" "$ver_a" "$ver_b"
t_end

t_begin agent-rollout-csi/downgrade-b-to-a
rollout B A2 "$img_a" "$ver_b" "$ver_a"
t_end

t_begin agent-rollout-csi/writers-clean
for w in "${WRITERS[@]}"; do
	stop_writer $w 60; rc=$?
	cat /tmp/$w.out
	[ $rc = 0 ] && writer_clean $w || t_fail "writer $w: exit $rc, $(grep '^ios=' /tmp/$w.out)"
done
t_end

t_begin agent-rollout-csi/unpublish-unstage
unpublish_unstage v-ext4 "$stg_e" "$tgt_e"
unpublish_unstage v-xfs "$stg_x" "$tgt_x"
unpublish_unstage v-raw "$stg_r" "$tgt_r"
[ -z "$(atomtool list)" ] || t_fail "volumes left assembled: $(atomtool list)"
grep -q " $K" /proc/self/mountinfo && t_fail "mounts left under $K"
# Linear over one leg and each mirror leg hold the whole filesystem.
t_check "e2fsck -fn" e2fsck -fn /dev/ram0
t_check "xfs_repair -n" xfs_repair -n "$leg_x0"
[ "$(md5sum < "$leg_x0")" = "$(md5sum < "$leg_x1")" ] || t_fail "mirror legs differ"
stop_agent || t_fail "agent A2 did not stop"
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
