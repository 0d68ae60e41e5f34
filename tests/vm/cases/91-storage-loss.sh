#!/bin/bash
# vm-timeout: 420
# A storage node lost under a running application: a 2-replica volume over
# nvme-tcp (the cluster of 90-csi-nvme-flow: three storage agents, a
# controller, a node agent), ext4, a verifying writer.
#  - The storage agent of one leg killed with SIGKILL: its exports stay in
#    configfs, IO goes on undisturbed, the volume stays healthy; a restarted
#    agent keeps the export (the configfs tree is the truth).
#  - The nvmet port of the other leg taken away (its subsystem unlinked from
#    the port in configfs): the application sees no error, the mirror
#    degrades (atomtool status: degraded, that leg faulty), NodeGetVolumeStats
#    reports an abnormal condition. Port back: what the node reports about
#    the leg is printed and must say it is reachable again; resync is not
#    implemented, so the volume stays degraded.
. /tests/lib-cluster.sh
CASE=storage-loss
need_modules /atom/atom_client.ko
NODES=127.0.0.2:$TARGET_PORT,127.0.0.3:$TARGET_PORT,127.0.0.4:$TARGET_PORT
HOLD=5 # the volume's holdSeconds: how long IO may wait for a lost leg

t_begin storage-loss/setup
# No modprobe of nvme*/nvmet*: the agents load what they need.
for n in 2 3 4; do
	pool_make $n 320 || t_fail "pool $n"
	storage_start $n 127.0.0.$n
done
for n in 2 3 4; do wait_until 30 target_up 127.0.0.$n || t_fail "storage-$n: target API not up"; done
controller_start "$NODES" || t_fail "controller not answering"
node_start || t_fail "node agent not ready"
volume_create loss $((64 * MiB)) "{\"replicas\":\"2\",\"transport\":\"tcp\",\"holdSeconds\":\"$HOLD\"}" ||
	t_fail "CreateVolume"
VOL=$VOL_ID CTX=$VOL_CTX
volume_stage "$VOL" "$CTX" p1 || t_fail "stage/publish"
disk=$(disk_of "$VOL")
atomtool status "$VOL"
# NVMe/TCP legs are submitted from a kernel worker (case 85: SIGPIPE).
[ "$(atomtool status "$VOL" | grep -c '^leg[01]_flags=worker$')" = 2 ] || t_fail "tcp legs not flagged worker"
t_end
[ -n "$T_REASONS" ] && setup_failed "$T_REASONS"
[ -n "$disk" ] || setup_failed "no atom disk"

# leg_field I KEY: a field of leg I of the volume context.
leg_field() { jq -r ".[\"atomblk.io/replicas\"] | fromjson | .[$1].$2" <<< "$CTX"; }
# node number (2-4) of leg I: storage-N
leg_node() { leg_field "$1" node | sed 's/^storage-//'; }
stats() {
	node OK NodeGetVolumeStats "{\"volumeId\":\"$VOL\",\"volumePath\":\"$TGT\",\"stagingTargetPath\":\"$STG\"}"
}
stats_try() { try "$NODE_SOCK" NodeGetVolumeStats "{\"volumeId\":\"$VOL\",\"volumePath\":\"$TGT\",\"stagingTargetPath\":\"$STG\"}"; }
abnormal() { stats_try && [ "$(out .volumeCondition.abnormal)" = true ]; }
state_is() { atomtool status "$VOL" | grep -q "^state=$1\$"; }
progress() {
	local n
	n=$(vio_field /tmp/wl.prog ios)
	wait_progress /tmp/wl.prog $((n + ${2:-100})) "$1"
}

start_writer wl "$TGT/data" -d 8 -s 24M -p 200
wait_progress /tmp/wl.prog 200 40

