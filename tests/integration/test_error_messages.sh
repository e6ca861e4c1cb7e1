#!/bin/bash
# The messages a person sees when a setting is wrong, checked word for word
# as mailsyncd and mailsyncctl print them against the fixture Dovecot: a
# port in host = (--check-config says to use port =), implicit TLS to a
# port that answers in plain text (OpenSSL's "wrong version number": the
# message says tls = starttls), STARTTLS to a port that speaks TLS at once
# (the reverse: tls = implicit), a certificate for other names (the names
# it has are listed), and an unknown mailsyncctl command (the commands are
# listed).  Only the stamp and the certificate's fingerprint vary.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup pull
STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{4}'

# same WHAT WANT GOT: GOT (a file, stamps removed) is WANT word for word.
same()
{
	sed -E "s/^$STAMP //" "$3" > "$3.text"
	printf '%s\n' "$2" > "$WORK/want"
	if cmp -s "$WORK/want" "$3.text"; then
		ok "$1: $(head -1 "$WORK/want")"
	else
		fail "$1:"
		diff "$WORK/want" "$3.text" >&2
	fi
}

# setting KEY VALUE: sets KEY of account t.
setting()
{
	if grep -q "^$1 = " "$CFG"; then
		sed -i "s|^$1 = .*|$1 = $2|" "$CFG"
	else
		printf '%s = %s\n' "$1" "$2" >> "$CFG"
	fi
}

# --- host = NAME:PORT -----------------------------------------------------------
setting host imap.example.com:993
"$MAILSYNCD" -c "$CFG" --check-config >"$WORK/out" 2>&1; rc=$?
[ "$rc" = 2 ] || fail "--check-config with a port in host: exit $rc"
line="$(grep -n '^host = ' "$CFG" | cut -d: -f1)"
same "a port in host =" "$CFG:$line: [account t] host: 'imap.example.com:993' holds a port; the port has its own key: host = imap.example.com and port = 993 (expected a host name or IP address)" "$WORK/out"
setting host localhost

# --- tls = implicit on a port that answers in plain text -------------------------
setting port "$MS_IMAP_PORT"
setting tls implicit
is_sync; rc=$?
[ "$rc" = 1 ] || fail "implicit TLS to the plain port: exit $rc"
grep -v ' info ' "$WORK/err" > "$WORK/err.errors"
same "implicit TLS to a plain port" "error mailsyncd: t: TLS handshake with localhost:$MS_IMAP_PORT failed: wrong version number: the server answers without TLS on this port (for STARTTLS, usually on port 143, 110 or 587, set tls = starttls)" "$WORK/err.errors"

# --- tls = starttls on a port that speaks TLS at once ----------------------------
setting port "$MS_IMAPS_PORT"
setting tls starttls
setting timeout 2s
is_sync; rc=$?
[ "$rc" = 1 ] || fail "STARTTLS to the TLS port: exit $rc"
grep -v ' info ' "$WORK/err" > "$WORK/err.errors"
same "STARTTLS to a port that speaks TLS at once" "error mailsyncd: t: localhost:$MS_IMAPS_PORT (127.0.0.1): read timeout after 2 s, not a byte received (a port that speaks TLS at once, such as 993, 995 or 465, needs tls = implicit)" "$WORK/err.errors"
setting tls implicit

# --- a certificate for other names ------------------------------------------------
dovecot_stop
dovecot_start --cert wronghost || exit $?
setting port "$MS_IMAPS_PORT"
is_sync; rc=$?
[ "$rc" = 1 ] || fail "a certificate for another name: exit $rc"
fp="$(ms_tls_fingerprint "$MS_TLS_WRONGHOST_CERT")"
grep -v ' info ' "$WORK/err" > "$WORK/err.errors"
same "a certificate for another name" "error mailsyncd: t: TLS certificate of localhost:$MS_IMAPS_PORT refused: hostname mismatch: it is for wrong.example, not localhost (set host = one of those names); fingerprint seen $fp" "$WORK/err.errors"

# --- mailsyncctl: an unknown command ----------------------------------------------
"$MAILSYNCCTL" frobnicate >"$WORK/out" 2>&1; rc=$?
[ "$rc" = 2 ] || fail "an unknown command: exit $rc"
same "an unknown mailsyncctl command" "mailsyncctl: unknown command 'frobnicate'; commands: status accounts folders list cat search flag move delete sync pause resume watch reload send outbox setup convert version (try 'mailsyncctl --help')" "$WORK/out"

[ "$FAILS" = 0 ] || exit 1
echo "all passed"
