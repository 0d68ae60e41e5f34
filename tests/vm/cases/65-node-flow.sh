#!/bin/bash
# The CSI Node service end to end, through the agent's socket with atomctl:
# ext4 (linear), xfs (mirror) and raw block (mirror) volumes over loop legs
# — stage, publish rw and ro, stats, online expansion, unpublish, unstage,
# every call made twice (idempotency); the agent killed with SIGKILL and
# restarted between calls; bad requests get the spec's codes and change
# nothing; a second concurrent call on a volume gets ABORTED; data on a
# leg is never formatted over.
. /tests/lib.sh
CASE=node-flow
need_modules /atom/atom_client.ko /atom/test/atom_client-a.ko

K=/var/lib/kubelet
STATE=/var/lib/atomblk
SOCK=/tmp/csi.sock
PLUG=$K/plugins/kubernetes.io/csi/csi.atomblk.io
DEVS=$K/plugins/kubernetes.io/csi/volumeDevices/publish
PODS=$K/pods
MiB=1048576

modprobe loop
load_atom || { echo "RESULT FAIL node-flow/setup insmod atom"; exit 1; }
load_client prod || { echo "RESULT FAIL node-flow/setup insmod atom_client"; exit 1; }
mkdir -p "$K" "$PODS"

# ---- agent -------------------------------------------------------------------
# The agent manages the modules itself when it can (--modules-dir): point it
# at the build this VM loaded, so it finds the client current and changes
# nothing. Serving is what matters here (readiness is the upgrade cases' job).
start_agent() {
	local modules=
	atomblk-agent --help | grep -q -- --modules-dir && modules=--modules-dir=/atom
	atomblk-agent --endpoint "unix://$SOCK" --node-id vm-node --kubelet-dir "$K" \
		--state-dir "$STATE" --ready-file /tmp/agent.ready --log-level debug \
		--metrics-addr= $modules >> /tmp/agent.log 2>&1 &
	AGENT_PID=$!
	wait_for 30 atomctl --endpoint "unix://$SOCK" --timeout 2 csi GetPluginInfo '{}' > /dev/null 2>&1
}
kill_agent() { kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; }

# ---- calls -------------------------------------------------------------------
# atomctl exits 0 on OK and 10 + the gRPC code otherwise.
code_of() {
	case $1 in
	OK) echo 0 ;; INVALID_ARGUMENT) echo 13 ;; NOT_FOUND) echo 15 ;;
	ALREADY_EXISTS) echo 16 ;; RESOURCE_EXHAUSTED) echo 18 ;;
	FAILED_PRECONDITION) echo 19 ;; ABORTED) echo 20 ;; OUT_OF_RANGE) echo 21 ;;
	UNAVAILABLE) echo 24 ;; *) echo "code_of: $1?" >&2; echo 255 ;;
	esac
}

# call WANT METHOD JSON: one call; its output in $OUT; a mismatch is a failure.
call() {
	local want=$1 method=$2 json=$3 rc
	OUT=$(atomctl --endpoint "unix://$SOCK" --timeout 120 csi "$method" "$json" 2>&1)
	rc=$?
	if [ "$rc" != "$(code_of "$want")" ]; then
		t_fail "$method: exit $rc, expected $want: $(tr '\n' ' ' <<< "$OUT" | cut -c1-300)"
		return 1
	fi
	return 0
}

# twice WANT METHOD JSON: the same call twice, the same answer both times.
twice() { call "$@" && call "$@"; }

# json_int KEY: the first integer KEY in $OUT (64-bit values come as strings).
json_int() { grep -o "\"$1\": *\"\\?[0-9]*" <<< "$OUT" | head -n1 | grep -o '[0-9]*$'; }

