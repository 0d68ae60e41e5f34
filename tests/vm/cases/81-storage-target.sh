#!/bin/bash
# The storage role for real: an agent with --pool-dir on an XFS pool (loop
# device) serving the target API on 127.0.0.1:9810 with mutual TLS
# (certificates made here with openssl), driven through `atomctl target`.
# CreateReplica exports to no host; AllowHost lets one host NQN connect over
# nvme-tcp (another is refused) and its writes land in the backing file;
# ExpandReplica grows the connected namespace; snapshot + clone by reflink;
# a killed and restarted agent changes no export; after a simulated reboot
# (configfs emptied by hand) the restarted agent recreates every export with
# its hosts; deletes are idempotent and leave configfs clean. Then
# --nvme-rdma auto on a soft-RoCE (rdma_rxe on dummy0) address: RDMA is
# advertised, exports listen on it too, a host connects over nvme-rdma.
# Subsystem NQNs carry the node's tag: nqn.2026-11.io.atomblk:store-1.<id>.
# The agent loads nvmet and its transports itself: this case loads only
# what no agent does (xfs for mkfs, dummy, rdma_rxe) and, being the host
# here (no node agent), the host side's nvme-tcp/nvme-rdma for nvme-cli.
# vm-timeout: 300
. /tests/lib.sh
. /tests/lib-certs.sh
CASE=storage

NVMET=/sys/kernel/config/nvmet
POOL=/pool
STATE=/var/lib/atomblk
TLS=/etc/atomblk/tls
ADDR=127.0.0.1:9810
PORT=4420
MiB=$((1 << 20))
HOST_A=nqn.2026-11.io.atomblk:host:node-a
HOST_B=nqn.2026-11.io.atomblk:host:node-b
# 6.12's nvme-fabrics refuses one host id with two host NQNs: one id each.
HOSTID_A=6e8d3f0a-1b2c-4d5e-8f90-a1b2c3d4e5f6
HOSTID_B=0f1e2d3c-4b5a-4697-8877-665544332211
NQN_PREFIX=nqn.2026-11.io.atomblk:store-1.
NQN_R1=${NQN_PREFIX}r1
AGENT_PID=

tgt() { atomctl --timeout 20 target --address $ADDR --tls-dir $TLS "$@"; }
# mib_is FILE OFFSET_MIB REF [iflag]: FILE's MiB at OFFSET_MIB equals REF.
mib_is() { dd if="$1" bs=1M skip="$2" count=1 ${4:+iflag=$4} 2>/dev/null | cmp -s - "$3"; }

start_agent() {
	atomblk-agent --mode node --node-id store-1 --manage-modules=false \
		--endpoint unix:///run/atomblk/csi.sock --state-dir $STATE --pool-dir $POOL \
		--target-endpoint $ADDR --tls-dir $TLS $NVME_ARGS >> /tmp/agent.log 2>&1 &
	AGENT_PID=$!
	wait_for 30 eval 'tgt GetInfo > /dev/null 2>&1'
}

