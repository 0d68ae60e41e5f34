#!/bin/bash
# build.sh STAGE: turn a Debian 12 root (the image, or a debootstrap folder
# entered with chroot) into the atomblk image. STAGE (read-only) holds what the
# Dockerfile's inputs stage copied: VERSION, build-modules,
# bin/{atomblk-agent,atomctl}, kmod/<kernel release>/*.ko (from
# `make kmod-all`), src/atom-kmod/ (the module sources).
# Result:
#   /usr/bin/atomblk-agent, /usr/bin/atomctl
#   /usr/lib/atomblk/VERSION
#   /usr/lib/atomblk/modules/<version>/<kernel release>/{atom,atom_client}.ko
#   /usr/lib/atomblk/src/<version>/  module sources (not under /usr/src, where
#                                   the node pod mounts the host's headers)
#   /usr/lib/atomblk/build-modules KDIR OUT  builds them on the node (into
#                                   /var/lib/atomblk/modules/<version>/<krel>)
#                                   when no prebuilt build fits its kernel
set -euo pipefail
stage=${1:?usage: build.sh STAGE}
version=$(cat "$stage/VERSION")

runtime=(
	# the agent's shared libraries (gRPC, protobuf-c and libnvme are linked
	# in statically, see agent/agent.mk; tests/image checks ldd finds the
	# rest) and what it dlopen()s: librdmacm (and the verbs providers) to
	# choose RDMA for a leg
	libjansson4 libblkid1 libmount1
	libibverbs1 librdmacm1 ibverbs-providers
	# what the node agent runs: module loading, filesystems, NVMe-oF
	kmod e2fsprogs xfsprogs util-linux mount nvme-cli
	# building the client against the node's own kernel headers
	gcc-12 make libc6-dev libelf-dev bc flex bison
)
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${runtime[@]}"
# Kernel builds call plain "gcc"; Debian 12's kernels are built with gcc-12.
ln -sf gcc-12 /usr/bin/gcc
apt-get clean
rm -rf /var/lib/apt/lists/*

install -m 0755 "$stage/bin/atomblk-agent" "$stage/bin/atomctl" /usr/bin/
install -d /usr/lib/atomblk
install -m 0755 "$stage/build-modules" /usr/lib/atomblk/build-modules

shopt -s nullglob
for kdir in "$stage"/kmod/*/; do
	krel=$(basename "$kdir")
	dest=/usr/lib/atomblk/modules/$version/$krel
	install -d "$dest"
	install -m 0644 "$kdir"/atom.ko "$kdir"/atom_client.ko "$dest/"
done
[ -n "$(ls /usr/lib/atomblk/modules/"$version" 2>/dev/null)" ] || {
	echo "build.sh: no prebuilt modules in $stage/kmod" >&2
	exit 1
}

src=/usr/lib/atomblk/src/$version
install -d "$src"
cp -a "$stage/src/atom-kmod/." "$src/"
# Drop build products that may have come along with the sources (atom-kmod's
# default output folder is build/ inside it).
rm -rf "$src/build"
find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' \
	-o -name '.*.cmd' -o -name 'Module.symvers' -o -name 'modules.order' \) -delete
echo "$version" > /usr/lib/atomblk/VERSION

# The image's own sanity check.
/usr/bin/atomblk-agent --version
/usr/bin/atomctl --version
test -f "$src/Makefile"
