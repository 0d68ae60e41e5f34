#!/bin/bash
# Runs inside the node VM (tests/bench/nvme.sh adds it as /extra/nvme-guest.sh).
# Two storage agents (127.0.0.2/.3, XFS pools), a controller and a node
# agent, as in VM case 90. 4 KiB random IO at QD16 with verifyio, in
# alternating rounds (so a change of host load hits both sides alike):
#   - a 2-replica volume over nvme-tcp, staged as a raw block volume
#     through the controller and node agents (the atom mirror over two
#     NVMe-oF legs);
#   - the raw NVMe-oF namespace of one replica of the same kind (a
#     1-replica volume on the same storage node, connected by hand with
#     nvme-cli after AllowHost through the target API).
# Then CreateVolume latency through the controller (replicas=2).
# Prints "BENCH key=value ..." lines for the host to tabulate.
. /tests/lib-cluster.sh
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-2}
CREATES=${BENCH_CREATES:-9}
BENCH_HOST=nqn.2026-11.io.atomblk:host:bench
BENCH_HOSTID=5b3c1d2e-0f4a-4b6c-8d7e-9fa0b1c2d3e4

# No modprobe of nvme*/nvmet*: the storage role loads nvmet, the node agent
# nvme-tcp (staged before the raw namespace is connected by hand).
for n in 2 3; do
	pool_make $n 512 || { echo "BENCH error=pool-$n"; exit 1; }
	storage_start $n 127.0.0.$n
done
for n in 2 3; do wait_until 30 target_up 127.0.0.$n || { echo "BENCH error=storage-$n"; exit 1; }; done
controller_start 127.0.0.2:$TARGET_PORT,127.0.0.3:$TARGET_PORT || { echo "BENCH error=controller"; exit 1; }
node_start || { echo "BENCH error=node"; exit 1; }

# The mirrored volume, staged and published as raw block.
cap_block='{"block":{},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}'
ctrl OK CreateVolume "{\"name\":\"bench-mirror\",\"capacityRange\":{\"requiredBytes\":\"$((160 * MiB))\"},\"volumeCapabilities\":[$cap_block],\"parameters\":{\"replicas\":\"2\",\"transport\":\"tcp\"}}" ||
	{ echo "BENCH error=create-mirror $OUT"; exit 1; }
vol=$(out .volume.volumeId) ctx=$(jq -c '.volume.volumeContext' <<< "$OUT")
stg=$K/plugins/kubernetes.io/csi/volumeDevices/staging/$vol
tgt=$K/plugins/kubernetes.io/csi/volumeDevices/publish/$vol/bench
mkdir -p "$stg" "$(dirname "$tgt")"
node OK NodeStageVolume "{\"volumeId\":\"$vol\",\"stagingTargetPath\":\"$stg\",\"volumeCapability\":$cap_block,\"volumeContext\":$ctx}" &&
	node OK NodePublishVolume "{\"volumeId\":\"$vol\",\"stagingTargetPath\":\"$stg\",\"targetPath\":\"$tgt\",\"volumeCapability\":$cap_block,\"volumeContext\":$ctx}" ||
	{ echo "BENCH error=stage-mirror $OUT"; exit 1; }

# One replica's raw namespace: a 1-replica volume on the node that holds leg 0.
ctrl OK CreateVolume "{\"name\":\"bench-raw\",\"capacityRange\":{\"requiredBytes\":\"$((160 * MiB))\"},\"volumeCapabilities\":[$cap_block],\"parameters\":{\"replicas\":\"1\",\"transport\":\"tcp\"}}" ||
	{ echo "BENCH error=create-raw $OUT"; exit 1; }
raw=$(out .volume.volumeId)
leg=$(jq -c '.volume.volumeContext["atomblk.io/replicas"] | fromjson | .[0]' <<< "$OUT")
rid=$(jq -r .replica <<< "$leg") nqn=$(jq -r .nqn <<< "$leg")
addr=$(jq -r '.addresses[] | select(.trtype == "tcp") | .traddr' <<< "$leg" | head -n1)
port=$(jq -r '.addresses[] | select(.trtype == "tcp") | .trsvcid' <<< "$leg" | head -n1)
target_call "$(jq -r .target <<< "$leg" | cut -d: -f1)" AllowHost "{\"id\":\"$rid\",\"hostNqn\":\"$BENCH_HOST\"}" > /dev/null ||
	{ echo "BENCH error=allow-host"; exit 1; }
