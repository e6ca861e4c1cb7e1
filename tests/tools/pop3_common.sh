# pop3_common.sh - shared helpers of tests/integration/test_pop3*.sh and
# tests/bench/bench_pop3.sh (sourced; not a test), on top of
# imap_sync_common.sh (fail, ok, wait_for, STOREDUMP, the fixtures).
# Needs MAILSYNCD, MS_BUILD_DIR, MS_SOURCE_DIR.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

# p3_setup: Dovecot and a work dir.
p3_setup()
{
	[ -x "$STOREDUMP" ] || { echo "missing $STOREDUMP (build tests)" >&2; exit 1; }
	dovecot_start || exit $?
	WORK="$(ms_tmpdir_make ms-pop3)" || exit 1
	ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
}

# p3_config NAME TLS PORT [EXTRA-LINES]: account "p" (alice over POP3) in
# $CFG, store $STORE, mirror $MAIL.
p3_config()
{
	STORE="$WORK/$1.store"
	CFG="$WORK/$1.ini"
	MAIL="$WORK/$1.mail"
	cat > "$CFG" <<EOC
[general]
store = $STORE
socket = $WORK/ctl.sock

[account p]
protocol = pop3
host = localhost
port = $3
tls = $2
ca_file = $MS_TLS_CA
user = $MS_USER1
password = $MS_PASS1
maildir = $MAIL
timeout = 20s
${4:-}
EOC
	chmod 600 "$CFG"
}

# p3_sync: mailsyncd --once; stdout $WORK/out, stderr $WORK/err.
p3_sync()
{
	timeout 300 "$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err"
}

# p3_crlf_hashes FILE...: the SHA-256 of each file with every bare LF made
# CRLF (what POP3 sends of a Maildir file, and what the mirror's LF files
# were in the store), sorted.
p3_crlf_hashes()
{
	[ $# -gt 0 ] || return 0
	"$MS_PYTHON" - "$@" <<'EOP' | sort
import hashlib, re, sys
for f in sys.argv[1:]:
    data = open(f, "rb").read()
    print(hashlib.sha256(re.sub(rb"(?<!\r)\n", b"\r\n", data)).hexdigest())
EOP
}

# p3_crlf_sizes FILE...: each file's size with bare LFs made CRLF, sorted.
p3_crlf_sizes()
{
	[ $# -gt 0 ] || return 0
	"$MS_PYTHON" - "$@" <<'EOP' | sort -n
import re, sys
for f in sys.argv[1:]:
    print(len(re.sub(rb"(?<!\r)\n", b"\r\n", open(f, "rb").read())))
EOP
}

p3_server_sizes()
{
	local d
	d="$(dovecot_maildir "$MS_USER1")"
	p3_crlf_sizes $(find "$d/cur" "$d/new" -type f 2>/dev/null)
}

# The server's INBOX: the SHA-256 of every message as POP3 sends it.
p3_server_hashes()
{
	local d
	d="$(dovecot_maildir "$MS_USER1")"
	p3_crlf_hashes $(find "$d/cur" "$d/new" -type f 2>/dev/null)
}

p3_server_count()
{
	p3_server_hashes | wc -l
}

# The store's INBOX records' hashes, sorted.
p3_store_hashes()
{
	"$STOREDUMP" "$STORE" msgs p INBOX | cut -f5 | sort
}

# Hashes of the mirror's files with CRLF restored (the store keeps the
# server's bytes; the mirror has LF line ends).
p3_mirror_hashes()
{
	p3_crlf_hashes $(find "$MAIL/new" "$MAIL/cur" -type f)
}

p3_done()
{
	[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
	echo "all passed"
}
