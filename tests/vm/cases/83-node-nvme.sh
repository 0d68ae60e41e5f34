#!/bin/bash
# vm-timeout: 300
# The node side of NVMe-oF volumes, without a controller: two storage agents
# (127.0.0.2-3, XFS pools, target API with mutual TLS) hold replicas made
# with `atomctl target CreateReplica`; the node agent stages volumes from a
# hand-written volume context (lib/volctx.h) through `atomctl csi`.
#  - mirror over nvme-tcp: every leg allowed (our host NQN from the node's
#    state directory), connected with libnvme, the atom disk's legs are
#    /dev/nvme*; verifying writes; a second stage changes nothing; Unstage
#    disconnects the controllers and the storage nodes disallow the host.
#  - one leg's storage agent stopped before stage (AllowHost cannot be
#    asked): the mirror stages degraded, NodeGetVolumeStats names the
#    missing leg; both stopped: UNAVAILABLE and nothing left connected,
#    journalled or assembled. (Stopping the agent is the robust way to
#    make a leg unreachable: removing its nvmet port link does not last, the
#    storage agent's AllowHost re-syncs the export.)
#  - transport auto with a storage node on a soft-RoCE address (dummy0 +
#    rdma_rxe): the leg connects over rdma.
# The agents load nvmet*, nvme-tcp and nvme-rdma themselves: this case
# loads only dummy and rdma_rxe (and xfs through pool_make).
. /tests/lib-cluster.sh
CASE=node-nvme
need_modules /atom/atom_client.ko
HOLD=5

# ---- setup -------------------------------------------------------------------------------
t_begin node-nvme/setup
for m in rdma_rxe dummy; do
	modprobe $m || t_fail "modprobe $m"
done
# (modprobe dummy may have made dummy0 already)
{ ip link show dummy0 > /dev/null 2>&1 || ip link add dummy0 type dummy; } && ip link set dummy0 up && ip addr add 10.78.0.4/24 dev dummy0 ||
	t_fail "dummy0"
bounded 20 rdma link add rxe0 type rxe netdev dummy0 || t_fail "rdma link add rxe0"
# Each storage agent starts as soon as its pool is there, the node agent
# while they come up (agent start-ups are seconds under TCG).
pool_make 2 320 && storage_start 2 127.0.0.2 || t_fail "pool 2" # mkfs.xfs: > 300 MB
pool_make 3 320 && storage_start 3 127.0.0.3 || t_fail "pool 3"
pool_make 4 320 && storage_start 4 127.0.0.4 --nvme-address 10.78.0.4 --nvme-rdma on || t_fail "pool 4"
node_start || t_fail "node agent not ready"
# node_up ADDRESS: GetInfo answers; the node's id into NODE_OF[ADDRESS].
declare -A NODE_OF
node_up() {
	NODE_OF[$1]=$(atomctl --timeout 3 target --address "$1:$TARGET_PORT" --tls-dir "$TLS" GetInfo '{}' 2>/dev/null |
		jq -r '.nodeId // empty') && [ -n "${NODE_OF[$1]}" ]
}
for a in 127.0.0.2 127.0.0.3 127.0.0.4; do wait_until 30 node_up $a || t_fail "$a: target API not up"; done
t_end
[ -n "$T_REASONS" ] && setup_failed "$T_REASONS"

# replica_make ADDR ID: CreateReplica of 32 MiB on the storage node at ADDR; its leg
# object (lib/volctx.h) in LEG.
replica_make() {
	local addr=$1 id=$2 node=${NODE_OF[$1]}
	target_call "$addr" CreateReplica "{\"id\":\"$id\",\"sizeBytes\":\"$((32 * MiB))\"}" \
		> "/tmp/rep-$id.json" || return 1
	LEG=$(jq -c --arg node "$node" --arg target "$addr:$TARGET_PORT" \
		'{node: $node, target: $target, replica: .id, nqn: .nqn,
		  addresses: [.addresses[] | {trtype, adrfam, traddr, trsvcid}]}' "/tmp/rep-$id.json")
	[ -n "$LEG" ]
}