# ---- JSON builders -------------------------------------------------------------
cap_mount() { echo "{\"mount\":{\"fsType\":\"$1\"},\"accessMode\":{\"mode\":\"${2:-SINGLE_NODE_WRITER}\"}}"; }
cap_block() { echo "{\"block\":{},\"accessMode\":{\"mode\":\"${1:-SINGLE_NODE_WRITER}\"}}"; }
# ctx LAYOUT LEGS [SIZE]
ctx() {
	local size=${3:+,\"atomblk.io/size\":\"$3\"}
	echo "{\"atomblk.io/layout\":\"$1\",\"atomblk.io/legs\":\"$2\"$size}"
}
stage_req() { # ID STAGING CAP CTX [extra fields]
	echo "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\",\"volumeCapability\":$3,\"volumeContext\":$4${5:+,$5}}"
}
publish_req() { # ID STAGING TARGET CAP READONLY
	echo "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\",\"targetPath\":\"$3\",\"volumeCapability\":$4,\"readonly\":$5}"
}
unstage_req() { echo "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\"}"; }
unpublish_req() { echo "{\"volumeId\":\"$1\",\"targetPath\":\"$2\"}"; }
stats_req() { echo "{\"volumeId\":\"$1\",\"volumePath\":\"$2\"}"; }
expand_req() { echo "{\"volumeId\":\"$1\",\"volumePath\":\"$2\",\"capacityRange\":{\"requiredBytes\":\"$3\"}}"; }

# ---- kernel-side views -----------------------------------------------------------
# mountinfo fields of the topmost mount on PATH: "ROOT OPTS FSTYPE"
mnt_of() {
	awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); line = $4 " " $6 " " $(i + 1) } END { if (line) print line }' /proc/self/mountinfo
}
is_mounted() { [ -n "$(mnt_of "$1")" ]; }
mnt_fstype() { mnt_of "$1" | cut -d' ' -f3; }
mnt_is_ro() { mnt_of "$1" | cut -d' ' -f2 | grep -q '^ro\(,\|$\)'; }
disk_of() { atomtool list | awk -v id="$1" '$1 == id { sub("^/dev/", "", $2); print $2 }'; }
in_journal() { grep -q "\"$1\"" "$STATE/node.json" 2>/dev/null; }
# Everything a refused call must leave alone.
snapshot() {
	atomtool list
	grep " $K" /proc/self/mountinfo | awk '{ print $4, $5, $6 }'
	cat "$STATE/node.json" 2>/dev/null
	find "$K" | sort
}

start_agent || { echo "RESULT FAIL node-flow/setup the agent did not start"; cat /tmp/agent.log; exit 1; }

# ---- info ------------------------------------------------------------------------
t_begin node-flow/info-and-capabilities
twice OK NodeGetInfo '{}'
grep -q '"nodeId": "vm-node"' <<< "$OUT" || t_fail "node id: $OUT"
grep -q '"topology.atomblk.io/node": "vm-node"' <<< "$OUT" || t_fail "topology: $OUT"
twice OK NodeGetCapabilities '{}'
for c in STAGE_UNSTAGE_VOLUME GET_VOLUME_STATS EXPAND_VOLUME VOLUME_CONDITION SINGLE_NODE_MULTI_WRITER; do
	grep -q "\"$c\"" <<< "$OUT" || t_fail "capability $c missing"
done
t_end

