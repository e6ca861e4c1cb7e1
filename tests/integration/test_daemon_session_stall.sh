#!/bin/bash
# The kept session dies silently between passes (its server process stops
# answering, as behind a NAT that forgot the connection): the next pass's
# first command times out after `timeout`, the pass is tried once more at
# once on a new session, and the account stays idle (no backoff); SIGTERM
# then exits promptly although the old session never answers LOGOUT.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

# The budget of `timeout`: the kept connection's silence is found after it,
# and every step of the new session (connect, TLS, LOGIN, the pass's
# commands) must answer within it, or the retry fails too and the account
# rightly backs off.  Under ASan at load 20 (2 cores) the new session's
# login and pass took up to 1.2 s, one answer up to 0.5 s; 6 s leaves
# room for a load spike and keeps the test short.
TIMEOUT_S=6
# idle = no: push logs in on connections of its own (test_push.sh);
# this test counts the kept session's logins and processes.  No pass by
# poll: the server process is stopped between passes, never inside a
# command (a Dovecot process stopped while it holds a mailbox's lock
# makes every new session of the user wait for it too).
is_sync_setup both "idle = no
poll_interval = 1h
timeout = ${TIMEOUT_S}s"
mailfill "$MS_USER1" 5 >/dev/null || exit 1
LOG="$WORK/daemon.log"
log_count() { grep -cE -- "$1" "$LOG" 2>/dev/null || true; }
log_has() { [ "$(log_count "$1")" -ge "$2" ]; }

"$MAILSYNCD" -v -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "first pass" 30 log_has 'acct=t state=idle ' 1 || exit 1

# The server process of the kept session: the only imap process of the
# user under this test's Dovecot.
imap_pids()
{
	local p
	for p in $(ms_pid_descendants "$MS_DOVECOT_PID"); do
		ps -o args= -p "$p" 2>/dev/null | grep -qE "/imap \[$MS_USER1 " && echo "$p"
	done
}
mapfile -t stopped < <(imap_pids)
[ "${#stopped[@]}" = 1 ] || { fail "want one imap process of $MS_USER1, got: ${stopped[*]}"; exit 1; }
kill -STOP "${stopped[0]}"
ms_cleanup_add "kill -CONT ${stopped[0]}"
n0="$(log_count 'acct=t state=idle ')"
# The next pass, as a user asks for it: it ends well, on a new session.
if timeout $((2 * TIMEOUT_S + 60)) "$MAILSYNCCTL" -c "$CFG" sync t --wait >"$WORK/sync.out" 2>&1; then
	ok "sync --wait: exit 0"
else
	fail "sync --wait: exit $?: $(cat "$WORK/sync.out")"
fi
log_has 'acct=t imap: the kept connection failed' 1 &&
	ok "$(grep -m1 -oE 'imap: the kept connection failed.*' "$LOG")" ||
	fail "no retry on a new session; log tail: $(tail -5 "$LOG")"
log_has 'acct=t state=idle ' $((n0 + 1)) && ok "the pass succeeded on a new session" ||
	fail "no good pass on the new session"
log_has 'acct=t state=(backoff|offline|error)' 1 && fail "$(grep -m1 -E 'acct=t state=(backoff|offline|error)' "$LOG")"

is_daemon_term 15
kill -CONT "${stopped[0]}"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
