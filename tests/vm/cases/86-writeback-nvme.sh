#!/bin/bash
# vm-timeout: 300
# Buffered writeback to a mirror over NVMe/TCP legs never deadlocks.
#
# blk-mq may run the atom's ->queue_rq() inside the dispatching task's own
# submit_bio() (current->bio_list set: a full plug, or the plug 6.12's
# __submit_bio() opens, flushed there). A leg bio submitted from there is
# only queued on that list, sent once the task's current bio is done; if
# the task first sleeps on the atom disk (wbt or a tag) for a bio ahead of
# ours, the requests holding what it waits for wait for the queued leg
# bios. The client sends such leg bios from its worker instead.
#
# Each round, as ad-hoc runs first showed it: a fresh mirror (its legs
# flagged for the worker, as the agent flags NVMe/TCP legs), mkfs.ext4
# (ext4lazyinit then zeroes inode tables from a kernel thread), and
# `dd bs=1M count=96 conv=fsync` to a file (buffered writeback from the
# flusher, a kernel thread). Against the client before acf0396 this case
# hung on 6.12 in round 17, every writer asleep in the atom disk's wbt_wait()
# with the legs idle.
#
# ROUNDS (environment) sets the number of rounds (default 30).
. /tests/lib.sh
CASE=writeback-nvme
ROUNDS=${ROUNDS:-30}
HOSTNQN=nqn.2026-11.io.atomblk:host:writeback
HOSTID=0c9e4b1a-7d2f-4a5e-8b3c-6f1d2e3a4b5c
NQN=nqn.2026-11.io.atomblk:writeback
BASE_PORT=4440
need_modules /atom/atom_client.ko
. /tests/lib-nvmet.sh

# hang_report: what the legs and the atom disk hold, for the log.
hang_report() {
	local b f
	mount -t debugfs none /sys/kernel/debug 2> /dev/null
	for b in /sys/block/nvme*c*n* /sys/block/atom*; do
		b=${b##*/}
		echo "    $b inflight $(cat /sys/block/$b/inflight | tr -s ' ')," \
			"wbt $(cat /sys/kernel/debug/block/$b/rqos/wbt/inflight 2> /dev/null | tr '\n' ' ')"
	done
	for f in /proc/[0-9]*; do
		[ "$(awk '{print $3}' $f/stat 2> /dev/null)" = D ] &&
			echo "    D: $(cat $f/comm 2> /dev/null) in $(cat $f/wchan 2> /dev/null)"
	done
}

t_begin writeback-nvme/setup
two_legs 160
load_atom || t_fail "insmod atom"
load_client prod || t_fail "insmod atom_client"
mkdir -p /mnt/wb
echo "legs $LEG0 ($(ctrl_of 0)) $LEG1 ($(ctrl_of 1)), $(nproc) cpus, $(uname -r), $ROUNDS rounds"
t_end
[ -n "$T_REASONS" ] && exit 1

t_begin writeback-nvme/rounds
hung=0
for ((r = 1; r <= ROUNDS; r++)); do
	disk=$(atomtool create wb 150M mirror "worker:$LEG0" "worker:$LEG1") ||
		{ t_fail "round $r: atomtool create"; break; }
	mkfs.ext4 -q -F "$disk" && mount "$disk" /mnt/wb || { t_fail "round $r: ext4 on $disk"; break; }
	start=$(now_ms)
	dd if=/dev/zero of=/mnt/wb/data bs=1M count=96 conv=fsync 2> /tmp/dd.err &
	pid=$!
	if ! wait_for 60 eval '! kill -0 '$pid' 2> /dev/null'; then
		hung=$r
		t_fail "round $r: dd + fsync still running after 60 s"
		hang_report
		break
	fi
	wait $pid || { t_fail "round $r: dd failed: $(tail -n1 /tmp/dd.err)"; break; }
	ms=$(($(now_ms) - start))
	[ $r = 1 ] || [ $((r % 10)) = 0 ] && echo "    round $r: ${ms} ms"
	bounded 30 umount /mnt/wb || { t_fail "round $r: umount"; break; }
	atomtool remove wb || { t_fail "round $r: remove"; break; }
done
t_end
# A hung round leaves tasks in D state: no cleanup can finish, stop here.
[ $hung != 0 ] && exit 1

t_begin writeback-nvme/cleanup
for i in 0 1; do bounded 20 nvme disconnect -n "$NQN-$i" > /dev/null || t_fail "disconnect $i"; done
for i in 0 1; do unexport_leg $i; done
t_end
exit $T_ANY_FAILED