# ---- filesystem volumes ------------------------------------------------------------
# fs_flow ID FS LAYOUT LEGS SIZE GROW
fs_flow() {
	local id=$1 fs=$2 layout=$3 legs=$4 size=$5 grow=$6
	local stg=$PLUG/$id/globalmount rw=$PODS/p1/volumes/$id/mount ro=$PODS/p2/volumes/$id/mount
	local cap stage disk total1 total2
	t_begin "node-flow/$fs-$layout"
	mkdir -p "$stg" "$(dirname "$rw")" "$(dirname "$ro")"
	cap="{\"mount\":{\"fsType\":\"$fs\",\"mountFlags\":[\"noatime\"]},\"accessMode\":{\"mode\":\"SINGLE_NODE_WRITER\"}}"
	stage=$(stage_req "$id" "$stg" "$cap" "$(ctx "$layout" "$legs" "$size")" \
		'"secrets":{"password":"s3cr3t-never-logged"}')

	twice OK NodeStageVolume "$stage"
	[ "$(mnt_fstype "$stg")" = "$fs" ] || t_fail "staging mount: '$(mnt_of "$stg")'"
	mnt_of "$stg" | cut -d' ' -f2 | grep -q noatime || t_fail "mount flag noatime not applied: $(mnt_of "$stg")"
	disk=$(disk_of "$id")
	[ -n "$disk" ] && [ -b "/dev/$disk" ] || t_fail "no atom disk for $id"
	in_journal "$id" || t_fail "not in the journal"
	[ "$(blockdev --getsize64 "/dev/$disk")" = "$size" ] || t_fail "disk size $(blockdev --getsize64 "/dev/$disk") != $size"

	twice OK NodePublishVolume "$(publish_req "$id" "$stg" "$rw" "$cap" false)"
	echo "hello $id" > "$rw/hello" && sync || t_fail "write through the rw target"
	twice OK NodePublishVolume "$(publish_req "$id" "$stg" "$ro" "$cap" true)"
	mnt_is_ro "$ro" || t_fail "ro target not read-only: $(mnt_of "$ro")"
	[ "$(cat "$ro/hello" 2>/dev/null)" = "hello $id" ] || t_fail "ro target does not show the data"
	touch "$ro/x" 2>/dev/null && t_fail "wrote through the ro target"
	call ALREADY_EXISTS NodePublishVolume "$(publish_req "$id" "$stg" "$ro" "$cap" false)"
	call FAILED_PRECONDITION NodeUnstageVolume "$(unstage_req "$id" "$stg")"
	is_mounted "$stg" || t_fail "a refused unstage unmounted the staging path"

	twice OK NodeGetVolumeStats "$(stats_req "$id" "$rw")"
	total1=$(json_int total)
	[ -n "$total1" ] && [ "$total1" -gt 0 ] || t_fail "no byte total: $OUT"
	grep -q '"INODES"' <<< "$OUT" || t_fail "no inode usage: $OUT"
	grep -q '"abnormal": *true' <<< "$OUT" && t_fail "condition abnormal: $OUT"

	# A killed agent loses nothing: the next one answers from the journal and the kernel.
	kill_agent
	start_agent || t_fail "agent did not restart"
	call OK NodeGetVolumeStats "$(stats_req "$id" "$ro")"

	twice OK NodeExpandVolume "$(expand_req "$id" "$rw" "$grow")"
	[ "$(json_int capacityBytes)" = "$grow" ] || t_fail "capacityBytes: $OUT"
	[ "$(blockdev --getsize64 "/dev/$disk")" = "$grow" ] || t_fail "disk not grown"
	call OK NodeGetVolumeStats "$(stats_req "$id" "$rw")"
	total2=$(json_int total)
	[ -n "$total2" ] && [ "$total2" -gt "$total1" ] || t_fail "filesystem not grown online: $total1 -> $total2"
	echo "$fs $layout: total bytes $total1 -> $total2 after expand to $grow"
	[ "$(cat "$rw/hello")" = "hello $id" ] || t_fail "data lost after expand"

	twice OK NodeUnpublishVolume "$(unpublish_req "$id" "$rw")"
	is_mounted "$rw" && t_fail "rw target still mounted"
	[ -e "$rw" ] && t_fail "rw target not removed"
	twice OK NodeUnpublishVolume "$(unpublish_req "$id" "$ro")"
	is_mounted "$ro" && t_fail "ro target still mounted"
	twice OK NodeUnstageVolume "$(unstage_req "$id" "$stg")"
	is_mounted "$stg" && t_fail "staging still mounted"
	[ -z "$(disk_of "$id")" ] || t_fail "volume still assembled after unstage"
	in_journal "$id" && t_fail "still in the journal after unstage"

	# Staged again over the same legs, with the volume context the kubelet
	# still has (the original atomblk.io/size): the size is a minimum, the
	# volume comes back at its grown size with its filesystem and data —
	# from the agent's record of the expansion, then (record gone) from the
	# filesystem's own superblock.
	local pass
	for pass in recorded-size filesystem-size; do
		if [ $pass = filesystem-size ]; then
			grep -q "\"$id\"" "$STATE/sizes.json" || t_fail "expansion not recorded in sizes.json"
			kill_agent
			rm -f "$STATE/sizes.json"
			start_agent || t_fail "agent did not restart"
		fi
		call OK NodeStageVolume "$(stage_req "$id" "$stg" "$cap" "$(ctx "$layout" "$legs" "$size")")" ||
			tail -n 5 /tmp/agent.log
		[ "$(cat "$stg/hello" 2>/dev/null)" = "hello $id" ] || t_fail "$pass: data gone after restage (reformatted?)"
		[ "$(mnt_fstype "$stg")" = "$fs" ] || t_fail "$pass: restaged as '$(mnt_fstype "$stg")'"
		disk=$(disk_of "$id")
		[ "$(blockdev --getsize64 "/dev/$disk" 2>/dev/null)" = "$grow" ] ||
			t_fail "$pass: restaged disk is $(blockdev --getsize64 "/dev/$disk" 2>/dev/null) bytes, grown to $grow"
		call OK NodeUnstageVolume "$(unstage_req "$id" "$stg")"
	done
	t_end
}

