#!/bin/bash
# The IMAP body path never holds the loop for the disk, and memory stays
# bounded when the disk is slower than the server: counted, not timed.
# The daemon's -v end-of-pass line says how many batches were committed in
# place on the loop (loop_commits), how many times the loop waited for a
# commit on the threadpool (loop_waits), and the most body bytes that
# waited in memory for a commit (bodies_waiting_max).  An initial sync of
# a few thousand messages has none of either, on a normal disk and on one
# where every fdatasync() takes 2 s (an LD_PRELOAD module), where the
# fetch stops asking for messages while two batches (4 MiB) wait; what
# was asked for before it stopped (at most 3 ranges in flight) comes on
# top.  Both stores equal the server.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

SLOW="$MS_BUILD_DIR/tests/ms_slow_fdatasync.so"
[ -f "$SLOW" ] || { echo "missing $SLOW (build tests)" >&2; exit 1; }
is_sync_setup both
mailfill "$MS_USER1" 1500 --folder INBOX >/dev/null || exit 1
mailfill "$MS_USER1" 1500 >/dev/null || exit 1
# Two batches of 2 MiB (SYNC_WAITING_MEM), and the messages of the ranges
# in flight when the fetch stopped asking: 3 of 200 UIDs, counted at the
# mean size of these messages.
bytes="$(du -sb "$(dovecot_maildir "$MS_USER1")" | cut -f1)"
BOUND=$(( 4 * 1048576 + 3 * 200 * bytes / 3000 ))

# pass_line: the end-of-pass counters of the last run ($WORK/err).
pass_line() { grep -E "acct=t pass loop_commits=" "$WORK/err" | tail -1; }
field() { sed -nE "s/.* $1=([0-9]+).*/\1/p" <<<"$2"; }

# check_pass WHAT: the pass synced, never held the loop for the disk,
# and kept the bodies waiting within BOUND.
check_pass()
{
	local what="$1" line
	line="$(pass_line)"
	[ -n "$line" ] || { fail "$what: no end-of-pass line: $(tail -3 "$WORK/err")"; return; }
	if [ "$(field loop_commits "$line")" = 0 ] && [ "$(field loop_waits "$line")" = 0 ]; then
		ok "$what: no commit in place and no wait on the loop ($line)"
	else
		fail "$what: the loop committed or waited: $line"
	fi
	if [ "$(field bodies_waiting_max "$line")" -le "$BOUND" ]; then
		ok "$what: at most $(field bodies_waiting_max "$line") bytes of bodies waited (bound $BOUND)"
	else
		fail "$what: $(field bodies_waiting_max "$line") bytes of bodies waited, over $BOUND"
	fi
	is_compare "$what"
}

is_sync -v && ok "initial sync: $(cat "$WORK/out")" || fail "initial sync: $(tail -3 "$WORK/err")"
check_pass "initial sync"

# The same first sync into a new store on a disk far slower than the
# server: each commit of a 2 MiB batch takes 2 s or more.
rm -rf "$STORE"
# An ASan build's runtime does not come first when a module is preloaded.
if LD_PRELOAD="$SLOW" MS_SLOW_FDATASYNC_MS=2000 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$MAILSYNCD" -c "$CFG" --once -v >"$WORK/out" 2>"$WORK/err"; then
	ok "slow-disk sync: $(cat "$WORK/out")"
else
	fail "slow-disk sync: $(tail -3 "$WORK/err")"
fi
check_pass "slow-disk sync"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
