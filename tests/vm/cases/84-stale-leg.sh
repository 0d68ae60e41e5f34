#!/bin/bash
# vm-timeout: 300
# A mirror leg that missed writes never comes back into the mirror: two
# storage agents (127.0.0.2-3, XFS pools, target API with mutual TLS), the
# node agent, a 2-leg NVMe-oF/TCP mirror staged from a hand-written volume
# context (as 83-node-nvme), ext4.
#  - the disk's hold override is the context's hold-seconds;
#  - data A written; leg 1's subsystem unlinked from its nvmet port: the
#    client marks the leg faulty, writes go on to leg 0, and within a few
#    seconds the node agent's monitor labels both replicas
#    atomblk.io/stale-legs=1 (atomctl target ListReplicas); data B written
#    over A; NodeGetVolumeStats says leg 1 is stale;
#  - unstage, port back, stage again: leg 1 is created missing (atomtool:
#    leg1=missing, never connected), every read returns B;
#  - only the stale leg's storage node answering (storage-2 stopped):
#    UNAVAILABLE, nothing connected or assembled;
#  - each replica marking the other (split brain, made with SetLabels):
#    FAILED_PRECONDITION.
. /tests/lib-cluster.sh
CASE=stale-leg
need_modules /atom/atom_client.ko
HOLD=7

t_begin stale-leg/setup
pool_make 2 320 && storage_start 2 127.0.0.2 || t_fail "pool 2"
pool_make 3 320 && storage_start 3 127.0.0.3 || t_fail "pool 3"
node_start || t_fail "node agent not ready"
declare -A NODE_OF
node_up() {
	NODE_OF[$1]=$(atomctl --timeout 3 target --address "$1:$TARGET_PORT" --tls-dir "$TLS" GetInfo '{}' 2>/dev/null |
		jq -r '.nodeId // empty') && [ -n "${NODE_OF[$1]}" ]
}
for a in 127.0.0.2 127.0.0.3; do wait_until 30 node_up $a || t_fail "$a: target API not up"; done
t_end
[ -n "$T_REASONS" ] && setup_failed "$T_REASONS"

# replica_make ADDR ID: a 32 MiB replica; its leg object (lib/volctx.h) in LEG.
replica_make() {
	target_call "$1" CreateReplica "{\"id\":\"$2\",\"sizeBytes\":\"$((32 * MiB))\"}" > "/tmp/rep-$2.json" || return 1
	LEG=$(jq -c --arg node "${NODE_OF[$1]}" --arg target "$1:$TARGET_PORT" \
		'{node: $node, target: $target, replica: .id, nqn: .nqn,
		  addresses: [.addresses[] | {trtype, adrfam, traddr, trsvcid}]}' "/tmp/rep-$2.json")
	[ -n "$LEG" ]
}
# mark ADDR ID: the replica's atomblk.io/stale-legs label ("" if none).
mark() { target_call "$1" ListReplicas "{\"id\":\"$2\"}" 2>/dev/null | jq -r '.replicas[0].labels["atomblk.io/stale-legs"] // ""'; }
mark_is() { [ "$(mark "$1" "$2")" = "$3" ]; }
state_is() { atomtool status sl | grep -q "^state=$1\$"; }
stage_req() {
	echo "{\"volumeId\":\"sl\",\"stagingTargetPath\":\"$K/plugins/kubernetes.io/csi/csi.atomblk.io/sl/globalmount\",\"volumeCapability\":$(cap_mount),\"volumeContext\":$CTX}"
}
stats() { node OK NodeGetVolumeStats "{\"volumeId\":\"sl\",\"volumePath\":\"$TGT\"}"; }
# reads_are FILE MD5: FILE read back from the disk (caches dropped) three times gives MD5.
reads_are() {
	local i
	for i in 1 2 3; do
		echo 3 > /proc/sys/vm/drop_caches
		[ "$(md5sum < "$1" | cut -d' ' -f1)" = "$2" ] || return 1
	done
}

replica_make 127.0.0.2 sl-a && LA=$LEG || setup_failed "replica on storage-2"
replica_make 127.0.0.3 sl-b && LB=$LEG || setup_failed "replica on storage-3"
NQB=$(jq -r .nqn <<< "$LB")
CTX=$(jq -nc --arg h "$HOLD" --arg s "$((32 * MiB))" --arg r "[$LA,$LB]" \
	'{"atomblk.io/layout": "mirror", "atomblk.io/size": $s, "atomblk.io/transport": "tcp",
	  "atomblk.io/hold-seconds": $h, "atomblk.io/replicas": $r}')

