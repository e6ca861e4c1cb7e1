#!/bin/bash
# The mirror fills while a POP3 account's first download runs, as it does
# for IMAP (test_mirror_first_sync.sh), over a slow link
# (tests/bench/latproxy.py): files are in the Maildir before the pass
# ends (while fewer bytes than the mailbox holds have come down the
# link); a first download killed with SIGKILL leaves a Maildir holding
# only messages the store committed and the server untouched (no QUIT, so
# no DELE took effect), and the next run (keep = no) stores every message
# once and deletes on the server only what is stored.  Content is
# checked, never timing: a check waits for a state, bounded in time.
. "$MS_SOURCE_DIR/tests/tools/pop3_common.sh"
p3_setup
# 800 messages: the download commits in several batches (pop3_fetch.c:
# POP3_FETCH_BATCH_MEM), so the first ones are exported while it runs.
N=800
mailfill "$MS_USER1" "$N" --folder INBOX --quiet >/dev/null || exit 1
server0="$(p3_server_hashes)"
[ "$(printf '%s\n' "$server0" | wc -l)" = "$N" ] || { fail "mailfill: not $N messages"; exit 1; }
total="$(p3_server_sizes | awk '{ s += $1 } END { print s }')"

# A link with a 200 ms round trip to the POP3S port.
"$MS_PYTHON" "$MS_SOURCE_DIR/tests/bench/latproxy.py" --listen 0 \
	--target "$MS_POP3S_PORT" --delay 100 --stats "$WORK/proxy.json" \
	> "$WORK/proxy.out" 2>&1 &
PROXY_PID=$!
ms_cleanup_add "ms_pid_stop $PROXY_PID latproxy"
proxy_up() { grep -qs '^PORT ' "$WORK/proxy.out"; }
wait_for "latproxy listening" 10 proxy_up || exit 1
PROXY_PORT="$(awk '/^PORT /{ print $2 }' "$WORK/proxy.out")"

LOG="$WORK/err"		# wait_for's tail when a wait fails
mirror_files() { find "$MAIL/cur" "$MAIL/new" -type f 2>/dev/null | wc -l; }
any_files() { [ "$(mirror_files)" -gt 0 ]; }

# --- files before the pass ends ------------------------------------------------
p3_config first implicit "$PROXY_PORT" "keep = yes"
"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
if wait_for "a first file in the mirror" 120 any_files; then
	n_first="$(mirror_files)"
	# How far the download is: latproxy's bytes so far (SIGUSR1).  The
	# pass ends its downloads only once the whole mailbox came down.
	kill -USR1 "$PROXY_PID"
	stats_written() { [ -s "$WORK/proxy.json" ]; }
	wait_for "latproxy's figures" 10 stats_written || exit 1
	down="$("$MS_PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["bytes_down"])' "$WORK/proxy.json")"
	[ "$down" -lt "$total" ] &&
		ok "$n_first files in the mirror after $down of the mailbox's $total bytes came down" ||
		fail "the first files came only after the download: $down of $total bytes"
fi
pid="$DPID"
DPID=''
wait "$pid"; rc=$?
ms_cleanup_remove "ms_pid_stop $pid mailsyncd"
[ "$rc" = 0 ] && grep -qE "^p: 1 folder, $N new, " "$WORK/out" && ok "first download: $(cat "$WORK/out")" ||
	fail "first download: exit $rc: $(cat "$WORK/out") $(tail -5 "$WORK/err")"
[ "$(p3_mirror_hashes)" = "$server0" ] && ok "the mirror holds the server's $N messages, each once" ||
	fail "mirror: $(mirror_files) files, not the server's $N messages"
# The pass's export line adds up its early exports: every file written once.
grep -q "mirror export written=$N " "$WORK/err" &&
	ok "the pass's export line counts its early exports: $N written" ||
	fail "export line: $(grep 'mirror export' "$WORK/err")"
[ "$(p3_server_hashes)" = "$server0" ] && ok "keep = yes: the server keeps all" ||
	fail "keep = yes: the server's mailbox changed"

# --- a first download killed: the Maildir holds what was committed ----------------
p3_config killed implicit "$PROXY_PORT" "keep = no"
# Killed once some files are there, well before all of them are.
enough_files() { [ "$(mirror_files)" -ge 100 ]; }
is_once_killed_when "100 files in the mirror" enough_files
n_files="$(mirror_files)"
n_store="$("$STOREDUMP" "$STORE" msgs p INBOX | wc -l)"
[ "$n_files" -gt 0 ] && [ "$n_files" -le "$n_store" ] && [ "$n_store" -lt "$N" ] &&
	ok "killed mid-download: $n_files files in the mirror, $n_store messages in the store" ||
	fail "killed mid-download: $n_files files, $n_store in the store (of $N)"
# Every file is a message the store holds (by content: the store keeps
# the server's bytes, the file has LF line ends).
stray="$(LC_ALL=C comm -23 <(p3_mirror_hashes | LC_ALL=C sort) <(p3_store_hashes | LC_ALL=C sort) | head -3)"
[ -z "$stray" ] && ok "every file of the killed download is a committed message" ||
	fail "files that are no committed message: $stray"
[ "$(p3_server_hashes)" = "$server0" ] && ok "the server lost nothing to the kill (no QUIT)" ||
	fail "the server changed under a killed download"
"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after the kill"

# The next run completes it: each message stored and mirrored once, and
# deleted on the server only once stored.
timeout 300 "$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err"; rc=$?
[ "$rc" = 0 ] && grep -qE "^p: 1 folder, [0-9]+ new, [0-9]+ changed, $N deleted" "$WORK/out" &&
	ok "the run after the kill: $(cat "$WORK/out")" ||
	fail "the run after the kill: exit $rc: $(cat "$WORK/out") $(tail -5 "$WORK/err")"
[ "$(p3_store_hashes)" = "$server0" ] && ok "the store holds every message the server had, once" ||
	fail "store: $("$STOREDUMP" "$STORE" msgs p INBOX | wc -l) records, not the server's $N"
[ "$(p3_server_count)" = 0 ] && ok "keep = no: the server is empty, every message stored first" ||
	fail "keep = no: $(p3_server_count) messages left on the server"
# A file the kill cut short stays in tmp/, where readers never look.
n_tmp="$(find "$MAIL/tmp" -type f | wc -l)"
[ "$n_tmp" -le 1 ] && ok "$n_tmp partial file in tmp/ after the kill" ||
	fail "$n_tmp partial files in tmp/ after one kill"
find "$MAIL/tmp" -type f -delete
[ "$(p3_mirror_hashes)" = "$server0" ] && ok "the mirror holds the $N messages, each once" ||
	fail "mirror after the kill: $(mirror_files) files, not $N"
"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after the run that completed"

p3_done
