# shellcheck shell=bash
# Test PKI made with openssl at fixture start: a CA, a good server
# certificate for localhost, and three bad ones for negative TLS tests.
# Source it; ms_tls_make DIR writes the files and exports:
#
#   MS_TLS_DIR                     the directory
#   MS_TLS_CA, MS_TLS_CA_KEY       CA certificate (the only trust anchor) and key
#   MS_TLS_CERT, MS_TLS_KEY        localhost (SAN DNS:localhost, IP:127.0.0.1, IP:::1)
#   MS_TLS_FINGERPRINT             sha256:AB:CD:... of MS_TLS_CERT
#   MS_TLS_EXPIRED_CERT/_KEY       signed by the CA, names right, expired in 2020
#   MS_TLS_WRONGHOST_CERT/_KEY     signed by the CA, only for wrong.example
#   MS_TLS_SELFSIGNED_CERT/_KEY    names right, self-signed (not from the CA)
#   MS_TLS_SELFSIGNED_FINGERPRINT  sha256:... of the self-signed one (for pin tests)
#
# Keys are EC P-256: generation is instant. ms_tls_ensure makes one PKI per
# test shell (in its own temporary directory, removed by the exit trap) and
# every fixture of that shell uses it, so a server restarted by a test keeps
# the CA that the test's configuration already points to.

[ -n "${_MS_TLS_SH:-}" ] && return 0
_MS_TLS_SH=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ms_tls_fingerprint CERT: prints sha256:AB:CD:... (DESIGN.md tls_fingerprint form).
ms_tls_fingerprint()
{
	local fp
	fp="$(openssl x509 -noout -fingerprint -sha256 -in "$1")" || return 1
	printf 'sha256:%s\n' "${fp#*=}"
}

_ms_tls_key()
{
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null &&
		chmod 0600 "$1"
}

# _ms_tls_leaf DIR NAME CN SAN: key + CSR + extension file for a server cert.
_ms_tls_leaf()
{
	local d="$1" n="$2"
	_ms_tls_key "$d/$n.key" || return 1
	openssl req -new -key "$d/$n.key" -subj "/O=mailsync tests/CN=$3" \
		-out "$d/$n.csr" 2>/dev/null || return 1
	cat > "$d/$n.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $4
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

ms_tls_make()
{
	local d="$1" san="DNS:localhost, IP:127.0.0.1, IP:::1"
	command -v openssl > /dev/null || { ms_missing "openssl not found (apt-get install openssl)"; return; }
	mkdir -p "$d" || return 1

	_ms_tls_key "$d/ca.key" || return 1
	openssl req -x509 -new -key "$d/ca.key" -days 30 -sha256 \
		-subj "/O=mailsync tests/CN=mailsync test CA $$.$RANDOM" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$d/ca.pem" 2>/dev/null || { ms_log "openssl: CA creation failed"; return 1; }

	# Good certificate, valid from an hour ago (clock skew) for 30 days.
	_ms_tls_leaf "$d" server localhost "$san" || return 1
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 30 -sha256 -extfile "$d/server.ext" \
		-out "$d/server.pem" 2>/dev/null || { ms_log "openssl: server cert failed"; return 1; }

	# Wrong host name, otherwise valid and from the CA.
	_ms_tls_leaf "$d" wronghost wrong.example "DNS:wrong.example" || return 1
	openssl x509 -req -in "$d/wronghost.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 30 -sha256 -extfile "$d/wronghost.ext" \
		-out "$d/wronghost.pem" 2>/dev/null || { ms_log "openssl: wronghost cert failed"; return 1; }

	# Expired: "openssl x509 -req" of OpenSSL 3.0 cannot back-date, "openssl
	# ca" can, with a throw-away CA database.
	_ms_tls_leaf "$d" expired localhost "$san" || return 1
	mkdir -p "$d/cadb" && : > "$d/cadb/index.txt" && echo 1000 > "$d/cadb/serial"
	cat > "$d/cadb/ca.cnf" <<EOF
[ ca ]
default_ca = testca
[ testca ]
database = $d/cadb/index.txt
serial = $d/cadb/serial
new_certs_dir = $d/cadb
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
organizationName = optional
commonName = supplied
EOF
	openssl ca -batch -notext -config "$d/cadb/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
		-startdate 20200101000000Z -enddate 20200201000000Z \
		-extfile "$d/expired.ext" -in "$d/expired.csr" \
		-out "$d/expired.pem" 2>/dev/null || { ms_log "openssl: expired cert failed"; return 1; }

	# Self-signed leaf with the right names.
	_ms_tls_key "$d/selfsigned.key" || return 1
	openssl req -x509 -new -key "$d/selfsigned.key" -days 30 -sha256 \
		-subj "/O=mailsync tests/CN=localhost" \
		-addext "subjectAltName=$san" -addext "extendedKeyUsage=serverAuth" \
		-out "$d/selfsigned.pem" 2>/dev/null || { ms_log "openssl: self-signed cert failed"; return 1; }

	# Certificates are public; only the private keys stay 0600.
	chmod 0644 "$d"/*.pem
	export MS_TLS_DIR="$d"
	export MS_TLS_CA="$d/ca.pem" MS_TLS_CA_KEY="$d/ca.key"
	export MS_TLS_CERT="$d/server.pem" MS_TLS_KEY="$d/server.key"
	export MS_TLS_EXPIRED_CERT="$d/expired.pem" MS_TLS_EXPIRED_KEY="$d/expired.key"
	export MS_TLS_WRONGHOST_CERT="$d/wronghost.pem" MS_TLS_WRONGHOST_KEY="$d/wronghost.key"
	export MS_TLS_SELFSIGNED_CERT="$d/selfsigned.pem" MS_TLS_SELFSIGNED_KEY="$d/selfsigned.key"
	MS_TLS_FINGERPRINT="$(ms_tls_fingerprint "$d/server.pem")" || return 1
	MS_TLS_SELFSIGNED_FINGERPRINT="$(ms_tls_fingerprint "$d/selfsigned.pem")" || return 1
	export MS_TLS_FINGERPRINT MS_TLS_SELFSIGNED_FINGERPRINT
}

# ms_tls_ensure: the test shell's PKI, made on first use.
ms_tls_ensure()
{
	local d
	[ -n "${MS_TLS_DIR:-}" ] && [ -f "${MS_TLS_CA:-}" ] && [ -f "${MS_TLS_CERT:-}" ] && return 0
	d="$(ms_tmpdir_make ms-tls)" || return 1
	ms_cleanup_add "ms_tmpdir_remove '$d' 0"
	ms_tls_make "$d"
}
