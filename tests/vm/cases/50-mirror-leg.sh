#!/bin/bash
# Mirror leg failure under the writer (fail_leg injection): no error reaches
# the application, the leg is marked faulty, the volume reports degraded,
# and every block still verifies (reads go to the healthy leg).
. /tests/lib.sh
CASE=mirror-leg
need_modules /atom/test/atom_client-a.ko

make_ram_legs 3 64
load_atom
load_client a

# fail_one_leg LEGS: the subtest on a mirror of LEGS RAM legs.
fail_one_leg() {
	local legs=$1 leg_paths=() k dev status rc n
	for ((k = 0; k < legs; k++)); do leg_paths+=("/dev/ram$k"); done
	dev=$(atomtool create vol-m$legs 48M mirror "${leg_paths[@]}") || { t_fail "create"; return; }
	atomtool status vol-m$legs | grep -q '^state=ok' || t_fail "fresh mirror not ok: $(atomtool status vol-m$legs | tr '\n' ' ')"
	start_writer w "$dev" -d 8 -s 32M -r 50
	wait_progress /tmp/w.prog 300 30 || { t_fail "writer made no progress"; stop_writer w 20; return; }
	echo "vol-m$legs:1" > "$CLIENT_PARAMS/fail_leg" || t_fail "cannot set fail_leg"
	n=$(vio_field /tmp/w.prog ios)
	wait_progress /tmp/w.prog $((n + 1000)) 30 || t_fail "IO stalled after the leg failed"
	status=$(atomtool status vol-m$legs)
	echo "$status"
	grep -q '^leg1=.*:faulty$' <<< "$status" || t_fail "leg1 not faulty"
	grep -q '^leg0=.*:ok$' <<< "$status" || t_fail "leg0 not ok"
	grep -q '^state=degraded$' <<< "$status" || t_fail "state not degraded"
	stop_writer w 60; rc=$?
	cat /tmp/w.out
	[ $rc = 0 ] && writer_clean w || t_fail "writer: exit $rc, $(grep '^ios=' /tmp/w.out)"
	echo "" > "$CLIENT_PARAMS/fail_leg"
	t_check "remove" atomtool remove vol-m$legs
}

for legs in 2 3; do
	t_begin mirror-leg/fail-leg1-of-$legs
	fail_one_leg $legs
	t_end
done
# A real leg failure: memory-backed null_blk legs, one powered off (its
# gendisk deleted) under the writer.
nullb_leg() {
	local d=/sys/kernel/config/nullb/$1
	mkdir "$d" && echo 1 > "$d/memory_backed" && echo 64 > "$d/size" &&
		echo 4096 > "$d/blocksize" && echo 1 > "$d/power" && wait_for 5 test -b "/dev/$1"
}

t_begin mirror-leg/leg-removed
modprobe null_blk nr_devices=0 || t_fail "modprobe null_blk"
nullb_leg nbleg0 && nullb_leg nbleg1 || t_fail "null_blk legs"
if dev=$(atomtool create vol-nb 48M mirror /dev/nbleg0 /dev/nbleg1); then
	start_writer w "$dev" -d 8 -s 32M -r 50
	if wait_progress /tmp/w.prog 300 30; then
		echo 0 > /sys/kernel/config/nullb/nbleg1/power || t_fail "power off nbleg1"
		n=$(vio_field /tmp/w.prog ios)
		wait_progress /tmp/w.prog $((n + 1000)) 30 || t_fail "IO stalled after the leg went away"
	else
		t_fail "writer made no progress"
	fi
	status=$(atomtool status vol-nb)
	echo "$status"
	grep -q '^leg1=.*:faulty$' <<< "$status" || t_fail "leg1 not faulty"
	grep -q '^state=degraded$' <<< "$status" || t_fail "state not degraded"
	stop_writer w 60; rc=$?
	cat /tmp/w.out
	[ $rc = 0 ] && writer_clean w || t_fail "writer: exit $rc, $(grep '^ios=' /tmp/w.out)"
	t_check "remove" atomtool remove vol-nb
else
	t_fail "create over null_blk legs"
fi
rmdir /sys/kernel/config/nullb/nbleg0 /sys/kernel/config/nullb/nbleg1 2>/dev/null
t_end

t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
