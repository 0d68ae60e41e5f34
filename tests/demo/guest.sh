#!/bin/bash
# The demo, inside the node VM (see tests/demo/run).
. /tests/lib.sh
set -u
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*"; exit 1; }

say "Node: $(uname -r); loading atom.ko and the shipped client"
load_atom || fail "insmod atom"
load_client prod || fail "insmod atom_client"
echo "atom ABI $(atom_attr abi_version), client $(atom_attr client_name) $(atom_attr client_version), generation $(atom_attr generation)"

say "Agent: atomblk-agent serving CSI on /run/csi/csi.sock"
mkdir -p /run/csi /run/atomblk
atomblk-agent --endpoint unix:///run/csi/csi.sock --node-id demo-node --mode node \
	--ready-file /run/atomblk/ready 2> /tmp/agent.log &
wait_for 10 test -e /run/atomblk/ready || fail "agent not ready: $(cat /tmp/agent.log)"
export CSI_ENDPOINT=unix:///run/csi/csi.sock
atomctl csi GetPluginInfo || fail "GetPluginInfo"
atomctl csi Probe || fail "Probe"

say "Volume: a 2-way mirror over two legs, ext4, mounted, a verifying writer on it"
leg0=$(make_loop_leg leg0 160) && leg1=$(make_loop_leg leg1 160) || fail "legs"
dev=$(atomtool create pvc-demo 128M mirror "$leg0" "$leg1") || fail "create volume"
atomtool status pvc-demo
mkfs.ext4 -q "$dev" && mkdir -p /mnt/pvc-demo && mount "$dev" /mnt/pvc-demo || fail "mkfs/mount"
start_writer app /mnt/pvc-demo/data -d 16 -s 64M -p 20
wait_progress /tmp/app.prog 500 60 || fail "writer made no progress"
echo "writer running: $(tail -n1 /tmp/app.prog)"

new=/atom/test/atom_client-b.ko
from=$(atom_attr client_version) to=$(modinfo -F version "$new")
say "Live upgrade of the client: $from -> $to, writer still running"
gen0=$(atom_attr generation)
t0=$(now_ms)
unload_client || fail "rmmod atom_client (abandon)"
echo "abandoned: disk ${dev#/dev/} state=$(disk_attr "${dev#/dev/}" state) held=$(disk_attr "${dev#/dev/}" held_requests)"
insmod "$new" || fail "insmod $new (adopt)"
t1=$(now_ms)
echo "adopted: client $(atom_attr client_version), generation $gen0 -> $(atom_attr generation), state=$(disk_attr "${dev#/dev/}" state)"
n=$(vio_field /tmp/app.prog ios)
wait_progress /tmp/app.prog $((n + 200)) 30 || fail "IO did not resume"
echo "swap took $((t1 - t0)) ms (rmmod + insmod); the atom held IO for $(disk_attr "${dev#/dev/}" last_pause_us) us"

say "Verify: stop the writer, read every block back, fsck"
stop_writer app 120 || true
cat /tmp/app.out
writer_clean app || fail "the writer saw errors or bad data"
grep -o 'max_stall_ms=[0-9.]*' /tmp/app.out | sed 's/^/application-visible longest stall: /'
umount /mnt/pvc-demo && e2fsck -fn "$dev" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; fail "fsck"; }
echo "e2fsck -fn: clean"
say "Demo OK: zero IO errors, all data verified, client upgraded live ($from -> $to)"
