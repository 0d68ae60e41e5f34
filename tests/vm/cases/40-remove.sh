#!/bin/bash
# Removal: a disk removed while its opener had IO parked moments before must
# not hang anything; `rmmod atom` with a disk present is refused.
. /tests/lib.sh
CASE=remove
need_modules /atom/test/atom_client-a.ko

make_ram_legs 2 64
load_atom
load_client a

t_begin remove/disk-with-parked-io
dev=$(atomtool create vol-rm 32M linear /dev/ram0) || t_fail "create"
disk=${dev#/dev/}
start_writer w "$dev" -d 8 -s 16M
wait_progress /tmp/w.prog 100 30 || t_fail "writer made no progress"
unload_client || t_fail "rmmod atom_client"
wait_for 10 disk_attr_above "$disk" held_requests 0 ||
	t_fail "held_requests '$(disk_attr "$disk" held_requests)', expected > 0"
# The uapi removes disks through the client: load it and remove the disk at
# once, while the re-dispatched requests are still in flight and the writer
# keeps the disk open.
load_client a || t_fail "insmod client a"
bounded 20 atomtool remove vol-rm; rc=$?
echo "remove with the writer running: rc=$rc"
[ $rc = 124 ] && t_fail "atomtool remove hangs"
stop_writer w 20; wrc=$?
[ $wrc = 124 ] && t_fail "the writer hangs after the removal"
grep '^ios=' /tmp/w.out
if [ $rc = 0 ]; then
	[ -e "$dev" ] && t_fail "$dev still exists after remove"
	atomtool list | grep -q vol-rm && t_fail "vol-rm still listed after remove"
else
	# Refused while open: it must go once the writer is gone.
	bounded 20 atomtool remove vol-rm || t_fail "remove after the writer exited"
fi
t_end

t_begin remove/rmmod-atom-with-disks-refused
dev=$(atomtool create vol-keep 32M linear /dev/ram1) || t_fail "create"
disk=${dev#/dev/}
unload_client || t_fail "rmmod atom_client"
bounded 20 rmmod atom; rc=$?
[ $rc = 124 ] && t_fail "rmmod atom hangs"
[ $rc != 0 ] || t_fail "rmmod atom with a disk succeeded"
is_loaded atom || t_fail "atom unloaded with a disk present"
[ -b "$dev" ] || t_fail "$dev gone"
[ -n "$(disk_attr "$disk" state)" ] || t_fail "$disk lost its atom attributes"
load_client a || t_fail "insmod client a"
atomtool list | grep -q '^vol-keep ' || t_fail "vol-keep not adopted: $(atomtool list)"
t_check "remove" atomtool remove vol-keep
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom without disks" rmmod atom
t_end
