#!/bin/bash
# Adoption failure: a client built with fail_adopt=1 fails insmod after
# reading the records; the writer's IO stays parked with no error reaching
# it; a good client then adopts, IO resumes and every block verifies.
. /tests/lib.sh
CASE=adopt-fail
need_modules /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko

t_begin adopt-fail/parked-then-resumed
make_ram_legs 2 64 || t_fail "modprobe brd"
load_atom || t_fail "insmod atom"
load_client a || t_fail "insmod client a"
dev=$(atomtool create vol-adopt 48M mirror /dev/ram0 /dev/ram1) || t_fail "create"
disk=${dev#/dev/}
gen0=$(atom_attr generation)
start_writer w "$dev" -d 8 -s 32M
wait_progress /tmp/w.prog 200 30 || t_fail "writer made no progress"
unload_client || t_fail "rmmod atom_client"
wait_for 10 disk_attr_is "$disk" state held || t_fail "state '$(disk_attr "$disk" state)', expected held"
wait_for 10 disk_attr_above "$disk" held_requests 0 ||
	t_fail "held_requests '$(disk_attr "$disk" held_requests)', expected > 0"
if load_client b fail_adopt=1; then
	t_fail "insmod with fail_adopt=1 succeeded"
	unload_client
fi
is_loaded atom_client && t_fail "atom_client loaded after a failed adoption"
[ -z "$(atom_attr client_version)" ] || t_fail "client_version '$(atom_attr client_version)' after a failed adoption"
[ "$(atom_attr generation)" = "$gen0" ] || t_fail "generation moved on a failed adoption"
# Parked: no IO completes, no error reaches the writer.
n1=$(vio_field /tmp/w.prog ios)
sleep 2
n2=$(vio_field /tmp/w.prog ios)
[ "$n1" = "$n2" ] || t_fail "IO went on with no client ($n1 -> $n2 ios)"
[ "$(vio_field /tmp/w.prog errors)" = 0 ] || t_fail "the writer saw errors while parked"
disk_attr_is "$disk" state held || t_fail "state '$(disk_attr "$disk" state)' after the failed adoption, expected held"
load_client b || t_fail "insmod good client b"
wait_progress /tmp/w.prog $((n2 + 200)) 20 || t_fail "IO did not resume"
disk_attr_is "$disk" state attached || t_fail "state '$(disk_attr "$disk" state)', expected attached"
[ "$(atom_attr generation)" = $((gen0 + 1)) ] || t_fail "generation $gen0 -> $(atom_attr generation), expected +1"
echo "last_pause_us=$(disk_attr "$disk" last_pause_us)"
stop_writer w 60; rc=$?
cat /tmp/w.out
[ $rc = 0 ] && writer_clean w || t_fail "writer: exit $rc, $(grep '^ios=' /tmp/w.out)"
t_check "remove" atomtool remove vol-adopt
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
