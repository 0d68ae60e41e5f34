#!/bin/bash
# Runs inside the node VM (tests/bench/node.sh adds it as /extra/node-guest.sh).
# The node agent as the chart runs it (tests/vm/cases/lib-agent.sh), over
# RAM (brd) legs. Prints "BENCH key=value ..." lines for the host:
#   stage+publish of a new ext4 volume (mkfs included), BENCH_NEW times;
#   NodeGetVolumeStats and, for scale, GetPluginInfo (no work at all) through
#     one atomctl process per call, BENCH_CALLS times each;
#   agent RSS idle and with BENCH_VOLUMES raw block volumes staged+published;
#   per agent-driven upgrade (SIGTERM to the agent, next agent shipping the
#     other client, ready), BENCH_ROLLOUTS times A->B->A...: the longest IO
#     of the verifying writer overlapping it and the atom's last_pause_us.
CASE=bench-node
. /tests/lib-agent.sh
NEW=${BENCH_NEW:-7}
CALLS=${BENCH_CALLS:-200}
VOLS=${BENCH_VOLUMES:-50}
ROLLOUTS=${BENCH_ROLLOUTS:-20}
K=/var/lib/kubelet
PLUG=$K/plugins/kubernetes.io/csi/csi.atomblk.io
PODS=$K/pods
DEVS=$K/plugins/kubernetes.io/csi/volumeDevices
CAP_E='{"mount":{"fsType":"ext4"},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}'
CAP_B='{"block":{},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}'