stop_agent() { # SIGNAL
	[ -n "$AGENT_PID" ] || return 0
	kill -"$1" "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

# What a host sees of the exports: subsystems with their namespace, hosts
# and ports (port ids left out: a recreated port may get another id).
configfs_view() {
	local s p
	for s in $NVMET/subsystems/*/; do
		[ -d "$s" ] || continue
		echo "subsys $(basename "$s") allow_any=$(cat "$s/attr_allow_any_host")" \
			"ns=$(cat "$s/namespaces/1/device_path" 2>/dev/null):$(cat "$s/namespaces/1/enable" 2>/dev/null)" \
			"hosts=$(ls "$s/allowed_hosts" | tr '\n' ' ')"
	done
	for p in $NVMET/ports/*/; do
		[ -d "$p" ] || continue
		echo "port $(cat "$p/addr_trtype"):$(cat "$p/addr_traddr"):$(cat "$p/addr_trsvcid")" \
			"subsystems=$(ls "$p/subsystems" | tr '\n' ' ')"
	done
	echo "hosts $(ls $NVMET/hosts | tr '\n' ' ')"
}

# Remove every export by hand, as a reboot would leave configfs: empty.
configfs_wipe() {
	local p s
	for p in $NVMET/ports/*/; do
		[ -d "$p" ] || continue
		rm -f "$p"subsystems/*
		rmdir "$p"
	done
	for s in $NVMET/subsystems/*/; do
		[ -d "$s" ] || continue
		echo 0 > "$s/namespaces/1/enable" 2>/dev/null
		rmdir "$s/namespaces/1" 2>/dev/null
		rm -f "$s"allowed_hosts/*
		rmdir "$s"
	done
	rmdir $NVMET/hosts/* 2>/dev/null
	[ -z "$(ls -A $NVMET/subsystems)$(ls -A $NVMET/ports)$(ls -A $NVMET/hosts)" ]
}

connect() { # HOSTNQN HOSTID [NQN]
	bounded 20 nvme connect -t tcp -a 127.0.0.1 -s $PORT -n "${3:-$NQN_R1}" --hostnqn="$1" --hostid="$2"
}
ns_dev() { ls /dev/nvme*n1 2>/dev/null | head -n1; }

trap 'stop_agent KILL; exit $(( $? ? $? : T_ANY_FAILED ))' EXIT

t_begin storage/setup
modprobe xfs || t_fail "modprobe xfs"
leg=$(make_loop_leg pool 512) || t_fail "losetup"
mkfs.xfs -q "$leg" || t_fail "mkfs.xfs"
mkdir -p $POOL /run/atomblk && mount "$leg" $POOL || t_fail "mount xfs"
make_tls_dir $TLS /tmp/ca || t_fail "openssl: certificates"
start_agent || t_fail "the target API did not answer: $(tail -5 /tmp/agent.log)"
tgt GetInfo > /tmp/info.json || t_fail "GetInfo"
[ "$(jq -r .nodeId /tmp/info.json)" = store-1 ] || t_fail "node id"
[ "$(jq -r .reflink /tmp/info.json)" = true ] || t_fail "XFS pool without reflink"
[ "$(jq -r '.addresses[0].trtype + " " + .addresses[0].traddr' /tmp/info.json)" = "tcp 127.0.0.1" ] ||
	t_fail "addresses: $(jq -c .addresses /tmp/info.json)"
for m in nvmet nvmet_tcp; do
	[ -d /sys/module/$m ] || t_fail "the agent did not load $m"
done
# The host side (nvme-cli below), which no agent loads in this case.
modprobe nvme-tcp || t_fail "modprobe nvme-tcp (host)"
t_end

t_begin storage/create-allow-connect
tgt CreateReplica "{\"id\": \"r1\", \"sizeBytes\": \"$((64 * MiB))\", \"labels\": {\"vol\": \"v1\"}}" > /tmp/r1.json ||
	t_fail "CreateReplica"
[ "$(jq -r .nqn /tmp/r1.json)" = $NQN_R1 ] || t_fail "nqn: $(jq -r .nqn /tmp/r1.json)"
tgt CreateReplica "{\"id\": \"r1\", \"sizeBytes\": \"$((64 * MiB))\", \"labels\": {\"vol\": \"v1\"}}" > /dev/null ||
	t_fail "a repeated CreateReplica"
tgt CreateReplica "{\"id\": \"r1\", \"sizeBytes\": \"$((32 * MiB))\"}" 2> /dev/null; rc=$?
[ $rc = 16 ] || t_fail "CreateReplica with another size: rc=$rc, expected ALREADY_EXISTS (16)"
[ -d $NVMET/subsystems/$NQN_R1 ] || t_fail "no subsystem"
[ "$(cat $NVMET/subsystems/$NQN_R1/attr_allow_any_host)" = 0 ] || t_fail "allow_any_host"
[ -z "$(ls $NVMET/subsystems/$NQN_R1/allowed_hosts)" ] || t_fail "a host allowed at create"
[ "$(cat $NVMET/subsystems/$NQN_R1/namespaces/1/device_path)" = $POOL/r1 ] || t_fail "device_path"
tgt AllowHost "{\"id\": \"r1\", \"hostNqn\": \"$HOST_A\"}" > /tmp/r1.json || t_fail "AllowHost"
tgt AllowHost "{\"id\": \"r1\", \"hostNqn\": \"$HOST_A\"}" > /dev/null || t_fail "a repeated AllowHost"
[ "$(jq -r '.allowedHosts | join(",")' /tmp/r1.json)" = $HOST_A ] || t_fail "allowedHosts"
[ -L $NVMET/subsystems/$NQN_R1/allowed_hosts/$HOST_A ] || t_fail "allowed host link"
connect $HOST_B $HOSTID_B > /tmp/bad.out 2>&1 && t_fail "host $HOST_B connected"
dmesg | grep -q "connect by host $HOST_B for subsystem $NQN_R1 not allowed" ||
	t_fail "no 'not allowed' from nvmet for $HOST_B"
connect $HOST_A $HOSTID_A || t_fail "connect $HOST_A"
wait_for 10 eval '[ -n "$(ns_dev)" ]' || t_fail "no namespace device"
dev=$(ns_dev)
[ "$(blockdev --getsize64 "$dev")" = $((64 * MiB)) ] || t_fail "namespace size $(blockdev --getsize64 "$dev")"
head -c $MiB /dev/urandom > /tmp/pat1
dd if=/tmp/pat1 of="$dev" bs=1M seek=4 oflag=direct 2>/dev/null || t_fail "write over nvme"
mib_is $POOL/r1 4 /tmp/pat1 || t_fail "data not in the backing file"
t_end

t_begin storage/expand-online
tgt ExpandReplica "{\"id\": \"r1\", \"sizeBytes\": \"$((96 * MiB))\"}" > /tmp/r1.json || t_fail "ExpandReplica"
[ "$(jq -r .sizeBytes /tmp/r1.json)" = $((96 * MiB)) ] || t_fail "reply size"
blk=$(basename "$dev")
wait_for 10 eval '[ "$(cat /sys/block/$blk/size)" = $((96 * MiB / 512)) ]' ||
	t_fail "connected namespace did not grow: $(cat /sys/block/$blk/size) sectors"
tgt ExpandReplica "{\"id\": \"r1\", \"sizeBytes\": \"$((32 * MiB))\"}" 2> /dev/null; rc=$?
[ $rc = 13 ] || t_fail "shrinking: rc=$rc, expected INVALID_ARGUMENT (13)"
tgt ExpandReplica "{\"id\": \"r1\", \"sizeBytes\": \"$((4096 * MiB))\"}" 2> /dev/null; rc=$?
[ $rc = 18 ] || t_fail "over capacity: rc=$rc, expected RESOURCE_EXHAUSTED (18)"
t_end

t_begin storage/snapshot-clone
tgt CreateSnapshot '{"id": "s1", "sourceId": "r1", "labels": {"vol": "v1"}}' > /tmp/s1.json || t_fail "CreateSnapshot"
[ "$(jq -r .snapshot /tmp/s1.json)" = true ] || t_fail "not a snapshot"
tgt CreateSnapshot '{"id": "s1", "sourceId": "r1", "labels": {"vol": "v1"}}' > /dev/null || t_fail "a repeated CreateSnapshot"
[ -z "$(ls $NVMET/subsystems | grep 's1$')" ] || t_fail "a snapshot was exported: $(ls $NVMET/subsystems)"
tgt AllowHost "{\"id\": \"s1\", \"hostNqn\": \"$HOST_A\"}" 2> /dev/null; rc=$?
[ $rc = 19 ] || t_fail "AllowHost on a snapshot: rc=$rc, expected FAILED_PRECONDITION (19)"
tgt CreateReplica "{\"id\": \"c1\", \"sizeBytes\": \"$((96 * MiB))\", \"sourceId\": \"s1\"}" > /tmp/c1.json ||
	t_fail "CreateReplica from the snapshot"
mib_is $POOL/c1 4 /tmp/pat1 || t_fail "clone content"
tgt CreateReplica '{"id": "c2", "sizeBytes": "4096", "sourceId": "nope"}' 2> /dev/null; rc=$?
[ $rc = 15 ] || t_fail "a missing source: rc=$rc, expected NOT_FOUND (15)"
[ "$(tgt ListReplicas | jq -r '[.replicas[].id] | join(",")')" = c1,r1,s1 ] || t_fail "ListReplicas"
[ "$(tgt ListReplicas '{"labelKey": "vol", "labelValue": "v1"}' | jq -r '[.replicas[].id] | join(",")')" = r1,s1 ] ||
	t_fail "ListReplicas by label"
t_end

t_begin storage/restart-keeps-exports
configfs_view > /tmp/view.before
stop_agent KILL
start_agent || t_fail "restart: $(tail -5 /tmp/agent.log)"
configfs_view > /tmp/view.after
cmp -s /tmp/view.before /tmp/view.after || t_fail "exports changed: $(diff /tmp/view.before /tmp/view.after | tr '\n' ' ')"
mib_is "$dev" 4 /tmp/pat1 direct || t_fail "the connected host lost its data"
t_end

t_begin storage/reboot-recreates-exports
bounded 20 nvme disconnect -n $NQN_R1 > /dev/null || t_fail "disconnect"
stop_agent TERM
configfs_wipe || t_fail "configfs not empty after the wipe: $(find $NVMET -mindepth 2 -maxdepth 2 | tr '\n' ' ')"
start_agent || t_fail "restart: $(tail -5 /tmp/agent.log)"
configfs_view > /tmp/view.after
cmp -s /tmp/view.before /tmp/view.after || t_fail "exports not recreated: $(diff /tmp/view.before /tmp/view.after | tr '\n' ' ')"
grep -q 'recreated=2' /tmp/agent.log || t_fail "no 'recreated=2' in the agent log"
connect $HOST_A $HOSTID_A || t_fail "connect after the recreation"
wait_for 10 eval '[ -n "$(ns_dev)" ]' || t_fail "no namespace device"
dev=$(ns_dev)
mib_is "$dev" 4 /tmp/pat1 direct || t_fail "data after the recreation"
bounded 20 nvme disconnect -n $NQN_R1 > /dev/null || t_fail "disconnect"
t_end

t_begin storage/disallow-delete-clean
tgt DisallowHost "{\"id\": \"r1\", \"hostNqn\": \"$HOST_A\"}" > /tmp/r1.json || t_fail "DisallowHost"
[ -z "$(ls $NVMET/subsystems/$NQN_R1/allowed_hosts)" ] || t_fail "host still allowed"
tgt DisallowHost "{\"id\": \"r1\", \"hostNqn\": \"$HOST_A\"}" > /dev/null || t_fail "a repeated DisallowHost"
for i in 1 2; do
	tgt DeleteReplica '{"id": "c1"}' > /dev/null || t_fail "DeleteReplica c1 ($i)"
	tgt DeleteReplica '{"id": "r1"}' > /dev/null || t_fail "DeleteReplica r1 ($i)"
	tgt DeleteSnapshot '{"id": "s1"}' > /dev/null || t_fail "DeleteSnapshot s1 ($i)"
done
for d in subsystems ports hosts; do
	left=$(ls $NVMET/$d)
	[ -z "$left" ] || t_fail "$d left: $left"
done
[ -z "$(ls $POOL)" ] || t_fail "pool files left: $(ls $POOL)"
[ "$(tgt ListReplicas)" = "{}" ] || t_fail "ListReplicas not empty: $(tgt ListReplicas | jq -c .)"
stop_agent TERM
t_end

# --nvme-rdma auto: the NVMe address is on a netdev with a soft-RoCE device.
t_begin storage/rdma-auto
for m in rdma_rxe dummy; do modprobe $m || t_fail "modprobe $m"; done
# loading dummy may already have made dummy0 (numdummies=1)
{ ip link show dummy0 > /dev/null 2>&1 || ip link add dummy0 type dummy; } &&
	ip link set dummy0 up && ip addr add 10.81.0.1/24 dev dummy0 || t_fail "dummy0"
bounded 20 rdma link add rxe0 type rxe netdev dummy0 || t_fail "rdma link add rxe0"
NVME_ARGS="--nvme-address 10.81.0.1" start_agent || t_fail "start: $(tail -5 /tmp/agent.log)"
[ "$(tgt GetInfo | jq -r '[.addresses[] | .trtype + ":" + .traddr] | join(",")')" = tcp:10.81.0.1,rdma:10.81.0.1 ] ||
	t_fail "addresses: $(tgt GetInfo | jq -c .addresses)"
tgt CreateReplica "{\"id\": \"r2\", \"sizeBytes\": \"$((16 * MiB))\"}" > /tmp/r2.json || t_fail "CreateReplica"
[ "$(jq -r .nqn /tmp/r2.json)" = ${NQN_PREFIX}r2 ] || t_fail "nqn: $(jq -r .nqn /tmp/r2.json)"
# nvmet-rdma: the kernel loads it when the agent enables the RDMA port.
[ -d /sys/module/nvmet_rdma ] || t_fail "nvmet-rdma not loaded"
modprobe nvme-rdma || t_fail "modprobe nvme-rdma (host)"
[ "$(jq -r '[.addresses[].trtype] | sort | join(",")' /tmp/r2.json)" = rdma,tcp ] ||
	t_fail "replica addresses: $(jq -c .addresses /tmp/r2.json)"
tgt AllowHost "{\"id\": \"r2\", \"hostNqn\": \"$HOST_A\"}" > /dev/null || t_fail "AllowHost"
bounded 30 nvme connect -t rdma -a 10.81.0.1 -s $PORT -n ${NQN_PREFIX}r2 \
	--hostnqn=$HOST_A --hostid=$HOSTID_A || t_fail "connect over rdma"
wait_for 10 eval '[ -n "$(ns_dev)" ]' || t_fail "no namespace device over rdma"
[ "$(blockdev --getsize64 "$(ns_dev)")" = $((16 * MiB)) ] || t_fail "namespace size over rdma"
bounded 20 nvme disconnect -n ${NQN_PREFIX}r2 > /dev/null || t_fail "disconnect"
tgt DeleteReplica '{"id": "r2"}' > /dev/null || t_fail "DeleteReplica r2"
for d in subsystems ports hosts; do
	left=$(ls $NVMET/$d)
	[ -z "$left" ] || t_fail "$d left: $left"
done
stop_agent TERM
bounded 20 rdma link delete rxe0 || t_fail "rdma link delete rxe0"
t_end

t_begin storage/pool-clean
[ -z "$(ls $POOL)" ] || t_fail "pool files left: $(ls $POOL)"
umount $POOL || t_fail "umount"
xfs_repair -n "$leg" > /dev/null 2>&1 || t_fail "xfs_repair -n"
t_end