# context LAYOUT TRANSPORT LEG...: a volume context.
context() {
	local layout=$1 transport=$2
	shift 2
	jq -nc --arg l "$layout" --arg t "$transport" --arg h "$HOLD" --arg s "$((32 * MiB))" \
		--arg r "[$(IFS=,; echo "$*")]" \
		'{"atomblk.io/layout": $l, "atomblk.io/size": $s, "atomblk.io/transport": $t,
		  "atomblk.io/hold-seconds": $h, "atomblk.io/replicas": $r}'
}

# allowed ADDR ID: the host NQNs replica ID lets in.
allowed() { target_call "$1" ListReplicas "{\"id\":\"$2\"}" | jq -r '.replicas[0].allowedHosts // [] | .[]'; }
# our_ctrls NQN: our controllers to subsystem NQN.
our_ctrls() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c/subsysnqn" ] && [ "$(cat "$c/subsysnqn")" = "$1" ] &&
			[ "$(cat "$c/hostnqn")" = "$HOSTNQN" ] && basename "$c"
	done
}
journal_has() { jq -e --arg v "$1" '.records[$v]' "$NODE_STATE/node.json" > /dev/null 2>&1; }
stage_req() {
	echo "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$K/plugins/kubernetes.io/csi/csi.atomblk.io/$1/globalmount\",\"volumeCapability\":$(cap_mount),\"volumeContext\":$2}"
}
unstage_req() { echo "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$K/plugins/kubernetes.io/csi/csi.atomblk.io/$1/globalmount\"}"; }

# ---- a volume whose only leg's storage node does not exist ------------------------------
# (also the first NVMe stage: it creates the node's host identity)
t_begin node-nvme/unreachable
GONE='{"node":"gone","target":"127.0.0.9:9810","replica":"x0","nqn":"nqn.2026-11.io.atomblk:x0","addresses":[{"trtype":"tcp","adrfam":"ipv4","traddr":"127.0.0.9","trsvcid":"4420"}]}'
node UNAVAILABLE NodeStageVolume "$(stage_req x0 "$(context linear tcp "$GONE")")" || true
[[ $OUT == *"leg is not reachable"*"node gone"* ]] || t_fail "message: $OUT"
journal_has x0 && t_fail "journal record left"
HOSTNQN=$(cat "$NODE_STATE/hostnqn" 2>/dev/null)
[[ $HOSTNQN == nqn.2014-08.org.nvmexpress:uuid:$(cat "$NODE_STATE/hostid" 2>/dev/null) ]] ||
	t_fail "host NQN '$HOSTNQN' is not made from the host id"
t_end

# ---- mirror over nvme-tcp ---------------------------------------------------------------
t_begin node-nvme/mirror-tcp
replica_make 127.0.0.2 m1-a && LA=$LEG || t_fail "replica on storage-2"
replica_make 127.0.0.3 m1-b && LB=$LEG || t_fail "replica on storage-3"
NQA=$(jq -r .nqn <<< "$LA") NQB=$(jq -r .nqn <<< "$LB")
CTX=$(context mirror tcp "$LA" "$LB")
volume_stage m1 "$CTX" p1 || t_fail "stage/publish"
atomtool status m1
legs=$(atomtool status m1 | grep -c '^leg[0-9]=/dev/nvme[0-9]*n[0-9]*:ok$')
[ "$legs" = 2 ] || t_fail "the disk's legs are not two /dev/nvme* devices"
[ "$(allowed 127.0.0.2 m1-a)" = "$HOSTNQN" ] || t_fail "storage-2 does not allow $HOSTNQN"
[ "$(allowed 127.0.0.3 m1-b)" = "$HOSTNQN" ] || t_fail "storage-3 does not allow $HOSTNQN"
[ "$(nvme_transports | sort -u)" = tcp ] || t_fail "transports: $(nvme_transports | tr '\n' ' ')"
grep -q '"leg transport".*choice="tcp 127.0.0.2' /tmp/node.log || t_fail "no transport choice logged"
start_writer w1 "$TGT/data" -d 4 -s 8M -t 3
stop_writer w1 60 >/dev/null
writer_clean w1 || t_fail "writer: $(cat /tmp/w1.out)"
ctrls=$(our_ctrls "$NQA")$(our_ctrls "$NQB")
node OK NodeStageVolume "$(stage_req m1 "$CTX")" || t_fail "second stage"
[ "$(our_ctrls "$NQA")$(our_ctrls "$NQB")" = "$ctrls" ] || t_fail "a second stage changed the controllers"
volume_unstage m1 p1 || t_fail "unpublish/unstage"
[ -z "$(our_ctrls "$NQA")$(our_ctrls "$NQB")" ] || t_fail "controllers left: $(our_ctrls "$NQA") $(our_ctrls "$NQB")"
[ -z "$(allowed 127.0.0.2 m1-a)$(allowed 127.0.0.3 m1-b)" ] || t_fail "hosts still allowed"
journal_has m1 && t_fail "journal record left"
node OK NodeUnstageVolume "$(unstage_req m1)" || t_fail "second unstage"
t_end

