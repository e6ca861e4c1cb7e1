#!/bin/bash
# The outbox through the control socket: `mailsyncctl outbox` lists the
# queue with each message's state and the server's last reply, `outbox
# show ID` one entry, `outbox retry ID` sends a failed message again,
# `outbox drop ID` removes one; `mailsyncctl send --wait` waits for the
# first attempt and prints the server's reply (0 sent, 75 deferred, 1
# refused, 3 when no daemon runs: the message is queued anyway).
. "$MS_SOURCE_DIR/tests/tools/send_common.sh"
send_setup
CTL() { "$MAILSYNCCTL" -c "$CFG" "$@"; }

send_sink --tls implicit --reject-data 554
port="$MS_SMTP_PORT"
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: w0\nMessage-ID: <w0@test>\n\nno daemon\n' |
	CTL send -t --wait > "$WORK/w0.out" 2>&1; rc=$?
[ "$rc" = 3 ] && grep -q 'queued' "$WORK/w0.out" && ok "send --wait without a daemon: 3, queued" ||
	fail "send --wait, no daemon: $rc: $(cat "$WORK/w0.out")"
daemon_start
wait_for "the control socket" 15 test -S "$WORK/ctl.sock"
wait_for "w0 tried" 15 grep -q 'outbox id=1 refused after DATA' "$WORK/daemon.log"

printf 'From: alice@example.org\nTo: bob@example.net\nSubject: w1 refused\nMessage-ID: <w1@test>\n\nrefused\n' |
	CTL send -t --wait > "$WORK/w1.out" 2>&1; rc=$?
[ "$rc" = 1 ] && grep -q '^failed: 554 5.1.1' "$WORK/w1.out" && grep -q 'refused: bob@example.net' "$WORK/w1.out" &&
	ok "send --wait, refused: 1: $(head -1 "$WORK/w1.out")" || fail "send --wait 554: $rc: $(cat "$WORK/w1.out")"
CTL outbox > "$WORK/list" 2>&1 && grep -E '^2 +t +failed +1 .*w1 refused +554 5.1.1' "$WORK/list" >/dev/null &&
	ok "outbox lists it failed with the reply" || fail "outbox: $(cat "$WORK/list")"
CTL outbox show 2 > "$WORK/show" 2>&1 && grep -q '^refused: *bob@example.net: 554 5.1.1' "$WORK/show" &&
	grep -q '^subject: *w1 refused' "$WORK/show" && ok "outbox show 2" || fail "show: $(cat "$WORK/show")"
CTL --json outbox | grep -q '"state": "failed"' || fail "outbox --json"

# The server accepts again: retry sends it, once.
smtp_sink_stop
smtp_sink_start --auth "smtpuser:smtp-pass-1" --tls implicit --port "$port" || exit 1
CTL outbox retry 2 > "$WORK/retry" 2>&1 && wait_for "w1 delivered" 15 sink_has 1 &&
	grep -q '"w1 refused"\|Subject: w1 refused' "$MS_SMTP_DIR/001.eml" &&
	ok "outbox retry 2: delivered ($(cat "$WORK/retry"))" || fail "retry: $(cat "$WORK/retry"); $(tail -3 "$WORK/daemon.log")"
wait_for "w1 Sent copy" 10 copies_are w1 1
CTL outbox show 2 | grep -q '^state: *sent' && ok "and it shows sent" || fail "after retry: $(CTL outbox show 2)"
CTL outbox retry 2 > "$WORK/retry2" 2>&1; rc=$?
[ "$rc" = 1 ] && grep -q 'nothing to retry' "$WORK/retry2" && ok "retry of a sent one: refused" ||
	fail "retry sent: $rc $(cat "$WORK/retry2")"

CTL outbox drop 1 > "$WORK/drop" 2>&1 && ! CTL outbox show 1 >/dev/null 2>&1 &&
	ok "outbox drop 1: gone" || fail "drop: $(cat "$WORK/drop")"
CTL outbox drop 99 >/dev/null 2>&1; [ $? = 1 ] || fail "drop of no entry should exit 1"
CTL outbox show x >/dev/null 2>&1; [ $? = 2 ] || fail "show x should be a usage error"

printf 'From: alice@example.org\nTo: carol@example.net\nSubject: w2\nMessage-ID: <w2@test>\n\nok\n' |
	CTL send -t --wait > "$WORK/w2.out" 2>&1; rc=$?
[ "$rc" = 0 ] && grep -q '^sent: 250 2.0.0 OK' "$WORK/w2.out" && grep -q 'delivered: carol@example.net' "$WORK/w2.out" &&
	ok "send --wait, delivered: $(head -1 "$WORK/w2.out")" || fail "send --wait ok: $rc: $(cat "$WORK/w2.out")"

smtp_sink_stop
smtp_sink_start --auth "smtpuser:smtp-pass-1" --tls implicit --port "$port" --defer-data 1:451 || exit 1
printf 'From: alice@example.org\nTo: dave@example.net\nSubject: w3\nMessage-ID: <w3@test>\n\nlater\n' |
	CTL send -t --wait > "$WORK/w3.out" 2>&1; rc=$?
[ "$rc" = 75 ] && grep -q '^retrying: 451 4.2.0' "$WORK/w3.out" &&
	ok "send --wait, deferred: 75: $(head -1 "$WORK/w3.out")" || fail "send --wait 451: $rc: $(cat "$WORK/w3.out")"

daemon_stop TERM
send_finish