t_begin storage-loss/agent-killed
k=$(leg_node 1)
storage_kill "$k"
echo "killed storage-$k (leg 1: $(leg_field 1 nqn))"
progress 20 300 || t_fail "IO stalled with storage-$k's agent dead"
[ -d "$NVMET/subsystems/$(leg_field 1 nqn)" ] || t_fail "the export went with the agent"
state_is ok || t_fail "volume state: $(atomtool status "$VOL" | grep ^state=)"
stats && [ "$(out .volumeCondition.abnormal)" != true ] || t_fail "condition abnormal: $(out .volumeCondition.message)"
storage_start "$k" 127.0.0.$k
wait_until 30 target_up 127.0.0.$k || t_fail "restarted storage-$k: target API not up"
target_call 127.0.0.$k ListReplicas "{\"id\":\"$(leg_field 1 replica)\"}" > /tmp/replica.json ||
	t_fail "ListReplicas on the restarted agent"
jq -e '.replicas | length == 1' /tmp/replica.json > /dev/null || t_fail "the restarted agent lost the replica"
progress 20 || t_fail "IO stalled after the agent restart"
t_end

t_begin storage-loss/port-removed
k=$(leg_node 0) nqn=$(leg_field 0 nqn) addr=$(leg_field 0 'addresses[0].traddr')
port=
for p in "$NVMET"/ports/*; do
	[ "$(cat "$p/addr_traddr")" = "$addr" ] && [ "$(cat "$p/addr_trtype")" = tcp ] &&
		[ -L "$p/subsystems/$nqn" ] && port=$p
done
echo "leg 0: storage-$k $nqn at $addr, port ${port:-none}"
if [ -z "$port" ]; then
	t_fail "no nvmet port of $addr exports $nqn"
else
	t0=$(now_ms)
	rm "$port/subsystems/$nqn" || t_fail "unlink the subsystem from the port"
	wait_until $((HOLD + 40)) state_is degraded || t_fail "the mirror did not degrade: $(atomtool status "$VOL" | tr '\n' ' ')"
	echo "degraded after $(( $(now_ms) - t0 )) ms: $(atomtool status "$VOL" | tr '\n' ' ')"
	atomtool status "$VOL" | grep -q '^leg0=.*:faulty$' || t_fail "leg 0 not faulty"
	progress 30 || t_fail "IO did not go on on the remaining leg"
	wait_until 30 abnormal || t_fail "NodeGetVolumeStats: condition not abnormal"
	echo "condition while lost: $(out .volumeCondition.message)"
	lost_msg=$(out .volumeCondition.message)
fi
t_end

t_begin storage-loss/port-back
if [ -n "$port" ]; then
	ln -s "$NVMET/subsystems/$nqn" "$port/subsystems/$nqn" || t_fail "relink the subsystem"
	# What the node says about the leg once its target answers again.
	back() { stats_try && grep -qi 'reachable again' <<< "$(out .volumeCondition.message)" &&
		[ "$(out .volumeCondition.message)" != "$lost_msg" ]; }
	wait_until 40 back || t_fail "the node does not report leg 0 reachable again: '$(out .volumeCondition.message)'"
	echo "condition with the port back: $(out .volumeCondition.message)"
	state_is degraded || t_fail "volume state $(atomtool status "$VOL" | grep ^state=) (no resync: degraded expected)"
fi
progress 20 || t_fail "IO stalled"
stop_writer wl 60 || t_fail "writer exited $?"
tail -n 4 /tmp/wl.out
writer_clean wl || t_fail "the application saw errors: $(tail -n1 /tmp/wl.out)"
t_end

t_begin storage-loss/cleanup
volume_unstage "$VOL" p1
ctrl OK DeleteVolume "{\"volumeId\":\"$VOL\"}"
nothing_left 2 3 4
stop_pid "$NODE_PID" && stop_pid "$CTRL_PID"
for n in 2 3 4; do storage_stop $n; done
t_end
[ $T_ANY_FAILED = 0 ] || show_logs
exit $T_ANY_FAILED
