# Guest-side helpers for the controller/storage cases (9x-*.sh), on top of
# lib.sh: a small cluster inside one VM — storage agents on 127.0.0.2-4
# (each its own XFS pool on a loop device, state directory, target API on
# :9810 with mutual TLS, nvmet port 4420 on its own address), one
# controller agent and one node agent. Everything is driven through CSI
# (atomctl csi) and inspected with `atomctl target`; nothing here knows the
# agents' internals.
. /tests/lib.sh

K=/var/lib/kubelet
TLS=/etc/atomblk/tls # the chart's Secret mount; tests/vm/run puts the test CA's material there
NVMET=/sys/kernel/config/nvmet
CTRL_SOCK=/run/csi-controller.sock
NODE_SOCK=/run/csi-node.sock
NODE_STATE=/var/lib/atomblk
TARGET_PORT=9810
MiB=$((1 << 20))
STORAGE_PIDS=()
mkdir -p "$K/plugins/kubernetes.io/csi/csi.atomblk.io" "$K/pods"

# pool_make N SIZE_MB: an XFS pool (reflink on by default) on a loop device,
# mounted at /pools/N. mkfs.xfs refuses less than 300 MB; the file is sparse.
pool_make() {
	local dev size=$2
	modprobe xfs
	[ "$size" -ge 320 ] || size=320
	dev=$(make_loop_leg "pool$1" "$size") || return 1
	bounded 60 mkfs.xfs -q "$dev" || return 1
	mkdir -p "/pools/$1" && mount "$dev" "/pools/$1"
}

# wait_until SECS CMD...: poll CMD until it succeeds, for at most SECS of
# wall-clock time (wait_for counts polls, and a poll of atomctl may itself
# take seconds under TCG).
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}

# rdma_setup: a dummy interface with 10.77.0.1-4/24 and a soft-RoCE device
# on it (rdma_rxe needs a non-loopback netdev). The guest has no network
# card: these addresses never leave it.
rdma_setup() {
	modprobe dummy && modprobe rdma_rxe || return 1
	ip link show dummy0 > /dev/null 2>&1 || ip link add dummy0 type dummy || return 1
	ip link set dummy0 up || return 1
	for n in 1 2 3 4; do ip addr add 10.77.0.$n/24 dev dummy0 || return 1; done
	bounded 20 rdma link add rxe0 type rxe netdev dummy0
}

# storage_start N ADDRESS [FLAGS...]: storage agent N (node mode, no kernel
# modules: it needs no atom) serving the target API on ADDRESS:9810;
# nvmet listens on ADDRESS (or --nvme-address). Log /tmp/storage-N.log.
storage_start() {
	local n=$1 addr=$2
	shift 2
	mkdir -p "/var/lib/storage-$n"
	atomblk-agent --mode node --node-id "storage-$n" --endpoint "unix:///run/storage-$n.sock" \
		--state-dir "/var/lib/storage-$n" --kubelet-dir "/var/lib/storage-$n/kubelet" \
		--run-dir "/run/storage-$n" --pool-dir "/pools/$n" --target-endpoint "$addr:$TARGET_PORT" \
		--tls-dir "$TLS" --manage-modules=false --ready-file= --metrics-addr= \
		--log-level debug "$@" >> "/tmp/storage-$n.log" 2>&1 &
	STORAGE_PIDS[$n]=$!
}

# target_up ADDRESS: the storage node's target API answers GetInfo.
target_up() { atomctl --timeout 3 target --address "$1:$TARGET_PORT" --tls-dir "$TLS" GetInfo '{}' > /dev/null 2>&1; }

# target_call ADDRESS METHOD JSON: a target API call (mutual TLS), reply JSON on stdout.
target_call() { atomctl --timeout 20 target --address "$1:$TARGET_PORT" --tls-dir "$TLS" "$2" "${3:-{\}}"; }

storage_stop() {
	local pid=${STORAGE_PIDS[$1]}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_until 15 eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	STORAGE_PIDS[$1]=
}

storage_kill() {
	local pid=${STORAGE_PIDS[$1]}
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	STORAGE_PIDS[$1]=
}

