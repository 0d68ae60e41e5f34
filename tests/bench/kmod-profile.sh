#!/bin/bash
# tests/bench/kmod-profile.sh [SERIES...]: where the CPU goes per IO in the
# kernel-module benchmark's comparisons (default kernels: 6.1 6.12). Not a
# test, and not part of `make bench`: a diagnostic for the ratios that
# tests/bench/kmod.sh prints.
#
# The host's perf (Debian's linux-perf; `make deps` installs it) runs in the
# node VM and samples every CPU (cpu-clock, PROF_HZ=1000) during the same IO
# as kmod.sh: a leg used raw vs a linear volume over it (writes) and md
# RAID-1 vs 2-way mirror (reads), over brd, memory-backed null_blk and
# nvme-tcp legs, after one unsampled warm-up pass. Guest side:
# tests/bench/kmod-profile-guest.sh.
#
# Per run it prints guest CPU microseconds per IO (samples x 1e6 / hz / IOs,
# idle excluded) split by layer, then the symbols whose cost differs most
# between the two sides of a comparison. CPU per IO is what sets IOPS here
# (the guest's CPUs are busy), and it is much steadier from run to run than
# IOPS, which makes small differences visible.
set -uo pipefail
{
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$top"
series_list=("$@")
[ ${#series_list[@]} -gt 0 ] || series_list=(6.1 6.12)
logdir=${BUILD:-$top/build}/bench
mkdir -p "$logdir"

perf_bin=$(command -v perf) || { echo "kmod-profile: perf not found (apt-get install linux-perf)" >&2; exit 2; }
# perf and the shared libraries it links, at their host paths, for /extra.
tarball=$logdir/perf.tgz
# shellcheck disable=SC2046
tar -chzf "$tarball" -C / "${perf_bin#/}" \
	$(ldd "$perf_bin" | grep -o '/[^ ]*' | sed 's,^/,,' | sort -u) 2>/dev/null ||
	{ echo "kmod-profile: cannot pack perf" >&2; exit 2; }

status=0
for s in "${series_list[@]}"; do
	out=$logdir/kmod-profile-$s.out
	kargs=()
	for a in ${BENCH_KERNEL_ARGS-tsc=reliable}; do kargs+=(--kernel-arg "$a"); done
	tests/vm/run --kernel "$s" --mem 2048 --timeout 1500 --no-klog \
		--log "$logdir/kmod-profile-$s.klog" "${kargs[@]}" --add "$tarball" \
		--add tests/bench/kmod-lib.sh --add tests/bench/kmod-profile-guest.sh -- \
		PROF_SECS="${PROF_SECS:-6}" PROF_HZ="${PROF_HZ:-1000}" \
		bash /extra/kmod-profile-guest.sh > "$out" 2>&1
	rc=$?
	if [ $rc != 0 ] || grep -q '^PROF error=' "$out"; then
		echo "kmod-profile: kernel $s: run failed (exit $rc), see $out" >&2
		grep '^PROF error=' "$out" >&2
		status=1
		continue
	fi
	echo "== $s ($(grep -o 'clocksource=[^ ]*' "$out"), $(grep -o 'client=[^ ]*' "$out" | head -n1)): guest CPU us per IO"
	awk -v top="${PROF_TOP:-8}" '
	function layer(sym) {
		if (sym ~ /^(native_safe_halt|default_idle|acpi_safe_halt|pv_native_safe_halt|cpuidle|mwait_idle|poll_idle)/) return "idle"
		if (sym ~ /^(atom_|client_)/) return "atom+client"
		if (sym ~ /^(md_|raid1|raid_end_bio_io|call_bio_endio|read_balance|choose_|free_r1bio|alloc_r1bio|allow_barrier|_?wait_barrier|wait_read_barrier|r1buf|r1bio)/) return "md"
		if (sym ~ /^_*(blk_|sbitmap|rq_qos|wbt_|update_io_ticks|bio_attempt|bdev_(start|end)_io_acct)/) return "block"
		return "other"
	}
	$1 == "PROF" && $2 ~ /^run=/ {
		split($2, a, "="); split($3, b, "="); split($4, c, "="); split($5, d, "=")
		ios[a[2]] = b[2]; hz[a[2]] = c[2]; secs[a[2]] = d[2]; next
	}
	$1 == "SYM" { n[$2, $4] += $3; syms[$4] = 1; tot[$2, layer($4)] += $3 }
	function us(run, samples) { return samples * 1e6 / hz[run] / ios[run] }
	function row(run,   l, busy) {
		busy = 0
		for (l in L) busy += tot[run, L[l]]
		printf "  %-20s %6.2f  (", run, us(run, busy)
		for (l = 1; l <= 4; l++) printf "%s%s %.2f", (l > 1 ? ", " : ""), L[l], us(run, tot[run, L[l]])
		printf ")  %.0f IOPS\n", ios[run] / secs[run]
	}
	function pair(x, y,   s, d, i, j, k, cnt, key, val, tmp) {
		if (!(x in ios) || !(y in ios)) return
		row(x); row(y)
		cnt = 0
		for (s in syms) {
			if (layer(s) == "idle") continue
			d = us(y, n[y, s]) - us(x, n[x, s])
			if (d > 0.02 || d < -0.02) { key[++cnt] = s; val[cnt] = d }
		}
		# insertion sort by difference, largest first
		for (i = 2; i <= cnt; i++)
			for (j = i; j > 1 && val[j] > val[j - 1]; j--) {
				tmp = val[j]; val[j] = val[j - 1]; val[j - 1] = tmp
				tmp = key[j]; key[j] = key[j - 1]; key[j - 1] = tmp
			}
		printf "    %s minus %s, largest differences:", y, x
		for (k = 1; k <= cnt && k <= top; k++) printf " %s %+.2f;", key[k], val[k]
		for (k = cnt; k > cnt - top && k > top; k--) printf " %s %+.2f;", key[k], val[k]
		printf "\n"
	}
	END {
		L[1] = "atom+client"; L[2] = "block"; L[3] = "md"; L[4] = "other"
		pair("raw-leg", "linear"); pair("md-raid1-read", "mirror-read")
		pair("raw-leg-mq", "linear-mq"); pair("md-raid1-read-mq", "mirror-read-mq")
		pair("raw-leg-tcp", "linear-tcp"); pair("md-raid1-read-tcp", "mirror-read-tcp")
	}' "$out"
done
exit $status
}
