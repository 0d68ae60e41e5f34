#!/bin/bash
# vm-timeout: 300
# The Controller service against a real storage role: one agent in --mode
# all (controller + storage role in-process + node, no module management)
# on an XFS pool (loop device), driven through CSI only. CreateVolume twice
# is one volume; an incompatible repeat is ALREADY_EXISTS; snapshot, clone
# from the snapshot and from the volume (reflinks in the same pool);
# expand; ListVolumes pages with max_entries=1 and a bad token is ABORTED;
# ControllerGetVolume reports a normal condition; deletes are idempotent
# and leave no replica, snapshot or nvmet subsystem behind. The agent loads
# nvmet itself (the case loads nothing but xfs, through pool_make).
. /tests/lib-cluster.sh
CASE=controller
AGENT_SOCK=/run/csi-all.sock
POOL=/pools/1

t_begin controller/setup
pool_make 1 320 || t_fail "pool" # mkfs.xfs wants more than 300 MB
atomblk-agent --mode all --node-id vm-all --endpoint "unix://$AGENT_SOCK" \
	--state-dir /var/lib/atomblk-all --kubelet-dir /var/lib/atomblk-all/kubelet \
	--run-dir /run/atomblk-all --pool-dir "$POOL" --manage-modules=false --ready-file= \
	--metrics-addr= --log-level debug >> /tmp/controller.log 2>&1 &
ALL_PID=$!
wait_for 30 atomctl --endpoint "unix://$AGENT_SOCK" --timeout 2 csi Probe '{}' > /dev/null 2>&1 ||
	t_fail "agent not answering"
t_end
[ -n "$T_REASONS" ] && setup_failed "$T_REASONS"
all() { csi "$AGENT_SOCK" "$@"; }
req() { # NAME SIZE [PARAMS] [SOURCE]
	echo "{\"name\":\"$1\",\"capacityRange\":{\"requiredBytes\":\"$2\"},\"volumeCapabilities\":[$(cap_mount)],\"parameters\":${3:-{\}}${4:+,\"volumeContentSource\":$4}}"
}

t_begin controller/create-idempotent
all OK CreateVolume "$(req vol-a $((16 * MiB)))" || t_fail "CreateVolume vol-a"
VOL=$(out .volume.volumeId)
[[ $VOL =~ ^v-[0-9a-f]{32}$ ]] || t_fail "volume id '$VOL' is not v-<32 hex>"
[ "$(out '.volume.capacityBytes')" = $((16 * MiB)) ] || t_fail "capacity $(out .volume.capacityBytes)"
[ "$(out '.volume.volumeContext["atomblk.io/layout"]')" = linear ] || t_fail "layout"
[ "$(out '.volume.volumeContext["atomblk.io/replicas"]' | jq -r '.[0].target')" = "" ] ||
	t_fail "the in-process storage role's leg has a target address"
NQN=$(out '.volume.volumeContext["atomblk.io/replicas"]' | jq -r '.[0].nqn')
[ "$NQN" = "nqn.2026-11.io.atomblk:vm-all.$VOL" ] || t_fail "leg NQN '$NQN'"
[ -d "$NVMET/subsystems/$NQN" ] || t_fail "no nvmet subsystem $NQN (nvmet loaded by the agent?)"
all OK CreateVolume "$(req vol-a $((16 * MiB)))" || t_fail "repeat CreateVolume"
[ "$(out .volume.volumeId)" = "$VOL" ] || t_fail "repeat gave another id"
[ "$(pool_files 1 | wc -l)" = 1 ] || t_fail "pool holds: $(pool_files 1 | tr '\n' ' ')"
all ALREADY_EXISTS CreateVolume "$(req vol-a $((32 * MiB)))" || true
all ALREADY_EXISTS CreateVolume "$(req vol-a $((16 * MiB)) '{"holdSeconds":"10"}')" || true
all RESOURCE_EXHAUSTED CreateVolume "$(req vol-2 $((16 * MiB)) '{"replicas":"2"}')" || true
all OK CreateVolume "$(req vol-b $((8 * MiB)))" || t_fail "CreateVolume vol-b"
VOL_B=$(out .volume.volumeId)
t_end