l0=$(make_loop_leg l0 64) l1=$(make_loop_leg l1 64)
fs_flow v-ext4 ext4 linear "$l0,$l1" $((48 * MiB)) $((112 * MiB))
x0=$(make_loop_leg x0 400) x1=$(make_loop_leg x1 400)
fs_flow v-xfs xfs mirror "$x0,$x1" $((320 * MiB)) $((384 * MiB))

# ---- raw block volume ------------------------------------------------------------------
t_begin node-flow/block-mirror
b0=$(make_loop_leg b0 40) b1=$(make_loop_leg b1 40)
id=v-block stg=$PLUG/v-block/staging rw=$DEVS/v-block/pod1 ro=$DEVS/v-block/pod2
mkdir -p "$stg" "$(dirname "$rw")"
cap=$(cap_block)
twice OK NodeStageVolume "$(stage_req "$id" "$stg" "$cap" "$(ctx mirror "$b0,$b1" $((16 * MiB)))")"
disk=$(disk_of "$id")
[ -b "/dev/$disk" ] || t_fail "no atom disk"
is_mounted "$stg" && t_fail "a block volume got a staging mount"
twice OK NodePublishVolume "$(publish_req "$id" "$stg" "$rw" "$cap" false)"
[ -b "$rw" ] || t_fail "rw target is not a block device node"
[ "$(mnt_of "$rw" | cut -d' ' -f1)" = "/$disk" ] || t_fail "rw target bind: $(mnt_of "$rw")"
dd if=/dev/urandom of=/tmp/pattern bs=4096 count=64 2>/dev/null
dd if=/tmp/pattern of="$rw" bs=4096 conv=fsync 2>/dev/null || t_fail "write through the rw target"
want=$(md5sum < /tmp/pattern)
for leg in "$b0" "$b1"; do
	[ "$(dd if="$leg" bs=4096 count=64 2>/dev/null | md5sum)" = "$want" ] ||
		t_fail "mirror leg $leg lacks the data"
