#!/bin/bash
# Sending, as a user does it: `mailsyncctl send` queues while the daemon is
# stopped, `mailsyncd --once` delivers through the real SMTP receiver
# (aiosmtpd, smtp_sink.py) and files one Sent copy per message in Dovecot.
# Per case: what the receiver got (envelope and bytes), the outbox in the
# store, the Sent folder, and --once's exit status (0 / 75 / 1).
. "$MS_SOURCE_DIR/tests/tools/send_common.sh"
send_setup

# --- delivery and the Sent copy (STARTTLS + AUTH) -------------------------------
send_sink --tls starttls
send_msg d1 -t && ok "queued while the daemon is stopped" || fail "send -t: $?"
[ "$(find "$STORE/spool/new" -type f | wc -l)" = 1 ] || fail "no spool file"
send_once; rc=$?
[ "$rc" = 0 ] && ok "--once delivered: $(cat "$WORK/out")" ||
	fail "--once: $rc: $(tail -5 "$WORK/err")"
[ "$(sink_count)" = 1 ] || fail "sink has $(sink_count) messages"
m="$MS_SMTP_DIR/001"
grep -q '"mail_from": "alice@example.org"' "$m.json" &&
	grep -q '"bob@example.net"' "$m.json" && grep -q '"tls": true' "$m.json" &&
	grep -q '"auth_login": "smtpuser"' "$m.json" &&
	ok "envelope: from alice, to bob, over TLS, AUTH as smtp_user" ||
	fail "envelope: $(cat "$m.json")"
# Dot-stuffing undone by the receiver, CRLF on the wire.
grep -q $'^\.leading dot\r$' "$m.eml" && [ "$(grep -c $'\r$' "$m.eml")" = "$(wc -l < "$m.eml")" ] &&
	ok "the leading dot survived dot-stuffing" || fail "body: $(cat -A "$m.eml")"
[ "$(sent_copies d1)" = 1 ] && sent_flags d1 | grep -q '\\Seen' &&
	ok "one Sent copy, \\Seen" || fail "Sent copies: $(sent_copies d1) $(sent_flags d1)"
outbox | grep -q $'\tsent\t1\tcopy-filed' && ok "outbox: sent, copy filed" ||
	fail "outbox: $(outbox)"
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] && [ "$(sent_copies d1)" = 1 ] &&
	ok "a second --once sends and files nothing again" ||
	fail "second --once: $rc, $(sink_count) delivered, $(sent_copies d1) copies"

# --- 4xx, then success: one delivery, one Sent copy ------------------------------
send_sink --tls implicit --defer-data 1:451
send_msg d2 bob@example.net || fail "send d2"
send_once; rc=$?
[ "$rc" = 75 ] && outbox | grep -q $'<d2@test>' && outbox | grep $'<d2@test>' | grep -q $'\tqueued\t1\t' &&
	ok "451: --once exits 75, queued with attempt 1: $(grep d2 <(outbox) | cut -f10)" ||
	fail "451: $rc: $(outbox) $(cat "$WORK/err")"
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] && [ "$(sent_copies d2)" = 1 ] &&
	ok "retried: delivered once, one Sent copy" ||
	fail "retry: $rc, $(sink_count) delivered, $(sent_copies d2) copies: $(cat "$WORK/err")"

# --- 5xx: failed, kept with the server's reply ------------------------------------
send_sink --tls implicit --reject-data 554
send_msg d3 bob@example.net || fail "send d3"
send_once; rc=$?
line="$(outbox | grep '<d3@test>')"
[ "$rc" = 1 ] && [[ "$line" == *$'\tfailed\t'* ]] && [[ "$line" == *"554 5.1.1"* ]] &&
	grep -q 'd3\|failed' "$WORK/err" &&
	ok "554: --once exits 1, failed with the reply: $(cat "$WORK/err")" ||
	fail "554: $rc: $line"
[ "$(sink_count)" = 0 ] && [ "$(sent_copies d3)" = 0 ] || fail "554: something was delivered"
send_once; rc=$?
[ "$(sink_count)" = 0 ] && outbox | grep '<d3@test>' | grep -q $'\tfailed\t1\t' &&
	ok "a failed message is not retried by itself" || fail "failed retried: $(outbox)"

# --- one of three recipients refused ----------------------------------------------
send_sink --tls implicit --reject no@example.net=550
send_msg d4 a@example.net no@example.net c@example.net || fail "send d4"
send_once; rc=$?
line="$(outbox | grep '<d4@test>')"
[ "$rc" = 1 ] && [ "$(sink_count)" = 1 ] &&
	tr -d ' \n' < "$MS_SMTP_DIR/001.json" |
		grep -q '"rcpt_tos":\["a@example.net","c@example.net"\]' &&
	[[ "$line" == *$'\tfailed\t'*$'\ta@example.net,c@example.net\tno@example.net\t'* ]] &&
	[ "$(sent_copies d4)" = 1 ] &&
	ok "2 of 3 delivered once, the refused one reported: $(cat "$WORK/err")" ||
	fail "1 of 3: $rc: $line; $(cat "$MS_SMTP_DIR/001.json" 2>/dev/null)"

