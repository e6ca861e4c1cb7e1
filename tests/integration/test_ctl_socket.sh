#!/bin/bash
# The control socket as a user and an attacker meet it, against a daemon
# syncing the fixture Dovecot: status, accounts, version, sync --wait,
# pause/resume and watch answer with what the server holds; the socket is
# 0600; a second daemon on the socket is refused, a dead one's socket is
# replaced; another uid is refused (SO_PEERCRED); garbage, a 10 MB line,
# a half-written request, a watcher that never reads and clients that
# vanish mid-reply leave the daemon serving others; exit codes 2 and 3.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

PEER="$MS_SOURCE_DIR/tests/integration/lib/ctl_peer.py"
# idle = no: push starts passes of its own (the catch-up when it comes
# up, one per change), and this test reads what each pass it starts did.
is_sync_setup both "poll_interval = 10m
idle = no"
mailfill "$MS_USER1" 40 >/dev/null || exit 1
LOG="$WORK/daemon.log"
SOCK="$WORK/ctl.sock"
log_has() { [ "$(grep -cE -- "$1" "$LOG" 2>/dev/null)" -ge "$2" ]; }
C() { "$MAILSYNCCTL" -c "$CFG" "$@"; }
J() { "$MAILSYNCCTL" -c "$CFG" --json "$@"; }
jq_py() { "$MS_PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- not running: exit 3 naming the socket ----------------------------------
out="$(C status 2>&1)"; rc=$?
[ "$rc" = 3 ] && [[ "$out" == *"$SOCK"* ]] && ok "no daemon: exit 3, $out" ||
	fail "no daemon: exit $rc: $out"

"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "first pass" 30 log_has 'acct=t state=idle .* new=40 ' 1 || exit 1

# --- the socket file ----------------------------------------------------------
mode="$(stat -c %a "$SOCK")"
[ "$mode" = 600 ] && ok "socket mode 0600" || fail "socket mode $mode"

# --- status and friends, against the server's truth -----------------------------
server_n="$(is_server_msgs | wc -l)"
server_folders="$(is_server_msgs | cut -f1 | sort -u | wc -l)"
J status > "$WORK/status.json" || fail "status --json: exit $?"
st_n="$(jq_py 'd["accounts"][0]["messages"]' < "$WORK/status.json")"
st_state="$(jq_py 'd["accounts"][0]["state"]' < "$WORK/status.json")"
st_new="$(jq_py 'd["accounts"][0]["last"]["new"]' < "$WORK/status.json")"
[ "$st_n" = "$server_n" ] && [ "$st_state" = idle ] && [ "$st_new" = 40 ] &&
	ok "status --json: $st_n messages (server $server_n), idle, last pass 40 new" ||
	fail "status --json: messages=$st_n (server $server_n) state=$st_state new=$st_new"
C status > "$WORK/status.txt" || fail "status: exit $?"
grep -qE '^t +imap +idle +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} +in [0-9]+m +[0-9]+ +'"$server_n"'$' \
	"$WORK/status.txt" && ok "status: an aligned row: $(tail -1 "$WORK/status.txt")" ||
	{ fail "status output:"; cat "$WORK/status.txt" >&2; }
grep -q $'\033' "$WORK/status.txt" && fail "colour written to a pipe"
[ "$(C accounts)" = t ] && ok "accounts: t" || fail "accounts: $(C accounts)"
[ "$(J accounts | jq_py 'd["accounts"][0]["protocol"]')" = imap ] &&
	ok "accounts --json" || fail "accounts --json"
C version | grep -q '^mailsyncd .* (control protocol 1)$' && ok "version" ||
	fail "version: $(C version)"

# --- usage errors: exit 2 ---------------------------------------------------------
out="$(C frobnicate 2>&1)"; rc=$?
[ "$rc" = 2 ] && [[ "$out" == *"commands:"*status*sync*watch* ]] &&
	ok "unknown command: exit 2, lists the commands" || fail "unknown command: $rc $out"
out="$(C status nosuch 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"no account 'nosuch'"*"has: t"* ]] &&
	ok "status of an unknown account: exit 1, $out" || fail "unknown account: $rc $out"
out="$("$MS_PYTHON" "$PEER" "$SOCK" rawcall '{"id":9,"cmd":"nosuch"}')"
[[ "$out" == *'"code": "unknown-command"'*'"id": 9'* ]] &&
	ok "protocol: unknown command is an error reply" || fail "raw unknown: $out"

# --- sync --wait, joining a running pass; watch ---------------------------------
mailmutate_add "$MS_USER1" INBOX "$(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -1)" >/dev/null
C watch > "$WORK/watch.txt" 2>&1 &
WPID=$!
J watch > "$WORK/watch.json" 2>&1 &
WJPID=$!
ms_cleanup_add "kill $WPID $WJPID 2>/dev/null"
sleep 0.5
C sync --wait > "$WORK/sync1.txt" 2>&1 &
S1=$!
C sync t --wait > "$WORK/sync2.txt" 2>&1; rc2=$?
wait "$S1"; rc1=$?
[ "$rc1" = 0 ] && [ "$rc2" = 0 ] && ok "two sync --wait at once: both exit 0" ||
	fail "sync --wait: exit $rc1 / $rc2: $(cat "$WORK/sync1.txt" "$WORK/sync2.txt")"
grep -q '^t: [0-9]* folders, 1 new' "$WORK/sync1.txt" "$WORK/sync2.txt" &&
	ok "sync --wait reported the new message: $(grep -h 'new' "$WORK/sync1.txt" | tail -1)" ||
	fail "no new message reported: $(cat "$WORK/sync1.txt" "$WORK/sync2.txt")"
grep -q '^t: syncing\|^t: .*folders, .* messages' "$WORK/sync1.txt" "$WORK/sync2.txt" &&
	ok "sync --wait off a terminal: plain progress lines" || fail "no progress lines"
grep -q $'\r\|\033' "$WORK/sync1.txt" && fail "sync --wait drew a bar into a pipe"
passes="$(J status | jq_py 'd["accounts"][0]["passes"]')"
[ "$passes" -le 4 ] && ok "the requests joined: $passes passes in all" ||
	fail "$passes passes for two joined requests"
out="$(J sync t --wait)" && [ "$(echo "$out" | jq_py 'd["accounts"][0]["result"]["ok"]')" = True ] &&
	ok "sync --wait --json: the pass's result" || fail "sync --json: $out"
wait_for "watch saw the pass" 10 grep -q 'new message' "$WORK/watch.txt" &&
	ok "watch: $(grep -m1 'new message' "$WORK/watch.txt")"
grep -q 't: syncing' "$WORK/watch.txt" && grep -q 't: idle' "$WORK/watch.txt" &&
	ok "watch: pass start and end" || fail "watch: $(cat "$WORK/watch.txt")"
"$MS_PYTHON" - "$WORK/watch.json" <<'EOF' && ok "watch --json: one JSON document per line" || fail "watch --json"
import json, sys
names = [json.loads(l)["event"] for l in open(sys.argv[1])]
assert names[0] == "status" and "pass-done" in names and "new-mail" in names, names
EOF

# --- on a terminal: colour (never with NO_COLOR) and sync --wait's bar ---------------
# script(1) gives mailsyncctl a pseudo-terminal as its stdout.
tty_run() { script -qec "$*" /dev/null < /dev/null; }
out="$(tty_run "'$MAILSYNCCTL' -c '$CFG' status")"
[[ "$out" == *$'\033[32midle\033[0m'* ]] && ok "status on a terminal: the state in colour" ||
	fail "status on a terminal: $(printf '%q' "$out")"
out="$(tty_run "NO_COLOR=1 '$MAILSYNCCTL' -c '$CFG' status")"
[[ "$out" != *$'\033'* ]] && [[ "$out" == *idle* ]] && ok "NO_COLOR: no colour on a terminal" ||
	fail "NO_COLOR: $(printf '%q' "$out")"
out="$(tty_run "'$MAILSYNCCTL' -c '$CFG' sync t --wait")"; rc=$?
[ "$rc" = 0 ] && [[ "$out" == *"t ["*"%"*"folders"* ]] && [[ "$out" == *$'\033[K'* ]] &&
	ok "sync --wait on a terminal: a redrawn progress bar" ||
	fail "sync --wait on a terminal: exit $rc: $(printf '%q' "$out" | head -c 600)"

# --- pause, resume --------------------------------------------------------------------
C pause t >/dev/null && [ "$(J status | jq_py 'd["accounts"][0]["state"]')" = paused ] &&
	ok "pause: paused" || fail "pause"
out="$(C sync t 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *paused* ]] && ok "sync while paused: exit 1, $out" ||
	fail "sync while paused: $rc $out"
out="$(C pause t 2>&1)"; rc=$?
[ "$rc" = 1 ] && ok "pause twice: exit 1" || fail "pause twice: $rc $out"
# Passes counted by status: a pass that changes nothing logs at debug only.
n_passes() { J status | jq_py 'd["accounts"][0]["passes"]'; }
passes_above() { [ "$(n_passes)" -gt "$1" ]; }
p0="$(n_passes)"
C resume t >/dev/null && wait_for "resumed pass" 15 passes_above "$p0" &&
	ok "resume: a pass at once"

# --- abuse: the daemon keeps serving --------------------------------------------------
serving() { J status >/dev/null 2>&1; }
out="$("$MS_PYTHON" "$PEER" "$SOCK" garbage)"
[ "$out" = "bad-frame closed" ] && ok "garbage: bad-frame, then closed" || fail "garbage: $out"
out="$("$MS_PYTHON" "$PEER" "$SOCK" badhello)"
[ "$out" = "proto-mismatch closed" ] && ok "a client of another protocol version: proto-mismatch, closed" ||
	fail "badhello: $out"
out="$("$MS_PYTHON" "$PEER" "$SOCK" bigline)"
[[ "$out" == bad-frame* ]] && ok "a 10 MB line: bad-frame ($out)" || fail "bigline: $out"
"$MS_PYTHON" "$PEER" "$SOCK" half >/dev/null &
HP=$!
sleep 0.5
serving && ok "a half-written request does not block others" || fail "not serving beside a half request"
wait "$HP"
"$MS_PYTHON" "$PEER" "$SOCK" vanish 3000 >/dev/null
serving && ok "a client vanishing mid-reply costs nothing" || fail "not serving after a vanished client"
# A watcher that never reads (it holds on until dropped), and status
# requests whose replies fill its queue past the event backlog (1 MiB)
# and the socket's buffers: 3 MiB of them.  No more: the daemon answers
# each before it serves the sync whose events drop the watcher, at about
# 2.5 ms each under ASan at load 14 (more at load 20); the wait allows
# 20 ms each.
reply_len="$("$MS_PYTHON" "$PEER" "$SOCK" rawcall '{"id":2,"cmd":"status"}' | wc -c)"
n_noread=$(( 3 * 1048576 / (reply_len > 100 ? reply_len : 100) ))
"$MS_PYTHON" "$PEER" "$SOCK" noread "$n_noread" > "$WORK/noread.txt" &
NP=$!
wait_for "noread sent" 30 grep -q sent= "$WORK/noread.txt"
C sync t >/dev/null
wait_for "the watcher that never reads is dropped" $(( 20 + n_noread / 50 )) \
	log_has 'does not read its events|does not fit its output queue' 1 &&
	ok "a client that never reads is dropped: $(grep -m1 -oE 'ctl client=[0-9]+ does not.*' "$LOG")"
serving && ok "serving others meanwhile" || fail "not serving beside a stuck watcher"
kill "$NP" 2>/dev/null; wait "$NP" 2>/dev/null

# --- another uid: refused by SO_PEERCRED ---------------------------------------------
if command -v setpriv >/dev/null; then
	chmod 0666 "$SOCK"	# let it reach the peer check
	out="$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$MAILSYNCCTL" -s "$SOCK" status 2>&1)"; rc=$?
	chmod 0600 "$SOCK"
	[ "$rc" = 3 ] && log_has 'refused: uid 65534' 1 &&
		ok "another uid: refused ($(grep -m1 -oE 'refused: uid 65534[^"]*' "$LOG"))" ||
		fail "another uid: exit $rc: $out"
