#!/bin/bash
# Push against the fixture Dovecot (which offers NOTIFY): mailsyncd with a
# poll_interval of an hour, so only push can bring mail in time.
#  - push comes up as NOTIFY on one connection, said in the log, in
#    systemd's STATUS= line (a fake NOTIFY_SOCKET) and in mailsyncctl
#    status (--json "push", and under the account's row);
#  - a message saved into INBOX, and one into another folder, reach the
#    mirror within seconds;
#  - 100 deliveries spread over three folders while push runs all arrive,
#    each exactly once (mirror equals server; store and mirror agree);
#  - a reader's flag change goes to the server while push stays up;
#  - Dovecot restarted during push: the account shows offline with a
#    reason (log and STATUS=) while it is down, reconnects with backoff,
#    and catches up on what arrived meanwhile, nothing lost or doubled;
#  - new_mail_cmd runs after each pass with new mail, with the account,
#    folder and count in its environment, and every new message counted
#    once; a failing one is a warning, --once still exits 0;
#  - no error line in the whole run; SIGTERM exits 0.
# With idle_folders and a server without NOTIFY see test_push_idle.sh.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
HOOK_LOG="$WORK/hook.log"
cat > "$WORK/hook" <<EOH
#!/bin/sh
printf '%s|%s|%s\n' "\$MAILSYNC_ACCOUNT" "\$MAILSYNC_FOLDER" "\$MAILSYNC_NEW_COUNT" >> "$HOOK_LOG"
EOH
chmod 755 "$WORK/hook"
cat >> "$CFG" <<EOC
poll_interval = 1h
timeout = 5s
new_mail_cmd = $WORK/hook
EOC
for f in Lists Work; do mailmutate_create "$MS_USER1" "$f" >/dev/null || exit 1; done
mapfile -t msgs < <(corpus_messages 120)
[ "${#msgs[@]}" -ge 110 ] || { echo "corpus: need 110 messages" >&2; exit 1; }
mailmutate_add "$MS_USER1" INBOX "${msgs[@]:0:3}" >/dev/null || exit 1

LOG="$WORK/daemon.log"
NOTIFY_LOG="$WORK/notify.log"
. "$LIB/notify_sink.sh"
notify_sink_start "$NOTIFY_LOG" || exit 1

NOTIFY_SOCKET="$NOTIFY_SOCKET_NAME" "$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"

log_has() { grep -qE -- "$1" "$LOG"; }
# mirror_equals_server WHAT: the mirror shows the server's messages
# (mirror_compare's first half: ms_mirrorcheck needs the store, which the
# running daemon holds).
mirror_equals_server()
{
	"$MS_PYTHON" "$MIRRORDUMP" "$MAIL" --strict-new | LC_ALL=C sort > "$WORK/mirror.txt"
	is_server_msgs | awk -F'\t' -v OFS='\t' '{ print $1, $3, $4, $5 }' | LC_ALL=C sort > "$WORK/server4.txt"
	if cmp -s "$WORK/mirror.txt" "$WORK/server4.txt"; then
		ok "$1: mirror equals server ($(wc -l < "$WORK/server4.txt") files, bytes and flags)"
	else
		fail "$1: mirror differs from the server:"
		diff "$WORK/mirror.txt" "$WORK/server4.txt" | head -10 >&2
	fi
}

wait_for "first pass" 30 log_has 'acct=t state=idle next_sync_in=3600s ' || exit 1
wait_for "push up" 10 log_has 'acct=t push="notify on every folder \(1 connection\)"' &&
	ok "push: $(grep -m1 -oE 'push="notify on[^"]*"' "$LOG")"
wait_for "STATUS= names push" 5 grep -qE '^STATUS=t: idle \(push: notify on every folder \(1 connection\)\)$' "$NOTIFY_LOG" &&
	ok "STATUS=: $(grep -m1 -E '^STATUS=t: idle \(push: notify on' "$NOTIFY_LOG")"
push_st="$("$MAILSYNCCTL" -c "$CFG" --json status |
	"$MS_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["accounts"][0]["push"])')"
[ "$push_st" = "notify on every folder (1 connection)" ] &&
	ok "mailsyncctl status --json: push $push_st" || fail "status --json push: '$push_st'"
"$MAILSYNCCTL" -c "$CFG" status | grep -qx '  t: push: notify on every folder (1 connection)' &&
	ok "mailsyncctl status: push under the account's row" ||
	fail "status: $("$MAILSYNCCTL" -c "$CFG" status 2>&1)"

# --- one message, then one in another folder ---------------------------------
t0=$(date +%s.%N)
mailmutate_add "$MS_USER1" INBOX "${msgs[3]}" >/dev/null || exit 1
wait_for "INBOX message by push" 10 in_mirror INBOX 4 &&
	ok "INBOX: pushed into the mirror in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s (poll_interval is 1h)"
t0=$(date +%s.%N)
mailmutate_add "$MS_USER1" Lists "${msgs[4]}" >/dev/null || exit 1
wait_for "Lists message by push" 10 in_mirror Lists 1 &&
	ok "Lists: pushed into the mirror in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
hook_has() { grep -qxF -- "$1" "$HOOK_LOG" 2>/dev/null; }
wait_for "new_mail_cmd for INBOX and Lists" 5 eval 'hook_has "t|INBOX|3" && hook_has "t|INBOX|1" && hook_has "t|Lists|1"' &&
	ok "new_mail_cmd ran with MAILSYNC_ACCOUNT, MAILSYNC_FOLDER, MAILSYNC_NEW_COUNT: $(tr '\n' ' ' < "$HOOK_LOG")"

# --- 100 deliveries over three folders ---------------------------------------------
folders=(INBOX Lists Work)
for ((i = 0; i < 100; i++)); do
	mailmutate_add "$MS_USER1" "${folders[i % 3]}" "${msgs[5 + i]}" >/dev/null || exit 1
done
all_in() { in_mirror INBOX 38 && in_mirror Lists 34 && in_mirror Work 33; }
wait_for "100 pushed messages" 60 all_in &&
	ok "100 deliveries over INBOX, Lists, Work: all in the mirror (38, 34, 33 files)" ||
	fail "mirror holds INBOX $(mirror_count INBOX), Lists $(mirror_count Lists), Work $(mirror_count Work)"
mirror_equals_server "after 100 deliveries"
dups="$("$STOREDUMP" "$STORE" msgs t | awk -F'\t' '{ print $1, $2 }' | sort | uniq -d | wc -l)"
[ "$dups" = 0 ] && ok "no (folder, uid) twice in the store" || fail "$dups duplicate store records"

# --- a reader's change while push runs ------------------------------------------------
# The mirror watch starts the pass, on the kept session: no login more.
n_push="$(grep -cE 'acct=t push="notify on every folder' "$LOG")"
unread="$(find "$MAIL/new" -type f | sort | head -1)"
uid_flag="$(uid_of "$unread")"
mv "$unread" "$MAIL/cur/$(basename "$unread"):2,F"
flagged() { [ "$(server_flags INBOX "$uid_flag")" = '\Flagged' ]; }
wait_for "a reader's flag on the server" 15 flagged &&
	ok "a reader's flag reached the server while push runs: $(grep -m1 -oE 'acct=t mirror changed by a reader[^"]*' "$LOG" || echo 'folded into a running pass')"