t_begin stale-leg/leg-lost
volume_stage sl "$CTX" p1 || setup_failed "stage/publish"
disk=$(disk_of sl)
[ "$(disk_attr "$disk" hold_secs)" = "$HOLD" ] || t_fail "$disk hold_secs $(disk_attr "$disk" hold_secs), want $HOLD"
head -c $((4 * MiB)) /dev/urandom > /tmp/A && head -c $((4 * MiB)) /dev/urandom > /tmp/B
SUM_B=$(md5sum < /tmp/B | cut -d' ' -f1)
dd if=/tmp/A of="$TGT/data" bs=1M conv=fsync status=none || t_fail "write A"
port=
for p in "$NVMET"/ports/*; do
	[ "$(cat "$p/addr_traddr")" = 127.0.0.3 ] && [ -L "$p/subsystems/$NQB" ] && port=$p
done
[ -n "$port" ] || setup_failed "no nvmet port of 127.0.0.3 exports $NQB"
rm "$port/subsystems/$NQB" || t_fail "unlink leg 1's subsystem from its port"
t0=$(now_ms)
# IO finds the leg gone (fast_io_fail_tmo = min(hold, 5) s)
tick() { dd if=/dev/urandom of="$TGT/tick" bs=64k count=1 conv=fsync status=none; state_is degraded; }
wait_until $((HOLD + 40)) tick || t_fail "the mirror did not degrade: $(atomtool status sl | tr '\n' ' ')"
t1=$(now_ms)
wait_until 20 mark_is 127.0.0.2 sl-a 1 || t_fail "leg 0's replica not marked: '$(mark 127.0.0.2 sl-a)'"
echo "    degraded after $((t1 - t0)) ms, marked $(($(now_ms) - t1)) ms later"
dd if=/tmp/B of="$TGT/data" bs=1M conv=fsync,notrunc status=none || t_fail "write B"
reads_are "$TGT/data" "$SUM_B" || t_fail "B does not read back while staged"
# the stale replica's own storage node answers (only its nvmet port is gone): it carries the mark too
wait_until 20 mark_is 127.0.0.3 sl-b 1 || t_fail "leg 1's replica not marked: '$(mark 127.0.0.3 sl-b)'"
stats
msg=$(out .volumeCondition.message)
echo "    condition: $msg"
[[ $msg == *"leg 1 (node storage-3) stale (missed writes while down)"*"resync is not implemented"* ]] ||
	t_fail "condition: $msg"
t_end

t_begin stale-leg/restage
volume_unstage sl p1 || t_fail "unstage"
[ -L "$port/subsystems/$NQB" ] || ln -s "$NVMET/subsystems/$NQB" "$port/subsystems/$NQB" || t_fail "relink leg 1"
volume_stage sl "$CTX" p1 || t_fail "stage again"
atomtool status sl
atomtool status sl | grep -q '^leg1=missing' || t_fail "leg 1 not created missing"
atomtool status sl | grep -q '^leg0=/dev/nvme.*:ok$' || t_fail "leg 0 not the NVMe leg"
for c in /sys/class/nvme/nvme*; do
	[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$NQB" ] && t_fail "the stale leg was connected ($(basename "$c"))"
done
reads_are "$TGT/data" "$SUM_B" || t_fail "reads after the restage are not B"
grep -q 'stale mirror legs left out' /tmp/node.log || t_fail "no log line for the stale leg"
stats
[[ $(out .volumeCondition.message) == *"leg 1 (node storage-3) stale"* ]] || t_fail "condition: $(out .volumeCondition.message)"
volume_unstage sl p1 || t_fail "unstage"
t_end

t_begin stale-leg/only-stale-answers
storage_stop 2
node UNAVAILABLE NodeStageVolume "$(stage_req)" || true
echo "    $(tr '\n' ' ' <<< "$OUT" | cut -c1-300)"
[[ $OUT == *"leg 1 missed writes while down"*"not reachable"* ]] || t_fail "message: $OUT"
[ -z "$(disk_of sl)" ] || t_fail "a disk was assembled"
[ -z "$(nvme_transports)" ] || t_fail "a controller was connected"
storage_start 2 127.0.0.2
wait_until 30 node_up 127.0.0.2 || t_fail "storage-2 back"
t_end

t_begin stale-leg/split-brain
target_call 127.0.0.3 SetLabels '{"id":"sl-b","set":{"atomblk.io/stale-legs":"0"}}' > /dev/null || t_fail "SetLabels"
node FAILED_PRECONDITION NodeStageVolume "$(stage_req)" || true
echo "    $(tr '\n' ' ' <<< "$OUT" | cut -c1-300)"
[[ $OUT == *"split brain"* ]] || t_fail "message: $OUT"
[ -z "$(disk_of sl)" ] || t_fail "a disk was assembled"
[ -z "$(nvme_transports)" ] || t_fail "a controller was connected"
jq -e '.records | length == 0' "$NODE_STATE/stale-legs.json" > /dev/null || t_fail "stale-legs journal: $(cat "$NODE_STATE/stale-legs.json")"
t_end

stop_pid "$NODE_PID"
for n in 2 3; do storage_stop $n; done
[ $T_ANY_FAILED = 0 ] || show_logs
exit $T_ANY_FAILED
