#!/bin/bash
# A server whose IDLE only polls, as `mailsyncctl status` names it: the
# scripted fake server greets as Courier-IMAP, offers IDLE but no NOTIFY,
# and its IDLE reports nothing (Courier without FAM checks every 60 s).
# Push IDLEs on INBOX over a connection of its own, and status --json's
# "push" and the line under the account's row say that the server only
# polls.  (NOTIFY on Dovecot in status: test_push.sh.)
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"

fake_start --box INBOX:1,2 --box Sent:1 --caps IDLE \
	--greeting "Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc." \
	--concurrent
scenario courier
printf 'idle = yes\nidle_folders = INBOX\n' >> "$CFG"
LOG="$WORK/courier.log"
"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
push_now()
{
	PUSH="$("$MAILSYNCCTL" -c "$CFG" --json status 2>/dev/null |
		"$MS_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["accounts"][0]["push"])' 2>/dev/null)"
	[[ "$PUSH" == *"only polls"* ]]
}
for ((i = 0; i < 300; i++)); do push_now && break; sleep 0.1; done
want="idle on INBOX (1 connection); the server's IDLE only polls (Courier-IMAP: new mail shows within about a minute)"
[ "$PUSH" = "$want" ] && ok "status --json push: $PUSH" ||
	fail "push '$PUSH' (log: $(grep -m3 push "$LOG"))"
out="$("$MAILSYNCCTL" -c "$CFG" status 2>&1)"
grep -qxF "  t: push: $want" <<<"$out" && ok "named under the account's row" ||
	fail "status output: $out"
grep -q '^IDLE$' "$WORK/cmds" && ok "the push connection IDLEs" ||
	fail "no IDLE reached the server"
kill -TERM "$DPID"; wait "$DPID"; rc=$?
ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc: $(tail -3 "$LOG")"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"
fake_stop

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
