#!/bin/bash
# A long outage during push: Dovecot stays down past the backoff's cap
# (MAILSYNC_BACKOFF_MAX=4 here, 5 minutes by default, so that the test
# takes seconds).  While it is down the account is offline with the
# reason, every attempt is logged as a warning with retry_in never above
# the cap, and no line is an error; when it is back, mailsyncd reconnects
# within the cap, catches up on what was delivered at the restart, pushes
# again, and every message is in the mirror exactly once.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
cat >> "$CFG" <<EOC
poll_interval = 1h
timeout = 5s
EOC
mailmutate_create "$MS_USER1" Lists >/dev/null || exit 1
mapfile -t msgs < <(corpus_messages 10)
mailmutate_add "$MS_USER1" INBOX "${msgs[0]}" >/dev/null || exit 1
LOG="$WORK/daemon.log"
log_has() { grep -qE -- "$1" "$LOG"; }

MAILSYNC_BACKOFF_MAX=4 "$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "push up" 30 log_has 'acct=t push="notify on every folder' || exit 1
# Push has to have watched a while for its end to be an ordinary one.
sleep 6

ms_pid_stop "$MS_DOVECOT_PID" dovecot || exit 1
MS_DOVECOT_PID=''
t_down=$SECONDS
# Attempt 4 has a ceiling of 8 s, past the cap of 4: wait for two more.
wait_for "attempts past the cap" 60 log_has 'acct=t state=offline .*attempt=6 ' || exit 1
mapfile -t bl < <(grep -E 'acct=t state=offline ' "$LOG")
okay=1
for l in "${bl[@]}"; do
	ri="$(sed -nE 's/.* retry_in=([0-9.]+)s .*/\1/p' <<< "$l")"
	awk -v r="$ri" 'BEGIN { exit !(r >= 1.0 && r <= 4.0) }' || { okay=0; fail "retry_in past the cap: $l"; }
	[[ "$l" == *' warn acct=t state=offline '*'reason="'?* ]] || { okay=0; fail "not a warning with a reason: $l"; }
done
[ "$okay" = 1 ] && ok "down $((SECONDS - t_down)) s: ${#bl[@]} attempts, each a warning with the reason, retry_in within [1, 4] s (the cap): ${bl[-1]##*state=}"

ms_log "starting dovecot again"
_dovecot_run || { fail "dovecot did not start again"; exit 1; }
t_up=$SECONDS
mailmutate_add "$MS_USER1" INBOX "${msgs[1]}" >/dev/null || exit 1
mailmutate_add "$MS_USER1" Lists "${msgs[2]}" >/dev/null || exit 1
recovered() { log_has 'acct=t state=idle .* backoff=reset failed_attempts=[0-9]+'; }
wait_for "recovery within the cap" 15 recovered &&
	ok "reconnected $((SECONDS - t_up)) s after the server came back: $(grep -m1 -oE 'backoff=reset failed_attempts=[0-9]+' "$LOG")"
caught_up() { in_mirror INBOX 2 && in_mirror Lists 1; }
wait_for "catch-up" 15 caught_up && ok "the messages delivered at the restart arrived"
n_up() { [ "$(grep -cE 'acct=t push="notify on every folder' "$LOG")" -ge 2 ]; }
wait_for "push again" 15 n_up && ok "push up again"
n_pass="$(new_passes)"
mailmutate_add "$MS_USER1" Lists "${msgs[3]}" >/dev/null || exit 1
wait_for "pushed after the outage" 10 in_mirror Lists 2 && ok "a message after the outage is pushed"
pass_ended() { [ "$(new_passes)" -gt "$n_pass" ]; }
wait_for "its pass ended" 10 pass_ended
errs="$(grep -E ' error ' "$LOG" || true)"
[ -z "$errs" ] && ok "no error line during the outage" || fail "error lines: $errs"
is_daemon_term 10
mirror_compare "after the outage" --strict-new
dups="$("$STOREDUMP" "$STORE" msgs t | awk -F'\t' '{ print $1, $2 }' | sort | uniq -d | wc -l)"
[ "$dups" = 0 ] && ok "no (folder, uid) twice in the store" || fail "$dups duplicate store records"

no_sanitizer_report "$LOG"
[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
