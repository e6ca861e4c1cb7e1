#!/bin/sh
# mkcerts.sh DIR - throwaway PKI for the net tests, made with the openssl CLI:
#   ca.pem/ca.key          test CA
#   other-ca.pem           an unrelated CA (the "wrong CA" case)
#   good.pem/good.key      localhost, 127.0.0.1, ::1; signed by ca
#   wrong.pem/wrong.key    wrong.example only; signed by ca
#   expired.pem/.key       localhost; signed by ca; expired in 2020
#   self.pem/self.key      localhost; self-signed
set -eu
d=$1
cd "$d"
q() { "$@" >/dev/null 2>&1 || { echo "mkcerts: $* failed" >&2; "$@"; exit 1; }; }
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

q openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj "/CN=mailsync test CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=mailsync other CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign

printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >local.ext
printf 'subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >wrong.ext

leaf() { # name cn extfile
	q openssl req -new $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
	q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days 2 -sha256 -extfile "$3" -out "$1.pem"
}
leaf good localhost local.ext
leaf wrong wrong.example wrong.ext

# openssl x509 cannot back-date; openssl ca can.
q openssl req -new $ec -keyout expired.key -out expired.csr -subj "/CN=localhost"
: >index.txt
echo 1000 >serial
cat >ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
default_md = sha256
policy = any
[ any ]
commonName = supplied
CNF
q openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
	-out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z \
	-extfile local.ext -notext

q openssl req -x509 $ec -keyout self.key -out self.pem -days 2 -subj "/CN=localhost" \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1
# sha256 fingerprint of the self-signed cert, for the pin test
openssl x509 -in self.pem -noout -fingerprint -sha256 | sed 's/.*=//' >self.fp
openssl x509 -in good.pem -noout -fingerprint -sha256 | sed 's/.*=//' >good.fp
