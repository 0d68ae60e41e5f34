# tests/image/lib.sh: build a container image from a Dockerfile without a
# container engine, for tests/image/run.
#
#   image_base_root              the "debian:12" root (debootstrap, cached)
#   dockerfile_replay FILE CTX WORK
#                                replay FILE's instructions with CTX as the
#                                build context; the final stage's root is
#                                mounted (overlayfs) at $IMAGE_ROOT
#   in_image CMD...              run CMD in the image root (chroot)
#   image_mount TYPE SRC DIR [OPTS], image_unmount_all
#
# Only what deploy/image/Dockerfile uses is understood: FROM debian:12 (the
# last stage, built on the cached root) or FROM scratch (a plain folder),
# COPY SRC... DEST, RUN with --mount=type=bind,from=STAGE,target=DIR[,source=S]
# and a shell-form command, ENTRYPOINT in exec form. Anything else is an
# error, so the Dockerfile cannot grow an instruction this replay ignores.

IMAGE_CACHE=${ATOMBLK_CACHE:-/var/cache/atomblk}/debootstrap
IMAGE_SUITE=bookworm
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Bump when image_base_prepare changes what it puts into the base root.
IMAGE_BASE_RECIPE=1

IMAGE_MOUNTS=()		# mount points, in mount order
IMAGE_ROOT=		# the final stage's root (overlay of base + RUN layer)
IMAGE_UPPER=		# what the Dockerfile added to the base (the layers)
IMAGE_BASE=		# the cached base root
IMAGE_BASE_STATUS=	# "cached" or "created in Ns"
IMAGE_STAGE_DIR=	# the root of the stage being replayed
IMAGE_ENTRYPOINT=()	# ENTRYPOINT, exec form
IMAGE_ERROR=		# why the last failing function failed
declare -A IMAGE_STAGES	# stage name or index -> its root

image_mount() {
	local type=$1 src=$2 dir=$3 opts=${4:-}
	case "$type" in
	bind)    mount --bind "$src" "$dir" || return 1 ;;
	bind-ro) { mount --bind "$src" "$dir" && mount -o remount,bind,ro "$dir"; } || return 1 ;;
	*)       mount -t "$type" ${opts:+-o "$opts"} "$src" "$dir" || return 1 ;;
	esac
	IMAGE_MOUNTS+=("$dir")
}

