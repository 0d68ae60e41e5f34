#!/bin/bash
# Runs inside the node VM (tests/bench/kmod.sh adds it and kmod-lib.sh to
# /extra/).
# 4 KiB random IO at queue depth 16 with verifyio on ext4, legs of three
# kinds: brd (bio-based: no blk-mq layer of its own), memory-backed null_blk
# (blk-mq, like the NVMe-oF namespaces real legs are) and NVMe-oF
# namespaces over nvme-tcp (loopback: nvmet over brd in the same VM; the
# legs flagged for the client's submit worker, as the agent flags them):
#   - a leg used raw vs a linear atom volume over another leg of its kind,
#     then the two legs swapped (writes); once more over latency-bound
#     null_blk legs (a quarter reads; names end in "-lat"),
#   - md RAID-1 vs atom 2-way mirror over the same legs (writes, then reads),
#   - pause per client swap, from the writer's view and from last_pause_us.
# Names of the null_blk runs end in "-mq", of the nvme-tcp runs in "-tcp".
# The ratios measure the production client (atom_client.ko, no fault
# injection compiled in); the swaps alternate it with test build b, so each
# adopt loads a different version string.
# Prints "BENCH key=value ..." lines for the host to tabulate.
. /extra/kmod-lib.sh
SECS=${BENCH_SECS:-6}
ROUNDS=${BENCH_ROUNDS:-3}
SWAPS=${BENCH_SWAPS:-25}

kmod_setup BENCH || exit 1

# io_on NAME MNT READ_PCT SECS: verifyio for SECS on MNT/data (laid out by
# kmod_prepare), print iops: of writes, of reads at READ_PCT 100, of all
# IOs in between.
io_on() {
	local name=$1 mnt=$2 rpct=$3 t=$4 out=/tmp/bench-$1.out
	verifyio -d 16 -r "$rpct" -t "$t" -n -q -s $FILE_SIZE "$mnt/data" > "$out" 2>&1
	local rc=$?
	local secs ops
	secs=$(vio_field "$out" secs)
	case $rpct in
	0) ops=$(vio_field "$out" writes) ;;
	100) ops=$(vio_field "$out" reads) ;;
	*) ops=$(vio_field "$out" ios) ;;
	esac
	echo "BENCH io=$name iops=$(awk -v o="$ops" -v s="$secs" 'BEGIN { printf "%.0f", o / s }') errors=$(vio_field "$out" errors) rc=$rc"
}
# The guest's memory after each section: the RAM legs (brd, memory-backed
# null_blk) keep every page written, outside the page cache; a leak in the
# modules would show as growth they do not explain (kmod.sh prints these).
mem_line() {
	awk -v s="$1" '/^(MemAvailable|Shmem|Slab):/ { m = m " " tolower($1) int($2 / 1024) }
		END { gsub(":", "_mb=", m); print "BENCH mem after=" s m }' /proc/meminfo
}
# run_io NAME DEV READ_PCT [SECS]: io_on on a fresh file on DEV
# (kmod_prepare), SECS defaulting to $SECS.
run_io() {
	kmod_prepare BENCH "$1" "$2" "$3" || return 1
	io_on "$1" /mnt/b "$3" "${4:-$SECS}"
	umount /mnt/b
}

