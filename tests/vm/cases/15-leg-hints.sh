#!/bin/bash
# The hints of a request reach the leg bios: an O_DIRECT write carries
# SYNC|IDLE down to the leg, so the leg's writeback throttle (wbt) lets it
# through as it would the application's own write, and background
# writeback arrives as BACKGROUND. The legs are null_blk disks completing
# on a 20 ms timer, so their requests stay in flight long enough to be read
# from debugfs (hctx*/busy lists each one with its cmd_flags), and the leg's
# wbt must track none of the O_DIRECT writes (rqos/wbt/inflight stays 0).
# Were they tracked, they would be held to wbt's write limit (8 in flight
# at its starting depth of 16), which the slow reads among them shrink.
. /tests/lib.sh
CASE=leg-hints
need_modules

lat=(-- irqmode=2 completion_nsec=20000000)
modprobe null_blk nr_devices=0 && nullb_leg nbh0 "${lat[@]}" && nullb_leg nbh1 "${lat[@]}" ||
	{ echo "RESULT FAIL $CASE/setup null_blk legs"; exit 1; }
load_atom
load_client prod

# leg_writes LEG: the cmd_flags of the writes in flight on LEG, one per line.
leg_writes() {
	cat /sys/kernel/debug/block/$1/hctx*/busy 2>/dev/null |
		sed -n 's/.*\.op=WRITE, \.cmd_flags=\([A-Z_|]*\).*/\1/p'
}

# expect_leg_writes LEG WHAT FLAG...: within 20 s, writes are seen in flight
# on LEG, and each of them carries every FLAG.
expect_leg_writes() {
	local leg=$1 what=$2 seen= i f; shift 2
	for ((i = 0; i < 200; i++)); do
		seen=$(leg_writes "$leg")
		[ -n "$seen" ] && break
		sleep 0.1
	done
	if [ -z "$seen" ]; then
		t_fail "$what: no write seen in flight on $leg"
		return
	fi
	echo "    $leg $what: $(sort <<< "$seen" | uniq -c | tr '\n' ' ')"
	for f in "$@"; do
		grep -qv "\(^\||\)$f\(|\|$\)" <<< "$seen" &&
			t_fail "$what: a write on $leg lacks $f: $(grep -v "\(^\||\)$f\(|\|$\)" <<< "$seen" | head -n1)"
	done
}

# O_DIRECT writes on a linear volume and on a 2-way mirror (both legs).
t_begin leg-hints/odirect-write
for layout in linear mirror; do
	if [ $layout = linear ]; then legs=(/dev/nbh0); else legs=(/dev/nbh0 /dev/nbh1); fi
	dev=$(atomtool create vol-h 48M $layout "${legs[@]}") || { t_fail "create $layout"; continue; }
	start_writer w "$dev" -d 16 -r 25 -n
	wait_progress /tmp/w.prog 20 30 || t_fail "$layout: writer made no progress"
	for leg in "${legs[@]}"; do
		expect_leg_writes "${leg#/dev/}" "$layout O_DIRECT" SYNC IDLE
	done
	# The leg's wbt counts the writes it tracks in flight, per class.
	[ -e /sys/kernel/debug/block/nbh0/rqos/wbt/inflight ] || t_fail "no wbt on the legs"
	tracked=0
	for ((i = 0; i < 20; i++)); do
		for leg in "${legs[@]}"; do
			n=$(awk '{ s += $3 } END { print s + 0 }' \
				/sys/kernel/debug/block/${leg#/dev/}/rqos/wbt/inflight)
			[ "$n" -gt $tracked ] && tracked=$n
		done
		sleep 0.1
	done
	echo "    $layout: at most $tracked writes tracked by a leg's wbt, $(vio_field /tmp/w.prog ios) IOs so far"
	[ $tracked = 0 ] || t_fail "$layout: the leg's wbt tracked $tracked O_DIRECT writes"
	stop_writer w 30 || t_fail "$layout: writer exit $?: $(grep "^ios=" /tmp/w.out)"
	t_check "remove $layout" atomtool remove vol-h
done
t_end

# Buffered writes to the disk, left to the flusher (kupdate writeback):
# the leg sees BACKGROUND writes, which its wbt holds to its background
# limit, as on a raw disk.
t_begin leg-hints/background-writeback
if dev=$(atomtool create vol-h 48M linear /dev/nbh0); then
	expire=$(cat /proc/sys/vm/dirty_expire_centisecs)
	interval=$(cat /proc/sys/vm/dirty_writeback_centisecs)
	echo 1 > /proc/sys/vm/dirty_expire_centisecs
	echo 10 > /proc/sys/vm/dirty_writeback_centisecs
	# Held open, so dd's close is not the last and does not sync the disk.
	exec 3< "$dev"
	t_check "buffered dd" dd if=/dev/zero of="$dev" bs=1M count=32 status=none
	expect_leg_writes nbh0 "writeback" BACKGROUND
	t_check "sync" sync
	exec 3<&-
	echo "$expire" > /proc/sys/vm/dirty_expire_centisecs
	echo "$interval" > /proc/sys/vm/dirty_writeback_centisecs
	t_check "remove" atomtool remove vol-h
else
	t_fail "create"
fi
t_end
