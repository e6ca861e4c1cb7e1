#!/bin/bash
# The foreground mode keeps the IMAP session logged in between passes:
# over several polls the account logs in once, sends NAMESPACE once, and
# a no-change pass on the kept session is one pipelined round of
# UNSELECT + LIST (the folder the last pass left selected is left first,
# since STATUS of a selected folder need not show new mail).  A message
# added on the server meanwhile arrives on the kept session.  When the
# server goes away between passes the session ends quietly and the next
# pass logs in again.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

# idle = no: push logs in on connections of its own (test_push.sh);
# this test counts the kept session's logins and processes.
is_sync_setup both "idle = no
poll_interval = 1s
timeout = 5s"
mailfill "$MS_USER1" 30 >/dev/null || exit 1
mapfile -t files < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -2)
[ "${#files[@]}" = 2 ] || { echo "corpus: need 2 .eml files" >&2; exit 1; }
LOG="$WORK/daemon.log"
log_count() { grep -cE -- "$1" "$LOG" 2>/dev/null || true; }
log_has() { [ "$(log_count "$1")" -ge "$2" ]; }
passes() { log_count 'acct=t state=idle '; }

"$MAILSYNCD" -v -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"

wait_for "first pass" 30 log_has 'acct=t state=idle .* new=30 ' 1 || exit 1
mailmutate_add "$MS_USER1" INBOX "${files[0]}" >/dev/null || exit 1
wait_for "the added message" 15 log_has 'acct=t state=idle .* new=1 ' 1 &&
	ok "a message added on the server arrived on the kept session"
n0="$(passes)"
wait_for "three more passes" 15 log_has 'acct=t state=idle ' $((n0 + 3)) || exit 1

n_login="$(log_count 'acct=t imap: ready on ')"
n_ns="$(log_count ' C: A[0-9]+ NAMESPACE')"
n_pass="$(passes)"
[ "$n_login" = 1 ] && ok "$n_pass passes, one login" ||
	fail "$n_pass passes, $n_login logins"
[ "$n_ns" = 1 ] && ok "NAMESPACE sent once" || fail "NAMESPACE sent $n_ns times"
# The commands of the last complete pass: between the last two idle lines.
last_pass_cmds()
{
	awk '/acct=t state=idle /{ n++ } { print n "\t" $0 }' "$LOG" |
		awk -F'\t' -v want="$(( $(passes) - 1 ))" '$1 == want' |
		grep -oE ' C: A[0-9]+ [A-Z]+' | awk '{ print $3 }' | tr '\n' ' '
}
cmds="$(last_pass_cmds)"
case "$cmds" in
"UNSELECT LIST "|"LIST ") ok "a no-change pass on the kept session: $cmds" ;;
*) fail "a no-change pass sent: $cmds" ;;
esac
grep -qE ' C: A[0-9]+ LOGOUT' "$LOG" && fail "LOGOUT between passes"

# --- the server goes away between passes --------------------------------------
ms_pid_stop "$MS_DOVECOT_PID" dovecot || exit 1
wait_for "session end noticed" 10 log_has 'acct=t imap connection closed between passes' 1 &&
	ok "$(grep -m1 -oE 'imap connection closed between passes.*' "$LOG")"
dovecot_restart >/dev/null || exit 1
mailmutate_add "$MS_USER1" INBOX "${files[1]}" >/dev/null || exit 1
wait_for "login again" 20 log_has 'acct=t imap: ready on ' 2 &&
	ok "the next pass logged in again"
wait_for "message after the restart" 20 log_has 'acct=t state=idle .* new=1 ' 2 &&
	ok "the message added after the restart arrived"

is_daemon_term 10
grep -qE ' C: A[0-9]+ LOGOUT' "$LOG" && ok "the kept session logged out at the end" ||
	fail "no LOGOUT at the end"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"
is_compare "after the daemon"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