else
	fail "setpriv missing (util-linux)"
fi

# --- a second daemon on the same socket ------------------------------------------------
sed "s#^store = .*#store = $WORK/store2#" "$CFG" > "$WORK/second.ini"
chmod 600 "$WORK/second.ini"
out="$(timeout 10 "$MAILSYNCD" -c "$WORK/second.ini" 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"already running (pid $DPID)"* ]] &&
	ok "second daemon refused: $out" || fail "second daemon: exit $rc: $out"
serving && ok "the first daemon still serves" || fail "first daemon not serving"

# --- a dead daemon's socket is replaced -------------------------------------------------
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null
ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
[ -S "$SOCK" ] || fail "kill -9 left no socket file (nothing to test)"
"$MAILSYNCD" -c "$CFG" 2>>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "restart serves" 15 serving && ok "a dead daemon's socket is replaced"

is_daemon_term 15
[ -e "$SOCK" ] && fail "socket left after exit" || ok "socket removed at exit"

# --- the default socket without XDG_RUNTIME_DIR: beside the store --------------------------
# (For a user other than root; root's is /run/mailsync, which a test
# must not take.)  mailsyncctl looks where the daemon would listen.
printf '[general]\nstore = %s/userstore\n' "$WORK" > "$WORK/nosock.ini"
chmod 644 "$WORK/nosock.ini"
out="$(setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_RUNTIME_DIR \
	"$MAILSYNCCTL" -c "$WORK/nosock.ini" status 2>&1)"; rc=$?
[ "$rc" = 3 ] && [[ "$out" == *"at $WORK/userstore/run/mailsync.sock:"* ]] &&
	ok "default socket of a user without XDG_RUNTIME_DIR: STORE/run/mailsync.sock" ||
	fail "default socket: exit $rc: $out"
printf '[general]\nlog_level = info\n' > "$WORK/nostore.ini"
chmod 644 "$WORK/nostore.ini"
out="$(setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_RUNTIME_DIR \
	XDG_DATA_HOME="$WORK/data" "$MAILSYNCCTL" -c "$WORK/nostore.ini" status 2>&1)"; rc=$?
[ "$rc" = 3 ] && [[ "$out" == *"at $WORK/data/mailsync/run/mailsync.sock:"* ]] &&
	ok "... with the default store: \$XDG_DATA_HOME/mailsync/run/mailsync.sock" ||
	fail "default socket, default store: exit $rc: $out"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
