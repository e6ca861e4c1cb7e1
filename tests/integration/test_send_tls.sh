#!/bin/bash
# Sending over STARTTLS against an attacker in the middle, and a send-only
# account: a STARTTLS the server does not offer (stripped) or refuses
# (454) stops the session before any credential is sent, and the message
# stays queued; bytes injected after the 220 to STARTTLS are thrown away
# and the message is delivered over TLS.  protocol = smtp sends with
# smtp_user / smtp_password_cmd only, and files no Sent copy.
. "$MS_SOURCE_DIR/tests/tools/send_common.sh"
send_setup

# no_auth_tried: neither the receiver nor our trace saw an AUTH.
no_auth_tried()
{
	! grep -q 'AUTH' "$MS_SMTP_LOG" && ! grep -qE ' C: AUTH' "$WORK/err"
}

# --- stripped: STARTTLS not offered, AUTH offered in plain text ------------------
send_sink --tls starttls --strip-starttls
send_msg s1 -t || fail "send s1"
send_once -v; rc=$?
[ "$rc" = 1 ] && grep -q 'does not offer STARTTLS' "$WORK/err" && no_auth_tried &&
	[ "$(sink_count)" = 0 ] && outbox | grep '<s1@test>' | grep -q $'\tqueued\t0\t' &&
	ok "stripped STARTTLS: refused, no AUTH sent, still queued: $(grep -m1 'sending:' "$WORK/err")" ||
	fail "stripped: $rc: $(grep -v ' S: \| C: ' "$WORK/err" | tail -3); $(outbox)"

# --- refused: 454 to STARTTLS --------------------------------------------------------
send_sink --tls starttls --starttls-reply 454
send_msg s2 -t || fail "send s2"
send_once -v; rc=$?
[ "$rc" = 1 ] && grep -q 'STARTTLS refused: 454' "$WORK/err" && no_auth_tried &&
	[ "$(sink_count)" = 0 ] && outbox | grep -q $'\tqueued\t0\t' &&
	ok "454 to STARTTLS: refused, no AUTH sent, still queued" ||
	fail "454: $rc: $(grep -v ' S: \| C: ' "$WORK/err" | tail -3)"

# --- injected: "250 AUTH PLAIN" after the 220, before the handshake ---------------
send_sink --tls starttls --starttls-inject "250-AUTH PLAIN LOGIN"
send_msg s3 -t || fail "send s3"
send_once -v; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] && grep -q '"tls": true' "$MS_SMTP_DIR/001.json" &&
	grep -qE 'STARTTLS done, [1-9][0-9]* plaintext bytes discarded' "$WORK/err" &&
	ok "injected bytes discarded, delivered over TLS: $(grep -o 'STARTTLS done.*' "$WORK/err" | head -1)" ||
	fail "inject: $rc: $(grep -v ' S: \| C: ' "$WORK/err" | tail -3)"

# --- wrong CA: verification fails, nothing sent ---------------------------------------
send_sink --tls implicit
sed -i "s|^ca_file = .*|ca_file = /etc/ssl/certs/ca-certificates.crt|" "$CFG"
send_msg s4 -t || fail "send s4"
send_once -v; rc=$?
[ "$rc" = 1 ] && no_auth_tried && [ "$(sink_count)" = 0 ] &&
	ok "unverifiable certificate: refused: $(grep -m1 'sending:' "$WORK/err")" ||
	fail "verify: $rc: $(tail -3 "$WORK/err")"

# --- a send-only account ---------------------------------------------------------------
send_sink --tls implicit
send_config_smtp other@example.org
[general]
store = $STORE

[account out]
protocol = smtp
smtp_host = localhost
smtp_port = $MS_SMTP_PORT
smtp_tls = implicit
ca_file = $MS_TLS_CA
smtp_user = smtpuser
smtp_password_cmd = echo smtp-pass-1
from = other@example.org
EOC
printf 'From: other@example.org\nTo: bob@example.net\nSubject: s5\nMessage-ID: <s5@test>\n\nsend-only\n' |
	"$MAILSYNCCTL" -c "$CFG" send -t || fail "send s5"
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] && grep -q '"auth_login": "smtpuser"' "$MS_SMTP_DIR/001.json" &&
	outbox | grep '<s5@test>' | grep -q $'\tsent\t1\tcopy-filed' && [ "$(sent_copies s5)" = 0 ] &&
	ok "protocol = smtp: delivered, no Sent copy, no sync: $(cat "$WORK/out")" ||
	fail "send-only: $rc: $(cat "$WORK/out" "$WORK/err"); $(outbox)"

send_finish