bounded 30 nvme connect -t tcp -a "$addr" -s "$port" -n "$nqn" --hostnqn=$BENCH_HOST --hostid=$BENCH_HOSTID > /dev/null ||
	{ echo "BENCH error=nvme-connect"; exit 1; }
# The namespace whose subsystem is that replica's (multipath or not, device/ has
# subsysnqn). Only a block device node counts: a multipath path (nvmeXcYnZ) is
# in /sys/block but hidden, with no /dev node (verifyio would write a file there).
ns_of() { local d; for d in /sys/block/nvme*n*; do
	[ "$(cat "$d/device/subsysnqn" 2>/dev/null)" = "$1" ] && [ -b "/dev/${d##*/}" ] &&
		{ echo "/dev/${d##*/}"; return 0; }
done; return 1; }
wait_for 10 ns_of "$nqn" > /dev/null || { echo "BENCH error=no-namespace"; exit 1; }
rawdev=$(ns_of "$nqn")
echo "BENCH setup mirror=$tgt raw=$rawdev nqn=$nqn"

# run_io NAME DEV READ_PCT: verifyio for SECS at QD16, print iops and the mean latency (Little's law).
run_io() {
	local name=$1 dev=$2 rpct=$3 out=/tmp/bench-$1.out ops secs
	[ -b "$(readlink -f "$dev")" ] || { echo "BENCH error=$name: $dev is not a block device"; return 1; }
	[ "$rpct" -gt 0 ] && verifyio -d 16 -r 0 -t 2 -n -q -s 128M "$dev" > /dev/null 2>&1
	verifyio -d 16 -r "$rpct" -t "$SECS" -n -q -s 128M "$dev" > "$out" 2>&1
	secs=$(vio_field "$out" secs)
	if [ "$rpct" -gt 0 ]; then ops=$(vio_field "$out" reads); else ops=$(vio_field "$out" writes); fi
	awk -v n="$name" -v o="$ops" -v s="$secs" -v e="$(vio_field "$out" errors)" -v m="$(vio_field "$out" max_latency_ms)" \
		'BEGIN { i = s > 0 ? o / s : 0; printf "BENCH io=%s iops=%.0f lat_ms=%.2f max_ms=%s errors=%s\n", n, i, (i > 0 ? 16000 / i : 0), m, e }'
}
for ((r = 1; r <= ROUNDS; r++)); do
	run_io raw-write "$rawdev" 0
	run_io mirror-write "$tgt" 0
	run_io raw-read "$rawdev" 100
	run_io mirror-read "$tgt" 100
done

bounded 30 nvme disconnect -n "$nqn" > /dev/null
node OK NodeUnpublishVolume "{\"volumeId\":\"$vol\",\"targetPath\":\"$tgt\"}"
node OK NodeUnstageVolume "{\"volumeId\":\"$vol\",\"stagingTargetPath\":\"$stg\"}"
ctrl OK DeleteVolume "{\"volumeId\":\"$vol\"}"
ctrl OK DeleteVolume "{\"volumeId\":\"$raw\"}"

# CreateVolume latency through the controller (each its own atomctl process,
# next to GetPluginInfo the same way: the difference is the controller's work).
for ((i = 1; i <= CREATES; i++)); do
	t0=$EPOCHREALTIME
	ctrl OK GetPluginInfo '{}'
	t1=$EPOCHREALTIME
	ctrl OK CreateVolume "{\"name\":\"bench-create-$i\",\"capacityRange\":{\"requiredBytes\":\"$((64 * MiB))\"},\"volumeCapabilities\":[$cap_block],\"parameters\":{\"replicas\":\"2\",\"transport\":\"tcp\"}}" ||
		echo "BENCH error=create-$i"
	t2=$EPOCHREALTIME
	echo "BENCH create=$i create_ms=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", (b - a) * 1000 }') plugininfo_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
	# Deleted at once: every create finds the same pools (capacity is counted thick).
	v=$(out .volume.volumeId)
	[ -z "$v" ] || ctrl OK DeleteVolume "{\"volumeId\":\"$v\"}"
done
[ -n "$T_REASONS" ] && echo "BENCH error=calls $T_REASONS"
stop_pid "$NODE_PID"; stop_pid "$CTRL_PID"; storage_stop 2; storage_stop 3
exit 0
