# Guest-side helpers for the VM test cases (bash, sourced from /tests/*.sh).
#
# A case is a series of subtests:
#   t_begin NAME          marks the start (also in the kernel log, so the
#                         host can blame kernel-log failures on the subtest)
#   t_fail REASON         records a failure; the subtest goes on or returns
#   t_end                 prints "RESULT PASS|FAIL NAME [REASONS]"
# Steps that may touch an atom disk with no client attached (sync, umount,
# IO) block by design: run them through `bounded SECS CMD...`, which never
# waits longer than SECS even for a process stuck in the kernel.

ATOM_SYS=/sys/kernel/atom
T_ANY_FAILED=0
# The case's exit status: 1 when any subtest failed.
trap 'exit $(( $? ? $? : T_ANY_FAILED ))' EXIT
CLIENT_PARAMS=/sys/module/atom_client/parameters

t_begin() {
	T_NAME=$1 T_REASONS= T_START=$(date +%s)
	echo "atomvm: begin $T_NAME" > /dev/kmsg
	echo "=== $T_NAME"
}

t_fail() {
	echo "    FAIL: $*"
	T_REASONS+="${T_REASONS:+; }$*"
}

t_end() {
	local verdict=PASS
	[ -n "$T_REASONS" ] && verdict=FAIL
	echo "atomvm: end $T_NAME" > /dev/kmsg
	[ $verdict = FAIL ] && T_ANY_FAILED=1
	echo "RESULT $verdict $T_NAME $(( $(date +%s) - T_START ))s${T_REASONS:+ $T_REASONS}"
}

# t_check DESCRIPTION CMD...: run CMD (bounded to 30 s); a failure is recorded.
t_check() {
	local what=$1; shift
	bounded 30 "$@" || t_fail "$what (rc=$?)"
}

# bounded SECS CMD...: CMD's status, or 124 after SECS (CMD left behind).
bounded() {
	local secs=$1 pid i; shift
	"$@" &
	pid=$!
	for ((i = 0; i < secs * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return
		fi
		sleep 0.1
	done
	echo "    bounded: '$*' still running after ${secs}s" >&2
	kill -KILL "$pid" 2>/dev/null
	return 124
}

# wait_for SECS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

atom_attr() { cat "$ATOM_SYS/$1" 2>/dev/null; }
disk_attr() { cat "/sys/block/$1/atom/$2" 2>/dev/null; }
disk_attr_is() { [ "$(disk_attr "$1" "$2")" = "$3" ]; }

# Module loading. Client variants: a, b (test builds), or prod.
client_ko() {
	case "$1" in
	prod) echo /atom/atom_client.ko ;;
	*)    echo "/atom/test/atom_client-$1.ko" ;;
	esac
}
client_version_of() { modinfo -F version "$(client_ko "$1")"; }
load_atom() { bounded 30 insmod /atom/atom.ko "$@"; }
load_client() { local v=$1; shift; bounded 30 insmod "$(client_ko "$v")" "$@"; }
unload_client() { bounded 30 rmmod atom_client; }
is_loaded() { grep -q "^$1 " /proc/modules; }

# Kernel modules of the project must exist, or the case cannot run.
need_modules() {
	local f
	for f in /atom/atom.ko "$@"; do
		if [ ! -e "$f" ]; then
			echo "RESULT FAIL ${CASE:-case}/setup $f missing (make kmod-all)"
			exit 1
		fi
	done
}

# RAM legs: /dev/ram0..N-1 of SIZE_MB each.
make_ram_legs() { modprobe brd rd_nr="$1" rd_size=$(($2 * 1024)); }

# nullb_leg NAME [-- ATTR=VALUE...]: /dev/NAME, a 64 MB memory-backed
# null_blk leg made through configfs (null_blk loaded); ATTR=VALUE sets its
# other configfs attributes (size in MB, irqmode, completion_nsec...).
nullb_leg() {
	local name=$1 d=/sys/kernel/config/nullb/$1 kv
	mkdir "$d" && echo 1 > "$d/memory_backed" && echo 64 > "$d/size" &&
		echo 4096 > "$d/blocksize" || return 1
	shift
	[ "${1:-}" = -- ] && shift
	for kv in "$@"; do echo "${kv#*=}" > "$d/${kv%%=*}" || return 1; done
	echo 1 > "$d/power" && wait_for 5 test -b "/dev/$name"
}

# Loop legs over tmpfs files: make_loop_leg NAME SIZE_MB -> prints /dev/loopN
make_loop_leg() {
	modprobe loop 2>/dev/null
	truncate -s "$2M" "/tmp/$1.img" && losetup -f --show "/tmp/$1.img"
}

# Field of a verifyio summary (or progress) line: vio_field FILE KEY
vio_field() { grep -o "\b$2=[0-9.]*" "$1" 2>/dev/null | tail -n1 | cut -d= -f2; }

# Live predicates for wait_for (their arguments are re-read at every poll).
vio_above() { local v; v=$(vio_field "$1" "$2"); [ -n "$v" ] && [ "$v" -gt "$3" ]; }
disk_attr_above() { local v; v=$(disk_attr "$1" "$2"); [ -n "$v" ] && [ "$v" -gt "$3" ]; }

# Milliseconds since the epoch (busybox date has no %N).
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# wait_progress FILE MIN_IOS SECS: the writer's ios reached MIN_IOS.
ios_at_least() { local n; n=$(vio_field "$1" ios); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
wait_progress() { wait_for "$3" ios_at_least "$1" "$2"; }

# start_writer NAME PATH [verifyio options...]: background verifyio, with
# /tmp/NAME.out (result), /tmp/NAME.prog (progress), /tmp/NAME.stop.
start_writer() {
	local name=$1 path=$2; shift 2
	rm -f "/tmp/$name".{out,prog,stop}
	verifyio -P "/tmp/$name.prog" -S "/tmp/$name.stop" "$@" "$path" \
		> "/tmp/$name.out" 2>&1 &
	eval "WRITER_PID_$name=$!"
}

# stop_writer NAME SECS: stop it and wait (bounded); its exit status, 124 on hang.
stop_writer() {
	local name=$1 secs=$2 pid i
	pid=$(eval echo "\$WRITER_PID_$name")
	touch "/tmp/$name.stop"
	for ((i = 0; i < secs * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return
		fi
		sleep 0.1
	done
	return 124
}

# writer_clean NAME: the writer reported zero errors and zero verify failures.
writer_clean() {
	local out=/tmp/$1.out
	grep -q '^ios=' "$out" && [ "$(vio_field "$out" errors)" = 0 ] &&
		[ "$(vio_field "$out" verify_failures)" = 0 ]
}
