#!/bin/bash
# tls-secret.sh [NAMESPACE] [RELEASE]: print a kubernetes.io/tls Secret with a
# new CA and a certificate for the agents' target API (what the chart generates
# itself on `helm install`), for the plain manifests in deploy/:
#   deploy/tls-secret.sh | kubectl apply -f -
set -euo pipefail
namespace=${1:-atomblk}
release=${2:-atomblk}
svc=$release-storage
days=3650
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days $days \
	-subj "/CN=$release-ca" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj "/CN=$release" 2>/dev/null
cat > ext.cnf <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$svc,DNS:$svc.$namespace,DNS:$svc.$namespace.svc,DNS:*.$svc.$namespace.svc,DNS:$release-controller,DNS:atomblk-target
EXT
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt \
	-days $days -extfile ext.cnf 2>/dev/null
b64() { base64 -w0 < "$1"; }
cat <<SECRET
apiVersion: v1
kind: Secret
metadata:
  name: $release-tls
  namespace: $namespace
  labels:
    app.kubernetes.io/name: atomblk
    app.kubernetes.io/instance: $release
type: kubernetes.io/tls
data:
  ca.crt: $(b64 ca.crt)
  tls.crt: $(b64 tls.crt)
  tls.key: $(b64 tls.key)
SECRET
