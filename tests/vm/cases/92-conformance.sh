#!/bin/bash
# vm-timeout: 300
# The CSI conformance suite (build/bin/csi-conformance, tests/conformance/)
# against the embedded single-node setup a first-time user starts:
# `atomblk-agent --mode all` on a unix socket, its pool on XFS (reflink: the
# snapshot and clone cases run for real), managing the modules itself (the
# atom's and nvmet*, nvme-tcp: nothing is loaded by hand here). Every
# suite case becomes a RESULT line conformance/<case>; SKIP lines (an RPC
# not advertised) are printed, not counted. Then the same suite with
# --node-only against a node-mode agent (a worker's DaemonSet pod): its
# cases become conformance-node/<case> (Identity, NodeGetInfo topology
# against the advertised capabilities, required fields, unknown ids).
. /tests/lib-cluster.sh
CASE=conformance
SOCK=/run/csi-all.sock
STATE=/var/lib/atomblk-all

t_begin conformance/setup
pool_make 1 768 || t_fail "XFS pool on a loop device"
atomblk-agent --mode all --node-id vm-all --endpoint "unix://$SOCK" --kubelet-dir "$K" \
	--state-dir "$STATE" --pool-dir /pools/1 --modules-dir /atom --ready-file= --metrics-addr= \
	--log-level debug > /tmp/agent-all.log 2>&1 &
AGENT_PID=$!
wait_until 60 eval "atomctl --endpoint unix://$SOCK --timeout 2 csi Probe '{}' 2>/dev/null | grep -q '\"ready\": true'" ||
	t_fail "the agent is not ready within 60 s"
t_end
if [ -n "$T_REASONS" ]; then
	sed 's/^/    agent| /' /tmp/agent-all.log | tail -n 60
	exit 1
fi

t_begin conformance/suite
STG=$K/plugins/kubernetes.io/csi/csi.atomblk.io/conformance
TGT=$K/pods/conformance/volumes/kubernetes.io~csi
bounded 240 csi-conformance --endpoint "unix://$SOCK" --staging-dir "$STG" --target-dir "$TGT" \
	--size $((32 * MiB)) --param replicas=1 --timeout 120 > /tmp/conformance.out 2> /tmp/conformance.err
rc=$?
cat /tmp/conformance.err
grep -c '^PASS ' /tmp/conformance.out | sed 's/^/    cases passed: /'
grep '^\(SKIP\|INFO\|FAIL\) ' /tmp/conformance.out | sed 's/^/    /'
tail -n1 /tmp/conformance.out | sed 's/^/    /'
case $rc in
0) ;;
1) t_fail "the suite reports failures" ;;
124) t_fail "the suite did not finish within 240 s" ;;
*) t_fail "csi-conformance exited $rc" ;;
esac
grep -q '^[0-9]* passed, [0-9]* failed' /tmp/conformance.out || t_fail "no summary line"
t_end
# case_results FILE PREFIX: one result line per suite case in FILE (spaces
# in details are kept after the name). (No process substitution: the guest
# has no /dev/fd.)
case_results() {
	local l verdict rest name detail
	grep '^\(PASS\|FAIL\) ' "$1" > /tmp/conformance.cases
	while IFS= read -r l; do
		verdict=${l%% *} rest=${l#* }
		name=${rest%%:*} detail=${rest#*: }
		echo "RESULT $verdict $2/$name $detail"
	done < /tmp/conformance.cases
}
case_results /tmp/conformance.out conformance

t_begin conformance/nothing-left
left=$(pool_files 1)
[ -z "$left" ] || t_fail "pool files left: $(echo $left)"
left=$(ls "$NVMET/subsystems" 2>/dev/null)
[ -z "$left" ] || t_fail "nvmet subsystems left: $(echo $left)"
[ -z "$(atomtool list 2>/dev/null)" ] || t_fail "atom disks left: $(atomtool list | tr '\n' ' ')"
grep -q " $K/" /proc/self/mountinfo && t_fail "mounts left: $(grep " $K/" /proc/self/mountinfo | awk '{print $5}')"
stop_pid "$AGENT_PID"
grep -c 'call finished' /tmp/agent-all.log | sed 's/^/    calls logged: /'
t_end

t_begin conformance/node-only
node_start || t_fail "the node agent is not ready"
bounded 120 csi-conformance --endpoint "unix://$NODE_SOCK" --node-only --staging-dir "$STG" \
	--target-dir "$TGT" --timeout 60 > /tmp/conformance-node.out 2> /tmp/conformance-node.err
rc=$?
cat /tmp/conformance-node.err
grep '^\(SKIP\|INFO\) ' /tmp/conformance-node.out | sed 's/^/    /'
tail -n1 /tmp/conformance-node.out | sed 's/^/    /'
[ $rc = 0 ] || t_fail "csi-conformance --node-only exited $rc"
grep -q '^PASS node/NodeGetInfo-topology' /tmp/conformance-node.out ||
	t_fail "NodeGetInfo's topology not checked against the capabilities"
stop_pid "$NODE_PID"
t_end
case_results /tmp/conformance-node.out conformance-node
[ $T_ANY_FAILED = 0 ] || sed 's/^/    agent| /' /tmp/agent-all.log | grep -v 'status=OK' | tail -n 80
[ $T_ANY_FAILED = 0 ] || sed 's/^/    node| /' /tmp/node.log 2>/dev/null | grep -v 'status=OK' | tail -n 40
exit $T_ANY_FAILED
