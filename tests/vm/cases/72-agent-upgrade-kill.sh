#!/bin/bash
# vm-timeout: 480
# kill -9 of the agent at each step of an upgrade: with the lock taken,
# after rmmod (no client: IO parked), after insmod (not yet verified nor
# recorded). The agent stops there through the test hook
# ATOMBLK_TEST_PAUSE_AT (it writes /run/atomblk/test-paused and sleeps).
# The next start finishes the swap; killed after rmmod with a new client
# that cannot adopt, it rolls back to the client recorded as pending.from.
# The writer sees no IO error, nothing is left pending, no disk leaks.
CASE=agent-upgrade-kill
. /tests/lib-agent.sh
need_modules /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko
ver_a=$(client_version_of a) ver_b=$(client_version_of b)

t_begin agent-upgrade-kill/setup
img_a=$(make_image a a) && img_b=$(make_image b b) || t_fail "images"
make_ram_legs 1 96 || t_fail "modprobe brd"
start_agent A "$img_a"
wait_agent_ready 60 || t_fail "agent A not ready"
dev=$(atomtool create vol-k 80M linear /dev/ram0) || t_fail "create volume"
disk=${dev#/dev/}
start_writer w "$dev" -d 4 -s 32M -p 50
wait_progress /tmp/w.prog 200 30 || t_fail "writer made no progress"
stop_agent || t_fail "agent A did not stop"
t_end
[ -n "$T_REASONS" ] && { show_agent_log; exit 1; }

# kill_at STEP IMAGE TARGET_VERSION EXPECT_VERSION [VAR=VALUE...]: start an
# agent shipping IMAGE, kill -9 it at STEP, then start it again normally;
# the client ends at EXPECT_VERSION.
kill_at() {
	local step=$1 image=$2 target=$3 expect=$4 before
	shift 4
	before=$(atom_attr client_version)
	rm -f "$RUN_DIR/test-paused"
	start_agent "$step" "$image" ATOMBLK_TEST_PAUSE_AT="$step" "$@"
	if ! wait_for 60 test -e "$RUN_DIR/test-paused"; then
		t_fail "agent did not reach $step"
		show_agent_log
	fi
	kill_agent
	echo "killed at $(cat "$RUN_DIR/test-paused" 2>/dev/null): client '$(atom_attr client_version)'," \
		"$disk $(disk_attr "$disk" state), held_requests=$(disk_attr "$disk" held_requests)"
	case $step in
	locked) [ "$(atom_attr client_version)" = "$before" ] || t_fail "client changed before the kill" ;;
	after-rmmod)
		is_loaded atom_client && t_fail "a client is loaded after rmmod"
		wait_for 10 disk_attr_is "$disk" state held || t_fail "disk not held after rmmod"
		atomctl status --json | grep -q '"pending"' || t_fail "no pending record after rmmod" ;;
	after-insmod) [ "$(atom_attr client_version)" = "$target" ] || t_fail "target not loaded" ;;
	esac
	[ -e "$ATOMBLK_READY_FILE" ] && t_fail "ready file exists while the upgrade was unfinished"
	start_agent "$step-restart" "$image" "$@"
	wait_agent_ready 60 || t_fail "agent not ready after the restart"
	[ "$(atom_attr client_version)" = "$expect" ] ||
		t_fail "client '$(atom_attr client_version)' after the restart, expected $expect"
	disk_attr_is "$disk" state attached || t_fail "disk '$(disk_attr "$disk" state)' after the restart"
	atomctl status --json | grep -q '"pending"' && t_fail "pending record left after the restart"
	writers_resume w
	show_agent_log
	stop_agent || t_fail "agent did not stop"
}

t_begin agent-upgrade-kill/locked
kill_at locked "$img_b" "$ver_b" "$ver_b"
t_end

t_begin agent-upgrade-kill/after-rmmod
kill_at after-rmmod "$img_a" "$ver_a" "$ver_a"
grep -q 'msg="client upgraded" from='"$ver_b"' to='"$ver_a"'.*resumed=true' /tmp/agent-after-rmmod-restart.log ||
	t_fail "the restart did not report the resumed upgrade"
t_end

t_begin agent-upgrade-kill/after-insmod
kill_at after-insmod "$img_b" "$ver_b" "$ver_b"
grep -q 'msg="client upgraded" from='"$ver_a"' to='"$ver_b"'.*resumed=true' /tmp/agent-after-insmod-restart.log ||
	t_fail "the restart did not record the finished upgrade"
t_end

t_begin agent-upgrade-kill/after-rmmod-bad-target
# b runs; an agent shipping a (fail_adopt) is killed after rmmod; its restart
# cannot adopt with a and goes back to pending.from = b.
kill_at after-rmmod "$img_a" "$ver_a" "$ver_b" ATOMBLK_TEST_CLIENT_PARAMS=fail_adopt=1
fail=$(status_section last_failure)
echo "$fail"
[ "$(json_field "$fail" outcome)" = rolled_back ] && [ "$(json_field "$fail" running)" = "$ver_b" ] ||
	t_fail "last_failure does not record the rollback to $ver_b"
t_end

t_begin agent-upgrade-kill/clean
stop_writer w 60; rc=$?
cat /tmp/w.out
[ $rc = 0 ] && writer_clean w || t_fail "writer: exit $rc, $(grep '^ios=' /tmp/w.out)"
[ "$(atom_attr ndisks)" = 1 ] || t_fail "ndisks '$(atom_attr ndisks)', expected 1 (a disk leaked)"
[ "$(atomtool list | wc -l)" = 1 ] || t_fail "atomtool list: $(atomtool list)"
atomctl status
t_check "remove" atomtool remove vol-k
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