# ---- a leg unreachable at stage ----------------------------------------------------------
t_begin node-nvme/degraded
replica_make 127.0.0.2 m2-a && LA=$LEG || t_fail "replica on storage-2"
replica_make 127.0.0.3 m2-b && LB=$LEG || t_fail "replica on storage-3"
NQA=$(jq -r .nqn <<< "$LA") NQB=$(jq -r .nqn <<< "$LB")
storage_stop 3
CTX=$(context mirror tcp "$LA" "$LB")
if volume_stage m2 "$CTX" p2; then
	atomtool status m2
	atomtool status m2 | grep -q '^state=degraded' || t_fail "volume not degraded"
	node OK NodeGetVolumeStats "{\"volumeId\":\"m2\",\"volumePath\":\"$TGT\"}"
	msg=$(out .volumeCondition.message)
	echo "    condition: $msg"
	[ "$(out .volumeCondition.abnormal)" = true ] || t_fail "condition not abnormal"
	[[ $msg == *"leg 1 (node storage-3)"* ]] || t_fail "condition does not name leg 1: $msg"
	grep -q 'volume staged degraded' /tmp/node.log || t_fail "degraded stage not logged"
	echo data > "$TGT/f" && sync || t_fail "write to the degraded mirror"
	volume_unstage m2 p2 || t_fail "unstage"
else
	t_fail "degraded stage refused (missing-leg support in the client?)"
	node OK NodeUnstageVolume "$(unstage_req m2)"
fi
[ -z "$(our_ctrls "$NQA")$(our_ctrls "$NQB")" ] || t_fail "controllers left"
# Both legs unreachable: UNAVAILABLE, nothing left behind.
storage_stop 2
node UNAVAILABLE NodeStageVolume "$(stage_req m3 "$CTX")" || true
echo "    $(tr '\n' ' ' <<< "$OUT" | cut -c1-300)"
[[ $OUT == *"no leg of the mirror is reachable"* ]] || t_fail "message: $OUT"
[ -z "$(our_ctrls "$NQA")$(our_ctrls "$NQB")" ] || t_fail "controllers left after the refused stage"
[ -z "$(disk_of m3)" ] || t_fail "a disk was left"
journal_has m3 && t_fail "journal record left"
t_end

# ---- transport auto over soft-RoCE -----------------------------------------------------
t_begin node-nvme/rdma-auto
replica_make 127.0.0.4 r1 && LR=$LEG || t_fail "replica on storage-4"
echo "    leg: $LR"
jq -e '.addresses | map(.trtype) | index("rdma")' <<< "$LR" > /dev/null || t_fail "no rdma address"
NQR=$(jq -r .nqn <<< "$LR")
volume_stage r1 "$(context linear auto "$LR")" p3 || t_fail "stage/publish"
c=$(our_ctrls "$NQR")
[ -n "$c" ] && [ "$(cat /sys/class/nvme/$c/transport)" = rdma ] ||
	t_fail "controller ${c:-none} transport $(cat /sys/class/nvme/$c/transport 2>/dev/null)"
grep '"leg transport"' /tmp/node.log | tail -n1
echo data > "$TGT/f" && sync || t_fail "write over rdma"
volume_unstage r1 p3 || t_fail "unstage"
[ -z "$(our_ctrls "$NQR")" ] || t_fail "controller left"
t_end

stop_pid "$NODE_PID"
for n in 2 3 4; do storage_stop $n; done
