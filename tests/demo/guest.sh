#!/bin/bash
# The demo, inside the node VM (see tests/demo/run), on the embedded
# single-node default: one atomblk-agent --mode all (controller, node and
# storage roles in one process, a local pool). A pod's volume is provisioned
# through the Controller (CreateVolume: a replica in the pool, exported over
# NVMe-oF/TCP), staged (the node connects the namespace with libnvme and
# assembles the volume on an atom disk) and published; a verifying writer
# keeps it busy while the agent is replaced by the next version, as the
# DaemonSet's rolling update would do, which swaps the client module under
# the live IO and only then says ready.
CASE=demo
. /tests/lib-agent.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*"; [ -n "${AGENT_NAME:-}" ] && show_agent_log; exit 1; }
check() { [ -z "$T_REASONS" ] || fail "$T_REASONS"; }
csi() { atomctl --timeout 120 csi "$@" || fail "$1"; }

POOL=/var/lib/atomblk/pool
# The README's embedded default, with this VM's node name.
ATOMBLK_AGENT_ARGS=(--mode all --node-id atomvm --endpoint unix:///csi/csi.sock
	--pool-dir "$POOL" --ready-file "$ATOMBLK_READY_FILE")

img_old=$(make_image old prod) || fail "image with the shipped client"
img_new=$(make_image new b) || fail "image with the next client"
v_old=$(modinfo -F version "$img_old/atom_client.ko") v_new=$(modinfo -F version "$img_new/atom_client.ko")

say "The pool: an XFS filesystem (reflink snapshots) at $POOL"
pool_dev=$(make_loop_leg pool 512) || fail "pool disk"
mkfs.xfs -q "$pool_dev" && mkdir -p "$POOL" && mount "$pool_dev" "$POOL" || fail "pool filesystem"

say "Node $(uname -r): agent $v_old starts (first install: loads atom + client, nvmet)"
echo "atomblk-agent ${ATOMBLK_AGENT_ARGS[*]}"
start_agent old "$img_old"
wait_agent_ready 90 || fail "agent not ready"
csi GetPluginInfo '{}'
csi GetPluginCapabilities '{}' | jq -c '[.capabilities[] | (.service.type // .volumeExpansion.type)]'

say "A PersistentVolumeClaim: CreateVolume through the Controller (1 replica, NVMe-oF/TCP, ext4)"
cap='{"mount":{"fsType":"ext4"},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}'
csi CreateVolume "{\"name\":\"pvc-demo\",\"capacityRange\":{\"requiredBytes\":\"$((192 << 20))\"},
	\"volumeCapabilities\":[$cap],\"parameters\":{\"replicas\":\"1\",\"transport\":\"tcp\"}}" > /tmp/create.json
vol=$(jq -r .volume.volumeId /tmp/create.json)
ctx=$(jq -c .volume.volumeContext /tmp/create.json)
[ -n "$vol" ] && [ "$vol" != null ] || fail "no volume id in $(cat /tmp/create.json)"
echo "volume $vol, context:"
jq . <<<"$ctx"
echo "pool: $(ls "$POOL")"; echo "nvmet subsystems: $(ls /sys/kernel/config/nvmet/subsystems)"

say "The pod starts: NodeStage (nvme connect + atom disk) and NodePublish"
K=/var/lib/kubelet
stg=$K/plugins/kubernetes.io/csi/csi.atomblk.io/$vol/globalmount
tgt=$K/pods/demo-pod/volumes/kubernetes.io~csi/pvc-demo/mount
mkdir -p "$stg" "$(dirname "$tgt")"
csi NodeStageVolume "{\"volumeId\":\"$vol\",\"stagingTargetPath\":\"$stg\",\"volumeCapability\":$cap,
	\"volumeContext\":$ctx}" > /dev/null
csi NodePublishVolume "{\"volumeId\":\"$vol\",\"stagingTargetPath\":\"$stg\",\"targetPath\":\"$tgt\",
	\"volumeCapability\":$cap}" > /dev/null
grep " $tgt " /proc/mounts
disk=$(atomtool list | awk -v v="$vol" '$1 == v { sub("^/dev/", "", $2); print $2 }')
[ -n "$disk" ] || fail "no atom disk for $vol"
echo "$disk legs: $(atomtool status "$vol" 2>/dev/null | grep -o '/dev/nvme[0-9n]*' | tr '\n' ' ')"
for c in /sys/class/nvme/nvme*; do
	echo "$(basename "$c"): $(cat "$c/transport") $(cat "$c/address") $(cat "$c/subsysnqn")"
done
DISKS=("$disk") WRITERS=(app)
start_writer app "$tgt/data" -d 16 -s 48M -p 20
wait_progress /tmp/app.prog 300 60 || fail "writer made no progress"
echo "writer running: $(tail -n1 /tmp/app.prog)"

say "helm upgrade, replayed on this node: agent $v_old gets SIGTERM, agent $v_new starts"
rollout old new "$img_new" "$v_old" "$v_new" > /tmp/rollout.out
check
grep -E '^agent new ready|last_pause_us' /tmp/rollout.out
grep 'msg="client upgraded"' /tmp/agent-new.log
atomctl status
echo "NodeGetVolumeStats:"
csi NodeGetVolumeStats "{\"volumeId\":\"$vol\",\"volumePath\":\"$tgt\"}" | jq -c .

say "Verify: stop the writer, read every block back, unpublish, unstage, delete"
stop_writer app 120 || true
grep -v '^stall' /tmp/app.out
writer_clean app || fail "the writer saw errors or bad data"
# The longest any single IO took, the swap included. (verifyio's max_stall_ms
# merges overlapping slow IOs of different threads; over nvme-tcp under
# emulation most IOs pass its 20 ms mark, so it spans most of the run while
# IO keeps completing: not a pause, and not shown here.)
grep -o 'max_latency_ms=[0-9.]*' /tmp/app.out | sed 's/^max_latency_ms=/longest single IO the application saw: /; s/$/ ms/'
csi NodeUnpublishVolume "{\"volumeId\":\"$vol\",\"targetPath\":\"$tgt\"}" > /dev/null
csi NodeUnstageVolume "{\"volumeId\":\"$vol\",\"stagingTargetPath\":\"$stg\"}" > /dev/null
e2fsck -fn "$POOL/$vol" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; fail "fsck"; }
echo "e2fsck -fn on the replica's backing file: clean"
csi DeleteVolume "{\"volumeId\":\"$vol\"}" > /dev/null
[ -z "$(ls "$POOL")" ] || fail "pool not empty after DeleteVolume: $(ls "$POOL")"
[ -z "$(ls /sys/kernel/config/nvmet/subsystems)" ] || fail "an nvmet subsystem is left"
echo "DeleteVolume: pool empty, no export left"
stop_agent
say "Demo OK: provisioned through the controller over NVMe-oF, zero IO errors, every block verified, client upgraded live ($v_old -> $v_new)"
