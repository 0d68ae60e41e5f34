#!/bin/bash
# vm-timeout: 420
# The provisioning flow end to end in one VM, all through CSI: three storage
# agents (127.0.0.2-4, their own XFS pools, target API on :9810 with mutual
# TLS, nvmet on 10.77.0.2-4 of a dummy interface that also carries a
# soft-RoCE device), one controller, one node agent that manages the
# modules. Over nvme-tcp: CreateVolume(replicas=2) -> stage -> publish ->
# verifying writes while the client is swapped a<->b -> online expand ->
# snapshot -> clone from it, staged next to the original, holding the data
# of the snapshot's time -> everything deleted, nothing left in the pools,
# configfs (subsystems, hosts, port links) or the NVMe host. A volume
# expanded before its first stage is staged at its context's size over the
# bigger legs and grown by NodeExpandVolume; a 1-replica (linear) volume
# grows online as well. Then over nvme-rdma (rdma_rxe): transport=rdma
# and transport=auto both connect every leg over RDMA.
. /tests/lib-cluster.sh
CASE=nvme-flow
SWAPS=${SWAPS:-4}
need_modules /atom/atom_client.ko /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko
NODES=127.0.0.2:$TARGET_PORT,127.0.0.3:$TARGET_PORT,127.0.0.4:$TARGET_PORT

# ---- setup -----------------------------------------------------------------------------------
t_begin nvme-flow/setup
# No modprobe of nvme*/nvmet*: the storage role loads nvmet and its
# transports, the node agent nvme-tcp/nvme-rdma (a fresh node has neither).
rdma_setup || t_fail "dummy0 with 10.77.0.1-4 and rxe0 on it"
for n in 2 3 4; do
	# 512 MB: capacity is counted thick (a 96 MiB volume, its snapshot and
	# the clone take 288 MiB of a node's pool even as reflinks).
	pool_make $n 512 || t_fail "pool $n"
	storage_start $n 127.0.0.$n --nvme-address 10.77.0.$n
done
for n in 2 3 4; do
	wait_until 30 target_up 127.0.0.$n || t_fail "storage-$n: target API not up"
done
# The storage nodes through a DNS name, as the chart's controller finds them
# (case 91 and the benchmark use the static list).
controller_start --service "atomblk-storage:$TARGET_PORT" 127.0.0.2 127.0.0.3 127.0.0.4 ||
	t_fail "controller not answering"
node_start || t_fail "node agent not ready"
# Every storage node behind the name was found: each one's segment has capacity.
for n in 2 3 4; do
	ctrl OK GetCapacity "{\"accessibleTopology\":{\"segments\":{\"topology.atomblk.io/node\":\"storage-$n\"}}}" &&
		[ "$(out '.availableCapacity // "0"')" -gt 0 ] ||
		t_fail "GetCapacity of storage-$n through the DNS name: $OUT"
done
target_call 127.0.0.2 GetInfo | tr -d '\n ' | cut -c1-300; echo
t_end
[ -n "$T_REASONS" ] && setup_failed "$T_REASONS"

PARAMS_TCP='{"replicas":"2","transport":"tcp"}'

# ---- nvme-tcp ---------------------------------------------------------------------------------
t_begin nvme-flow/tcp-create
volume_create flow-tcp $((64 * MiB)) "$PARAMS_TCP" || t_fail "CreateVolume"
VOL=$VOL_ID CTX=$VOL_CTX
echo "volume $VOL context $CTX"
legs=$(jq -r '.["atomblk.io/replicas"] | fromjson | map(.node) | unique | length' <<< "$CTX")
[ "$legs" = 2 ] || t_fail "replicas on $legs distinct storage nodes, expected 2"
[ "$(jq -r '.["atomblk.io/layout"]' <<< "$CTX")" = mirror ] || t_fail "layout is not mirror"
n=0
for p in 2 3 4; do [ -n "$(pool_files $p)" ] && n=$((n + 1)); done
[ $n = 2 ] || t_fail "replica files in $n pools, expected 2"
# Idempotent by name: the same request names the same volume.
ctrl OK CreateVolume "$(create_req flow-tcp $((64 * MiB)) "$PARAMS_TCP")" &&
	{ [ "$(out .volume.volumeId)" = "$VOL" ] || t_fail "repeated CreateVolume: another id $(out .volume.volumeId)"; }
