#!/bin/bash
# The Maildir mirror under mailsyncd's foreground mode: the first pass
# writes the mirror; a reader's flag rename and deletion, seen through
# inotify, start a pass at once (long before the next poll) that pushes
# them to the server; SIGTERM ends the daemon with store, mirror and server
# in agreement.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
# A poll far away: only the watch can explain a prompt push.
# idle = no: push starts passes of its own, and this test counts the
# passes the mirror watch starts (test_push.sh has readers with push).
printf 'poll_interval = 1h\nidle = no\n' >> "$CFG"
mailfill "$MS_USER1" 20 >/dev/null || exit 1
LOG="$WORK/daemon.log"

passes() { grep -cE 'acct=t state=idle ' "$LOG" 2>/dev/null || true; }

"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"

has_pass() { [ "$(passes)" -ge "$1" ]; }
wait_for "first pass" 30 has_pass 1 || exit 1
[ -f "$MAIL/.mailsync-mirror" ] && ok "first pass wrote the mirror: $(find "$MAIL" -type f -path '*/cur/*' -o -type f -path '*/new/*' | wc -l) files" ||
	fail "no mirror after the first pass"

unread="$(find "$MAIL/new" -type f | sort | head -1)"
seen="$(find "$MAIL/cur" -type f -name '*:2,S' | sort | head -1)"
uid_flag="$(uid_of "$unread")"
uid_del="$(uid_of "$seen")"
t0=$SECONDS
mv "$unread" "$MAIL/cur/$(basename "$unread"):2,F"
rm "$seen"
wait_for "a pass after the reader's changes" 20 has_pass 2 || exit 1
grep -q 'acct=t mirror changed by a reader: syncing now' "$LOG" &&
	ok "the watch started a pass $((SECONDS - t0)) s after the reader's changes" ||
	fail "no 'mirror changed by a reader' in the log"
f="$(server_flags INBOX "$uid_flag")"
[ "$f" = '\Flagged' ] && ok "INBOX $uid_flag on the server: $f" ||
	fail "INBOX $uid_flag on the server: '$f', want \\Flagged"
[ -z "$(server_flags INBOX "$uid_del")" ] && ok "INBOX $uid_del deleted on the server" ||
	fail "INBOX $uid_del still on the server"

kill -TERM "$DPID"
for ((i = 0; i < 50; i++)); do ms_pid_alive "$DPID" || break; sleep 0.2; done
if ms_pid_alive "$DPID"; then
	fail "mailsyncd still running 10 s after SIGTERM"
else
	wait "$DPID"
	rc=$?
	[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
fi
pending="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$pending" = 0 ] || fail "$pending changes still pending"
is_compare "after the daemon"
mirror_compare "after the daemon"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all daemon mirror checks passed"
