# Guest-side helpers for the agent-driven upgrade cases (7x-*.sh), on top of
# lib.sh. The agent runs as the chart's node DaemonSet runs it: the
# arguments and environment come from /atomvm/daemonset.env, which
# tests/vm/run renders with tests/helm/daemonset-args; its init containers'
# commands run first. What differs between two agent "images" is only the
# modules they ship: each image is a directory holding atom.ko and
# atom_client.ko, handed to the agent as ATOMBLK_MODULES_DIR (the image's
# default /usr/lib/atomblk/modules/<version>/<kernel release>).
. /tests/lib.sh

if [ ! -s /atomvm/daemonset.env ]; then
	echo "RESULT FAIL ${CASE:-agent}/setup /atomvm/daemonset.env missing (tests/helm/daemonset-args failed on the host)"
	exit 1
fi
. /atomvm/daemonset.env

STATE_DIR=/var/lib/atomblk
RUN_DIR=/run/atomblk

# The host paths the DaemonSet mounts: the plugin directory appears as /csi.
mkdir -p /var/lib/kubelet/plugins/csi.atomblk.io "$STATE_DIR" "$RUN_DIR"
[ -e /csi ] || ln -s /var/lib/kubelet/plugins/csi.atomblk.io /csi

# make_image NAME VARIANT: an image's modules directory shipping client VARIANT.
make_image() {
	local dir=/opt/atomblk-$1
	mkdir -p "$dir"
	cp /atom/atom.ko "$dir/atom.ko" && cp "$(client_ko "$2")" "$dir/atom_client.ko" &&
		echo "$dir"
}

# start_agent NAME IMAGE [VAR=VALUE...]: the init containers, then the agent
# with the chart's arguments (log /tmp/agent-NAME.log, pid in AGENT_PID).
start_agent() {
	local name=$1 image=$2 c
	shift 2
	for c in "${ATOMBLK_INIT_COMMANDS[@]}"; do
		eval "$c" || t_fail "init container '$c' failed"
	done
	env ATOMBLK_MODULES_DIR="$image" "$@" atomblk-agent "${ATOMBLK_AGENT_ARGS[@]}" \
		> "/tmp/agent-$name.log" 2>&1 &
	AGENT_PID=$!
	AGENT_NAME=$name
}

# The ready file names the running agent's pid.
agent_ready() { [ "$(cat "$ATOMBLK_READY_FILE" 2>/dev/null)" = "$AGENT_PID" ]; }

# wait_agent_ready SECS: the ready file appeared and Probe says ready
# (wall-clock bounded: under TCG with writers running, polls are slow).
wait_agent_ready() {
	local end=$((SECONDS + $1)) probe
	until agent_ready; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$AGENT_PID" 2>/dev/null; then
			echo "    agent $AGENT_NAME: no ready file"
			return 1
		fi
		sleep 0.2
	done
	probe=$(atomctl -t 20 csi Probe 2>&1)
	printf '%s\n' "$probe" | grep -q '"ready": true' && return 0
	echo "    agent $AGENT_NAME: Probe answered: $probe"
	return 1
}

# stop_agent: SIGTERM, as the kubelet does, then wait up to the grace period.
stop_agent() {
	local i
	kill -TERM "$AGENT_PID" 2>/dev/null
	for ((i = 0; i < ATOMBLK_GRACE_SECONDS * 10; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || { wait "$AGENT_PID"; return; }
		sleep 0.1
	done
	kill -KILL "$AGENT_PID"
	return 124
}

# kill_agent: SIGKILL (a crash, an OOM kill, a node-level kill -9).
kill_agent() {
	kill -KILL "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	return 0
}

# status_section KEY: the lines of `atomctl status --json` inside "KEY": {...}
status_section() {
	atomctl status --json | sed -n "/^    \"$1\": {/,/^    }/p"
}

# json_field TEXT KEY: the first "KEY": value in TEXT (quotes stripped).
json_field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n1
}

# writers_resume NAME... : each writer makes 50 more IOs within 20 s.
writers_resume() {
	local n w
	for w in "$@"; do
		n=$(vio_field "/tmp/$w.prog" ios)
		wait_progress "/tmp/$w.prog" $((n + 50)) 20 || t_fail "writer $w: IO did not resume"
	done
}

# disks_attached DISK...: every disk is attached.
disks_attached() {
	local d
	for d in "$@"; do
		disk_attr_is "$d" state attached || return 1
	done
}

# show_agent_log: the current agent's log, indented, for the case's output.
show_agent_log() { sed 's/^/    agent| /' "/tmp/agent-$AGENT_NAME.log"; }

# rollout FROM_AGENT TO_AGENT TO_IMAGE FROM_VERSION TO_VERSION: the kubelet's
# rolling update of the node DaemonSet, replayed: SIGTERM to the running
# agent (the client stays, IO goes on with no agent), the next one started;
# it must swap the client, then become ready. DISKS and WRITERS (globals)
# name the atom disks and the verifying writers that must keep going.
rollout() {
	local from=$1 to=$2 image=$3 v_from=$4 v_to=$5 gen0 rc t0 last
	gen0=$(atom_attr generation)
	stop_agent; rc=$?
	[ $rc = 0 ] || t_fail "agent $from exited $rc on SIGTERM"
	[ -e "$ATOMBLK_READY_FILE" ] && t_fail "ready file left behind by agent $from"
	is_loaded atom_client && [ "$(atom_attr client_version)" = "$v_from" ] ||
		t_fail "the client did not stay loaded after agent $from stopped"
	writers_resume "${WRITERS[@]}" # IO goes on with no agent running
	t0=$(now_ms)
	start_agent "$to" "$image"
	wait_agent_ready 60 || t_fail "agent $to not ready within 60 s"
	echo "agent $to ready after $(( $(now_ms) - t0 )) ms"
	[ "$(atom_attr client_version)" = "$v_to" ] ||
		t_fail "client '$(atom_attr client_version)', expected $v_to"
	[ "$(atom_attr generation)" = $((gen0 + 1)) ] ||
		t_fail "generation $gen0 -> $(atom_attr generation), expected +1"
	disks_attached "${DISKS[@]}" || t_fail "a disk is not attached"
	last=$(status_section last_upgrade)
	echo "$last"
	[ "$(json_field "$last" outcome)" = upgraded ] && [ "$(json_field "$last" from)" = "$v_from" ] &&
		[ "$(json_field "$last" to)" = "$v_to" ] || t_fail "status does not record $v_from -> $v_to"
	grep -q "msg=\"client upgraded\" from=$v_from to=$v_to" "/tmp/agent-$to.log" ||
		t_fail "agent $to did not log the upgrade"
	for d in "${DISKS[@]}"; do
		echo "$d: last_pause_us=$(disk_attr "$d" last_pause_us)"
	done
	writers_resume "${WRITERS[@]}"
	show_agent_log
}