done
twice OK NodePublishVolume "$(publish_req "$id" "$stg" "$ro" "$cap" true)"
mnt_is_ro "$ro" || t_fail "ro target not a read-only bind: $(mnt_of "$ro")"
[ "$(dd if="$ro" bs=4096 count=64 2>/dev/null | md5sum)" = "$want" ] || t_fail "ro target reads other data"
if dd if=/dev/zero of="$ro" bs=4096 count=1 conv=fsync 2>/dev/null; then
	echo "NOTE: a read-only bind of a device node does not stop writes to it (kernel behaviour)"
	dd if=/tmp/pattern of="$rw" bs=4096 count=1 conv=fsync 2>/dev/null
fi
twice OK NodeGetVolumeStats "$(stats_req "$id" "$rw")"
[ "$(json_int total)" = $((16 * MiB)) ] || t_fail "block stats total: $OUT"
kill_agent
start_agent || t_fail "agent did not restart"
twice OK NodeExpandVolume "$(expand_req "$id" "$rw" $((32 * MiB)))"
[ "$(json_int capacityBytes)" = $((32 * MiB)) ] || t_fail "capacityBytes: $OUT"
call OK NodeGetVolumeStats "$(stats_req "$id" "$ro")"
[ "$(json_int total)" = $((32 * MiB)) ] || t_fail "stats after expand: $OUT"
[ "$(dd if="$rw" bs=4096 count=64 2>/dev/null | md5sum)" = "$want" ] || t_fail "data changed by expand"
call FAILED_PRECONDITION NodeUnstageVolume "$(unstage_req "$id" "$stg")"
twice OK NodeUnpublishVolume "$(unpublish_req "$id" "$rw")"
twice OK NodeUnpublishVolume "$(unpublish_req "$id" "$ro")"
[ -e "$rw" ] || [ -e "$ro" ] && t_fail "targets not removed"
twice OK NodeUnstageVolume "$(unstage_req "$id" "$stg")"
[ -z "$(disk_of "$id")" ] || t_fail "volume still assembled"
# Restaged with the original context (16 MiB): it comes back at 32 MiB.
call OK NodeStageVolume "$(stage_req "$id" "$stg" "$cap" "$(ctx mirror "$b0,$b1" $((16 * MiB)))")"
disk=$(disk_of "$id")
[ "$(blockdev --getsize64 "/dev/$disk" 2>/dev/null)" = $((32 * MiB)) ] ||
	t_fail "restaged block volume is $(blockdev --getsize64 "/dev/$disk" 2>/dev/null) bytes, grown to $((32 * MiB))"
[ "$(dd if="/dev/$disk" bs=4096 count=64 2>/dev/null | md5sum)" = "$want" ] || t_fail "data changed by restage"
call OK NodeUnstageVolume "$(unstage_req "$id" "$stg")"
[ -z "$(disk_of "$id")" ] || t_fail "volume still assembled"
t_end

