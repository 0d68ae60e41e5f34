#!/bin/bash
# vm-timeout: 480
# kill -9 of the agent in the middle of a NodeStageVolume, then the kubelet's
# retry of the same call against the next agent. Kill points: right after
# the disk is assembled and journalled (ATOMBLK_TEST_STAGE_PAUSE_AT=
# assembled), mid-mkfs (a real mkfs.ext4 killed with the agent, as a
# container's death kills its children: whatever mkfs had written stays),
# right after mkfs (ATOMBLK_TEST_STAGE_PAUSE_AT=formatted). The retry must
# converge: staged, a valid ext4, one disk for the volume, no other mount,
# journal record staged; Unstage then leaves no disk, mount or record.
# Last, a kubelet that gives up instead (Unstage right after the kill)
# cleans up a half-staged volume too.
CASE=node-kill
. /tests/lib-agent.sh
need_modules /atom/test/atom_client-a.ko
K=/var/lib/kubelet
PLUG=$K/plugins/kubernetes.io/csi/csi.atomblk.io
PAUSED=$STATE_DIR/test-stage-paused
CAP='{"mount":{"fsType":"ext4"},"accessMode":{"mode":"SINGLE_NODE_WRITER"}}'

# csi WANT_RC METHOD JSON: a call to the running agent; atomctl exits 0 on
# OK, 10 + the gRPC code otherwise.
csi() {
	local out rc
	out=$(atomctl --timeout 120 csi "$2" "$3" 2>&1); rc=$?
	[ "$rc" = "$1" ] || t_fail "$2: exit $rc, expected $1: $(tr '\n' ' ' <<< "$out" | cut -c1-300)"
}
stage_req() { echo "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\",\"volumeCapability\":$CAP,\"volumeContext\":{\"atomblk.io/legs\":\"$3\"}}"; }
unstage_req() { echo "{\"volumeId\":\"$1\",\"stagingTargetPath\":\"$2\"}"; }
disks_of() { atomtool list | awk -v id="$1" '$1 == id { sub("^/dev/", "", $2); print $2 }'; }
record_of() { tr -d ' \n' < "$STATE_DIR/node.json" 2>/dev/null | grep -o "\"$1\":{[^}]*}"; }
mounts_under_k() { grep -c " $K" /proc/self/mountinfo; }

# A mkfs.ext4 first in the agent's PATH: runs the real one and freezes it
# (SIGSTOP) 50 ms in — or finds it already done — then never returns, so
# the agent is killed while it waits for mkfs either way.
REAL_MKFS=$(command -v mkfs.ext4)
mkdir -p /tmp/slowbin
cat > /tmp/slowbin/mkfs.ext4 << EOF
#!/bin/bash
"$REAL_MKFS" "\$@" &
pid=\$!
sleep 0.05
if kill -STOP \$pid 2> /dev/null; then echo stopped; else echo finished; fi > /tmp/mkfs.state
echo \$pid > /tmp/mkfs.pid
exec sleep 3600
EOF
chmod +x /tmp/slowbin/mkfs.ext4

t_begin node-kill/setup
img_a=$(make_image a a) || t_fail "image"
make_ram_legs 4 48 || t_fail "modprobe brd"
start_agent A0 "$img_a"
wait_agent_ready 60 || t_fail "agent not ready (first install)"
t_end
[ -n "$T_REASONS" ] && { show_agent_log; exit 1; }

