#!/bin/bash
# The storage node's building blocks for real (agent/lib/pool + nvmet through
# build/bin/targettool): an XFS pool on a loop device with a sparse replica,
# a reflink snapshot and clone, the clone exported over nvmet-tcp on
# 127.0.0.1 to one host NQN: that host connects, another is refused; data
# written through /dev/nvmeXnY is in the backing file; unexport leaves the
# configfs tree clean.
. /tests/lib.sh
CASE=nvmet

NVMET=/sys/kernel/config/nvmet
POOL=/pool
CAP=$((256 << 20))
HOST_OK=nqn.2026-11.io.atomblk:host:node-a
HOST_BAD=nqn.2026-11.io.atomblk:host:node-b
# 6.12's nvme-fabrics refuses one host id with two host NQNs: one id each.
HOSTID_OK=6e8d3f0a-1b2c-4d5e-8f90-a1b2c3d4e5f6
HOSTID_BAD=0f1e2d3c-4b5a-4697-8877-665544332211
NQN=nqn.2026-11.io.atomblk:c1
PORT=4420
MiB=$((1 << 20))
pool() { targettool pool $POOL $CAP "$@"; }
# mib_is FILE OFFSET_MIB REF: FILE's MiB at OFFSET_MIB equals REF (busybox cmp has no -n).
mib_is() { dd if="$1" bs=1M skip="$2" count=1 ${4:+iflag=$4} 2>/dev/null | cmp -s - "$3"; }

t_begin nvmet/pool-xfs-reflink
modprobe xfs
leg=$(make_loop_leg pool 320) || t_fail "losetup"
mkfs.xfs -q "$leg" || t_fail "mkfs.xfs"
mkdir -p $POOL && mount "$leg" $POOL || t_fail "mount xfs"
pool create r1 $((64 * MiB)) || t_fail "create r1"
[ "$(stat -c %s $POOL/r1)" = $((64 * MiB)) ] || t_fail "r1 size $(stat -c %s $POOL/r1)"
[ "$(stat -c %b $POOL/r1)" -lt 64 ] || t_fail "r1 not sparse: $(stat -c %b $POOL/r1) blocks"
head -c $MiB /dev/urandom > /tmp/pat1
dd if=/tmp/pat1 of=$POOL/r1 bs=1M conv=notrunc,fsync 2>/dev/null || t_fail "fill r1"
pool snapshot r1 s1 || t_fail "snapshot s1 (rc=$?)"
pool clone s1 c1 $((96 * MiB)) || t_fail "clone c1 (rc=$?)"
mib_is $POOL/s1 0 /tmp/pat1 || t_fail "snapshot content"
mib_is $POOL/c1 0 /tmp/pat1 || t_fail "clone content"
[ "$(stat -c %s $POOL/c1)" = $((96 * MiB)) ] || t_fail "c1 size $(stat -c %s $POOL/c1)"
pool expand s1 $((128 * MiB)); rc=$?
[ $rc = 30 ] || t_fail "expanding a snapshot: rc=$rc, expected EROFS (30)"
pool create r2 $((64 * MiB)); rc=$?
[ $rc = 28 ] || t_fail "create over capacity: rc=$rc, expected ENOSPC (28)"
pool list
pool capacity
pool capacity | grep -q "used=$((224 * MiB)) available=$((32 * MiB))" || t_fail "capacity numbers"
t_end

t_begin nvmet/export-connect
for m in nvmet nvmet-tcp nvme-fabrics nvme-tcp; do modprobe $m || t_fail "modprobe $m"; done
targettool export $NVMET c1 $POOL/c1 $HOST_OK 127.0.0.1 $PORT || t_fail "export (rc=$?)"
targettool export $NVMET c1 $POOL/c1 $HOST_OK 127.0.0.1 $PORT || t_fail "repeated export (rc=$?)"
targettool export $NVMET c1 $POOL/r1 $HOST_OK 127.0.0.1 $PORT; rc=$?
[ $rc = 17 ] || t_fail "export with another file: rc=$rc, expected EEXIST (17)"
[ "$(cat $NVMET/subsystems/$NQN/attr_allow_any_host)" = 0 ] || t_fail "allow_any_host"
[ -L $NVMET/subsystems/$NQN/allowed_hosts/$HOST_OK ] || t_fail "allowed host link"
[ "$(ls $NVMET/subsystems/$NQN/allowed_hosts | wc -l)" = 1 ] || t_fail "more than one allowed host"
[ "$(ls $NVMET/ports | wc -l)" = 1 ] || t_fail "ports: $(ls $NVMET/ports)"
targettool exports $NVMET | tee /tmp/exports
grep -qx "c1 nqn=$NQN device_path=$POOL/c1 enabled=1 host=$HOST_OK tcp=127.0.0.1:$PORT" /tmp/exports ||
	t_fail "exports listing"
bounded 20 nvme connect -t tcp -a 127.0.0.1 -s $PORT -n $NQN --hostnqn=$HOST_BAD --hostid=$HOSTID_BAD > /tmp/bad.out 2>&1 &&
	t_fail "host $HOST_BAD connected"
cat /tmp/bad.out
# Refused by the target's allowed_hosts check, not for another reason.
dmesg | grep -q "connect by host $HOST_BAD for subsystem $NQN not allowed" ||
	t_fail "no 'not allowed' from nvmet for $HOST_BAD"
ls /dev/nvme*n* 2>/dev/null && t_fail "a namespace appeared for the refused host"
bounded 20 nvme connect -t tcp -a 127.0.0.1 -s $PORT -n $NQN --hostnqn=$HOST_OK --hostid=$HOSTID_OK || t_fail "connect"
wait_for 10 eval 'ls /dev/nvme*n1 >/dev/null 2>&1' || t_fail "no namespace device"
dev=$(ls /dev/nvme*n1 | head -n1)
echo "namespace $dev size $(blockdev --getsize64 "$dev")"
[ "$(blockdev --getsize64 "$dev")" = $((96 * MiB)) ] || t_fail "namespace size"
mib_is "$dev" 0 /tmp/pat1 direct || t_fail "clone data over nvme"
head -c $MiB /dev/urandom > /tmp/pat2
dd if=/tmp/pat2 of="$dev" bs=1M seek=80 oflag=direct 2>/dev/null || t_fail "write over nvme"
mib_is "$dev" 80 /tmp/pat2 direct || t_fail "read back over nvme"
mib_is $POOL/c1 80 /tmp/pat2 || t_fail "data not in the backing file"
mib_is $POOL/r1 0 /tmp/pat1 || t_fail "r1 changed"
[ "$(stat -c %s $POOL/s1)" = $((64 * MiB)) ] || t_fail "s1 changed size"
bounded 20 nvme disconnect -n $NQN || t_fail "disconnect"
t_end

t_begin nvmet/unexport-clean
targettool unexport $NVMET c1 || t_fail "unexport (rc=$?)"
targettool unexport $NVMET c1 || t_fail "repeated unexport (rc=$?)"
for d in subsystems ports hosts; do
	left=$(ls $NVMET/$d)
	[ -z "$left" ] || t_fail "$d left: $left"
done
[ -z "$(targettool exports $NVMET)" ] || t_fail "exports listed after unexport"
pool delete c1 && pool delete c1 || t_fail "idempotent delete"
[ ! -e $POOL/c1 ] || t_fail "c1 still there"
umount $POOL || t_fail "umount"
xfs_repair -n "$leg" > /dev/null 2>&1 || t_fail "xfs_repair -n"
t_end
