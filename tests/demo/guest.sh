#!/bin/bash
# The demo, inside the node VM (see tests/demo/run): the node agent runs as
# the chart's DaemonSet runs it, a pod's volume is staged and published
# through CSI, a verifying writer keeps it busy, and the DaemonSet's rolling
# update is replayed: SIGTERM to the running agent, the next version started,
# which swaps the client module under the live IO and only then says ready.
CASE=demo
. /tests/lib-agent.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*"; [ -n "${AGENT_NAME:-}" ] && show_agent_log; exit 1; }
check() { [ -z "$T_REASONS" ] || fail "$T_REASONS"; }
csi() { atomctl --timeout 120 csi "$@" || fail "$1"; }

img_old=$(make_image old prod) || fail "image with the shipped client"
img_new=$(make_image new b) || fail "image with the next client"
v_old=$(modinfo -F version "$img_old/atom_client.ko") v_new=$(modinfo -F version "$img_new/atom_client.ko")

say "Node $(uname -r): agent $v_old starts as the DaemonSet starts it (first install: loads atom + client)"
echo "atomblk-agent ${ATOMBLK_AGENT_ARGS[*]}"
start_agent old "$img_old"
wait_agent_ready 60 || fail "agent not ready"
csi GetPluginInfo '{}'
atomctl status

say "A pod's volume: 2-way mirror over two legs, ext4, staged and published through CSI"
leg0=$(make_loop_leg leg0 160) && leg1=$(make_loop_leg leg1 160) || fail "legs"
K=/var/lib/kubelet
stg=$K/plugins/kubernetes.io/csi/csi.atomblk.io/pvc-demo/globalmount
tgt=$K/pods/demo-pod/volumes/kubernetes.io~csi/pvc-demo/mount
mkdir -p "$stg" "$(dirname "$tgt")"
cap='{"mount":{"fsType":"ext4"},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}'
csi NodeStageVolume "{\"volumeId\":\"pvc-demo\",\"stagingTargetPath\":\"$stg\",\"volumeCapability\":$cap,
	\"volumeContext\":{\"atomblk.io/layout\":\"mirror\",\"atomblk.io/legs\":\"$leg0,$leg1\"}}" > /dev/null
csi NodePublishVolume "{\"volumeId\":\"pvc-demo\",\"stagingTargetPath\":\"$stg\",\"targetPath\":\"$tgt\",
	\"volumeCapability\":$cap}" > /dev/null
grep " $tgt " /proc/mounts
disk=$(atomtool list | awk '$1 == "pvc-demo" { sub("^/dev/", "", $2); print $2 }')
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
csi NodeGetVolumeStats "{\"volumeId\":\"pvc-demo\",\"volumePath\":\"$tgt\"}" | tr -d ' \n'; echo

say "Verify: stop the writer, read every block back, unpublish, unstage, fsck"
stop_writer app 120 || true
cat /tmp/app.out | grep -v '^stall'
writer_clean app || fail "the writer saw errors or bad data"
grep -o 'max_stall_ms=[0-9.]*' /tmp/app.out | sed 's/^/longest stall the application saw: /'
csi NodeUnpublishVolume "{\"volumeId\":\"pvc-demo\",\"targetPath\":\"$tgt\"}" > /dev/null
csi NodeUnstageVolume "{\"volumeId\":\"pvc-demo\",\"stagingTargetPath\":\"$stg\"}" > /dev/null
e2fsck -fn "$leg0" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; fail "fsck"; }
echo "e2fsck -fn on a leg: clean"
stop_agent
say "Demo OK: zero IO errors, every block verified, client upgraded live ($v_old -> $v_new)"
