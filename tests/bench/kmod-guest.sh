#!/bin/bash
# Runs inside the node VM (tests/bench/kmod.sh adds it as /extra/kmod-guest.sh).
# 4 KiB random IO at queue depth 16 with verifyio on ext4, RAM legs of two
# kinds: brd (bio-based: no blk-mq layer of its own) and memory-backed
# null_blk (blk-mq, like the NVMe-oF namespaces real legs are):
#   - raw leg vs linear atom volume (writes),
#   - md RAID-1 vs atom 2-way mirror over the same legs (writes, then reads),
#   - pause per client swap, from the writer's view and from last_pause_us.
# Names of the null_blk runs end in "-mq".
# Prints "BENCH key=value ..." lines for the host to tabulate.
. /tests/lib.sh
SECS=${BENCH_SECS:-6}
SWAPS=${BENCH_SWAPS:-25}
FILE_SIZE=96M

make_ram_legs 4 160 || exit 1
modprobe null_blk nr_devices=4 queue_mode=2 memory_backed=1 gb=1 irqmode=0 \
	submit_queues=1 hw_queue_depth=64 || { echo "BENCH error=null_blk"; exit 1; }
modprobe raid1
load_atom || exit 1
load_client a || exit 1
mkdir -p /mnt/b

# run_io NAME DEV READ_PCT: mkfs+mount DEV, verifyio for SECS, print iops.
run_io() {
	local name=$1 dev=$2 rpct=$3 out=/tmp/bench-$1.out
	mkfs.ext4 -q -F "$dev" && mount "$dev" /mnt/b || { echo "BENCH error=$name-mkfs"; return 1; }
	if [ "$rpct" -gt 0 ]; then
		# Fill first, so the read run reads written blocks.
		verifyio -d 16 -r 0 -t 3 -n -q -s $FILE_SIZE /mnt/b/data > /dev/null
	fi
	verifyio -d 16 -r "$rpct" -t "$SECS" -n -q -s $FILE_SIZE /mnt/b/data > "$out" 2>&1
	local rc=$?
	umount /mnt/b
	local secs ops
	secs=$(vio_field "$out" secs)
	if [ "$rpct" -gt 0 ]; then ops=$(vio_field "$out" reads); else ops=$(vio_field "$out" writes); fi
	echo "BENCH io=$name iops=$(awk -v o="$ops" -v s="$secs" 'BEGIN { printf "%.0f", o / s }') errors=$(vio_field "$out" errors) rc=$rc"
}

# Linear against the raw leg, mirror against md RAID-1 over the same legs.
# Alternating rounds (the host averages them), so a change of host load
# during the run hits both sides of a ratio alike.
dev=$(atomtool create b-linear 150M linear /dev/ram1)
dev_mq=$(atomtool create b-linear-mq 150M linear /dev/nullb1)
echo "BENCH linear-scheduler=$(cat /sys/block/${dev#/dev/}/queue/scheduler) rotational=$(cat /sys/block/${dev#/dev/}/queue/rotational)"
for round in 1 2; do
	run_io raw-leg /dev/ram0 0
	run_io linear "$dev" 0
	run_io raw-leg-mq /dev/nullb0 0
	run_io linear-mq "$dev_mq" 0
done
atomtool remove b-linear-mq

# mirror_vs_md SUFFIX LEG LEG: one round of md RAID-1 then the atom mirror.
mirror_vs_md() {
	local sfx=$1 a=$2 b=$3 dev_m
	mdadm --create /dev/md0 --run --quiet --level=1 --raid-devices=2 --assume-clean \
		--bitmap=none --metadata=1.2 "$a" "$b" || echo "BENCH error=mdadm"
	run_io "md-raid1-write$sfx" /dev/md0 0
	run_io "md-raid1-read$sfx" /dev/md0 100
	mdadm --stop /dev/md0 --quiet
	mdadm --zero-superblock "$a" "$b"
	dev_m=$(atomtool create b-mirror 150M mirror "$a" "$b")
	run_io "mirror-write$sfx" "$dev_m" 0
	run_io "mirror-read$sfx" "$dev_m" 100
	atomtool remove b-mirror
}
for round in 1 2; do
	mirror_vs_md "" /dev/ram2 /dev/ram3
	mirror_vs_md -mq /dev/nullb2 /dev/nullb3
done

# Pause per swap on the mounted linear volume.
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
	[ $next = b ] && next=a || next=b
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
rmmod atom_client && rmmod atom
