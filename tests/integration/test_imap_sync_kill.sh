#!/bin/bash
# kill -9 of mailsyncd at several points of a large initial sync, then
# --once again: the store equals the server (nothing skipped, nothing
# duplicated), store_check (with re-hashing) is clean, no orphan body.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both
mailfill "$MS_USER1" 3000 >/dev/null || exit 1

for delay in 0.3 0.5 1 2; do
	"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" &
	pid=$!
	sleep "$delay"
	if kill -9 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		n="$(is_store_msgs | wc -l)"
		ok "killed after ${delay}s with $n messages stored"
		"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after kill at ${delay}s"
	else
		wait "$pid"
		ok "the pass ended before ${delay}s ($(cat "$WORK/out"))"
	fi
done
if is_sync; then ok "final pass: $(cat "$WORK/out")"; else fail "final pass: $(cat "$WORK/err")"; fi
is_compare "after kills"
[ "$(is_store_msgs | wc -l)" = 3000 ] || fail "want 3000 records, have $(is_store_msgs | wc -l)"
# No folder counts a message twice: (folder, uid) is unique in the store.
dups="$(is_store_msgs | cut -f1,2 | sort | uniq -d | wc -l)"
[ "$dups" = 0 ] && ok "no duplicate records" || fail "$dups duplicate records"

# A kill during a pass after server-side changes, then again.
mailmutate_flags "$MS_USER1" INBOX add 1:400 '\Flagged' >/dev/null
mailmutate_expunge "$MS_USER1" Sent 1:100 >/dev/null
"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" &
pid=$!
sleep 0.2
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
is_sync || fail "pass after the second kill: $(cat "$WORK/err")"
is_compare "after a kill during an incremental pass"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