# controller_start NODES: the controller (no pool, no modules) over the static
# list NODES (host:port,...). controller_start --service NAME:PORT ADDR...:
# over a DNS name that resolves to every ADDR, as the chart's headless
# Service does (here through /etc/hosts, "multi on" so that every line of
# the name is an address of it).
controller_start() {
	local source=(--storage-nodes "$1") a
	if [ "$1" = --service ]; then
		source=(--storage-service "$2")
		printf 'multi on\n' > /etc/host.conf
		for a in "${@:3}"; do printf '%s %s\n' "$a" "${2%:*}" >> /etc/hosts; done
	fi
	atomblk-agent --mode controller --endpoint "unix://$CTRL_SOCK" "${source[@]}" \
		--tls-dir "$TLS" --ready-file= --metrics-addr= --log-level debug \
		>> /tmp/controller.log 2>&1 &
	CTRL_PID=$!
	wait_until 30 eval "atomctl --endpoint unix://$CTRL_SOCK --timeout 2 csi Probe '{}' > /dev/null 2>&1"
}

# node_start: the node agent; it manages the modules (the build this VM ships in /atom).
node_start() {
	atomblk-agent --mode node --node-id vm-node --endpoint "unix://$NODE_SOCK" --kubelet-dir "$K" \
		--state-dir "$NODE_STATE" --tls-dir "$TLS" --modules-dir /atom --ready-file= \
		--metrics-addr= --log-level debug >> /tmp/node.log 2>&1 &
	NODE_PID=$!
	wait_until 60 eval "atomctl --endpoint unix://$NODE_SOCK --timeout 2 csi Probe '{}' 2>/dev/null | grep -q '\"ready\": true'"
}

stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	wait_until 15 eval "! kill -0 $1 2>/dev/null" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# ---- CSI calls -----------------------------------------------------------------
# atomctl exits 0 on OK and 10 + the gRPC code otherwise.
code_of() {
	case $1 in
	OK) echo 0 ;; INVALID_ARGUMENT) echo 13 ;; NOT_FOUND) echo 15 ;;
	ALREADY_EXISTS) echo 16 ;; RESOURCE_EXHAUSTED) echo 18 ;;
	FAILED_PRECONDITION) echo 19 ;; ABORTED) echo 20 ;; OUT_OF_RANGE) echo 21 ;;
	UNAVAILABLE) echo 24 ;; *) echo 255 ;;
	esac
}

# csi SOCK WANT METHOD JSON: one call, its reply in $OUT; a mismatch is a failure.
csi() {
	local sock=$1 want=$2 method=$3 json=$4 rc
	OUT=$(atomctl --endpoint "unix://$sock" --timeout 120 csi "$method" "$json" 2>&1)
	rc=$?
	if [ "$rc" != "$(code_of "$want")" ]; then
		t_fail "$method: exit $rc, expected $want: $(tr '\n' ' ' <<< "$OUT" | cut -c1-400)"
		return 1
	fi
}
ctrl() { csi "$CTRL_SOCK" "$@"; }
# try SOCK METHOD JSON: a call whose failure is not a test failure (polling); its exit status.
try() { OUT=$(atomctl --endpoint "unix://$1" --timeout 30 csi "$2" "$3" 2>&1); }
node() { csi "$NODE_SOCK" "$@"; }

# jq on the last reply
out() { jq -r "$1" <<< "$OUT" 2>/dev/null; }

cap_mount() { echo "{\"mount\":{\"fsType\":\"${1:-ext4}\"},\"accessMode\":{\"mode\":\"SINGLE_NODE_WRITER\"}}"; }

# create_req NAME SIZE PARAMS_JSON [SOURCE_JSON]
create_req() {
	echo "{\"name\":\"$1\",\"capacityRange\":{\"requiredBytes\":\"$2\"},\"volumeCapabilities\":[$(cap_mount)],\"parameters\":$3${4:+,\"volumeContentSource\":$4}}"
}