# Linear against a leg used raw, mirror against md RAID-1 over the same
# legs. The two sides of a comparison run back to back, in turn first and
# second from round to round, so a drift of host load or of the VM during
# the run hits both alike. Each comparison starts with a short warm-up whose
# figures are not counted (names start with "warm-"): the first runs in a fresh VM came out
# up to a quarter slower than the same runs later (6.1, mirror reads:
# 59,000 then 79,000 IOPS; TCG translating code on first use is the likely
# cause).
tcp=($(kmod_nvme_tcp_legs)) && [ ${#tcp[@]} = 2 ] || { echo "BENCH error=nvme-tcp-legs"; exit 1; }
# linear_vs_raw SUFFIX LEG_A LEG_B [FLAG [READ_PCT]]: leg A used raw against
# a linear volume over leg B (given as FLAG:B when FLAG is set; READ_PCT
# percent of the timed IOs are reads, default none), then the two legs
# swapped, so a difference between the legs cancels out. Both filesystems
# are made and laid out once per half, then LINEAR_ROUNDS (6) short rounds
# of LINEAR_SECS (3) alternate between them: with no mkfs and layout
# between rounds there can be many short ones, which agree more closely
# than a few long rounds each on a fresh filesystem (kmod.sh prints every
# round).
linear_vs_raw() {
	local sfx=$1 a=$2 b=$3 f=${4:+$4:} rpct=${5:-0} half raw leg dev_l round
	for half in 1 2; do
		if [ $half = 1 ]; then raw=$a leg=$b; else raw=$b leg=$a; fi
		dev_l=$(atomtool create b-linear 150M linear "$f$leg") || { echo "BENCH error=create"; return 1; }
		if kmod_prepare BENCH "raw-leg$sfx" "$raw" 0 /mnt/r &&
			kmod_prepare BENCH "linear$sfx" "$dev_l" 0 /mnt/l; then
			io_on "warm-raw-leg$sfx" /mnt/r $rpct 2 > /dev/null
			io_on "warm-linear$sfx" /mnt/l $rpct 2 > /dev/null
			for ((round = 1; round <= LINEAR_ROUNDS; round++)); do
				if [ $((round % 2)) = 1 ]; then
					io_on "raw-leg$sfx" /mnt/r $rpct $LINEAR_SECS
					io_on "linear$sfx" /mnt/l $rpct $LINEAR_SECS
				else
					io_on "linear$sfx" /mnt/l $rpct $LINEAR_SECS
					io_on "raw-leg$sfx" /mnt/r $rpct $LINEAR_SECS
				fi
			done
		fi
		umount /mnt/r /mnt/l 2> /dev/null
		atomtool remove b-linear
	done
}
LINEAR_ROUNDS=${BENCH_LINEAR_ROUNDS:-6}
LINEAR_SECS=${BENCH_LINEAR_SECS:-3}
linear_vs_raw "" /dev/ram0 /dev/ram1
linear_vs_raw -mq /dev/nullb0 /dev/nullb1
linear_vs_raw -tcp "${tcp[0]}" "${tcp[1]}" worker
# Latency-bound legs: null_blk disks that complete each request 20 ms after
# it arrives, as a leg across a network would, so IOPS follow the legs'
# latency (16 threads: about 800 per second) rather than the guest's CPU,
# with a quarter reads among the writes. A leg's writeback throttle judges
# its writes by their hints and shrinks its limit when reads are slow: with
# leg bios that lost O_DIRECT's IDLE hint (the client before b1e558d) a
# linear volume did about a third of its raw leg's IOPS on such legs
# (measured ad hoc on the block devices, without ext4).
if nullb_leg blat0 -- size=256 irqmode=2 completion_nsec=20000000 &&
	nullb_leg blat1 -- size=256 irqmode=2 completion_nsec=20000000; then
	linear_vs_raw -lat /dev/blat0 /dev/blat1 "" 25
else
	echo "BENCH error=null_blk-lat-legs"
fi
# Their pages back to the guest (the mirror rounds fill four more RAM legs).
rmdir /sys/kernel/config/nullb/blat0 /sys/kernel/config/nullb/blat1 2> /dev/null
mem_line linear

# mirror_vs_md PREFIX SUFFIX LEG LEG SECS ROUND [FLAG]: one round of md
# RAID-1 and of the atom mirror (its legs given as FLAG:LEG when FLAG is
# set), writes then reads on each.
mirror_vs_md() {
	local w=$1 sfx=$2 a=$3 b=$4 t=$5 round=$6 f=${7:+$7:} side dev_m
	for side in md mirror; do
		[ $((round % 2)) = 1 ] && side=$([ $side = md ] && echo mirror || echo md)
		if [ $side = md ]; then
			mdadm --create /dev/md0 --run --quiet --level=1 --raid-devices=2 --assume-clean \
				--bitmap=none --metadata=1.2 "$a" "$b" || echo "BENCH error=mdadm"
			run_io "${w}md-raid1-write$sfx" /dev/md0 0 $t
			run_io "${w}md-raid1-read$sfx" /dev/md0 100 $t
			mdadm --stop /dev/md0 --quiet
			mdadm --zero-superblock "$a" "$b"
		else
			dev_m=$(atomtool create b-mirror 150M mirror "$f$a" "$f$b") ||
				{ echo "BENCH error=create"; continue; }
			run_io "${w}mirror-write$sfx" "$dev_m" 0 $t
			run_io "${w}mirror-read$sfx" "$dev_m" 100 $t
			atomtool remove b-mirror
		fi
	done
}
for ((round = 0; round <= ROUNDS; round++)); do
	w= t=$SECS
	[ $round = 0 ] && w=warm- t=2
	mirror_vs_md "$w" "" /dev/ram2 /dev/ram3 $t $round
	mirror_vs_md "$w" -mq /dev/nullb2 /dev/nullb3 $t $round
	mirror_vs_md "$w" -tcp "${tcp[0]}" "${tcp[1]}" $t $round worker
done
mem_line mirror

# Pause per swap on a mounted linear volume.
dev=$(atomtool create b-linear 150M linear /dev/ram1) || { echo "BENCH error=create"; exit 1; }
echo "BENCH linear-scheduler=$(cat /sys/block/${dev#/dev/}/queue/scheduler) rotational=$(cat /sys/block/${dev#/dev/}/queue/rotational)"
mkfs.ext4 -q -F "$dev" && mount "$dev" /mnt/b
t_start=$(now_ms)
verifyio -d 16 -r 0 -p 50 -l -q -s $FILE_SIZE -S /tmp/swap.stop -P /tmp/swap.prog /mnt/b/data > /tmp/swap.out 2>&1 &
wpid=$!
wait_progress /tmp/swap.prog 500 30
disk=${dev#/dev/}
next=b
: > /tmp/windows
for ((i = 1; i <= SWAPS; i++)); do
	w0=$(now_ms)
	rmmod atom_client || { echo "BENCH error=rmmod-$i"; break; }
	insmod "$(client_ko $next)" || { echo "BENCH error=insmod-$i"; break; }
	w1=$(now_ms)
	echo "$((w0 - t_start)) $((w1 - t_start)) $(disk_attr "$disk" last_pause_us)" >> /tmp/windows
	[ $next = b ] && next=prod || next=b
	n=$(vio_field /tmp/swap.prog ios)
	wait_progress /tmp/swap.prog $((n + 300)) 20
	sleep 0.3
done
touch /tmp/swap.stop
wait $wpid
echo "BENCH swap-writer $(grep '^ios=' /tmp/swap.out)"
umount /mnt/b
# Per swap: the longest single IO (of those over 50 ms) overlapping the swap
# window (the writer's clock starts a few ms after t_start: 200 ms of slack).
awk 'FNR == NR { if ($1 == "io_stall") { split($2, a, "="); split($3, b, "=");
		s[++ns] = a[2]; d[ns] = b[2] } next }
	{ best = 0
	  for (k = 1; k <= ns; k++)
		if (s[k] <= $2 + 200 && s[k] + d[k] >= $1 - 200 && d[k] > best) best = d[k]
	  printf "BENCH swap=%d app_pause_ms=%.1f atom_pause_us=%s window_ms=%d\n", FNR, best, $3, $2 - $1 }' \
	/tmp/swap.out /tmp/windows
atomtool remove b-linear
mem_line pause
rmmod atom_client && rmmod atom