t_begin controller/snapshot-clone
all OK CreateSnapshot "{\"sourceVolumeId\":\"$VOL\",\"name\":\"snap-1\"}" || t_fail "CreateSnapshot"
SNAP=$(out .snapshot.snapshotId)
[ "$(out .snapshot.readyToUse)" = true ] || t_fail "snapshot not ready"
[ "$(out .snapshot.sizeBytes)" = $((16 * MiB)) ] || t_fail "snapshot size $(out .snapshot.sizeBytes)"
all OK CreateSnapshot "{\"sourceVolumeId\":\"$VOL\",\"name\":\"snap-1\"}" || t_fail "repeat CreateSnapshot"
[ "$(out .snapshot.snapshotId)" = "$SNAP" ] || t_fail "repeat snapshot: another id"
all ALREADY_EXISTS CreateSnapshot "{\"sourceVolumeId\":\"$VOL_B\",\"name\":\"snap-1\"}" || true
all OK ListSnapshots "{\"sourceVolumeId\":\"$VOL\"}" || t_fail "ListSnapshots"
[ "$(out '.entries | length')" = 1 ] || t_fail "ListSnapshots: $(out '.entries | length') entries"
all OK CreateVolume "$(req clone-s $((16 * MiB)) '{}' "{\"snapshot\":{\"snapshotId\":\"$SNAP\"}}")" ||
	t_fail "clone from snapshot"
[ "$(out .volume.contentSource.snapshot.snapshotId)" = "$SNAP" ] || t_fail "content source not echoed"
# A limit below the source's size cannot hold the clone.
all OUT_OF_RANGE CreateVolume "{\"name\":\"clone-small\",\"capacityRange\":{\"limitBytes\":\"$((4 * MiB))\"},\"volumeCapabilities\":[$(cap_mount)],\"volumeContentSource\":{\"volume\":{\"volumeId\":\"$VOL\"}}}" || true
all OK CreateVolume "$(req clone-v $((20 * MiB)) '{}' "{\"volume\":{\"volumeId\":\"$VOL\"}}")" ||
	t_fail "clone from volume"
[ "$(out .volume.capacityBytes)" = $((20 * MiB)) ] || t_fail "clone size $(out .volume.capacityBytes)"
all NOT_FOUND CreateVolume "$(req clone-x $((16 * MiB)) '{}' '{"snapshot":{"snapshotId":"s-00000000000000000000000000000000"}}')" || true
t_end

t_begin controller/expand-get-list
all OK ControllerExpandVolume "{\"volumeId\":\"$VOL\",\"capacityRange\":{\"requiredBytes\":\"$((40 * MiB))\"}}" ||
	t_fail "expand"
[ "$(out .capacityBytes)" = $((40 * MiB)) ] && [ "$(out .nodeExpansionRequired)" = true ] ||
	t_fail "expand reply: $OUT"
all OK ControllerGetVolume "{\"volumeId\":\"$VOL\"}" || t_fail "ControllerGetVolume"
[ "$(out .volume.capacityBytes)" = $((40 * MiB)) ] || t_fail "size after expand $(out .volume.capacityBytes)"
[ "$(out .status.volumeCondition.abnormal)" != true ] || t_fail "condition: $(out .status.volumeCondition)"
ids=() token=
for i in 1 2 3 4 5; do
	all OK ListVolumes "{\"maxEntries\":1${token:+,\"startingToken\":\"$token\"}}" || break
	ids+=("$(out '.entries[0].volume.volumeId')")
	token=$(out '.nextToken // empty')
	[ -z "$token" ] && break
done
[ ${#ids[@]} = 4 ] || t_fail "ListVolumes paged ${#ids[@]} volumes, expected 4: ${ids[*]}"
[ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" = 4 ] || t_fail "ListVolumes repeated a volume"
all ABORTED ListVolumes '{"maxEntries":1,"startingToken":"bogus"}' || true
t_end

t_begin controller/delete
for v in $VOL $VOL_B $(printf '%s\n' "${ids[@]}"); do
	all OK DeleteVolume "{\"volumeId\":\"$v\"}" || t_fail "DeleteVolume $v"
	all OK DeleteVolume "{\"volumeId\":\"$v\"}" || t_fail "repeat DeleteVolume $v"
done
all NOT_FOUND ControllerGetVolume "{\"volumeId\":\"$VOL\"}" || true
# The snapshot outlives its volume (a reflink copy), until deleted.
all OK ListSnapshots "{\"snapshotId\":\"$SNAP\"}" && [ "$(out '.entries | length')" = 1 ] ||
	t_fail "snapshot gone with its volume"
all OK DeleteSnapshot "{\"snapshotId\":\"$SNAP\"}" || t_fail "DeleteSnapshot"
all OK DeleteSnapshot "{\"snapshotId\":\"$SNAP\"}" || t_fail "repeat DeleteSnapshot"
[ -z "$(pool_files 1)" ] || t_fail "pool not empty: $(pool_files 1 | tr '\n' ' ')"
[ -z "$(ls "$NVMET/subsystems" 2>/dev/null)" ] || t_fail "subsystems left: $(ls "$NVMET/subsystems")"
t_end

stop_pid "$ALL_PID"
[ "$T_ANY_FAILED" != 0 ] && show_logs
exit 0