# --- one recipient refused for now: the others delivered, it alone retried ----------
send_sink --tls implicit --reject later@example.net=451
send_msg d10 a@example.net later@example.net || fail "send d10"
send_once; rc=$?
line="$(outbox | grep '<d10@test>')"
[ "$rc" = 75 ] && [ "$(sink_count)" = 1 ] &&
	[[ "$line" == *$'\tqueued\t1\tcopy-filed\tlater@example.net\ta@example.net\t-\t'* ]] &&
	ok "451 for one recipient: the other delivered (and its Sent copy filed), it stays queued" ||
	fail "451 rcpt: $rc: $line"
smtp_sink_stop
smtp_sink_start --auth "smtpuser:smtp-pass-1" --tls implicit || exit 1
send_config
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] &&
	tr -d ' \n' < "$MS_SMTP_DIR/001.json" | grep -q '"rcpt_tos":\["later@example.net"\]' &&
	[ "$(sent_copies d10)" = 1 ] && outbox | grep '<d10@test>' | grep -q $'\tsent\t2\t' &&
	ok "the retry went to that recipient alone; one Sent copy" ||
	fail "451 rcpt retry: $rc: $(outbox | grep d10); $(cat "$MS_SMTP_DIR/001.json" 2>/dev/null)"

# --- larger than SIZE: refused before DATA -----------------------------------------
send_sink --tls implicit --size 2000
{ printf 'From: alice@example.org\nTo: bob@example.net\nSubject: big\nMessage-ID: <d5@test>\n\n'
  head -c 3000 /dev/zero | tr '\0' 'x'; echo; } | "$MAILSYNCCTL" -c "$CFG" send -t || fail "send d5"
send_once; rc=$?
line="$(outbox | grep '<d5@test>')"
[ "$rc" = 1 ] && [[ "$line" == *"larger than the server accepts (SIZE 2000)"* ]] &&
	! grep -q 'MAIL FROM' "$MS_SMTP_LOG" 2>/dev/null && [ "$(sink_count)" = 0 ] &&
	ok "over SIZE: failed without a transaction: $(cat "$WORK/err")" ||
	fail "SIZE: $rc: $line"

# --- 8-bit body: BODY=8BITMIME; a UTF-8 address: SMTPUTF8; no PIPELINING -----------
send_sink --tls implicit --no-pipelining
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: 8bit\nMessage-ID: <d6@test>\n\ncaf\xc3\xa9\n' |
	"$MAILSYNCCTL" -c "$CFG" send -t || fail "send d6"
printf 'From: alice@example.org\nTo: j\xc3\xbcrgen@example.net\nSubject: utf8\nMessage-ID: <d7@test>\n\nhi\n' |
	"$MAILSYNCCTL" -c "$CFG" send -t || fail "send d7"
send_once -v; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 2 ] &&
	grep -q '"BODY=8BITMIME"' "$MS_SMTP_DIR/001.json" &&
	grep -q '"SMTPUTF8"' "$MS_SMTP_DIR/002.json" && grep -q 'rgen@example.net' "$MS_SMTP_DIR/002.json" &&
	ok "8-bit body sent with BODY=8BITMIME, UTF-8 address with SMTPUTF8, one command at a time" ||
	fail "8bit/utf8: $rc: $(cat "$MS_SMTP_DIR"/*.json 2>/dev/null) $(grep -v ' S: \| C: ' "$WORK/err" | tail -3)"
# Without PIPELINING each RCPT waits for MAIL's reply: the trace shows the
# reply to MAIL before the RCPT.
awk '/ C: MAIL FROM/ && !m { m = NR } / S: / && m && !s { s = NR } / C: RCPT TO/ && !r { r = NR }
	END { exit !(m && s > m && r > s) }' "$WORK/err" && ok "no PIPELINING: RCPT after MAIL's reply" ||
	fail "no PIPELINING: $(grep -E ' (C|S): ' "$WORK/err" | grep -A3 'MAIL FROM' | head -5)"

send_sink --tls implicit --no-smtputf8
printf 'From: alice@example.org\nTo: j\xc3\xbcrgen@example.net\nSubject: utf8\nMessage-ID: <d8@test>\n\nhi\n' |
	"$MAILSYNCCTL" -c "$CFG" send -t || fail "send d8"
send_once -v; rc=$?
[ "$rc" = 1 ] && outbox | grep '<d8@test>' | grep -q 'needs SMTPUTF8' && [ "$(sink_count)" = 0 ] &&
	ok "no SMTPUTF8 at the server: a clear failure: $(outbox | grep '<d8@test>' | cut -f10)" ||
	fail "no SMTPUTF8: $rc: $(outbox)"
# With PIPELINING, MAIL and RCPT leave in one flight (before any reply).
send_sink --tls implicit
send_msg d9 a@example.net b@example.net || fail "send d9"
send_once -v; rc=$?
awk '/ C: MAIL FROM/ && !m { m = NR } / C: RCPT TO:<b@/ { r = NR } / S: / && m && !s { s = NR }
	END { exit !(m && r && r < s) }' "$WORK/err" && [ "$rc" = 0 ] &&
	ok "PIPELINING: MAIL and both RCPTs sent before the first reply" ||
	fail "PIPELINING: $rc: $(grep -E ' (C|S): ' "$WORK/err" | grep -A4 'MAIL FROM' | head -6)"

send_finish
