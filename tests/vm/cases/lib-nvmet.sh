# lib-nvmet.sh: NVMe-oF legs without an agent, target and host in the node
# VM: RAM disk I exported by nvmet-tcp as subsystem $NQN-I on its own port
# 127.0.0.1:$((BASE_PORT + I)), connected with nvme-tcp (native multipath:
# the leg is the head /dev/nvmeXnY). The case sets NQN, BASE_PORT, HOSTNQN
# and HOSTID before it calls these.
NVMET=/sys/kernel/config/nvmet

# export_leg I
export_leg() {
	local s=$NVMET/subsystems/$NQN-$1 p=$NVMET/ports/$((10 + $1))
	mkdir "$s" && echo 1 > "$s/attr_allow_any_host" && mkdir "$s/namespaces/1" &&
		echo -n "/dev/ram$1" > "$s/namespaces/1/device_path" &&
		echo 1 > "$s/namespaces/1/enable" && mkdir "$p" &&
		echo tcp > "$p/addr_trtype" && echo ipv4 > "$p/addr_adrfam" &&
		echo 127.0.0.1 > "$p/addr_traddr" && echo $((BASE_PORT + $1)) > "$p/addr_trsvcid" &&
		ln -s "$s" "$p/subsystems/$NQN-$1"
}
unexport_leg() {
	rm -f "$NVMET/ports/$((10 + $1))/subsystems/$NQN-$1"
	rmdir "$NVMET/ports/$((10 + $1))" "$NVMET/subsystems/$NQN-$1/namespaces/1" \
		"$NVMET/subsystems/$NQN-$1" 2>/dev/null
}
# ctrl_of I: the host controller (nvmeX) connected to subsystem $NQN-I.
ctrl_of() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$NQN-$1" ] && basename "$c" && return
	done
}
# head_of I: the namespace's /dev node (the multipath head, nvmeXnY).
head_of() {
	local b
	for b in /sys/block/nvme*n*; do
		[[ $(basename "$b") =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
		[ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$NQN-$1" ] &&
			echo "/dev/$(basename "$b")" && return
	done
}
# connect_leg I: connect (1 s reconnect delay) and wait for the namespace.
connect_leg() {
	bounded 20 nvme connect -t tcp -a 127.0.0.1 -s $((BASE_PORT + $1)) -n "$NQN-$1" \
		--hostnqn=$HOSTNQN --hostid=$HOSTID --reconnect-delay=1 --ctrl-loss-tmo=120 \
		> /dev/null && wait_for 10 eval '[ -n "$(head_of '"$1"')" ]'
}
ctrl_live() { [ "$(cat "/sys/class/nvme/$(ctrl_of "$1")/state" 2>/dev/null)" = live ]; }

# nvme_tcp_legs I...: load nvmet, nvmet-tcp and nvme-tcp, export RAM disk
# I as a leg and connect it, for each I. Returns 1 at the first failure.
nvme_tcp_legs() {
	local i m
	for m in nvmet nvmet-tcp nvme-tcp; do modprobe $m || return 1; done
	for i in "$@"; do export_leg $i && connect_leg $i || return 1; done
}

# two_legs MB: RAM disks 0 and 1 of MB MiB as legs; their heads in LEG0 and
# LEG1. Failures go to t_fail.
two_legs() {
	make_ram_legs 2 "$1" || t_fail "modprobe brd"
	nvme_tcp_legs 0 1 || t_fail "nvme-tcp legs 0 and 1"
	LEG0=$(head_of 0) LEG1=$(head_of 1)
}