t_end
# Everything below needs the volume: stop here rather than cascade.
[ -n "$VOL" ] || { show_logs; exit 1; }

t_begin nvme-flow/tcp-create-converges
# A CreateVolume that crashed after its first replica left that replica (with
# the labels the controller writes) on storage-3; the CO's retry completes
# the volume with it instead of starting over, and nothing is left twice.
name=flow-crash size=$((32 * MiB))
vid=v-$(printf %s "$name" | sha256sum | cut -c1-32)
labels="\"atomblk.io/volume-name\":\"$name\",\"atomblk.io/volume-id\":\"$vid\",\"atomblk.io/replicas\":\"2\""
labels="$labels,\"atomblk.io/index\":\"0\",\"atomblk.io/transport\":\"tcp\",\"atomblk.io/hold-seconds\":\"300\""
target_call 127.0.0.3 CreateReplica "{\"id\":\"$vid\",\"sizeBytes\":\"$size\",\"labels\":{$labels}}" > /dev/null ||
	t_fail "the crashed create's replica on storage-3"
if volume_create "$name" "$size" "$PARAMS_TCP"; then
	[ "$VOL_ID" = "$vid" ] || t_fail "volume id $VOL_ID, expected $vid"
	leg0=$(jq -r '.["atomblk.io/replicas"] | fromjson | .[0].node' <<< "$VOL_CTX")
	[ "$leg0" = storage-3 ] || t_fail "leg 0 on $leg0, expected the crashed create's replica on storage-3"
	n=0
	for p in 2 3 4; do pool_files $p | grep -qx "$vid" && n=$((n + 1)); done
	[ $n = 2 ] || t_fail "$vid in $n pools, expected 2"
	ctrl OK DeleteVolume "{\"volumeId\":\"$vid\"}"
	for p in 2 3 4; do pool_files $p | grep -qx "$vid" && t_fail "$vid left in pool $p"; done
else
	t_fail "CreateVolume after the crash"
fi
t_end

t_begin nvme-flow/tcp-stage-publish
volume_stage "$VOL" "$CTX" p1 || t_fail "stage/publish"
disk=$(disk_of "$VOL")
[ -n "$disk" ] || t_fail "no atom disk for $VOL"
echo "disk $disk, controllers: $(nvme_transports | tr '\n' ' ')"
[ "$(nvme_transports | grep -c tcp)" = 2 ] || t_fail "expected 2 nvme-tcp controllers: $(nvme_transports | tr '\n' ' ')"
grep -q " $TGT " /proc/self/mountinfo || t_fail "target not mounted"
t_end
[ -n "$disk" ] || { show_logs; exit 1; }

t_begin nvme-flow/tcp-writes-and-swaps
# The data the snapshot will hold, then the writer; the client is swapped under it.
head -c $MiB /dev/urandom > /tmp/marker
cp /tmp/marker "$TGT/marker" && bounded 30 sync || t_fail "write the marker"
marker_sum=$(md5sum < /tmp/marker)
start_writer wt "$TGT/data" -d 8 -s 24M -p 100
wait_progress /tmp/wt.prog 200 40 || t_fail "writer made no progress"
next=a
for ((i = 1; i <= SWAPS; i++)); do
	unload_client || { t_fail "swap $i: rmmod atom_client"; break; }
	load_client $next || { t_fail "swap $i: insmod client $next"; break; }
	n=$(vio_field /tmp/wt.prog ios)
	wait_progress /tmp/wt.prog $((n + 100)) 30 || { t_fail "swap $i: IO did not resume within 30 s"; break; }
	disk_attr_is "$disk" state attached || t_fail "swap $i: $disk state $(disk_attr "$disk" state)"
	[ $next = a ] && next=b || next=a
done
stop_writer wt 60 || t_fail "writer exited $?"
cat /tmp/wt.out | tail -n 3
writer_clean wt || t_fail "writer errors: $(tail -n1 /tmp/wt.out)"
t_end

t_begin nvme-flow/tcp-expand
before=$(df -k "$TGT" | awk 'NR == 2 { print $2 }')
ctrl OK ControllerExpandVolume "{\"volumeId\":\"$VOL\",\"capacityRange\":{\"requiredBytes\":\"$((96 * MiB))\"},\"volumeCapability\":$(cap_mount)}" ||
	t_fail "ControllerExpandVolume"
