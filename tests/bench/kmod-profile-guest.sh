#!/bin/bash
# Runs inside the node VM (tests/bench/kmod-profile.sh adds it, kmod-lib.sh
# and a tarball of the host's perf). The same IO as kmod-guest.sh (verifyio,
# 4 KiB random, QD16, ext4), sampled with perf's cpu-clock at PROF_HZ on
# every CPU:
#   a leg used raw vs a linear volume over that leg (writes), md RAID-1
#   vs 2-way mirror (reads), over brd, memory-backed null_blk and nvme-tcp legs (kmod-guest.sh's
#   nvmet-tcp loopback namespaces, flagged worker as the agent flags them).
# Prints "PROF run=NAME ios=N hz=HZ secs=S" and one "SYM NAME SAMPLES SYMBOL" line
# per symbol (self time) for the host to tabulate.
. /extra/kmod-lib.sh
SECS=${PROF_SECS:-6}
HZ=${PROF_HZ:-1000}

(cd / && tar -xzf /extra/perf.tgz) || { echo "PROF error=perf-unpack"; exit 1; }
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid
kmod_setup PROF || exit 1

# prof NAME DEV READ_PCT [warm]: a fresh file on DEV (kmod_prepare), then
# verifyio for SECS under perf (a warm-up run only does the IO, 2 s, and
# prints nothing).
prof() {
	local name=$1 dev=$2 rpct=$3 warm=${4:-} out=/tmp/prof-$1.out data=/tmp/prof-$1.data
	kmod_prepare PROF "$name" "$dev" "$rpct" || return 1
	if [ -n "$warm" ]; then
		verifyio -d 16 -r "$rpct" -t 2 -n -q -s $FILE_SIZE /mnt/b/data > /dev/null
		umount /mnt/b
		return 0
	fi
	perf record -q -a -e cpu-clock -F "$HZ" -o "$data" -- \
		verifyio -d 16 -r "$rpct" -t "$SECS" -n -q -s $FILE_SIZE /mnt/b/data > "$out" 2>&1
	local rc=$?
	umount /mnt/b
	[ $rc = 0 ] && [ "$(vio_field "$out" errors)" = 0 ] || { echo "PROF error=$name-io"; return 1; }
	echo "PROF run=$name ios=$(( $(vio_field "$out" reads) + $(vio_field "$out" writes) )) hz=$HZ secs=$(vio_field "$out" secs)"
	perf report -i "$data" --no-children --sort sym --stdio -q -n 2>/dev/null |
		awk -v n="$name" 'NF >= 4 && $2 ~ /^[0-9]+$/ { print "SYM", n, $2, $NF }'
	rm -f "$data"
}

# pairs [warm]: both comparisons over the three leg kinds.
pairs() {
	local sfx a b lin dev_m f
	for sfx in "" -mq -tcp; do
		f=
		case $sfx in
		"") a=/dev/ram2 b=/dev/ram3 leg=/dev/ram1 ;;
		-mq) a=/dev/nullb2 b=/dev/nullb3 leg=/dev/nullb1 ;;
		-tcp) a=${tcp[0]} b=${tcp[1]} leg=${tcp[1]} f=worker: ;;
		esac
		prof "raw-leg$sfx" "$leg" 0 "$1"
		lin=$(atomtool create p-linear 150M linear "$f$leg") || { echo "PROF error=create"; return 1; }
		prof "linear$sfx" "$lin" 0 "$1"
		atomtool remove p-linear
		mdadm --create /dev/md0 --run --quiet --level=1 --raid-devices=2 --assume-clean \
			--bitmap=none --metadata=1.2 "$a" "$b" || echo "PROF error=mdadm"
		prof "md-raid1-read$sfx" /dev/md0 100 "$1"
		mdadm --stop /dev/md0 --quiet
		mdadm --zero-superblock "$a" "$b"
		dev_m=$(atomtool create p-mirror 150M mirror "$f$a" "$f$b") || { echo "PROF error=create"; return 1; }
		prof "mirror-read$sfx" "$dev_m" 100 "$1"
		atomtool remove p-mirror
	done
}
tcp=($(kmod_nvme_tcp_legs)) && [ ${#tcp[@]} = 2 ] || { echo "PROF error=nvme-tcp-legs"; exit 1; }
pairs warm
pairs ""
rmmod atom_client && rmmod atom
