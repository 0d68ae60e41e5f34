#!/bin/bash
# gen-tls.sh DIR: test TLS material for the target API, laid out as the
# chart's Secret mount (lib/tls.h): DIR/ca.crt, DIR/tls.crt, DIR/tls.key — a
# CA and one agent certificate (server and client use, SAN atomblk-target,
# localhost, 127.0.0.1). DIR/other/ holds the same made by an unrelated CA,
# for the refusal tests. Existing material is kept (idempotent).
set -euo pipefail
dir=$1
[ -s "$dir/tls.key" ] && [ -s "$dir/other/tls.key" ] && exit 0
mkdir -p "$dir/other"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# make OUT NAME: a CA and an agent certificate it signs, into OUT.
make() {
	local out=$1 name=$2
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$name-ca" \
		-keyout "$tmp/$name-ca.key" -out "$out/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$name-agent" \
		-keyout "$tmp/$name.key" -out "$tmp/$name.csr" 2>/dev/null
	printf '%s\n' "subjectAltName=DNS:atomblk-target,DNS:localhost,IP:127.0.0.1" \
		"extendedKeyUsage=serverAuth,clientAuth" "keyUsage=digitalSignature,keyEncipherment" \
		> "$tmp/$name.ext"
	openssl x509 -req -in "$tmp/$name.csr" -CA "$out/ca.crt" -CAkey "$tmp/$name-ca.key" \
		-CAcreateserial -days 3650 -extfile "$tmp/$name.ext" -out "$out/tls.crt" 2>/dev/null
	install -m 0600 "$tmp/$name.key" "$out/tls.key"
}
make "$dir" atomblk-test
make "$dir/other" other