# ---- volume condition: IO held, mirror degraded --------------------------------------
t_begin node-flow/volume-condition
c0=$(make_loop_leg c0 32) c1=$(make_loop_leg c1 32)
id=v-cond stg=$PLUG/v-cond/staging tgt=$DEVS/v-cond/pod1
mkdir -p "$stg" "$(dirname "$tgt")"
cond_stage=$(stage_req "$id" "$stg" "$(cap_block)" "$(ctx mirror "$c0,$c1")")
call OK NodeStageVolume "$cond_stage"
call OK NodePublishVolume "$(publish_req "$id" "$stg" "$tgt" "$(cap_block)" false)"
call OK NodeGetVolumeStats "$(stats_req "$id" "$tgt")"
grep -q '"abnormal": *true' <<< "$OUT" && t_fail "abnormal while healthy: $OUT"
# No client: IO is held; the node still answers for what it staged.
unload_client || t_fail "rmmod atom_client"
call OK NodeStageVolume "$cond_stage"
call OK NodeGetVolumeStats "$(stats_req "$id" "$tgt")"
grep -q '"abnormal": *true' <<< "$OUT" && grep -q 'held' <<< "$OUT" || t_fail "held IO not reported: $OUT"
echo "    held: $(grep -o '"message": *"[^"]*"' <<< "$OUT")"
# A client adopts the disk: normal again. Then a mirror leg fails.
load_client a || t_fail "insmod atom_client-a"
call OK NodeGetVolumeStats "$(stats_req "$id" "$tgt")"
grep -q '"abnormal": *true' <<< "$OUT" && t_fail "abnormal after adopt: $OUT"
echo "$id:1" > "$CLIENT_PARAMS/fail_leg" || t_fail "set fail_leg"
dd if=/dev/urandom of="$tgt" bs=4096 count=16 conv=fsync 2>/dev/null || t_fail "mirror write failed with one leg failing"
call OK NodeGetVolumeStats "$(stats_req "$id" "$tgt")"
grep -q '"abnormal": *true' <<< "$OUT" && grep -q "degraded" <<< "$OUT" && grep -q "$c1" <<< "$OUT" ||
	t_fail "degraded mirror not reported: $OUT"
echo "    degraded: $(grep -o '"message": *"[^"]*"' <<< "$OUT")"
echo "" > "$CLIENT_PARAMS/fail_leg"
call OK NodeUnpublishVolume "$(unpublish_req "$id" "$tgt")"
call OK NodeUnstageVolume "$(unstage_req "$id" "$stg")"
t_end

# ---- bad requests ------------------------------------------------------------------------
k0=$(make_loop_leg k0 32) k1=$(make_loop_leg k1 32)
keep_stg=$PLUG/v-keep/globalmount keep_tgt=$PODS/p3/volumes/v-keep/mount
mkdir -p "$keep_stg" "$(dirname "$keep_tgt")"
keep_cap=$(cap_mount ext4)
keep_ctx=$(ctx linear "$k0")
t_begin node-flow/bad-requests-setup
call OK NodeStageVolume "$(stage_req v-keep "$keep_stg" "$keep_cap" "$keep_ctx")"
call OK NodePublishVolume "$(publish_req v-keep "$keep_stg" "$keep_tgt" "$keep_cap" false)"
t_end

# refused NAME WANT METHOD JSON: the code, and no change anywhere.
refused() {
	local name=$1 before after; shift
	t_begin "node-flow/refused/$name"
	before=$(snapshot)
	call "$@"
	echo "    $2: $(tail -n1 <<< "$OUT")"
	after=$(snapshot)
	[ "$before" = "$after" ] || t_fail "state changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
	t_end
}

good_ctx=$(ctx linear "$k1")
refused stage-no-volume-id INVALID_ARGUMENT NodeStageVolume \
	"{\"stagingTargetPath\":\"$PLUG/x/g\",\"volumeCapability\":$keep_cap,\"volumeContext\":$good_ctx}"
refused stage-no-staging-path INVALID_ARGUMENT NodeStageVolume \
	"{\"volumeId\":\"v-x\",\"volumeCapability\":$keep_cap,\"volumeContext\":$good_ctx}"
refused stage-no-capability INVALID_ARGUMENT NodeStageVolume \
	"{\"volumeId\":\"v-x\",\"stagingTargetPath\":\"$PLUG/x/g\",\"volumeContext\":$good_ctx}"
refused stage-outside-kubelet INVALID_ARGUMENT NodeStageVolume "$(stage_req v-x /tmp/evil "$keep_cap" "$good_ctx")"
refused stage-dotdot-path INVALID_ARGUMENT NodeStageVolume "$(stage_req v-x "$K/../../tmp/evil" "$keep_cap" "$good_ctx")"
refused stage-btrfs INVALID_ARGUMENT NodeStageVolume "$(stage_req v-x "$PLUG/x/g" "$(cap_mount btrfs)" "$good_ctx")"
refused stage-multi-node INVALID_ARGUMENT NodeStageVolume \
	"$(stage_req v-x "$PLUG/x/g" "$(cap_mount ext4 MULTI_NODE_MULTI_WRITER)" "$good_ctx")"
refused stage-bad-mount-flag INVALID_ARGUMENT NodeStageVolume \
	"$(stage_req v-x "$PLUG/x/g" '{"mount":{"fsType":"ext4","mountFlags":["bind"]},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}' "$good_ctx")"
refused stage-no-legs INVALID_ARGUMENT NodeStageVolume "$(stage_req v-x "$PLUG/x/g" "$keep_cap" '{}')"
refused stage-mirror-one-leg INVALID_ARGUMENT NodeStageVolume "$(stage_req v-x "$PLUG/x/g" "$keep_cap" "$(ctx mirror "$k1")")"
refused stage-unknown-leg INVALID_ARGUMENT NodeStageVolume "$(stage_req v-x "$PLUG/x/g" "$keep_cap" "$(ctx linear /dev/nonexistent)")"
refused stage-bad-size INVALID_ARGUMENT NodeStageVolume "$(stage_req v-x "$PLUG/x/g" "$keep_cap" "$(ctx linear "$k1" 4097)")"
refused stage-too-big OUT_OF_RANGE NodeStageVolume "$(stage_req v-x "$PLUG/x/g" "$keep_cap" "$(ctx linear "$k1" $((64 * MiB)))")"
refused stage-leg-in-use FAILED_PRECONDITION NodeStageVolume "$(stage_req v-x "$PLUG/x/g" "$keep_cap" "$keep_ctx")"
refused stage-other-staging-path ALREADY_EXISTS NodeStageVolume "$(stage_req v-keep "$PLUG/x/g" "$keep_cap" "$keep_ctx")"
refused stage-other-fs ALREADY_EXISTS NodeStageVolume "$(stage_req v-keep "$keep_stg" "$(cap_mount xfs)" "$keep_ctx")"
refused publish-not-staged FAILED_PRECONDITION NodePublishVolume \
	"$(publish_req v-none "$PLUG/v-none/g" "$PODS/p3/volumes/v-none/mount" "$keep_cap" false)"
refused publish-wrong-staging FAILED_PRECONDITION NodePublishVolume \
	"$(publish_req v-keep "$PLUG/x/g" "$PODS/p4/mount" "$keep_cap" false)"
refused publish-block-on-fs INVALID_ARGUMENT NodePublishVolume \
	"$(publish_req v-keep "$keep_stg" "$PODS/p4/mount" "$(cap_block)" false)"
refused publish-outside-kubelet INVALID_ARGUMENT NodePublishVolume \
	"$(publish_req v-keep "$keep_stg" /tmp/evil "$keep_cap" false)"
refused publish-no-target INVALID_ARGUMENT NodePublishVolume \
	"{\"volumeId\":\"v-keep\",\"stagingTargetPath\":\"$keep_stg\",\"volumeCapability\":$keep_cap}"
refused publish-ro-over-rw ALREADY_EXISTS NodePublishVolume "$(publish_req v-keep "$keep_stg" "$keep_tgt" "$keep_cap" true)"
refused unstage-while-published FAILED_PRECONDITION NodeUnstageVolume "$(unstage_req v-keep "$keep_stg")"
refused unpublish-no-volume-id INVALID_ARGUMENT NodeUnpublishVolume "{\"targetPath\":\"$keep_tgt\"}"
refused unpublish-outside-kubelet INVALID_ARGUMENT NodeUnpublishVolume "$(unpublish_req v-keep /tmp)"
refused stats-unknown-volume NOT_FOUND NodeGetVolumeStats "$(stats_req v-none "$keep_tgt")"
refused stats-missing-path NOT_FOUND NodeGetVolumeStats "$(stats_req v-keep "$PODS/p9/mount")"
refused stats-no-path INVALID_ARGUMENT NodeGetVolumeStats "{\"volumeId\":\"v-keep\"}"
refused expand-too-big OUT_OF_RANGE NodeExpandVolume "$(expand_req v-keep "$keep_tgt" $((64 * MiB)))"
refused expand-unknown NOT_FOUND NodeExpandVolume "$(expand_req v-none "$keep_tgt" $((8 * MiB)))"

t_begin node-flow/secrets-never-logged
grep -q 's3cr3t' /tmp/agent.log && t_fail "a secret reached the agent log"
grep -c 'call finished' /tmp/agent.log | sed 's/^/    calls logged: /'
t_end

# ---- existing data is never formatted over ----------------------------------------------
t_begin node-flow/existing-filesystem-kept
d0=$(make_loop_leg d0 32)
mkfs.ext4 -q "$d0" && mkdir -p /mnt/d && mount "$d0" /mnt/d && echo precious > /mnt/d/file && umount /mnt/d ||
	t_fail "prepare an ext4 leg"
dstg=$PLUG/v-data/globalmount
mkdir -p "$dstg"
before=$(snapshot)
call FAILED_PRECONDITION NodeStageVolume "$(stage_req v-data "$dstg" "$(cap_mount xfs)" "$(ctx linear "$d0")")"
echo "    $(tail -n1 <<< "$OUT")"
[ "$before" = "$(snapshot)" ] || t_fail "a refused stage left something behind"
call OK NodeStageVolume "$(stage_req v-data "$dstg" "$(cap_mount "")" "$(ctx linear "$d0")")"
[ "$(cat "$dstg/file" 2>/dev/null)" = precious ] || t_fail "the existing data is gone"
[ "$(mnt_fstype "$dstg")" = ext4 ] || t_fail "mounted as $(mnt_fstype "$dstg")"
call OK NodeUnstageVolume "$(unstage_req v-data "$dstg")"
t_end

# ---- concurrent calls on one volume ----------------------------------------------------------
t_begin node-flow/concurrent-call-aborted
r0=$(make_loop_leg r0 600) r1=$(make_loop_leg r1 600)
rstg=$PLUG/v-race/globalmount
mkdir -p "$rstg"
rreq=$(stage_req v-race "$rstg" "$(cap_mount xfs)" "$(ctx mirror "$r0,$r1")")
atomctl --endpoint "unix://$SOCK" --timeout 120 csi NodeStageVolume "$rreq" > /tmp/race1.out 2>&1 &
first=$!
wait_for 20 in_journal v-race || t_fail "the first stage never got going"
# Keep the first call busy: without a client its mkfs/mount IO is held.
unload_client || t_fail "rmmod atom_client"
if kill -0 "$first" 2>/dev/null; then
	call ABORTED NodeStageVolume "$rreq"
	call ABORTED NodeUnstageVolume "$(unstage_req v-race "$rstg")"
	kill -0 "$first" 2>/dev/null || t_fail "the first call finished without a client"
else
	t_fail "the first stage finished before a second call could be made"
fi
load_client a || t_fail "insmod atom_client-a"
wait "$first" || t_fail "the first stage failed: $(cat /tmp/race1.out)"
[ "$(mnt_fstype "$rstg")" = xfs ] || t_fail "first stage did not complete"
call OK NodeUnstageVolume "$(unstage_req v-race "$rstg")"
t_end

# ---- clean up ------------------------------------------------------------------------------
t_begin node-flow/cleanup
call OK NodeUnpublishVolume "$(unpublish_req v-keep "$keep_tgt")"
call OK NodeUnstageVolume "$(unstage_req v-keep "$keep_stg")"
[ -z "$(atomtool list)" ] || t_fail "volumes left: $(atomtool list)"
grep " $K" /proc/self/mountinfo && t_fail "mounts left under $K"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || t_fail "agent exit status $?"
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
echo "--- agent log (last 40 lines)"
tail -n 40 /tmp/agent.log
