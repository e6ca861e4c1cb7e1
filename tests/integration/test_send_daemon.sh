#!/bin/bash
# The foreground daemon and the outbox: mail queued while it is stopped
# goes out when it starts; mail queued while it runs goes out at once (the
# spool is watched, not polled); mail queued while the SMTP server cannot
# be reached goes out soon after it comes back; SIGTERM leaves nothing
# half-done.
. "$MS_SOURCE_DIR/tests/tools/send_common.sh"
send_setup

send_sink --tls implicit
port="$MS_SMTP_PORT"
send_msg f1 -t || fail "send f1"
daemon_start
wait_for "f1 delivered" 15 sink_has 1 &&
	ok "queued while stopped, delivered when the daemon started" ||
	fail "f1 not delivered: $(tail -5 "$WORK/daemon.log")"
wait_for "f1 Sent copy" 15 copies_are f1 1 && ok "its Sent copy filed" ||
	fail "f1: $(sent_copies f1) Sent copies"

start=$(date +%s%N)
send_msg f2 -t || fail "send f2"
wait_for "f2 delivered" 10 sink_has 2 &&
	ok "queued while running: delivered in $(( ($(date +%s%N) - start) / 1000000 )) ms" ||
	fail "f2 not delivered: $(tail -5 "$WORK/daemon.log")"

# The server goes away: the message waits; it comes back: out it goes.
smtp_sink_stop
send_msg f3 -t || fail "send f3"
wait_for "a retry planned" 10 grep -q 'next try in' "$WORK/daemon.log" &&
	ok "server unreachable: $(grep -o 'send: .*next try in [0-9]* s)' "$WORK/daemon.log" | tail -1)" ||
	fail "no retry planned: $(tail -5 "$WORK/daemon.log")"
grep -q 'outbox id=3 queued from the spool' "$WORK/daemon.log" || fail "f3 not queued"
smtp_sink_start --auth "smtpuser:smtp-pass-1" --tls implicit --port "$port" || exit 1
wait_for "f3 delivered" 30 sink_has 1 && wait_for "f3 Sent copy" 15 copies_are f3 1 &&
	ok "server back: f3 delivered, its copy filed" ||
	fail "f3 not delivered after the server came back: $(tail -5 "$WORK/daemon.log")"

daemon_stop TERM
grep -q 'mailsyncd stopped' "$WORK/daemon.log" && ok "SIGTERM: stopped cleanly" ||
	fail "SIGTERM: $(tail -3 "$WORK/daemon.log")"
[ "$(outbox_state f3)" = sent ] || fail "f3: $(outbox | grep f3)"
"$MS_BUILD_DIR/tests/ms_storedump" "$STORE" check >/dev/null && ok "store_check clean" ||
	fail "store_check: $("$MS_BUILD_DIR/tests/ms_storedump" "$STORE" check)"
[ "$(sent_copies f2)" = 1 ] && [ "$(sent_copies f3)" = 1 ] || fail "Sent copies f2/f3: $(sent_copies f2)/$(sent_copies f3)"

send_finish
