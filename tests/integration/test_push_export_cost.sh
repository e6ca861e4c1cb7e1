#!/bin/bash
# What the export after a pushed message does in the Maildir, as a user
# could see it in the daemon's -v log: the first after the start lists the
# folder once (the files it held before) and writes the new file; the next
# ones list nothing (the folder left complete, only new messages since:
# the new files written, the cost of a pushed message the same in a folder
# of 10 or 100,000 files); none lists again to record the folder's times
# (that waited for the clock and listed every file again, per message).  A
# reader's change in the folder makes the next one list it again.  The
# pass before each export asks the server about that folder only (LIST
# with its name, not "*", and no STATUS: not one per folder; no UNSELECT
# first, its SELECT leaves the last folder).  A whole
# pass after them still ends with the folder recorded, so the pass after
# that lists no Maildir.  A reader's change right after such a pass is
# never missed: test_mirror_unchanged.sh.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
cat >> "$CFG" <<EOC
poll_interval = 1h
EOC
mailmutate_create "$MS_USER1" Lists >/dev/null || exit 1
mapfile -t msgs < <(corpus_messages 12)
[ "${#msgs[@]}" -ge 12 ] || { echo "corpus: need 12 messages" >&2; exit 1; }
mailmutate_add "$MS_USER1" Lists "${msgs[@]:0:5}" >/dev/null || exit 1
mailmutate_add "$MS_USER1" INBOX "${msgs[@]:5:2}" >/dev/null || exit 1

LOG="$WORK/daemon.log"
"$MAILSYNCD" -v -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
log_has() { grep -qE -- "$1" "$LOG"; }
# exports: the export summary lines ("mirror export folders= unchanged=
# listed=") so far.
exports() { grep -cE 'acct=t mirror export folders=' "$LOG" || true; }
field() { sed -nE "s/.* $1=([0-9]+).*/\1/p" <<<"$2"; }

wait_for "first pass" 30 log_has 'acct=t state=idle next_sync_in=3600s ' || exit 1
wait_for "push up" 10 log_has 'acct=t push="notify on every folder' || exit 1
in_mirror Lists 5 || fail "first pass: Lists holds $(mirror_count Lists) files, not 5"

# Three pushed messages, one at a time: the first export lists Lists once
# (5 files), the next two list nothing.
from_line=$(($(wc -l < "$LOG") + 1))
for k in 1 2 3; do
	want=0
	[ "$k" = 1 ] && want=5
	before="$(exports)"
	mailmutate_add "$MS_USER1" Lists "${msgs[$((6 + k))]}" >/dev/null || exit 1
	wait_for "pushed message $k" 10 in_mirror Lists $((5 + k)) || continue
	wait_for "its export's summary" 10 eval '[ "$(exports)" -gt "$before" ]' || continue
	line="$(grep -E 'acct=t mirror export folders=' "$LOG" | tail -1)"
	if [ "$(field folders "$line")" = 1 ] && [ "$(field listed "$line")" = "$want" ]; then
		ok "pushed message $k: the export listed $want entries ($(sed 's/.* folders=/folders=/' <<<"$line"))"
	else
		fail "pushed message $k: the export listed $(field listed "$line") entries in $(field folders "$line") folder(s), not $want in 1: $line"
	fi
done
# The passes of the pushed messages: a LIST of Lists alone each, without
# STATUS, and no UNSELECT (their SELECT leaves the last folder).
cmds="$(tail -n +"$from_line" "$LOG" | grep -E 'acct=t imap C: [A-Z]*[0-9]+ ' || true)"
lists="$(grep -E ' LIST ' <<<"$cmds" || true)"
n_one="$(grep -cE 'LIST "" Lists( RETURN \(SPECIAL-USE\))?$' <<<"$lists" || true)"
n_all="$(grep -c . <<<"$lists" || true)"
if [ "$n_one" -ge 3 ] && [ "$n_one" = "$n_all" ]; then
	ok "each pushed message's pass listed Lists alone ($n_one LIST commands)"
else
	fail "the pushed messages' passes listed more than Lists: $lists"
fi
if grep -qE ' (UNSELECT|STATUS) ' <<<"$cmds"; then
	fail "a pushed message's pass sent UNSELECT or STATUS: $(grep -E ' (UNSELECT|STATUS) ' <<<"$cmds" | head -3)"
else
	ok "no UNSELECT or STATUS in the pushed messages' passes ($(grep -c . <<<"$cmds") commands for 3 messages)"
fi

# A reader marks a message read: pushed to the server; the pushed
# messages after it arrive (the first export after the change lists
# Lists again, as the reader's change made it unsure), and the second's
# export lists nothing again.
f="$(find "$MAIL/Lists/new" -type f | head -1)"
[ -n "$f" ] || { echo "no unread message in Lists/new" >&2; exit 1; }
uid="$(uid_of "$f")"
mv "$f" "$MAIL/Lists/cur/$(basename "$f"):2,S" || exit 1
wait_for "the reader's Seen flag on the server" 15 \
	eval '[[ "$(server_flags Lists "$uid")" == *Seen* ]]' || exit 1
for k in 4 5; do
	before="$(exports)"
	mailmutate_add "$MS_USER1" Lists "${msgs[$((6 + k))]}" >/dev/null || exit 1
	wait_for "pushed message $k" 10 in_mirror Lists $((5 + k)) || continue
	wait_for "its export's summary" 10 eval '[ "$(exports)" -gt "$before" ]' || continue
	[ "$k" = 5 ] || continue
	line="$(grep -E 'acct=t mirror export folders=' "$LOG" | tail -1)"
	if [ "$(field listed "$line")" = 0 ]; then
		ok "pushed message $k after a reader's change: its export listed nothing"
	else
		fail "pushed message $k after a reader's change: its export listed: $line"
	fi
done
grep -qE 'acct=t mirror: 0 of 1 folders listed recorded unchanged' "$LOG" &&
	ok "a push export records no folder times" ||
	fail "a push export recorded the folder's times: $(grep -E 'folders listed recorded unchanged' "$LOG" | tail -1)"

# Stopped, then whole passes: the first lists what changed and records it,
# the second lists no Maildir at all.
ms_pid_stop "$DPID" mailsyncd
ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
mirror_vsync "whole pass after the pushes"
mirror_vsync "the next whole pass"
s="$(grep -E 'acct=t mirror scan folders=' "$WORK/err" | tail -1)"
e="$(grep -E 'acct=t mirror export folders=' "$WORK/err" | tail -1)"
if [ "$(field listed "$s")" = 0 ] && [ "$(field listed "$e")" = 0 ] &&
   [ "$(field unchanged "$s")" = "$(field folders "$s")" ] &&
   [ "$(field folders "$s")" -gt 0 ]; then
	ok "the pass after a whole pass lists no Maildir: $(sed 's/.* folders=/folders=/' <<<"$s")"
else
	fail "the second whole pass listed: $s; $e"
fi
mirror_compare "after the pushes"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all push export checks passed"