[ "$(out .nodeExpansionRequired)" = true ] || t_fail "node_expansion_required not true for a mount"
node OK NodeExpandVolume "{\"volumeId\":\"$VOL\",\"volumePath\":\"$TGT\",\"stagingTargetPath\":\"$STG\",\"capacityRange\":{\"requiredBytes\":\"$((96 * MiB))\"},\"volumeCapability\":$(cap_mount)}" ||
	t_fail "NodeExpandVolume"
after=$(df -k "$TGT" | awk 'NR == 2 { print $2 }')
echo "filesystem ${before} KiB -> ${after} KiB"
[ -n "$after" ] && [ "$after" -gt $((before + 20000)) ] || t_fail "filesystem did not grow: $before -> $after KiB"
[ "$(blockdev --getsize64 "/dev/$disk")" = $((96 * MiB)) ] || t_fail "disk size $(blockdev --getsize64 "/dev/$disk")"
t_end

t_begin nvme-flow/tcp-snapshot-clone
bounded 30 sync
ctrl OK CreateSnapshot "{\"sourceVolumeId\":\"$VOL\",\"name\":\"flow-snap\"}" || t_fail "CreateSnapshot"
SNAP=$(out .snapshot.snapshotId)
[ "$(out .snapshot.readyToUse)" = true ] || t_fail "snapshot not ready to use"
# The original moves on: the clone must not see this.
head -c $MiB /dev/urandom > "$TGT/marker" && bounded 30 sync
volume_create flow-clone $((96 * MiB)) "$PARAMS_TCP" "{\"snapshot\":{\"snapshotId\":\"$SNAP\"}}" ||
	t_fail "CreateVolume from the snapshot"
CLONE=$VOL_ID CLONE_CTX=$VOL_CTX
volume_stage "$CLONE" "$CLONE_CTX" p2 || t_fail "stage/publish the clone"
CLONE_TGT=$TGT TGT=$K/pods/p1/volumes/kubernetes.io~csi/$VOL/mount
[ "$(md5sum < "$CLONE_TGT/marker" 2>/dev/null)" = "$marker_sum" ] ||
	t_fail "the clone's marker differs from the data at snapshot time"
[ "$(md5sum < "$TGT/marker")" != "$marker_sum" ] || t_fail "the original did not move on"
echo "controllers: $(nvme_transports | tr '\n' ' ')"
t_end

t_begin nvme-flow/tcp-delete-all
volume_unstage "$CLONE" p2
volume_unstage "$VOL" p1
ctrl OK DeleteSnapshot "{\"snapshotId\":\"$SNAP\"}"
for v in "$CLONE" "$VOL"; do
	ctrl OK DeleteVolume "{\"volumeId\":\"$v\"}" && ctrl OK DeleteVolume "{\"volumeId\":\"$v\"}"
done
nothing_left 2 3 4
t_end

# A volume expanded before its first stage: the CO stages it with the
# volume context of CreateVolume (the original size) over legs that are
# already bigger. The atom disk starts at the context's size, IO works, and
# NodeExpandVolume (which the CO calls next) grows it to the legs' size.
t_begin nvme-flow/tcp-expand-before-stage
if volume_create flow-early $((32 * MiB)) "$PARAMS_TCP"; then
	vol=$VOL_ID ctx=$VOL_CTX
	ctrl OK ControllerExpandVolume "{\"volumeId\":\"$vol\",\"capacityRange\":{\"requiredBytes\":\"$((48 * MiB))\"},\"volumeCapability\":$(cap_mount)}" ||
		t_fail "ControllerExpandVolume"
	if volume_stage "$vol" "$ctx" p-early; then
		d=$(disk_of "$vol")
		echo "disk $d: $(blockdev --getsize64 "/dev/$d") bytes over legs of 48 MiB"
		start_writer we "$TGT/data" -d 8 -s 8M -t 3
		stop_writer we 60 > /dev/null
		writer_clean we || t_fail "writer on the staged volume: $(tail -n1 /tmp/we.out)"
		node OK NodeExpandVolume "{\"volumeId\":\"$vol\",\"volumePath\":\"$TGT\",\"stagingTargetPath\":\"$STG\",\"capacityRange\":{\"requiredBytes\":\"$((48 * MiB))\"},\"volumeCapability\":$(cap_mount)}" ||
			t_fail "NodeExpandVolume"
		[ "$(blockdev --getsize64 "/dev/$d")" = $((48 * MiB)) ] ||
			t_fail "disk size after NodeExpandVolume: $(blockdev --getsize64 "/dev/$d")"
		volume_unstage "$vol" p-early
	else
		t_fail "stage/publish"
	fi
	ctrl OK DeleteVolume "{\"volumeId\":\"$vol\"}"
	[ -z "$(nvme_transports)" ] || t_fail "NVMe controllers left: $(ls /sys/class/nvme)"
