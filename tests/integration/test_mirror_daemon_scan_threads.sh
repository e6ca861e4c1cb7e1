#!/bin/bash
# The mirror's scans run on the threadpool (mirror_scan_job.h):
#  1. SIGTERM while the start-up scan of a reader's bulk change is under
#     way: the daemon exits promptly with status 0 (the scan in flight
#     stops at its next file, what it committed stays, nothing leaks);
#     the next `mailsyncd --once` scans the rest and pushes every change
#     once: each renamed file's flag and each new file (one APPEND each)
#     are on the server, and store, mirror and server agree.
#  2. A reader's change made while the watch's scan of a bulk change runs
#     is not lost: the daemon scans again after it, and the change reaches
#     the server.
#  3. A file listed under two names (readdir gives a file renamed during
#     the listing under its old and its new name; a hard link makes that
#     certain) is one message: nothing is appended to the server, and
#     once the old name is gone the new name's letter reaches the server.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

N="${MS_SCAN_MSGS:-3000}"
NEW=300
mirror_setup
printf 'poll_interval = 1h\n' >> "$CFG"
mailfill "$MS_USER1" "$N" --folder INBOX >/dev/null || exit 1
if is_sync; then ok "first sync: $(cat "$WORK/out")"; else fail "first sync: $(tail -3 "$WORK/err")"; exit 1; fi
n_inbox="$(is_server_msgs --folder INBOX | wc -l)"

# reader_flag LETTER: every file of INBOX without LETTER gets it (a
# rename, as a reader marks all messages); prints the count.
reader_flag()
{
	"$MS_PYTHON" - "$MAIL" "$1" <<'EOP'
import os, sys
root, letter = sys.argv[1], sys.argv[2]
n = 0
for sub in ("cur", "new"):
    d = os.path.join(root, sub)
    for name in sorted(os.listdir(d)):
        base, _, flags = name.partition(":2,")
        if letter in flags:
            continue
        flags = "".join(sorted(set(flags + letter)))
        os.rename(os.path.join(d, name), os.path.join(root, "cur", base + ":2," + flags))
        n += 1
print(n)
EOP
}

# reader_new COUNT: COUNT new messages in INBOX's new/, each different.
reader_new()
{
	local i
	for ((i = 0; i < $1; i++)); do
		printf 'From: reader@example.org\r\nSubject: draft %d\r\nMessage-ID: <r%d@scan.test>\r\n\r\nbody %d\r\n' \
			"$i" "$i" "$i" > "$MAIL/new/1800000000.R$i.reader"
	done
}

# server_count_flag LETTER: INBOX messages on the server with the flag.
server_count_flag()
{
	is_server_msgs --folder INBOX | awk -F'\t' -v f="$1" 'index($3, f) { n++ } END { print n + 0 }'
}

# --- 1. SIGTERM during the start-up scan -------------------------------------
n_renamed="$(reader_flag F)"
reader_new "$NEW"
ok "reader: $n_renamed files flagged, $NEW new files"
LOG="$WORK/daemon.log"
MAILSYNC_LOOP_LATENESS=0 "$MAILSYNCD" -v -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
# The scan starts with the first pass, before the engine's pass: wait for
# the daemon to run, then stop it at once.
running() { grep -q 'mailsyncd running' "$LOG"; }
wait_for "the daemon runs" 30 running
if ! mirror_daemon_sigterm; then
	fail "mailsyncd still running $TERM_MS ms after SIGTERM"
	exit 1
fi
[ "$TERM_RC" = 0 ] && ok "SIGTERM during the scan: exit 0 after $TERM_MS ms" ||
	fail "SIGTERM: exit $TERM_RC ($(tail -3 "$LOG"))"
