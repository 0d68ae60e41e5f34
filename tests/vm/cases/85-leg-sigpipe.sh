#!/bin/bash
# vm-timeout: 300
# An application is never signalled because a leg's transport failed.
# nvme-tcp sends from ->queue_rq in the submitting task when it runs on the
# queue's io_cpu, without MSG_NOSIGNAL: a send on a connection the target
# reset raises SIGPIPE in that task (sk_stream_error()), and the atom's
# client submits leg bios from the application's own task. The client
# submits IO to legs created with ATOMBLK_LEG_SUBMIT_WORKER (atomtool
# "worker:PATH") from a kernel worker instead, which ignores signals.
#
# Setup: two nvmet-tcp subsystems over RAM disks, each on its own port of
# 127.0.0.1, connected with a 1 s reconnect delay; a 2-way mirror over the
# two namespaces, ext4, a verifying writer. Then the target connection of a
# leg is cut CUTS times (its subsystem unlinked from its port, which closes
# the target's queues and its listener, then linked again): the writer must
# never die and see no error; after each cut the leg reconnects and IO goes
# on (nvme multipath queues the leg's IO while it reconnects, so the leg
# stays healthy).
#
# MODE (environment) picks what runs, for investigations:
#   worker (default, the suite): the mirror's legs carry the worker flag;
#   inline: the same mirror without the flag (the old behaviour: the writer
#           may be killed; the case reports how often and fails if it was);
#   plain:  no atom, the writer on one nvme-tcp namespace directly.
# This case loads nvmet/nvme-tcp itself: no agent runs here.
. /tests/lib.sh
CASE=leg-sigpipe
MODE=${MODE:-worker}
CUTS=${CUTS:-6}
HOSTNQN=nqn.2026-11.io.atomblk:host:sigpipe
HOSTID=5a1e0c3d-2b4f-4e6a-9c8d-7f6e5d4c3b2a
NQN=nqn.2026-11.io.atomblk:sigpipe
BASE_PORT=4430
[ "$MODE" = plain ] || need_modules /atom/atom_client.ko

. /tests/lib-nvmet.sh
writer_alive() { kill -0 "$WRITER_PID_wl" 2>/dev/null; }

# cut_leg I: unlink leg I's subsystem from its port while the writer runs, link
# it again, wait for the controller to be live and the writer to progress.
# Returns 1 when the writer died.
cut_leg() {
	local n
	n=$(vio_field /tmp/wl.prog ios)
	rm "$NVMET/ports/$((10 + $1))/subsystems/$NQN-$1" || t_fail "unlink leg $1"
	sleep 1.5
	ln -s "$NVMET/subsystems/$NQN-$1" "$NVMET/ports/$((10 + $1))/subsystems/$NQN-$1" ||
		t_fail "relink leg $1"
	writer_alive || return 1
	wait_for 20 ctrl_live "$1" || t_fail "leg $1 did not reconnect"
	wait_progress /tmp/wl.prog $((n + 100)) 30 || { writer_alive || return 1; t_fail "IO stalled after cut"; }
	writer_alive
}

t_begin leg-sigpipe/setup
two_legs 64
echo "mode=$MODE legs $LEG0 ($(ctrl_of 0)) $LEG1 ($(ctrl_of 1)), $(nproc) cpus, $(uname -r)"
if [ "$MODE" = plain ]; then
	TARGET=$LEG0
else
	load_atom || t_fail "insmod atom"
	load_client prod || t_fail "insmod atom_client"
	prefix=
	[ "$MODE" = worker ] && prefix=worker:
	disk=$(atomtool create sp $((48 << 20)) mirror "$prefix$LEG0" "$prefix$LEG1") ||
		t_fail "atomtool create"
	atomtool status sp
	if [ "$MODE" = worker ]; then
		atomtool status sp | grep -qx leg0_flags=worker || t_fail "leg 0 not flagged"
	fi
	mkfs.ext4 -q "$disk" && mkdir -p /mnt/sp && mount "$disk" /mnt/sp || t_fail "ext4 on $disk"
	TARGET=/mnt/sp/data
fi
t_end
[ -n "$T_REASONS" ] && exit 1

t_begin leg-sigpipe/cuts-$MODE
start_writer wl "$TARGET" -d 8 -s 24M -p 5000
wait_progress /tmp/wl.prog 200 30 || t_fail "writer made no progress"
died=0
for ((c = 1; c <= CUTS; c++)); do
	if ! cut_leg 0; then
		died=$c
		break
	fi
done
if [ $died != 0 ]; then
	wait "$WRITER_PID_wl"
	rc=$?
	echo "writer died at cut $died of $CUTS: exit status $rc$([ $rc = 141 ] && echo ' (SIGPIPE)')"
	t_fail "writer died at cut $died (status $rc)"
else
	stop_writer wl 60
	rc=$?
	[ $rc = 0 ] || t_fail "writer exited $rc"
	writer_clean wl || t_fail "the writer saw errors: $(tail -n1 /tmp/wl.out)"
fi
tail -n 3 /tmp/wl.out
dmesg | sed 's/^\[[^]]*\] //' | grep -E 'nvme.*(failed to send|error recovery)' | sort | uniq -c
if [ "$MODE" != plain ]; then
	atomtool status sp | grep -q '^state=ok$' || t_fail "volume $(atomtool status sp | grep ^state=)"
fi
t_end

t_begin leg-sigpipe/cleanup
if [ "$MODE" != plain ]; then
	bounded 30 umount /mnt/sp || t_fail "umount"
	bounded 60 e2fsck -fn "$disk" > /dev/null || t_fail "e2fsck -fn"
	atomtool remove sp || t_fail "remove"
fi
for i in 0 1; do bounded 20 nvme disconnect -n "$NQN-$i" > /dev/null || t_fail "disconnect $i"; done
for i in 0 1; do unexport_leg $i; done
t_end
exit $T_ANY_FAILED