else
	t_fail "CreateVolume"
fi
t_end

# One replica (a linear atom disk over one NVMe-oF leg): online expand grows
# the staged disk too (the leg's rescanned namespace is re-read on resize).
t_begin nvme-flow/tcp-single-replica-expand
if volume_create flow-single $((32 * MiB)) '{"replicas":"1","transport":"tcp"}'; then
	vol=$VOL_ID ctx=$VOL_CTX
	if volume_stage "$vol" "$ctx" p-single; then
		d=$(disk_of "$vol")
		ctrl OK ControllerExpandVolume "{\"volumeId\":\"$vol\",\"capacityRange\":{\"requiredBytes\":\"$((48 * MiB))\"},\"volumeCapability\":$(cap_mount)}" ||
			t_fail "ControllerExpandVolume"
		node OK NodeExpandVolume "{\"volumeId\":\"$vol\",\"volumePath\":\"$TGT\",\"stagingTargetPath\":\"$STG\",\"capacityRange\":{\"requiredBytes\":\"$((48 * MiB))\"},\"volumeCapability\":$(cap_mount)}" ||
			t_fail "NodeExpandVolume"
		[ "$(blockdev --getsize64 "/dev/$d")" = $((48 * MiB)) ] ||
			t_fail "disk size after NodeExpandVolume: $(blockdev --getsize64 "/dev/$d")"
		atomtool status "$vol" | grep '^layout=\|^size=' | tr '\n' ' '; echo
		volume_unstage "$vol" p-single
	else
		t_fail "stage/publish"
	fi
	ctrl OK DeleteVolume "{\"volumeId\":\"$vol\"}"
else
	t_fail "CreateVolume"
fi
t_end

# ---- nvme-rdma (soft-RoCE) -------------------------------------------------------------------
# rdma_flow NAME TRANSPORT: a 2-replica volume with that transport policy,
# staged, its legs connected over RDMA, written and verified, then deleted.
rdma_flow() {
	local name=$1 transport=$2 vol ctx t
	t_begin "nvme-flow/$name"
	volume_create "flow-$name" $((32 * MiB)) "{\"replicas\":\"2\",\"transport\":\"$transport\"}" ||
		{ t_fail "CreateVolume"; t_end; return; }
	vol=$VOL_ID ctx=$VOL_CTX
	jq -r '.["atomblk.io/replicas"] | fromjson | map(.addresses | map(.trtype) | join("+")) | join(" ")' <<< "$ctx" |
		sed 's/^/    leg transports offered: /'
	if volume_stage "$vol" "$ctx" "p-$name"; then
		t=$(nvme_transports | sort | uniq -c | tr -s ' \n' ' ')
		echo "controllers: $t"
		[ "$(nvme_transports | grep -c rdma)" = 2 ] && [ "$(nvme_transports | grep -vc rdma)" = 0 ] ||
			t_fail "expected 2 nvme-rdma controllers, have:$t"
		start_writer "w$name" "$TGT/data" -d 8 -s 8M -t 4
		stop_writer "w$name" 60 >/dev/null
		writer_clean "w$name" || t_fail "writer: $(tail -n1 "/tmp/w$name.out")"
		volume_unstage "$vol" "p-$name"
	else
		t_fail "stage/publish"
	fi
	ctrl OK DeleteVolume "{\"volumeId\":\"$vol\"}"
	[ -z "$(nvme_transports)" ] || t_fail "NVMe controllers left: $(ls /sys/class/nvme)"
	t_end
}
rdma_flow rdma rdma
rdma_flow auto auto

t_begin nvme-flow/teardown
nothing_left 2 3 4
stop_pid "$NODE_PID" && stop_pid "$CTRL_PID"
for n in 2 3 4; do storage_stop $n; done
t_end
[ $T_ANY_FAILED = 0 ] || show_logs
exit $T_ANY_FAILED
