#!/bin/bash
# tests/bench/nvme.sh [SERIES]: the NVMe-oF benchmark (issue 5) in the node VM
# (default kernel 6.12), printed as a table. Not a test: it only fails when a
# run cannot complete. Guest side: tests/bench/nvme-guest.sh.
#   4 KiB random write and read IOPS and mean latency at QD16 of a 2-replica
#   volume over nvme-tcp (staged as raw block through the controller and the
#   node agent) against the raw NVMe-oF namespace of one replica, alternating
#   rounds in the same run, and their ratio;
#   CreateVolume latency through the controller (replicas=2), median of
#   BENCH_CREATES, next to an empty call (GetPluginInfo) made the same way.
set -uo pipefail
{
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$top"
series=${1:-6.12}
logdir=${BUILD:-$top/build}/bench
mkdir -p "$logdir"
out=$logdir/nvme-$series.out

pct() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
	r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; print v[r] }'; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }
avg() { awk '{ t += $1 } END { if (NR) printf "%.0f", t / NR; else print "-" }'; }
avg2() { awk '{ t += $1 } END { if (NR) printf "%.2f", t / NR; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 && b + 0) printf "%.2f", a / b; else print "-" }'; }

tests/vm/run --kernel "$series" --mem 2048 --timeout 900 --no-klog --log "$logdir/nvme-$series.klog" \
	--add tests/bench/nvme-guest.sh -- BENCH_SECS="${BENCH_SECS:-5}" BENCH_ROUNDS="${BENCH_ROUNDS:-2}" \
	BENCH_CREATES="${BENCH_CREATES:-9}" bash /extra/nvme-guest.sh > "$out" 2>&1
rc=$?
status=0
if [ $rc != 0 ] || grep -q 'BENCH error=' "$out"; then
	echo "bench: nvme, kernel $series: run failed (exit $rc), see $out" >&2
	grep 'BENCH error=' "$out" >&2
	status=1
fi
echo "nvme bench: kernel $series, QEMU/TCG, nvme-tcp on loopback addresses, XFS pools on loop devices; host load: $(cut -d' ' -f1-3 /proc/loadavg); log: $out"
printf '%-8s | %-22s | %-22s | %-8s | %s\n' "4K QD16" "2-replica volume" "raw replica namespace" "ratio" "errors"
for op in write read; do
	m=$(grep "BENCH io=mirror-$op " "$out" | field iops | avg)
	r=$(grep "BENCH io=raw-$op " "$out" | field iops | avg)
	ml=$(grep "BENCH io=mirror-$op " "$out" | field lat_ms | avg2)
	rl=$(grep "BENCH io=raw-$op " "$out" | field lat_ms | avg2)
	e=$(grep "BENCH io=[a-z]*-$op " "$out" | field errors | awk '{ t += $1 } END { print t + 0 }')
	printf '%-8s | %-22s | %-22s | %-8s | %s\n' "$op" "$m IOPS, $ml ms" "$r IOPS, $rl ms" "$(ratio "$m" "$r")" "$e"
done
cr=$(grep 'BENCH create=' "$out" | field create_ms)
pi=$(grep 'BENCH create=' "$out" | field plugininfo_ms)
printf '%-40s | %s\n' "CreateVolume replicas=2 via atomctl, ms" \
	"median $(pct 50 <<< "$cr") (min $(pct 0 <<< "$cr"), max $(pct 100 <<< "$cr"), n=$(wc -w <<< "$cr"))"
printf '%-40s | %s\n' "GetPluginInfo (empty call) via atomctl, ms" "median $(pct 50 <<< "$pi")"
exit $status
}