# kill_mid_stage POINT ID LEG: start an agent that stops at POINT, send the
# Stage, kill -9 the agent (and mkfs) there.
kill_mid_stage() {
	local point=$1 id=$2 leg=$3 stg=$PLUG/$2/globalmount call_pid content
	mkdir -p "$stg"
	rm -f "$PAUSED" /tmp/mkfs.pid /tmp/mkfs.state
	stop_agent
	if [ "$point" = mid-mkfs ]; then
		start_agent "$id-1" "$img_a" PATH="/tmp/slowbin:$PATH"
	else
		start_agent "$id-1" "$img_a" ATOMBLK_TEST_STAGE_PAUSE_AT="$point"
	fi
	wait_agent_ready 60 || t_fail "agent not ready"
	atomctl --timeout 120 csi NodeStageVolume "$(stage_req "$id" "$stg" "$leg")" > /tmp/call.out 2>&1 &
	call_pid=$!
	if [ "$point" = mid-mkfs ]; then
		wait_for 60 test -s /tmp/mkfs.pid || t_fail "mkfs did not start"
		echo "mkfs $(cat /tmp/mkfs.state) when the agent was killed"
		kill -KILL "$(cat /tmp/mkfs.pid)" 2>/dev/null
		pkill -KILL -P "$AGENT_PID" 2>/dev/null # the wrapper
	else
		wait_for 60 test -e "$PAUSED" || t_fail "agent did not pause at $point"
	fi
	kill_agent
	wait "$call_pid"
	echo "$id: killed at $point; the kubelet's call got: $(head -c 200 /tmp/call.out)"
	content=$(dumpe2fs -h "/dev/$(disks_of "$id")" 2>/dev/null | grep -q '^Filesystem magic number' && echo ext4 || echo none)
	echo "  after the kill: disk=$(disks_of "$id") filesystem=$content journal=$(record_of "$id")"
	case $point in
	assembled) [ "$content" = none ] || t_fail "a filesystem before mkfs" ;;
	formatted) [ "$content" = ext4 ] || t_fail "no filesystem after mkfs" ;;
	esac
	[ "$(disks_of "$id" | wc -l)" = 1 ] || t_fail "no disk assembled before the kill"
	record_of "$id" | grep -q '"staged":false' || t_fail "journal record after the kill: '$(record_of "$id")'"
	start_agent "$id-2" "$img_a"
	wait_agent_ready 60 || t_fail "agent not ready after the kill"
}

# converge ID LEG: the kubelet's retry, then Unstage; everything checked.
converge() {
	local id=$1 leg=$2 stg=$PLUG/$1/globalmount disk
	csi 0 NodeStageVolume "$(stage_req "$id" "$stg" "$leg")"
	csi 0 NodeStageVolume "$(stage_req "$id" "$stg" "$leg")"
	[ "$(disks_of "$id" | wc -l)" = 1 ] || t_fail "disks for $id: $(disks_of "$id" | tr '\n' ' ')"
	disk=$(disks_of "$id")
	[ "$(atomtool list | wc -l)" = 1 ] || t_fail "other disks assembled: $(atomtool list)"
	[ "$(mounts_under_k)" = 1 ] || t_fail "mounts under $K: $(grep " $K" /proc/self/mountinfo)"
	grep " $stg " /proc/self/mountinfo | grep -q " /dev/$disk " ||
		t_fail "staging path not mounted from /dev/$disk: $(grep " $stg " /proc/self/mountinfo)"
	record_of "$id" | grep -q '"staged":true' || t_fail "journal record: '$(record_of "$id")'"
	echo "data of $id" > "$stg/data" && sync || t_fail "write to the staged filesystem"
	[ "$(cat "$stg/data")" = "data of $id" ] || t_fail "read back"
	csi 0 NodeUnstageVolume "$(unstage_req "$id" "$stg")"
	csi 0 NodeUnstageVolume "$(unstage_req "$id" "$stg")"
	[ -z "$(atomtool list)" ] || t_fail "disks left: $(atomtool list)"
	[ "$(mounts_under_k)" = 0 ] || t_fail "mounts left: $(grep " $K" /proc/self/mountinfo)"
	[ -z "$(record_of "$id")" ] || t_fail "journal record left: $(record_of "$id")"
	# Linear over one leg: the leg holds the filesystem as it is.
	t_check "e2fsck -fn $leg" e2fsck -fn "$leg"
	[ -n "$T_REASONS" ] && show_agent_log
}

n=0
for point in assembled mid-mkfs formatted; do
	t_begin "node-kill/$point"
	kill_mid_stage "$point" "v-$point" "/dev/ram$n"
	converge "v-$point" "/dev/ram$n"
	t_end
	n=$((n + 1))
done

t_begin node-kill/assembled-then-unstage
id=v-giveup stg=$PLUG/v-giveup/globalmount
kill_mid_stage assembled "$id" /dev/ram3
csi 0 NodeUnstageVolume "$(unstage_req "$id" "$stg")"
[ -z "$(atomtool list)" ] || t_fail "disks left: $(atomtool list)"
[ "$(mounts_under_k)" = 0 ] || t_fail "mounts left: $(grep " $K" /proc/self/mountinfo)"
[ -z "$(record_of "$id")" ] || t_fail "journal record left: $(record_of "$id")"
t_end

t_begin node-kill/teardown
stop_agent || t_fail "agent did not stop on SIGTERM"
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
