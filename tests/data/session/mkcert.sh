#!/bin/sh
# mkcert.sh DIR - a throwaway CA and a localhost/127.0.0.1 server
# certificate for the fake IMAP servers: DIR/ca.pem, DIR/good.pem, DIR/good.key.
set -eu
cd "$1"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 \
	-subj "/CN=mailsync session test CA" \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
openssl req -new $ec -keyout good.key -out good.csr -subj "/CN=localhost" \
	>/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >good.ext
openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	-days 2 -sha256 -extfile good.ext -out good.pem >/dev/null 2>&1
