#!/bin/bash
# The mirror fills while a first sync runs, as a person switching to
# mailsync sees it over a slow link (tests/bench/latproxy.py): files are in
# the Maildir before the pass ends, INBOX's first and its newest messages
# first; a first sync killed with
# SIGKILL leaves a Maildir holding messages the store committed, and the
# next run completes it with every message once (no duplicate file, nothing
# uploaded, the store equal to the server).  Content is checked, never
# timing: a check waits for a state, bounded in time.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
# 2400 messages in three folders: INBOX's 800 commit in more than one batch
# (sync: SYNC_BATCH_OPS), so its first ones are exported while it is fetched.
mailfill "$MS_USER1" 2400 --folder Archive --folder INBOX --folder Sent >/dev/null || exit 1
N_SERVER=2400

# A link with a 200 ms round trip: the first sync takes seconds.
is_slow_link 100

# Message files of the mirror: INBOX's (the root's cur/ and new/), others'.
inbox_files() { find "$MAIL/cur" "$MAIL/new" -type f 2>/dev/null | wc -l; }
other_files() { find "$MAIL" -mindepth 3 -type f \( -path '*/cur/*' -o -path '*/new/*' \) 2>/dev/null | wc -l; }
any_files() { [ "$(inbox_files)" -gt 0 ] || [ "$(other_files)" -gt 0 ]; }
LOG="$WORK/err"

# --- files before the pass ends, INBOX first --------------------------------
"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
if wait_for "a first file in the mirror" 120 any_files; then
	n_inbox="$(inbox_files)"
	n_other="$(other_files)"
	# INBOX holds UIDs 1 to 800; fetched from the oldest up, its first
	# batch would be UIDs 1 to 500.
	top="$(find "$MAIL/cur" "$MAIL/new" -type f -printf '%f\n' 2>/dev/null |
		sed -n 's/.*,U=\([0-9]*\).*/\1/p' | sort -n | tail -1)"
	if ms_pid_alive "$DPID"; then
		ok "$n_inbox INBOX files in the mirror while the first sync runs"
	else
		fail "the first files came only after the pass ended"
	fi
	[ "$n_inbox" -gt 0 ] && [ "$n_other" = 0 ] &&
		ok "INBOX first: the first files are INBOX's" ||
		fail "the first files: $n_inbox in INBOX, $n_other in other folders"
	[ "${top:-0}" -gt 600 ] &&
		ok "the newest first: the first INBOX files reach UID $top of 800" ||
		fail "the first INBOX files reach UID ${top:-none} only"
fi
pid="$DPID"
DPID=''
wait "$pid"
ms_cleanup_remove "ms_pid_stop $pid mailsyncd"
grep -qE '^t: [0-9]+ folders, 2400 new, ' "$WORK/out" && ok "first sync: $(cat "$WORK/out")" ||
	fail "first sync: $(cat "$WORK/out") $(tail -5 "$WORK/err")"
mirror_compare "after a first sync exported as it went"
# The export lines of the pass add up to every message written once.
grep -q 'mirror export written=2400 ' "$WORK/err" &&
	ok "the pass's export line counts its early exports: 2400 written" ||
	fail "export line: $(grep 'mirror export' "$WORK/err")"

# --- a first sync killed: the Maildir holds what was committed ----------------
rm -rf "$STORE" "$MAIL"
# Killed once some files are there, well before the 2400 are.
enough_files() { [ "$(inbox_files)" -ge 100 ]; }
is_once_killed_when "100 files in the mirror" enough_files
n_files="$(find "$MAIL" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)"
n_store="$(is_store_msgs | wc -l)"
[ "$n_files" -gt 0 ] && [ "$n_files" -le "$n_store" ] && [ "$n_store" -lt "$N_SERVER" ] &&
	ok "killed mid-sync: $n_files files in the mirror, $n_store messages in the store" ||
	fail "killed mid-sync: $n_files files, $n_store in the store (of $N_SERVER)"
# Every file is a message the store holds: its UID (U=) is a record of its
# folder with the same size (S=).
"$STOREDUMP" "$STORE" msgs t | awk -F'\t' '{ print $1 "\t" $2 }' | LC_ALL=C sort > "$WORK/rec.txt"
"$MS_PYTHON" - "$MAIL" > "$WORK/files.txt" <<'EOF'
import os, re, sys
root = sys.argv[1]
for d, _, files in os.walk(root):
    if os.path.basename(d) not in ("cur", "new"):
        continue
    rel = os.path.relpath(os.path.dirname(d), root)
    folder = "INBOX" if rel == "." else rel
    for f in files:
        m = re.search(r",U=(\d+)", f)
        print("%s\t%s" % (folder, m.group(1) if m else "?"))
EOF
LC_ALL=C sort -o "$WORK/files.txt" "$WORK/files.txt"
stray="$(LC_ALL=C comm -23 "$WORK/files.txt" "$WORK/rec.txt" | head -3)"
[ -z "$stray" ] && ok "every file of the killed sync is a committed message" ||
	fail "files that are no committed message: $stray"
"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after the kill"

# The next run completes it: each message once, nothing sent to the server.
if is_sync; then ok "the run after the kill: $(cat "$WORK/out")"; else fail "the run after the kill: $(cat "$WORK/err")"; fi
grep -qE ' appended=[1-9]| deletes=[1-9]| appends=[1-9]' "$WORK/err" &&
	fail "the run after the kill changed the server: $(grep -E 'append|delete' "$WORK/err" | head -3)"
is_compare "after the killed first sync"
[ "$(is_server_msgs | wc -l)" = "$N_SERVER" ] && ok "the server still has $N_SERVER messages" ||
	fail "the server has $(is_server_msgs | wc -l) messages, not $N_SERVER"
# A file the kill cut short stays in tmp/, where readers never look (the
# Maildir convention; the export removes it after 36 h): not a message.
# (The work directory is itself under /tmp: its Maildirs' tmp/ are named.)
tmp_files() { find "$MAIL" -type d -name tmp -exec find {} -type f "$@" \; ; }
n_tmp="$(tmp_files | wc -l)"
[ "$n_tmp" -le 1 ] && ok "$n_tmp partial file in tmp/ after the kill" ||
	fail "$n_tmp partial files in tmp/ after one kill"
tmp_files -delete
mirror_compare "after the killed first sync" --strict-new

[ "$FAILS" = 0 ] || exit 1
echo "all passed"
