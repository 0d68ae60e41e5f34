#!/bin/bash
# vm-timeout: 600
# Hot swap under load: a linear volume over a RAM leg and a 2-way mirror over
# two loop legs, ext4 on both, a verifying writer on each, and the client
# swapped SWAPS times between the test builds a and b.
. /tests/lib.sh
CASE=swap
SWAPS=${SWAPS:-20}
need_modules /atom/test/atom_client-a.ko /atom/test/atom_client-b.ko

t_begin swap/setup
make_ram_legs 1 96 || t_fail "modprobe brd"
leg_m0=$(make_loop_leg m0 96) && leg_m1=$(make_loop_leg m1 96) || t_fail "loop legs"
load_atom || t_fail "insmod atom"
load_client a || t_fail "insmod client a"
dev_l=$(atomtool create vol-linear 80M linear /dev/ram0) || t_fail "create linear"
dev_m=$(atomtool create vol-mirror 80M mirror "$leg_m0" "$leg_m1") || t_fail "create mirror"
echo "linear=$dev_l mirror=$dev_m"
atomtool list
for d in "$dev_l" "$dev_m"; do
	[ -b "$d" ] || t_fail "$d is not a block device"
	bounded 60 mkfs.ext4 -q "$d" || t_fail "mkfs.ext4 $d"
done
mkdir -p /mnt/l /mnt/m
bounded 30 mount "$dev_l" /mnt/l || t_fail "mount linear"
bounded 30 mount "$dev_m" /mnt/m || t_fail "mount mirror"
t_end
[ -n "$T_REASONS" ] && exit 1

ver_a=$(client_version_of a) ver_b=$(client_version_of b)
gen0=$(atom_attr generation)
start_writer wl /mnt/l/data -d 8 -s 48M -p 50
start_writer wm /mnt/m/data -d 8 -s 48M -p 50

t_begin swap/swaps
wait_progress /tmp/wl.prog 200 30 && wait_progress /tmp/wm.prog 200 30 ||
	t_fail "writers made no progress before the first swap"
versions_ok=1 next=b
for ((i = 1; i <= SWAPS; i++)); do
	if ! unload_client; then
		t_fail "swap $i: rmmod atom_client failed"
		break
	fi
	[ -z "$(atom_attr client_version)" ] || t_fail "swap $i: client_version not empty after rmmod"
	if ! load_client "$next"; then
		t_fail "swap $i: insmod client $next failed"
		break
	fi
	want=$ver_a
	[ "$next" = b ] && want=$ver_b
	got=$(atom_attr client_version)
	[ "$got" = "$want" ] || { versions_ok=0; t_fail "swap $i: client_version '$got', expected '$want'"; }
	# IO must resume on both volumes before the next swap.
	nl=$(vio_field /tmp/wl.prog ios) nm=$(vio_field /tmp/wm.prog ios)
	wait_progress /tmp/wl.prog $((nl + 50)) 20 && wait_progress /tmp/wm.prog $((nm + 50)) 20 ||
		t_fail "swap $i: IO did not resume within 20 s"
	for d in "$dev_l" "$dev_m"; do
		s=$(disk_attr "${d#/dev/}" state)
		[ "$s" = attached ] || t_fail "swap $i: ${d#/dev/} state '$s'"
	done
	[ "$next" = b ] && next=a || next=b
done
echo "swaps done: $((i - 1))"
for d in "$dev_l" "$dev_m"; do
	echo "${d#/dev/}: last_pause_us=$(disk_attr "${d#/dev/}" last_pause_us)"
done
t_end

t_begin swap/writers-clean
stop_writer wl 60; rl=$?
stop_writer wm 60; rm=$?
cat /tmp/wl.out /tmp/wm.out
[ $rl = 0 ] && writer_clean wl || t_fail "linear writer: exit $rl, $(grep '^ios=' /tmp/wl.out)"
[ $rm = 0 ] && writer_clean wm || t_fail "mirror writer: exit $rm, $(grep '^ios=' /tmp/wm.out)"
t_end

t_begin swap/generation
gen1=$(atom_attr generation)
[ "$gen1" = $((gen0 + SWAPS)) ] || t_fail "generation $gen0 -> $gen1, expected +$SWAPS"
[ "$ver_a" != "$ver_b" ] || t_fail "builds a and b have the same version '$ver_a'"
[ "$versions_ok" = 1 ] || t_fail "client_version did not alternate"
t_end

t_begin swap/fsck
t_check "umount linear" umount /mnt/l
t_check "umount mirror" umount /mnt/m
t_check "e2fsck -fn linear" e2fsck -fn "$dev_l"
t_check "e2fsck -fn mirror" e2fsck -fn "$dev_m"
# Both mirror legs hold the same data once the writers are done.
if [ -n "$leg_m0" ] && [ -n "$leg_m1" ]; then
	s0=$(dd if="$leg_m0" bs=1M count=80 2>/dev/null | md5sum | cut -d' ' -f1)
	s1=$(dd if="$leg_m1" bs=1M count=80 2>/dev/null | md5sum | cut -d' ' -f1)
	[ "$s0" = "$s1" ] || t_fail "mirror legs differ ($s0 vs $s1)"
fi
t_end

t_begin swap/teardown
t_check "remove linear" atomtool remove vol-linear
t_check "remove mirror" atomtool remove vol-mirror
t_check "rmmod atom_client" rmmod atom_client
t_check "rmmod atom" rmmod atom
t_end
