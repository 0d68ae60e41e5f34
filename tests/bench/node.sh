#!/bin/bash
# tests/bench/node.sh [SERIES]: the node agent benchmark (issue 4) in the node
# VM (default kernel 6.1), printed as a table. Not a test: it only fails when
# a run cannot complete. Guest side: tests/bench/node-guest.sh.
#   stage+publish of a new ext4 volume (median of BENCH_NEW, mkfs included);
#   NodeGetVolumeStats latency p50/p99 over BENCH_CALLS calls, each its own
#     atomctl process, next to GetPluginInfo (an empty call) the same way:
#     the difference is what the agent spends, the rest is process start;
#   agent RSS idle and with BENCH_VOLUMES staged+published volumes;
#   application-visible pause per agent-driven upgrade, p50/p99/max over
#     BENCH_ROLLOUTS rollouts A->B->A..., next to the atom's last_pause_us.
set -uo pipefail
{
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$top"
series=${1:-6.1}
logdir=${BUILD:-$top/build}/bench
mkdir -p "$logdir"
out=$logdir/node-$series.out

pct() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
	r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; print v[r] }'; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }
ms() { awk '{ printf "%.1f\n", $1 / 1000 }'; }

tests/vm/run --kernel "$series" --mem 2048 --timeout 1500 --no-klog --log "$logdir/node-$series.klog" \
	--add tests/bench/node-guest.sh -- BENCH_NEW="${BENCH_NEW:-7}" BENCH_CALLS="${BENCH_CALLS:-200}" \
	BENCH_VOLUMES="${BENCH_VOLUMES:-50}" BENCH_ROLLOUTS="${BENCH_ROLLOUTS:-20}" \
	bash /extra/node-guest.sh > "$out" 2>&1
rc=$?
status=0
if [ $rc != 0 ] || grep -q 'BENCH error=' "$out"; then
	echo "bench: node, kernel $series: run failed (exit $rc), see $out" >&2
	grep 'BENCH error=' "$out" >&2
	status=1
fi
sp=$(grep 'BENCH new_volume=' "$out" | field stage_publish_ms)
st=$(grep 'BENCH stats_us=' "$out" | field stats_us | ms)
pi=$(grep 'BENCH plugininfo_us=' "$out" | field plugininfo_us | ms)
app=$(grep 'BENCH rollout=' "$out" | field app_pause_ms)
atom=$(grep 'BENCH rollout=' "$out" | field atom_pause_us | ms)
win=$(grep 'BENCH rollout=' "$out" | field window_ms)
echo "node bench: kernel $series, QEMU/TCG, RAM (brd) legs; host load: $(cut -d' ' -f1-3 /proc/loadavg); log: $out"
printf '%-52s | %s\n' figure value
printf '%-52s | %s\n' "stage+publish new ext4 volume, ms median (min/max)" \
	"$(pct 50 <<< "$sp") ($(pct 0 <<< "$sp")/$(pct 100 <<< "$sp"), n=$(wc -w <<< "$sp"))"
printf '%-52s | %s\n' "NodeGetVolumeStats via atomctl, ms p50/p99" \
	"$(pct 50 <<< "$st")/$(pct 99 <<< "$st") (n=$(wc -w <<< "$st"))"
printf '%-52s | %s\n' "GetPluginInfo (empty call) via atomctl, ms p50/p99" \
	"$(pct 50 <<< "$pi")/$(pct 99 <<< "$pi") (n=$(wc -w <<< "$pi"))"
printf '%-52s | %s\n' "agent RSS idle, kB" "$(field rss_idle_kb < "$out")"
grep 'BENCH volumes=.* rss_kb=' "$out" | while read -r l; do
	printf '%-52s | %s\n' "agent RSS with $(field volumes <<< "$l") staged+published volumes, kB" \
		"$(field rss_kb <<< "$l") (staging+publishing them took $(field stage_publish_all_ms <<< "$l") ms)"
done
grep 'BENCH volumes=.* rss_after_stats_kb=' "$out" | while read -r l; do
	printf '%-52s | %s\n' "  ... after $((${BENCH_CALLS:-200})) more stats calls, kB" "$(field rss_after_stats_kb <<< "$l")"
done
printf '%-52s | %s\n' "upgrade: app-visible pause, ms p50/p99/max" \
	"$(pct 50 <<< "$app")/$(pct 99 <<< "$app")/$(pct 100 <<< "$app") (n=$(wc -w <<< "$app"))"
printf '%-52s | %s\n' "upgrade: atom last_pause_us, ms p50/p99/max" \
	"$(pct 50 <<< "$atom")/$(pct 99 <<< "$atom")/$(pct 100 <<< "$atom")"
printf '%-52s | %s\n' "upgrade: agent exit -> next agent ready, ms p50/max" \
	"$(pct 50 <<< "$win")/$(pct 100 <<< "$win")"
printf '%-52s | %s\n' "rollout writer" "$(grep 'BENCH rollout-writer' "$out" | sed 's/BENCH rollout-writer //')"
exit $status
}
