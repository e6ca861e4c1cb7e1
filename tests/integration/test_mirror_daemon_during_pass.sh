#!/bin/bash
# A reader's change made while a pass runs (the watch is paused from the
# scan before the pass until its export is done) is scanned when the watch
# resumes and starts the next pass at once: it reaches the server long
# before the next poll.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

N="${MS_DURING_MSGS:-3000}"
mirror_setup
# A poll far away: only the watch can explain a prompt push.
# idle = no: push starts passes of its own, and this test counts the
# passes the mirror watch starts (test_push.sh has readers with push).
printf 'poll_interval = 1h\nidle = no\n' >> "$CFG"
mailfill "$MS_USER1" 40 >/dev/null || exit 1
LOG="$WORK/daemon.log"
passes() { grep -cE 'acct=t state=idle ' "$LOG" 2>/dev/null || true; }
has_pass() { [ "$(passes)" -ge "$1" ]; }

"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "first pass" 30 has_pass 1 || exit 1

# Many new messages make the next pass long; a reader's flag starts it.
mailfill "$MS_USER1" "$N" >/dev/null || exit 1
mapfile -t seen < <(find "$MAIL/cur" -type f -name '*:2,S' | sort | head -2)
[ "${#seen[@]}" = 2 ] || { fail "want two seen files in $MAIL/cur"; exit 1; }
rm "${seen[0]}"
started() { grep -q 'acct=t mirror changed by a reader: syncing now' "$LOG"; }
wait_for "the pass the reader's deletion started" 20 started || exit 1
# The flag is set while that pass runs.
uid="$(uid_of "${seen[1]}")"
mv "${seen[1]}" "${seen[1]%:2,S}:2,FS"
has_pass 2 && { echo "the pass ended before the second change: nothing to check" >&2; exit 77; }
wait_for "the long pass" 120 has_pass 2 || exit 1
wait_for "a pass for the change made during the long one" 20 has_pass 3 &&
	ok "a third pass followed at once"
f="$(server_flags INBOX "$uid")"
case "$f" in *'\Flagged'*) true ;; *) false ;; esac && ok "INBOX $uid on the server: $f" ||
	fail "INBOX $uid on the server: '$f', want \\Flagged \\Seen"

mirror_daemon_stop
pending="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$pending" = 0 ] || fail "$pending changes still pending"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
