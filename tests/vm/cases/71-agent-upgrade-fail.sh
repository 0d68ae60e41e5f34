#!/bin/bash
# vm-timeout: 360
# A failed upgrade: the new agent ships a client whose adoption fails
# (fault-injection build b loaded with fail_adopt=1 through the test hook
# ATOMBLK_TEST_CLIENT_PARAMS). The agent rolls back to the client that ran
# before (kept on the node), IO resumes with no error, the failure shows in
# `atomctl status --json`, the log and the metrics (the chart's --metrics-addr),
# and the agent still becomes ready on the old client. Then `atomctl
# upgrade` and `atomctl rollback` on demand, and the node-local lock.
CASE=agent-upgrade-fail
. /tests/lib-agent.sh
need_modules /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko
ver_a=$(client_version_of a) ver_b=$(client_version_of b)

t_begin agent-upgrade-fail/setup
img_a=$(make_image a a) && img_b=$(make_image b b) || t_fail "images"
leg0=$(make_loop_leg l0 96) && leg1=$(make_loop_leg l1 96) || t_fail "loop legs"
start_agent A "$img_a"
wait_agent_ready 60 || t_fail "agent A not ready"
dev=$(atomtool create vol-m 80M mirror "$leg0" "$leg1") || t_fail "create mirror volume"
disk=${dev#/dev/}
bounded 60 mkfs.ext4 -q "$dev" || t_fail "mkfs.ext4"
mkdir -p /mnt/m
bounded 30 mount "$dev" /mnt/m || t_fail "mount"
start_writer w /mnt/m/data -d 4 -s 16M -p 50
wait_progress /tmp/w.prog 200 30 || t_fail "writer made no progress"
t_end
[ -n "$T_REASONS" ] && { show_agent_log; exit 1; }

t_begin agent-upgrade-fail/rolled-back
gen0=$(atom_attr generation)
stop_agent || t_fail "agent A did not stop on SIGTERM"
start_agent B "$img_b" ATOMBLK_TEST_CLIENT_PARAMS=fail_adopt=1
wait_agent_ready 60 || t_fail "agent B not ready after the rollback"
[ "$(atom_attr client_version)" = "$ver_a" ] ||
	t_fail "client '$(atom_attr client_version)', expected the old $ver_a"
# The failed adoption does not bump the generation, the rollback's does.
[ "$(atom_attr generation)" = $((gen0 + 1)) ] ||
	t_fail "generation $gen0 -> $(atom_attr generation), expected +1"
disk_attr_is "$disk" state attached || t_fail "disk state '$(disk_attr "$disk" state)'"
writers_resume w
fail=$(status_section last_failure)
echo "$fail"
[ "$(json_field "$fail" outcome)" = rolled_back ] || t_fail "last_failure outcome not rolled_back"
[ "$(json_field "$fail" step)" = insmod ] || t_fail "last_failure step not insmod"
[ "$(json_field "$fail" to)" = "$ver_b" ] && [ "$(json_field "$fail" running)" = "$ver_a" ] ||
	t_fail "last_failure does not say $ver_b failed and $ver_a runs"
[ "$(json_field "$(status_section counters)" rolled_back)" = 1 ] || t_fail "counters.rolled_back != 1"
grep -q 'msg="client upgrade failed, rolled back" from='"$ver_a"' to='"$ver_b"' running='"$ver_a"' step=insmod' \
	/tmp/agent-B.log || t_fail "the log does not report the rollback"
atomctl status --json | grep -q '"pending"' && t_fail "a pending swap is left in the journal"
# Metrics, on the chart's --metrics-addr.
port=$(printf '%s\n' "${ATOMBLK_AGENT_ARGS[@]}" | sed -n 's/^--metrics-addr=.*:\([0-9]*\)$/\1/p')
metrics=$(wget -q -O - "http://127.0.0.1:${port:-9808}/metrics") || t_fail "no metrics on port ${port:-9808}"
printf '%s\n' "$metrics" | grep -v '^#' | grep -E 'upgrades|client_info|disks|held|pause'
for want in "atomblk_upgrades_rolled_back_total 1" "atomblk_upgrades_failed_total 1" \
	"atomblk_client_info{version=\"$ver_a\"} 1" 'atomblk_disks{state="attached"} 1' \
	"atomblk_held_requests 0"; do
	printf '%s\n' "$metrics" | grep -qxF "$want" || t_fail "metrics lack '$want'"
done
show_agent_log
t_end

t_begin agent-upgrade-fail/atomctl-upgrade-rollback
gen0=$(atom_attr generation)
out=$(bounded 60 atomctl upgrade --client /atom/test/atom_client-b.ko) || t_fail "atomctl upgrade failed: $out"
echo "$out"
[ "$(atom_attr client_version)" = "$ver_b" ] || t_fail "client '$(atom_attr client_version)' after atomctl upgrade"
writers_resume w
out=$(bounded 60 atomctl rollback) || t_fail "atomctl rollback failed: $out"
echo "$out"
[ "$(atom_attr client_version)" = "$ver_a" ] || t_fail "client '$(atom_attr client_version)' after atomctl rollback"
[ "$(atom_attr generation)" = $((gen0 + 2)) ] || t_fail "generation $gen0 -> $(atom_attr generation), expected +2"
writers_resume w
last=$(status_section last_upgrade)
[ "$(json_field "$last" trigger)" = "atomctl rollback" ] || t_fail "last_upgrade not recorded as atomctl rollback"
# A lock held by someone else: atomctl waits, then gives up (here: flock(1) holds it).
flock "$RUN_DIR/upgrade.lock" sleep 5 &
holder=$!
sleep 0.5
t0=$SECONDS
bounded 30 atomctl upgrade --client /atom/test/atom_client-b.ko >/dev/null 2>&1
[ "$(atom_attr client_version)" = "$ver_b" ] || t_fail "atomctl upgrade after the lock was released"
[ $((SECONDS - t0)) -ge 3 ] || t_fail "atomctl upgrade did not wait for the lock"
wait $holder
t_check "atomctl rollback" atomctl rollback
atomctl status
t_end

t_begin agent-upgrade-fail/writer-clean
stop_writer w 60; rc=$?
cat /tmp/w.out
[ $rc = 0 ] && writer_clean w || t_fail "writer: exit $rc, $(grep '^ios=' /tmp/w.out)"
t_check "umount" umount /mnt/m
t_check "e2fsck -fn" e2fsck -fn "$dev"
stop_agent || t_fail "agent B did not stop"
t_check "remove" atomtool remove vol-m
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