csi() { atomctl --timeout 120 csi "$1" "$2" > /tmp/csi.out 2>&1 || { echo "BENCH error=$1 $(head -c 200 /tmp/csi.out)"; return 1; }; }
stage() { csi NodeStageVolume "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\",\"volumeCapability\":$3,\"volumeContext\":{\"atomblk.io/legs\":\"$4\"}}"; }
publish() { csi NodePublishVolume "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\",\"targetPath\":\"$3\",\"volumeCapability\":$4,\"readonly\":false}"; }
unpublish() { csi NodeUnpublishVolume "{\"volumeId\":\"$1\",\"targetPath\":\"$2\"}"; }
unstage() { csi NodeUnstageVolume "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\"}"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status"; }

# RAM legs: 0..NEW-1 for the new volumes, then VOLS small ones, one for the writer.
modprobe brd rd_nr=$((NEW + VOLS + 1)) rd_size=$((32 * 1024)) || { echo "BENCH error=brd"; exit 1; }
img_a=$(make_image a a) && img_b=$(make_image b b) || { echo "BENCH error=images"; exit 1; }
ver_a=$(client_version_of a) ver_b=$(client_version_of b)
start_agent A0 "$img_a"
wait_agent_ready 120 || { echo "BENCH error=agent-not-ready"; show_agent_log; exit 1; }
echo "BENCH rss_idle_kb=$(rss_kb)"

# ---- stage+publish of a new ext4 volume -------------------------------------------
for ((i = 0; i < NEW; i++)); do
	id=new-$i stg=$PLUG/new-$i/globalmount tgt=$PODS/p/volumes/new-$i/mount
	mkdir -p "$stg" "$(dirname "$tgt")"
	t0=$(now_ms)
	stage "$id" "$stg" "$CAP_E" /dev/ram$i && publish "$id" "$stg" "$tgt" "$CAP_E" || break
	t1=$(now_ms)
	echo "BENCH new_volume=$i stage_publish_ms=$((t1 - t0))"
done

# ---- NodeGetVolumeStats --------------------------------------------------------------
req="{\"volumeId\":\"new-0\",\"volumePath\":\"$PODS/p/volumes/new-0/mount\"}"
for ((i = 0; i < CALLS; i++)); do
	t0=${EPOCHREALTIME/./}
	atomctl csi NodeGetVolumeStats "$req" > /dev/null 2>&1 || { echo "BENCH error=stats"; break; }
	t1=${EPOCHREALTIME/./}
	echo "BENCH stats_us=$((t1 - t0))"
done
for ((i = 0; i < CALLS; i++)); do
	t0=${EPOCHREALTIME/./}
	atomctl csi GetPluginInfo '{}' > /dev/null 2>&1 || { echo "BENCH error=info"; break; }
	t1=${EPOCHREALTIME/./}
	echo "BENCH plugininfo_us=$((t1 - t0))"
done
for ((i = 0; i < NEW; i++)); do
	unpublish new-$i "$PODS/p/volumes/new-$i/mount" && unstage new-$i "$PLUG/new-$i/globalmount"
done

# ---- RSS with VOLS volumes -------------------------------------------------------------
t0=$(now_ms)
for ((i = 0; i < VOLS; i++)); do
	id=blk-$i stg=$DEVS/staging/blk-$i tgt=$DEVS/publish/blk-$i/p
	mkdir -p "$stg" "$(dirname "$tgt")"
	stage "$id" "$stg" "$CAP_B" /dev/ram$((NEW + i)) && publish "$id" "$stg" "$tgt" "$CAP_B" || break
done
echo "BENCH volumes=$(atomtool list | wc -l) rss_kb=$(rss_kb) stage_publish_all_ms=$(($(now_ms) - t0))"
for ((i = 0; i < CALLS; i++)); do
	atomctl csi NodeGetVolumeStats "{\"volumeId\":\"blk-$((i % VOLS))\",\"volumePath\":\"$DEVS/publish/blk-$((i % VOLS))/p\"}" > /dev/null 2>&1
done
echo "BENCH volumes=$(atomtool list | wc -l) rss_after_stats_kb=$(rss_kb)"
for ((i = 0; i < VOLS; i++)); do
	unpublish blk-$i "$DEVS/publish/blk-$i/p" && unstage blk-$i "$DEVS/staging/blk-$i"
done

# ---- pause per agent-driven upgrade ---------------------------------------------------------
id=w stg=$PLUG/w/globalmount tgt=$PODS/p/volumes/w/mount
mkdir -p "$stg" "$(dirname "$tgt")"
stage w "$stg" "$CAP_E" /dev/ram$((NEW + VOLS)) && publish w "$stg" "$tgt" "$CAP_E" || exit 1
disk=$(atomtool list | awk '$1 == "w" { sub("^/dev/", "", $2); print $2 }')
t_start=$(now_ms)
verifyio -d 16 -r 0 -p 50 -l -q -s 24M -S /tmp/w.stop -P /tmp/w.prog "$tgt/data" > /tmp/w.out 2>&1 &
wpid=$!
wait_progress /tmp/w.prog 300 60
: > /tmp/windows
name=A0 image=$img_b want=$ver_b
for ((i = 1; i <= ROLLOUTS; i++)); do
	gen0=$(atom_attr generation)
	stop_agent || echo "BENCH error=agent-stop-$i"
	w0=$(now_ms)
	start_agent "R$i" "$image"
	wait_agent_ready 120 || { echo "BENCH error=not-ready-$i"; show_agent_log; break; }
	w1=$(now_ms)
	[ "$(atom_attr client_version)" = "$want" ] && [ "$(atom_attr generation)" = $((gen0 + 1)) ] ||
		echo "BENCH error=no-swap-$i client=$(atom_attr client_version) generation=$(atom_attr generation)"
	echo "$((w0 - t_start)) $((w1 - t_start)) $(disk_attr "$disk" last_pause_us)" >> /tmp/windows
	if [ "$image" = "$img_b" ]; then image=$img_a want=$ver_a; else image=$img_b want=$ver_b; fi
	n=$(vio_field /tmp/w.prog ios)
	wait_progress /tmp/w.prog $((n + 200)) 30
done
touch /tmp/w.stop
wait $wpid
echo "BENCH rollout-writer $(grep '^ios=' /tmp/w.out)"
# Per rollout: the longest single IO (of those over 50 ms) overlapping the
# window from the old agent's exit to the new one's readiness (200 ms of
# slack: the writer's clock starts a few ms after t_start).
awk 'FNR == NR { if ($1 == "io_stall") { split($2, a, "="); split($3, b, "=");
		s[++ns] = a[2]; d[ns] = b[2] } next }
	{ best = 0
	  for (k = 1; k <= ns; k++)
		if (s[k] <= $2 + 200 && s[k] + d[k] >= $1 - 200 && d[k] > best) best = d[k]
	  printf "BENCH rollout=%d app_pause_ms=%.1f atom_pause_us=%s window_ms=%d\n", FNR, best, $3, $2 - $1 }' \
	/tmp/w.out /tmp/windows
unpublish w "$tgt" && unstage w "$stg"
stop_agent
