# Test certificates for the target API's mutual TLS (bash, sourced).
#
# make_tls_dir DIR [CA_DIR]: DIR/{ca.crt,tls.crt,tls.key} as lib/tls.h wants
# them: an agent certificate with the SANs every agent certificate carries
# (DNS atomblk-target, plus localhost and 127.0.0.1), signed by the CA in
# CA_DIR (ca.crt + ca.key there, made when missing; default DIR). Two dirs
# with the same CA_DIR trust each other; another CA_DIR makes a stranger.
# EC P-256 keys: fast to make even under emulation.

make_tls_dir() {
	local dir=$1 ca=${2:-$1} cnf
	mkdir -p "$dir" "$ca" || return 1
	cnf=$dir/openssl.cnf
	# Our own config: the guest has no /usr/lib/ssl/openssl.cnf.
	cat > "$cnf" <<-'EOF'
	[req]
	distinguished_name = dn
	prompt = no
	[dn]
	CN = atomblk-test
	[agent]
	subjectAltName = DNS:atomblk-target, DNS:localhost, IP:127.0.0.1
	extendedKeyUsage = serverAuth, clientAuth
	keyUsage = critical, digitalSignature, keyAgreement
	EOF
	if [ ! -s "$ca/ca.key" ]; then
		openssl req -config "$cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -keyout "$ca/ca.key" -out "$ca/ca.crt" -days 2 -subj "/CN=atomblk-test-ca-$RANDOM" \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || return 1
	fi
	openssl req -config "$cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/tls.key" -out "$dir/tls.csr" -subj "/CN=atomblk-agent" 2>/dev/null || return 1
	openssl x509 -req -in "$dir/tls.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial \
		-days 2 -extfile "$cnf" -extensions agent -out "$dir/tls.crt" 2>/dev/null || return 1
	[ "$ca" = "$dir" ] || cp "$ca/ca.crt" "$dir/ca.crt"
	rm -f "$dir/tls.csr"
}
