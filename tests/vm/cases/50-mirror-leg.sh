#!/bin/bash
# Mirror leg failure under the writer (fail_leg injection): no error reaches
# the application, the leg is marked faulty, the volume reports degraded,
# and every block still verifies (reads go to the healthy leg). A mirror
# created with a missing leg runs degraded and survives client swaps; so
# does one whose failed leg's device is gone. Reads prefer the faster leg.
. /tests/lib.sh
CASE=mirror-leg
need_modules /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko

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
# swap_client FROM TO: rmmod the loaded client, insmod TO; IO resumes.
swap_client() {
	local gen=$(atom_attr generation)
	unload_client || { t_fail "rmmod client $1"; return 1; }
	load_client "$2" || { t_fail "insmod client $2"; return 1; }
	[ "$(atom_attr client_version)" = "$(client_version_of "$2")" ] ||
		t_fail "client_version '$(atom_attr client_version)' after loading $2"
	[ "$(atom_attr generation)" = $((gen + 1)) ] || t_fail "generation did not step after $1 -> $2"
}

# A mirror created with a missing leg (uapi version 2): degraded from the
# start, ext4 and the writer run on the present leg, and client swaps
# (a -> b -> a) adopt it degraded the same way.
t_begin mirror-leg/missing-at-create
if dev=$(atomtool create vol-miss 48M mirror missing /dev/ram0); then
	status=$(atomtool status vol-miss)
	echo "$status"
	grep -q '^state=degraded$' <<< "$status" || t_fail "state not degraded at creation"
	grep -q '^leg0=missing:faulty$' <<< "$status" || t_fail "leg0 not missing:faulty"
	grep -q '^leg1=/dev/ram0:ok$' <<< "$status" || t_fail "leg1 not ok"
	atomtool list | grep -q "^vol-miss $dev mirror 50331648 degraded$" ||
		t_fail "list: $(atomtool list | tr '\n' ' ')"
	bounded 60 mkfs.ext4 -q "$dev" || t_fail "mkfs.ext4"
	mkdir -p /mnt/miss
	bounded 30 mount "$dev" /mnt/miss || t_fail "mount"
	start_writer w /mnt/miss/data -d 8 -s 24M -r 30
	wait_progress /tmp/w.prog 300 30 || t_fail "writer made no progress"
	next=b prev=a
	for k in 1 2; do
		swap_client $prev $next || break
		n=$(vio_field /tmp/w.prog ios)
		wait_progress /tmp/w.prog $((n + 200)) 20 || t_fail "swap $k: IO did not resume"
		status=$(atomtool status vol-miss)
		grep -q '^state=degraded$' <<< "$status" && grep -q '^leg0=missing:faulty$' <<< "$status" &&
			grep -q '^leg1=/dev/ram0:ok$' <<< "$status" ||
			t_fail "swap $k: adopted as $(tr '\n' ' ' <<< "$status")"
		t=$prev prev=$next next=$t
	done
	echo "$status"
	is_loaded atom_client || load_client a
	stop_writer w 60; rc=$?
	cat /tmp/w.out
	[ $rc = 0 ] && writer_clean w || t_fail "writer: exit $rc, $(grep '^ios=' /tmp/w.out)"
	t_check "umount" umount /mnt/miss
	t_check "e2fsck -fn" e2fsck -fn "$dev"
	t_check "remove" atomtool remove vol-miss
else
	t_fail "create with a missing leg"
fi
t_end

# A real leg failure: memory-backed null_blk legs, one powered off (its
# gendisk deleted) under the writer; then a client swap while the leg's
# device is gone: the new client adopts the volume degraded.
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
	if swap_client a b; then
		n=$(vio_field /tmp/w.prog ios)
		wait_progress /tmp/w.prog $((n + 200)) 20 || t_fail "IO did not resume after the swap"
		status=$(atomtool status vol-nb)
		echo "$status"
		grep -q '^leg1=/dev/nbleg1:faulty$' <<< "$status" && grep -q '^state=degraded$' <<< "$status" ||
			t_fail "after the swap: $(tr '\n' ' ' <<< "$status")"
	fi
	is_loaded atom_client || load_client a
	stop_writer w 60; rc=$?
	cat /tmp/w.out
	[ $rc = 0 ] && writer_clean w || t_fail "writer: exit $rc, $(grep '^ios=' /tmp/w.out)"
	t_check "remove" atomtool remove vol-nb
else
	t_fail "create over null_blk legs"
fi
rmdir /sys/kernel/config/nullb/nbleg0 /sys/kernel/config/nullb/nbleg1 2>/dev/null
t_end

# Reads go to the leg with the fewest reads in flight: over a fast leg and a
# leg whose every IO takes 3 ms (null_blk timer completion), nearly all
# reads go to the fast one; plain turns would send each leg half.
t_begin mirror-leg/reads-prefer-the-faster-leg
modprobe null_blk nr_devices=0 || t_fail "modprobe null_blk"
nullb_leg nbfast && nullb_leg nbslow -- irqmode=2 completion_nsec=3000000 ||
	t_fail "null_blk legs"
if dev=$(atomtool create vol-rb 48M mirror /dev/nbfast /dev/nbslow); then
	reads() { awk '{ print $1 }' "/sys/block/$1/stat"; }
	f0=$(reads nbfast) s0=$(reads nbslow)
	# 8 readers at once, 4 KiB direct reads, each over its own 4 MB.
	for k in 0 1 2 3 4 5 6 7; do
		dd if="$dev" of=/dev/null bs=4k count=1024 skip=$((k * 1024)) iflag=direct 2> /dev/null &
	done
	wait
	fast=$(($(reads nbfast) - f0)) slow=$(($(reads nbslow) - s0))
	echo "reads served: fast leg $fast, slow leg $slow"
	[ "$fast" -gt 0 ] && [ $((fast * 100 / (fast + slow))) -ge 80 ] ||
		t_fail "the fast leg served $fast of $((fast + slow)) reads"
	t_check "remove" atomtool remove vol-rb
else
	t_fail "create over null_blk legs"
fi
rmdir /sys/kernel/config/nullb/nbfast /sys/kernel/config/nullb/nbslow 2>/dev/null
t_end

t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
