#!/bin/bash
# kill -9 and crashes at each state of an outgoing message: never lost; a
# second delivery only inside the documented window (the connection or
# the daemon gone after the final "." and before the server's reply),
# which the outbox then shows as "possibly sent"; never a second Sent copy.
. "$MS_SOURCE_DIR/tests/tools/send_common.sh"
send_setup

# --- spool: a file imported before a crash that kept it is not queued twice --------
send_sink --tls implicit
send_msg k1 -t || fail "send k1"
cp "$STORE"/spool/new/* "$WORK/k1.spool"
name="$(basename "$(ls "$STORE"/spool/new/*)")"
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] || fail "k1: $rc $(cat "$WORK/err")"
cp "$WORK/k1.spool" "$STORE/spool/new/$name"	# as if unlink never happened
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] && [ ! -e "$STORE/spool/new/$name" ] &&
	[ "$(outbox | wc -l)" = 1 ] &&
	ok "spool file back after its import: removed, not queued or sent twice" ||
	fail "spool replay: $rc, $(sink_count) delivered, $(outbox | wc -l) entries"
# A half-written file (the client killed before its rename) stays in tmp/.
printf 'mailsync-spool 1\naccount t\n' > "$STORE/spool/tmp/partial"
send_once
[ -e "$STORE/spool/tmp/partial" ] && [ "$(outbox | wc -l)" = 1 ] &&
	ok "a file in tmp/ (unfinished) is never imported" || fail "tmp/ imported"
# A file the daemon cannot use is set aside, not deleted.
printf 'garbage\n' > "$STORE/spool/new/bad1"
send_once
[ -e "$STORE/spool/bad/bad1" ] && grep -q 'not a mailsync spool file; moved to' "$WORK/err" &&
	ok "a bad spool file is kept in bad/: $(grep -o 'bad1: .*' "$WORK/err" | head -1)" ||
	fail "bad file: $(cat "$WORK/err")"

# --- queued, after a 451: kill -9 while waiting for the retry ----------------------
# The log's "retry in" says the retry is recorded: on a disk whose every
# commit takes 1 s, a kill at that line still finds the entry queued
# (not "sending", which a restart would take for possibly sent).
send_sink --tls implicit --defer-data 1:451
send_msg k2 -t || fail "send k2"
# An ASan build's runtime does not come first when a module is preloaded.
LD_PRELOAD="$MS_BUILD_DIR/tests/ms_slow_fdatasync.so" MS_SLOW_FDATASYNC_MS=1000 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" daemon_start
wait_for "k2: a retry planned" 30 grep -q 'outbox id=1 retry in' "$WORK/daemon.log"
daemon_stop KILL
[ "$(outbox_state k2)" = queued ] && ok "killed while queued for a retry: still queued" ||
	fail "k2 after kill: $(outbox)"
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] && [ "$(sent_copies k2)" = 1 ] &&
	ok "then delivered once, one Sent copy" ||
	fail "k2: $rc, $(sink_count) delivered, $(sent_copies k2) copies"

# --- sending: kill -9 after the final "." and before the reply --------------------
send_sink --tls implicit --stall-data 8
send_msg k3 -t || fail "send k3"
daemon_start
wait_for "k3: the sink stalls" 15 grep -q 'stalling' "$MS_SMTP_LOG"
daemon_stop KILL
[ "$(outbox_state k3)" = sending ] && ok "killed inside the window: the store says sending" ||
	fail "k3 after kill: $(outbox)"
send_once; rc=$?
line="$(outbox | grep '<k3@test>')"
[ "$rc" = 0 ] && [ "$(sink_count)" = 2 ] && [[ "$line" == *$'\tsent\t'*possibly-sent* ]] &&
	[ "$(sent_copies k3)" = 1 ] &&
	ok "sent again (the documented duplicate), shown as possibly sent, one Sent copy" ||
	fail "k3: $rc, $(sink_count) delivered, $(sent_copies k3) copies: $line; $(cat "$WORK/err")"

# --- the connection lost after the "." (no kill): possibly sent, retried -----------
send_sink --tls implicit --drop-after-data 1
send_msg k4 -t || fail "send k4"
send_once; rc=$?
line="$(outbox | grep '<k4@test>')"
[ "$rc" = 75 ] && [[ "$line" == *$'\tqueued\t1\tpossibly-sent'* ]] &&
	grep -q 'possibly sent' "$WORK/out" &&
	ok "connection lost after the message: queued, possibly sent: $(cut -f10 <<<"$line")" ||
	fail "k4: $rc: $line; $(cat "$WORK/out" "$WORK/err")"
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sink_count)" = 2 ] && [ "$(sent_copies k4)" = 1 ] &&
	ok "retried: delivered (again), one Sent copy" ||
	fail "k4 retry: $rc, $(sink_count), $(sent_copies k4)"

# --- delivered, Sent copy not filed (IMAP refused), then filed once ------------------
send_sink --tls implicit
send_msg k5 -t || fail "send k5"
sed -i "s|^password = .*|password = wrong|" "$CFG"
send_once; rc=$?
line="$(outbox | grep '<k5@test>')"
[ "$(sink_count)" = 1 ] && [[ "$line" == *copy-pending* ]] && [ "$(sent_copies k5)" = 0 ] &&
	ok "delivered, the Sent copy waits (IMAP login refused; --once $rc)" ||
	fail "k5: $rc: $line"
# The copy reached the folder but its record did not (a crash between the
# two): the next run finds it by Message-ID.
dovecot_doveadm save -u "$MS_USER1" -m Sent < "$MS_SMTP_DIR/001.eml" || fail "doveadm save"
sed -i "s|^password = .*|password = $MS_PASS1|" "$CFG"
send_once; rc=$?
[ "$rc" = 0 ] && [ "$(sent_copies k5)" = 1 ] && outbox | grep '<k5@test>' | grep -q copy-filed &&
	grep -q 'Sent copy already in Sent' "$WORK/err" &&
	ok "copy found by Message-ID: filed once, not twice" ||
	fail "k5 copy: $rc, $(sent_copies k5) copies: $(outbox | grep k5)"

"$MS_BUILD_DIR/tests/ms_storedump" "$STORE" check >/dev/null && ok "store_check clean" ||
	fail "store_check: $("$MS_BUILD_DIR/tests/ms_storedump" "$STORE" check)"
send_finish
