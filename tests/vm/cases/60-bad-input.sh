#!/bin/bash
# Bad control input is refused with the right errno and creates nothing.
. /tests/lib.sh
CASE=bad-input
need_modules /atom/test/atom_client-a.ko

make_ram_legs 6 32
load_atom
load_client a
atomtool create vol-ok 16M linear /dev/ram1 > /dev/null

snapshot() { atomtool list; ls /dev/atom[0-9]* 2>/dev/null; cat "$ATOM_SYS/ndisks"; }

# refused NAME ERRTEXT ATOMTOOL-ARGS...: atomtool exits 1 printing ERRTEXT
# (strerror of the expected errno) and nothing changes.
refused() {
	local name=$1 want=$2 before after out rc; shift 2
	t_begin "bad-input/$name"
	before=$(snapshot)
	out=$(bounded 20 atomtool "$@" 2>&1); rc=$?
	echo "atomtool $*: rc=$rc: $out"
	[ $rc = 1 ] || t_fail "exit $rc, expected 1"
	grep -q "$want" <<< "$out" || t_fail "said '$out', expected '$want'"
	after=$(snapshot)
	[ "$before" = "$after" ] || t_fail "state changed: '$before' -> '$after'"
	t_end
}

long63=$(printf 'v%.0s' $(seq 63)) long64=$(printf 'v%.0s' $(seq 64))
refused unknown-leg     'No such file or directory' create vol-x 16M linear /dev/nonexistent
refused zero-size       'Invalid argument'          create vol-x 0 linear /dev/ram0
refused duplicate-id    'File exists'               create vol-ok 16M linear /dev/ram0
refused oversize-id     'Invalid argument'          create "$long64" 16M linear /dev/ram0
refused mirror-one-leg  'Invalid argument'          create vol-x 16M mirror /dev/ram0
refused mirror-4-legs   'Invalid argument'          create vol-x 16M mirror /dev/ram2 /dev/ram3 /dev/ram4 /dev/ram5
refused leg-too-small   'Invalid argument'          create vol-x 1G linear /dev/ram0
refused unaligned-size  'Invalid argument'          create vol-x 4097 linear /dev/ram0
refused leg-in-use      'Device or resource busy'   create vol-x 16M linear /dev/ram1
refused wrong-uapi-create 'Invalid argument'        --uapi-version 999 create vol-x 16M linear /dev/ram0
refused wrong-uapi-list 'Invalid argument'          --uapi-version 999 list
refused mirror-all-missing 'Invalid argument'      create vol-x 16M mirror missing missing
refused linear-leg-missing 'Invalid argument'      create vol-x 16M linear /dev/ram0 missing
refused missing-leg-uapi-1 'Invalid argument'      --uapi-version 1 create vol-x 16M mirror /dev/ram0 missing
refused missing-leg-in-use 'Device or resource busy' create vol-x 16M mirror missing /dev/ram1
refused missing-leg-too-small 'Invalid argument'   create vol-x 1G mirror /dev/ram0 missing
refused remove-unknown  'No such file or directory' remove vol-nope
refused status-unknown  'No such file or directory' status vol-nope
refused resize-unknown  'No such file or directory' resize vol-nope 32M

t_begin bad-input/longest-id-accepted
dev=$(atomtool create "$long63" 16M linear /dev/ram0) || t_fail "a 63-byte id was refused"
atomtool list | grep -q "^$long63 " || t_fail "the 63-byte id is not listed"
[ -b "$dev" ] || t_fail "no disk for the 63-byte id"
t_check "remove the 63-byte id" atomtool remove "$long63"
t_end

t_check "remove vol-ok" atomtool remove vol-ok
rmmod atom_client && rmmod atom