[ "$TERM_MS" -lt 5000 ] || fail "SIGTERM took $TERM_MS ms (want < 5000)"
grep -q 'loop lateness samples=' "$LOG" && ok "the lateness report at exit" || fail "no lateness report"
if [ -r /proc/thread-self/schedstat ]; then
	grep -qE 'loop lateness own max_ms=[0-9.]+ p50_ms=[0-9]+ p99_ms=[0-9]+' "$LOG" &&
		ok "the daemon's own part of the lateness reported" ||
		fail "no own part in the lateness report"
fi
if grep -q 'mirror scan written=' "$LOG"; then
	ok "(the scan had ended before the signal)"
else
	ok "the signal came while the scan ran"
fi

if is_sync; then ok "--once after the stop: $(cat "$WORK/out")"; else fail "--once after the stop: $(tail -3 "$WORK/err")"; fi
got="$(server_count_flag F)"
[ "$got" = "$n_inbox" ] && ok "every message the reader flagged is flagged on the server ($got)" ||
	fail "$got INBOX messages flagged on the server, want $n_inbox"
drafts="$(is_server_msgs --folder INBOX | wc -l)"
[ "$drafts" = "$((n_inbox + NEW))" ] && ok "each new file appended once ($NEW)" ||
	fail "INBOX has $drafts messages on the server, want $n_inbox + $NEW"
mirror_compare "after the stop and --once"
is_compare "after the stop and --once"

# --- 2. A change during the watch's scan ---------------------------------------
mirror_daemon_start
mirror_wait_passes 1 120 || exit 1
# A bulk change (a scan of some length), then at once one more rename.
n_renamed="$(reader_flag S)"
sleep 0.3
one="$(find "$MAIL/cur" -type f -name '*-*-*' | sort | head -1)"
"$MS_PYTHON" -c 'import os, sys; p = sys.argv[1]; b, _, f = p.rpartition(":2,"); os.rename(p, b + ":2," + "".join(sorted(set(f + "R"))))' "$one"
ok "reader: $n_renamed files marked seen, then one marked answered"
uid="$(uid_of "$one")"
answered() { [[ "$(server_flags INBOX "$uid")" == *'\Answered'* ]]; }
wait_for "the late change on the server" 120 answered && ok "the change made during the scan reached the server (uid $uid)"
seen() { [ "$(server_count_flag '\Seen')" = "$(is_server_msgs --folder INBOX | wc -l)" ]; }
wait_for "every message seen on the server" 120 seen && ok "the bulk change reached the server"

# --- 3. One file under two names -----------------------------------------------
n_before="$(is_server_msgs --folder INBOX | wc -l)"
two="$(find "$MAIL/cur" -type f -name '*-*-*:2,FS' | sort | tail -1)"
[ -n "$two" ] || { fail "no file with only F and S in $MAIL/cur"; exit 1; }
uid2="$(uid_of "$two")"
ln "$two" "${two%:2,FS}:2,DFS"
# A pass (with its scan of the mirror) that surely began after the link.
timeout 120 "$MAILSYNCCTL" -c "$CFG" sync t --wait >/dev/null 2>"$WORK/ctl.err" ||
	fail "sync --wait after the link: $(cat "$WORK/ctl.err")"
got="$(is_server_msgs --folder INBOX | wc -l)"
[ "$got" = "$n_before" ] && ok "a file under two names appends nothing ($got messages)" ||
	fail "INBOX has $got messages on the server after a file got a second name, want $n_before"
if grep -q 'APPEND pending' "$LOG"; then
	fail "a name of a synced file taken for a new message: $(grep 'APPEND pending' "$LOG" | head -1)"
fi
rm -f "$two"
drafted() { [[ "$(server_flags INBOX "$uid2")" == *'\Draft'* ]]; }
wait_for "the second name's letter on the server" 120 drafted && ok "the new name's letter reached the server (uid $uid2)"
got="$(is_server_msgs --folder INBOX | wc -l)"
[ "$got" = "$n_before" ] && ok "still $got messages on the server" ||
	fail "INBOX has $got messages on the server, want $n_before"
mirror_daemon_stop
mirror_compare "after the file with two names"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all threaded scan checks passed"