# volume_create NAME SIZE PARAMS [SOURCE]: CreateVolume; VOL_ID and VOL_CTX set.
volume_create() {
	VOL_ID= VOL_CTX='{}'
	ctrl OK CreateVolume "$(create_req "$@")" || return 1
	VOL_ID=$(out .volume.volumeId)
	VOL_CTX=$(jq -c '.volume.volumeContext // {}' <<< "$OUT")
	[ -n "$VOL_ID" ]
}

# volume_stage ID CTX NAME: stage (ext4) at the kubelet's path, publish in pod NAME.
# STG and TGT set to the paths.
volume_stage() {
	local id=$1 ctx=$2 name=$3
	STG=$K/plugins/kubernetes.io/csi/csi.atomblk.io/$id/globalmount
	TGT=$K/pods/$name/volumes/kubernetes.io~csi/$id/mount
	mkdir -p "$STG" "$(dirname "$TGT")"
	node OK NodeStageVolume "{\"volumeId\":\"$id\",\"stagingTargetPath\":\"$STG\",\"volumeCapability\":$(cap_mount),\"volumeContext\":$ctx}" &&
		node OK NodePublishVolume "{\"volumeId\":\"$id\",\"stagingTargetPath\":\"$STG\",\"targetPath\":\"$TGT\",\"volumeCapability\":$(cap_mount),\"volumeContext\":$ctx}"
}

# volume_unstage ID NAME: unpublish and unstage (the paths volume_stage used).
volume_unstage() {
	local id=$1 name=$2
	local stg=$K/plugins/kubernetes.io/csi/csi.atomblk.io/$id/globalmount
	local tgt=$K/pods/$name/volumes/kubernetes.io~csi/$id/mount
	node OK NodeUnpublishVolume "{\"volumeId\":\"$id\",\"targetPath\":\"$tgt\"}"
	node OK NodeUnstageVolume "{\"volumeId\":\"$id\",\"stagingTargetPath\":\"$stg\"}"
}

# The atom disk of a staged volume (atomtool list: "ID /dev/atomN ...").
disk_of() { atomtool list | awk -v id="$1" '$1 == id { sub("^/dev/", "", $2); print $2 }'; }

# nvme_transports: the transport of every connected NVMe controller, one per line.
nvme_transports() { cat /sys/class/nvme/nvme*/transport 2>/dev/null; }

# nothing_left N...: no file in pools N..., nothing of ours in nvmet's
# configfs, no NVMe controller and no atom disk (a failure for each).
nothing_left() {
	local p left
	for p in "$@"; do
		left=$(pool_files "$p")
		[ -z "$left" ] || t_fail "pool $p: $(echo $left) left"
	done
	left=$(nvmet_left)
	[ -z "$left" ] || t_fail "left in nvmet's configfs: $(echo $left)"
	[ -z "$(nvme_transports)" ] || t_fail "NVMe controllers left: $(ls /sys/class/nvme)"
	[ -z "$(atomtool list)" ] || t_fail "atom disks left: $(atomtool list | tr '\n' ' ')"
}

# nvmet_left: subsystems, ports' subsystem links and host entries still in
# configfs, one per line (ports themselves stay: a storage node listens).
nvmet_left() {
	local p
	ls "$NVMET/subsystems" "$NVMET/hosts" 2>/dev/null | grep -v '^/\|^$'
	for p in "$NVMET"/ports/*/subsystems/*; do [ -e "$p" ] && echo "${p#$NVMET/}"; done
}

# pool_files N: the replicas and snapshots in pool N (the agent's own files excluded).
pool_files() { ls -A "/pools/$1" 2>/dev/null | grep -v '^\.' ; }

# show_logs: every agent log, indented (for a failing case's output).
show_logs() {
	local f
	for f in /tmp/storage-*.log /tmp/controller.log /tmp/node.log; do
		[ -e "$f" ] && tail -n 40 "$f" | sed "s/^/    $(basename "$f" .log) | /"
	done
}

# A case whose setup failed: say so and stop.
setup_failed() {
	echo "RESULT FAIL ${CASE}/setup $*"
	show_logs
	exit 1
}