# Undo every mount, newest first; called from the runner's EXIT trap too.
image_unmount_all() {
	local i
	for ((i = ${#IMAGE_MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${IMAGE_MOUNTS[i]}" 2>/dev/null || umount -l "${IMAGE_MOUNTS[i]}"
	done
	IMAGE_MOUNTS=()
}

# Unmount one mount point (the newest mount on it) and forget it.
image_unmount() {
	local dir=$1 i
	umount "$dir" || umount -l "$dir"
	for ((i = ${#IMAGE_MOUNTS[@]} - 1; i >= 0; i--)); do
		if [ "${IMAGE_MOUNTS[i]}" = "$dir" ]; then
			unset 'IMAGE_MOUNTS[i]'
			IMAGE_MOUNTS=("${IMAGE_MOUNTS[@]}")
			return
		fi
	done
}

in_image() {
	env -i PATH="$IMAGE_PATH" HOME=/root LANG=C.UTF-8 chroot "$IMAGE_ROOT" "$@"
}

# The host's Debian mirror for $IMAGE_SUITE (deb822 or one-line sources):
# the only network reachable here. ATOMBLK_DEBIAN_MIRROR overrides it.
image_host_mirror() {
	if [ -n "${ATOMBLK_DEBIAN_MIRROR:-}" ]; then echo "$ATOMBLK_DEBIAN_MIRROR"; return; fi
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$IMAGE_SUITE" '
			function flush() {
				if (uris != "" && types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" suite "( |$)") &&
				    comps ~ /(^| )main( |$)/ && tolower(enabled) != "no") { split(uris, u, " "); print u[1]; exit }
				uris = types = suites = comps = enabled = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			/^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
			/^Enabled:/ { sub(/^Enabled:[ \t]*/, ""); enabled = $0 }
			END { flush() }' "$f" | head -n1
	done | head -n1 | grep . && return
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -nE "s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+${IMAGE_SUITE}[[:space:]].*/\2/p" |
		head -n1 | grep .
}

# The host's apt source files that use only Debian's archive keyring: the
# image gets them, like debian:12 carries bookworm, -updates and -security.
image_host_debian_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[ -s "$f" ] || continue
		grep -qE '^[^#]*(deb|URIs:)' "$f" || continue
		if grep -i 'signed-by' "$f" | grep -qv 'debian-archive-keyring'; then continue; fi
		echo "$f"
	done
}

# What Docker's official Debian images (debuerreotype) configure on top of a
# minbase debootstrap, so that build.sh meets the same root it meets there.
image_base_prepare() {
	local root=$1 f
	printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	echo force-unsafe-io > "$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
	cat > "$root/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
	DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
	EOF
	echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
	# Apt sources: the host's Debian ones instead of debootstrap's single line.
	rm -f "$root/etc/apt/sources.list"
	for f in $(image_host_debian_sources); do
		cp "$f" "$root/etc/apt/${f#/etc/apt/}"
	done
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
	: > "$root/etc/resolv.conf"
}

# Set IMAGE_BASE to the cached debian:12 root, making it first if needed
# (debootstrap: about 90 s). Keyed by suite, mirror, apt sources and recipe.
# Sets IMAGE_BASE_STATUS to "cached" or "created in Ns".
image_base_root() {
	local mirror key dir tmp start
	mirror=$(image_host_mirror) || { IMAGE_ERROR="no Debian $IMAGE_SUITE mirror in the host's apt sources"; return 1; }
	key=$( { echo "$IMAGE_SUITE minbase $mirror recipe=$IMAGE_BASE_RECIPE"
		 image_host_debian_sources | xargs cat; } | sha256sum | cut -c1-12)
	dir=$IMAGE_CACHE/$IMAGE_SUITE-minbase-$key
	IMAGE_BASE=$dir/root
	IMAGE_BASE_STATUS=cached
	[ -d "$IMAGE_BASE" ] && return 0
	mkdir -p "$IMAGE_CACHE"
	start=$(date +%s)
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	if ! debootstrap --variant=minbase "$IMAGE_SUITE" "$tmp/root" "$mirror" > "$tmp/debootstrap.log" 2>&1; then
		IMAGE_ERROR="debootstrap failed: $(tail -n 3 "$tmp/debootstrap.log" | tr '\n' ' ')"
		rm -rf "$tmp"
		return 1
	fi
	image_base_prepare "$tmp/root"
	# Another run may have won the race; keep the first.
	mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
	IMAGE_BASE_STATUS="created in $(( $(date +%s) - start ))s"
}

# dockerfile_lines FILE: the instructions, one per line (continuations
# joined, comments and blank lines dropped).
dockerfile_lines() {
	local line acc=
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line =~ ^[[:space:]]*# ]] && continue
		if [[ $line =~ \\[[:space:]]*$ ]]; then
			acc+="${line%\\*} "
			continue
		fi
		acc+=$line
		[[ $acc =~ ^[[:space:]]*$ ]] || printf '%s\n' "$acc"
		acc=
	done < "$1"
	[ -z "$acc" ] || printf '%s\n' "$acc"
}

# COPY SRC... DEST into stage root $1 (Docker semantics: a directory source
# contributes its contents; several sources or a DEST ending in / make DEST
# a directory; files land owned by root).
dockerfile_copy() {
	local root=$1 ctx=$2; shift 2
	local args=("$@") dest srcs s
	[ ${#args[@]} -ge 2 ] || { IMAGE_ERROR="COPY needs a source and a destination"; return 1; }
	dest=${args[-1]}
	srcs=("${args[@]:0:${#args[@]}-1}")
	[[ $dest == /* ]] || { IMAGE_ERROR="COPY destination $dest is not absolute"; return 1; }
	if [ ${#srcs[@]} -gt 1 ] && [[ $dest != */ ]]; then
		IMAGE_ERROR="COPY with several sources needs a destination ending in /"; return 1
	fi
	for s in "${srcs[@]}"; do
		case "$s" in *'*'* | *'?'* | *'['*)
			IMAGE_ERROR="COPY wildcards are not supported: $s"; return 1 ;;
		esac
		[ -e "$ctx/$s" ] || { IMAGE_ERROR="COPY source $s does not exist"; return 1; }
		if [ -d "$ctx/$s" ]; then
			mkdir -p "$root$dest" && cp -a --no-preserve=ownership "$ctx/$s/." "$root$dest/" || return 1
		elif [[ $dest == */ ]]; then
			mkdir -p "$root$dest" && cp -a --no-preserve=ownership "$ctx/$s" "$root$dest" || return 1
		else
			mkdir -p "$(dirname "$root$dest")" && cp -a --no-preserve=ownership "$ctx/$s" "$root$dest" || return 1
		fi
	done
}

# RUN [--mount=type=bind,...] COMMAND in the final stage's root.
dockerfile_run() {
	local ctx=$1 rest=$2 flag opt key val from target source created mounted=() rc
	while [[ $rest =~ ^--([a-z]+)=([^[:space:]]+)[[:space:]]+(.*)$ ]]; do
		flag=${BASH_REMATCH[1]} opt=${BASH_REMATCH[2]} rest=${BASH_REMATCH[3]}
		[ "$flag" = mount ] || { IMAGE_ERROR="RUN --$flag is not supported"; return 1; }
		from='' target='' source=/
		local -a kvs
		IFS=, read -ra kvs <<< "$opt"
		for kv in "${kvs[@]}"; do
			key=${kv%%=*} val=${kv#*=}
			case "$key" in
			type) [ "$val" = bind ] || { IMAGE_ERROR="RUN --mount type=$val is not supported"; return 1; } ;;
			from) from=$val ;;
			target | dst | destination) target=$val ;;
			source | src) source=$val ;;
			*) IMAGE_ERROR="RUN --mount option $key is not supported"; return 1 ;;
			esac
		done
		[ -n "$from" ] && [ -n "${IMAGE_STAGES[$from]:-}" ] ||
			{ IMAGE_ERROR="RUN --mount from=$from: no such stage"; return 1; }
		[ -n "$target" ] || { IMAGE_ERROR="RUN --mount without target"; return 1; }
		created=
		[ -e "$IMAGE_ROOT$target" ] || { mkdir -p "$IMAGE_ROOT$target"; created=1; }
		# BuildKit bind mounts are read-only unless "rw" is given.
		image_mount bind-ro "${IMAGE_STAGES[$from]}$source" "$IMAGE_ROOT$target" ||
			{ IMAGE_ERROR="cannot mount stage $from at $target"; return 1; }
		mounted+=("$target:$created")
	done
	[[ $rest == \[* ]] && { IMAGE_ERROR="RUN in exec form is not supported"; return 1; }
	# A RUN step's stdin is empty (and must not eat the Dockerfile being read).
	in_image /bin/sh -c "$rest" < /dev/null
	rc=$?
	# Like BuildKit: the mount points it had to create do not stay in the image.
	local m
	for m in "${mounted[@]}"; do
		image_unmount "$IMAGE_ROOT${m%:*}"
		[ -z "${m##*:}" ] || rmdir "$IMAGE_ROOT${m%:*}"
	done
	[ $rc -eq 0 ] || IMAGE_ERROR="exit status $rc"
	return $rc
}

# FROM IMAGE [AS NAME]: scratch gives an empty folder; debian:12 the cached
# base under an overlay whose upper layer is what the Dockerfile adds.
dockerfile_from() {
	local work=$1 index=$2 image=$3 name=$4 dir
	case "$image" in
	scratch)
		dir=$work/stage-$index
		rm -rf "$dir"; mkdir -p "$dir" ;;
	debian:12 | debian:bookworm)
		[ -z "$IMAGE_ROOT" ] || { IMAGE_ERROR="only one debian stage is supported"; return 1; }
		IMAGE_ROOT=$work/root IMAGE_UPPER=$work/upper
		mkdir -p "$IMAGE_ROOT" "$IMAGE_UPPER" "$work/overlay-work"
		image_mount overlay overlay "$IMAGE_ROOT" \
			"lowerdir=$IMAGE_BASE,upperdir=$IMAGE_UPPER,workdir=$work/overlay-work" ||
			{ IMAGE_ERROR="cannot mount the overlay"; return 1; }
		# What a RUN step sees in a container: /proc, /dev, the host's DNS.
		image_mount proc proc "$IMAGE_ROOT/proc" &&
			image_mount bind /dev "$IMAGE_ROOT/dev" &&
			image_mount bind /etc/resolv.conf "$IMAGE_ROOT/etc/resolv.conf" ||
			{ IMAGE_ERROR="cannot mount /proc, /dev or resolv.conf"; return 1; }
		dir=$IMAGE_ROOT ;;
	*)
		IMAGE_ERROR="FROM $image is not supported (debian:12 or scratch)"; return 1 ;;
	esac
	IMAGE_STAGES[$index]=$dir
	[ -z "$name" ] || IMAGE_STAGES[$name]=$dir
	IMAGE_STAGE_DIR=$dir
}

# dockerfile_replay FILE CTX WORK: replay every instruction; calls
# `on_step VERDICT N INSTRUCTION [DETAIL]` for each one and stops at the
# first failure. Returns 0 when every step succeeded and the last stage is
# the debian one.
dockerfile_replay() {
	local file=$1 ctx=$2 work=$3 line instr rest n=0 stage=-1 start ok
	IMAGE_ROOT='' IMAGE_ENTRYPOINT=() IMAGE_STAGE_DIR=''
	[ ! -e "$ctx/.dockerignore" ] && [ ! -e "$file.dockerignore" ] ||
		{ on_step FAIL 0 "context" ".dockerignore files are not supported by this replay"; return 1; }
	while IFS= read -r line; do
		n=$((n + 1))
		read -r instr rest <<< "$line"
		instr=${instr^^}
		IMAGE_ERROR=
		start=$(date +%s)
		ok=0
		case "$instr" in
		FROM)
			stage=$((stage + 1))
			local image as name
			read -r image as name <<< "$rest"
			if [ -n "${as:-}" ] && [ "${as^^}" != AS ]; then
				IMAGE_ERROR="cannot parse FROM $rest"
			else
				dockerfile_from "$work" "$stage" "$image" "$name" && ok=1
			fi ;;
		COPY)
			if [ -z "$IMAGE_STAGE_DIR" ]; then IMAGE_ERROR="COPY before FROM"
			elif [[ $rest == -* || $rest == \[* || $rest == *[\'\"]* ]]; then
				IMAGE_ERROR="COPY flags, exec form and quotes are not supported"
			else
				local -a words
				read -ra words <<< "$rest"
				dockerfile_copy "$IMAGE_STAGE_DIR" "$ctx" "${words[@]}" && ok=1
			fi ;;
		RUN)
			if [ "$IMAGE_STAGE_DIR" != "$IMAGE_ROOT" ] || [ -z "$IMAGE_ROOT" ]; then
				IMAGE_ERROR="RUN is only supported in the debian stage"
			else
				dockerfile_run "$ctx" "$rest" && ok=1
			fi ;;
		ENTRYPOINT)
			if [[ $rest =~ ^\[(.*)\][[:space:]]*$ ]]; then
				local -a parts
				local p
				IFS=, read -ra parts <<< "${BASH_REMATCH[1]}"
				IMAGE_ENTRYPOINT=()
				for p in "${parts[@]}"; do
					p=$(sed -E 's/^[[:space:]]*"//; s/"[[:space:]]*$//' <<< "$p")
					IMAGE_ENTRYPOINT+=("$p")
				done
				ok=1
			else
				IMAGE_ERROR="ENTRYPOINT must be in exec form"
			fi ;;
		*)
			IMAGE_ERROR="instruction $instr is not supported by tests/image/lib.sh" ;;
		esac
		if [ $ok -eq 1 ]; then
			on_step PASS "$n" "$line" "$(( $(date +%s) - start ))s"
		else
			on_step FAIL "$n" "$line" "$IMAGE_ERROR"
			return 1
		fi
	done < <(dockerfile_lines "$file")
	[ "$IMAGE_STAGE_DIR" = "$IMAGE_ROOT" ] && [ -n "$IMAGE_ROOT" ] ||
		{ on_step FAIL "$n" "end" "the last stage is not the debian one"; return 1; }
}
