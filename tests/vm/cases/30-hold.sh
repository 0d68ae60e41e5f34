#!/bin/bash
# Hold policy: with no client, IO waits at most the disk's hold time, then
# fails with EIO and the disk turns abnormal; fail_held fails held IO at once.
# Nothing may hang, and a client adopting again makes the disk usable.
. /tests/lib.sh
CASE=hold
need_modules /atom/test/atom_client-a.ko

make_ram_legs 2 64
load_atom
load_client a
dev=$(atomtool create vol-hold 32M linear /dev/ram0)
disk=${dev#/dev/}

# io_ok: one direct 4 KiB write and read on the disk succeed (bounded).
io_ok() {
	bounded 10 dd if=/dev/zero of="$dev" bs=4096 count=1 oflag=direct 2>/dev/null &&
		bounded 10 dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null
}

t_begin hold/timeout-fails-held-io
[ -b "$dev" ] || t_fail "create failed"
echo 3 > "/sys/block/$disk/atom/hold_secs" || t_fail "cannot set hold_secs"
[ "$(disk_attr "$disk" hold_secs)" = 3 ] || t_fail "hold_secs reads '$(disk_attr "$disk" hold_secs)'"
start_writer w "$dev" -d 4 -s 16M
wait_progress /tmp/w.prog 100 30 || t_fail "writer made no progress"
unload_client || t_fail "rmmod atom_client"
t0=$(now_ms)
sleep 1.5
[ "$(vio_field /tmp/w.prog errors)" = 0 ] || t_fail "errors before the hold time ran out"
disk_attr_is "$disk" state held || t_fail "state '$(disk_attr "$disk" state)' during the hold, expected held"
wait_for 20 vio_above /tmp/w.prog errors 0 || t_fail "no IO error 20 s after rmmod (hold 3 s)"
ms=$(( $(now_ms) - t0 ))
echo "first error seen ${ms} ms after rmmod"
[ "$ms" -ge 2500 ] || t_fail "IO failed after ${ms} ms, before the 3 s hold"
disk_attr_is "$disk" state abnormal || t_fail "state '$(disk_attr "$disk" state)', expected abnormal"
stop_writer w 20; rc=$?
[ $rc = 124 ] && t_fail "the writer hangs after the hold expired"
[ $rc = 1 ] || t_fail "writer exit $rc, expected 1 (IO errors)"
grep -q 'Input/output error' /tmp/w.out || t_fail "the writer's errors are not EIO: $(head -n 3 /tmp/w.out)"
head -n 3 /tmp/w.out; grep '^ios=' /tmp/w.out
io_ok && t_fail "IO works on an abnormal disk with no client"
load_client a || t_fail "insmod client a"
io_ok || t_fail "IO fails after a client adopted the abnormal disk"
disk_attr_is "$disk" state attached || t_fail "state '$(disk_attr "$disk" state)' after adoption"
t_end

t_begin hold/fail-held-now
echo -1 > "/sys/block/$disk/atom/hold_secs" || t_fail "cannot reset hold_secs"
start_writer w2 "$dev" -d 4 -s 16M
wait_progress /tmp/w2.prog 100 30 || t_fail "writer made no progress"
unload_client || t_fail "rmmod atom_client"
wait_for 10 disk_attr_above "$disk" held_requests 0 ||
	t_fail "held_requests '$(disk_attr "$disk" held_requests)', expected > 0"
sleep 1
[ "$(vio_field /tmp/w2.prog errors)" = 0 ] || t_fail "errors before fail_held"
t0=$(now_ms)
echo 1 > "/sys/block/$disk/atom/fail_held" || t_fail "write to fail_held"
# At once: well before any hold time (300 s here); 10 s leaves room for a loaded host.
wait_for 10 vio_above /tmp/w2.prog errors 0 || t_fail "no IO error within 10 s of fail_held"
echo "first error seen $(( $(now_ms) - t0 )) ms after fail_held"
disk_attr_is "$disk" state abnormal || t_fail "state '$(disk_attr "$disk" state)', expected abnormal"
[ "$(disk_attr "$disk" held_requests)" = 0 ] || t_fail "held_requests '$(disk_attr "$disk" held_requests)' after fail_held"
stop_writer w2 20; rc=$?
[ $rc = 124 ] && t_fail "the writer hangs after fail_held"
[ $rc = 1 ] || t_fail "writer exit $rc, expected 1 (IO errors)"
grep '^ios=' /tmp/w2.out
load_client a || t_fail "insmod client a"
io_ok || t_fail "IO fails after a client adopted again"
t_check "remove" atomtool remove vol-hold
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
