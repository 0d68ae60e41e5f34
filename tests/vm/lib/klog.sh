# Shared by tests/vm/run, tests/vm/suite and the benchmark: what in a guest
# kernel log counts as a failure.
#
#   klog_bad_lines < LOG    prints the offending lines (nothing when clean)
#
# Failures: WARN (its "cut here" banner and "WARNING:" line), BUG, oops,
# general protection faults, panics, hung tasks, soft/hard lockups, RCU
# stalls, list/refcount corruption, UBSAN, kmemleak, bad page state, user
# segfaults. The two "taints kernel" lines an unsigned out-of-tree module
# prints are expected and never count.
klog_bad_lines() {
	tr -d '\r' | grep -E \
		-e 'cut here \]' -e 'WARNING: ' -e 'BUG: ' -e 'BUG at ' -e 'kernel BUG' \
		-e 'Oops' -e 'general protection fault' -e 'Kernel panic' \
		-e 'blocked for more than' -e 'hung_task' -e 'soft lockup' -e 'hard LOCKUP' \
		-e 'rcu_.* detected stalls' -e 'rcu: INFO' -e 'list_add corruption' \
		-e 'list_del corruption' -e 'refcount_t: ' -e 'UBSAN: ' -e 'kmemleak' \
		-e 'Bad page' -e 'double free' -e 'use-after-free' -e 'segfault at' \
		-e 'stack-protector' -e 'unregister_netdevice: waiting' |
		grep -v -e 'taints kernel' -e 'module verification failed'
}