[ "$(grep -cE 'acct=t push="notify on every folder' "$LOG")" = "$n_push" ] &&
	ok "push stayed up through the reader's pass" || fail "push restarted for a reader's change"

# --- Dovecot restarted during push ---------------------------------------------------
ms_pid_stop "$MS_DOVECOT_PID" dovecot || exit 1
MS_DOVECOT_PID=''
wait_for "offline while the server is down" 20 log_has 'acct=t state=offline retry_in=[0-9.]+s attempt=[0-9]+ reason=".+"' &&
	ok "server down: $(grep -m1 -E 'acct=t state=offline' "$LOG")"
wait_for "STATUS= offline with a reason" 5 grep -qE '^STATUS=t: offline \(attempt [0-9]+\): .+' "$NOTIFY_LOG" &&
	ok "STATUS=: $(grep -m1 -E '^STATUS=t: offline' "$NOTIFY_LOG")"
_dovecot_run || { fail "dovecot did not start again"; exit 1; }
ms_log "dovecot restarted, pid $MS_DOVECOT_PID"
# Delivered while mailsyncd still waits out its backoff.
mailmutate_add "$MS_USER1" INBOX "${msgs[105]}" >/dev/null || exit 1
mailmutate_add "$MS_USER1" Work "${msgs[106]}" >/dev/null || exit 1
recovered() { log_has 'acct=t state=idle .* backoff=reset'; }
wait_for "recovery" 40 recovered && ok "recovered: $(grep -m1 -oE 'state=idle .* backoff=reset.*' "$LOG")"
caught_up() { in_mirror INBOX 39 && in_mirror Work 34; }
wait_for "messages of the outage" 20 caught_up &&
	ok "the messages saved at the restart arrived"
wait_for "push up again" 20 eval '[ "$(grep -cE "acct=t push=\"notify on every folder" "$LOG")" -ge 2 ]' &&
	ok "push up again after the restart"
n_pass="$(new_passes)"
mailmutate_add "$MS_USER1" Lists "${msgs[107]}" >/dev/null || exit 1
wait_for "push after the restart" 10 in_mirror Lists 35 && ok "a message after the restart is pushed"
# The file is in the mirror before its pass ends: let it end before the
# stop below, or the record waits for the next start.
pass_ended() { [ "$(new_passes)" -gt "$n_pass" ]; }
wait_for "its pass ended" 10 pass_ended
mirror_equals_server "after the restart"

errs="$(grep -E ' error ' "$LOG" | grep -v 'state=stopped' || true)"
[ -z "$errs" ] && ok "no error line in the log" || fail "error lines: $errs"
is_daemon_term 10
mirror_compare "at the end" --strict-new
total="$(awk -F'|' '{ n += $3 } END { print n + 0 }' "$HOOK_LOG")"
[ "$total" = 108 ] && ok "new_mail_cmd counted all 108 new messages once ($(wc -l < "$HOOK_LOG") runs)" ||
	fail "new_mail_cmd counted $total new messages, want 108: $(tail -5 "$HOOK_LOG")"
grep -vE '^t\|(INBOX|Lists|Work|)\|[0-9]+$' "$HOOK_LOG" && fail "odd new_mail_cmd lines"

# A failing new_mail_cmd is a warning, nothing more.
sed -i 's|^new_mail_cmd = .*|new_mail_cmd = false|' "$CFG"
mailmutate_add "$MS_USER1" INBOX "${msgs[108]}" >/dev/null || exit 1
if is_sync; then
	grep -qE ' warn acct=t new_mail_cmd: failed with exit status 1' "$WORK/err" &&
		ok "failing new_mail_cmd: a warning, --once exits 0: $(cat "$WORK/out")" ||
		fail "failing new_mail_cmd: no warning: $(cat "$WORK/err")"
else
	fail "--once with a failing new_mail_cmd: exit $?: $(cat "$WORK/err")"
fi
no_sanitizer_report "$LOG"
[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
