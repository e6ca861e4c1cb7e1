#!/bin/bash
# Push against a Dovecot that does not offer NOTIFY: IDLE on idle_folders.
#  - default idle_folders: one connection watches INBOX; a message saved
#    there reaches the mirror within seconds (poll_interval is an hour),
#    one saved into another folder waits for the poll;
#  - the server closes the push connection (its imap process is ended, so
#    it says BYE, as a server with an idle timeout does) three times: each
#    time a catch-up pass, push up again, and no warning or error line;
#  - idle_folders = * with more folders than five: five connections (the bound),
#    INBOX among them, said in the log and STATUS=; a watched folder's
#    message is pushed;
#  - SIGTERM exits 0 and leaves no connection behind.
MS_DOVECOT_IMAP_CONF='imap_capability = IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS SPECIAL-USE MOVE'
export MS_DOVECOT_IMAP_CONF
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"
. "$LIB/notify_sink.sh"

mirror_setup
cat >> "$CFG" <<EOC
poll_interval = 1h
timeout = 5s
EOC
for f in A1 A2 A3 A4 A5 A6; do mailmutate_create "$MS_USER1" "$f" >/dev/null || exit 1; done
mapfile -t msgs < <(corpus_messages 20)
mailmutate_add "$MS_USER1" INBOX "${msgs[0]}" >/dev/null || exit 1
LOG="$WORK/daemon.log"
log_has() { grep -qE -- "$1" "$LOG"; }
# The server processes of alice's connections that are in IDLE.
idle_pids()
{
	local p
	for p in $(ms_pid_descendants "$MS_DOVECOT_PID"); do
		ps -o args= -p "$p" 2>/dev/null | grep -qE "/imap \[$MS_USER1 .*IDLE" && echo "$p"
	done
}
n_idle() { [ "$(idle_pids | wc -l)" = "$1" ]; }

# --- idle_folders = INBOX (the default) ---------------------------------------
"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "push up" 30 log_has 'acct=t push="idle on INBOX \(1 connection\)"' &&
	ok "no NOTIFY: $(grep -m1 -oE 'push="idle[^"]*"' "$LOG")"
wait_for "one IDLE connection" 10 n_idle 1 || exit 1
mailmutate_add "$MS_USER1" INBOX "${msgs[1]}" >/dev/null || exit 1
wait_for "INBOX message by IDLE" 10 in_mirror INBOX 2 && ok "INBOX: pushed by IDLE"
mailmutate_add "$MS_USER1" A1 "${msgs[2]}" >/dev/null || exit 1
sleep 3
in_mirror A1 0 && ok "A1 (not in idle_folders): not pulled before the poll" ||
	fail "A1 got its message without a poll: $(mirror_count A1)"

# --- the server closes the push connection, three times ----------------------------
for round in 1 2 3; do
	n_before="$(grep -cE 'acct=t push="idle on INBOX' "$LOG")"
	mapfile -t p < <(idle_pids)
	[ "${#p[@]}" = 1 ] || { fail "round $round: want one IDLE process, got ${p[*]}"; break; }
	# Past the 5 s after which an end is an ordinary one, not a
	# connection that cannot stay up.
	sleep 5
	kill -TERM "${p[0]}"
	up_again() { [ "$(grep -cE 'acct=t push="idle on INBOX' "$LOG")" -gt "$n_before" ]; }
	wait_for "round $round: push up again" 15 up_again || break
	wait_for "round $round: IDLE again" 10 n_idle 1 || break
done
grep -qE 'acct=t push: connection ended \(.*BYE.*\); catching up with a pass' "$LOG" &&
	ok "BYE on the push connection: $(grep -m1 -oE 'push: connection ended .*' "$LOG" | cut -c1-120)" ||
	fail "no 'connection ended (... BYE ...)' line: $(grep 'push:' "$LOG" | tail -3)"
# The catch-up passes are full passes: A1's message arrived with them.
in_mirror A1 1 && ok "A1's message came with a catch-up pass" || fail "A1: $(mirror_count A1) files"
mailmutate_add "$MS_USER1" INBOX "${msgs[3]}" >/dev/null || exit 1
wait_for "INBOX message after the closes" 10 in_mirror INBOX 3 && ok "pushed after three closes"
bad="$(grep -E ' (warn|error) ' "$LOG" || true)"
[ -z "$bad" ] && ok "three server-side closes: no warning or error line" || fail "lines: $bad"
is_daemon_term 10

# --- idle_folders = * : bounded connections -------------------------------------------
printf 'idle_folders = *\n' >> "$CFG"
LOG="$WORK/daemon2.log"
NOTIFY_LOG="$WORK/notify.log"
notify_sink_start "$NOTIFY_LOG" || exit 1
NOTIFY_SOCKET="$NOTIFY_SOCKET_NAME" "$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "push on 5 of all" 30 log_has 'acct=t push="idle on 5 of [0-9]+ folders \(5 connections, at most 5; the rest polled\)"' &&
	ok "idle_folders = *: $(grep -m1 -oE 'push="idle on 5[^"]*"' "$LOG")"
wait_for "five IDLE connections" 10 n_idle 5 && ok "five IDLE connections on the server"
wait_for "STATUS= with push" 5 grep -qE '^STATUS=t: idle \(push: idle on 5 of [0-9]+ folders' "$NOTIFY_LOG" &&
	ok "STATUS=: $(grep -m1 -E '^STATUS=t: idle \(push: idle on 5' "$NOTIFY_LOG")" ||
	fail "STATUS=: $(grep STATUS "$NOTIFY_LOG" | tail -2)"
# Watched: INBOX first, then the first four others by name: A1 to A4
# sort before Dovecot's own folders (Drafts, Junk, Sent ...).
n_pass="$(new_passes)"
mailmutate_add "$MS_USER1" A4 "${msgs[4]}" >/dev/null || exit 1
wait_for "A4 message by IDLE" 10 in_mirror A4 1 && ok "A4 (watched): pushed"
# The file is in the mirror before the pass records it: let the pass end,
# or the stop leaves the record for the next start (mirror_check would
# see the file unrecorded).
pass_ended() { [ "$(new_passes)" -gt "$n_pass" ]; }
wait_for "A4's pass ended" 10 pass_ended
is_daemon_term 10
n_left="$(idle_pids | wc -l)"
[ "$n_left" = 0 ] && ok "no IDLE connection left after SIGTERM" || fail "$n_left IDLE connections left"
mirror_compare "at the end"

no_sanitizer_report "$WORK/daemon.log" "$WORK/daemon2.log"
[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
