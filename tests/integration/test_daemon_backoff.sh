#!/bin/bash
# mailsyncd's foreground mode against the fixture Dovecot: it polls every
# poll_interval (a message added on the server arrives without a restart),
# is offline and backs off with growing ceilings while the server is down (retry_in 1 s,
# then at most 2 s, 4 s ...; attempt counting up), recovers when the server
# is back on the same ports (backoff reset, the message added meanwhile
# arrives), talks to a fake systemd (READY=1, STATUS=, WATCHDOG=1 over an
# abstract NOTIFY_SOCKET), reloads an unchanged file on SIGHUP without
# touching an account, and
# exits 0 on SIGTERM within a bounded time, leaving no process behind.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

# Account t is the one followed; "bad" has a wrong password (a refused
# login is auth-failed, logged as an error and retried only after 15 min,
# so once in this test); "p" is POP3 (skipped).
is_sync_setup both "poll_interval = 2s
timeout = 5s"
cat >> "$CFG" <<EOC

[account bad]
protocol = imap
host = localhost
port = $MS_IMAPS_PORT
tls = implicit
ca_file = $MS_TLS_CA
user = $MS_USER2
password = wrong-password
poll_interval = 2s

[account p]
protocol = pop3
host = localhost
port = $MS_POP3S_PORT
tls = implicit
ca_file = $MS_TLS_CA
user = $MS_USER2
password = $MS_PASS2
EOC
mailfill "$MS_USER1" 20 >/dev/null || exit 1
mapfile -t files < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -2)
[ "${#files[@]}" = 2 ] || { echo "corpus: need 2 .eml files" >&2; exit 1; }
LOG="$WORK/daemon.log"
NOTIFY_LOG="$WORK/notify.log"
NOTIFY_NAME="ms-notify-$$-$RANDOM"

# A fake systemd: one line per datagram received on the abstract socket.
: > "$NOTIFY_LOG"
"$MS_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
f = open(sys.argv[2], "a", buffering=1)
f.write("bound\n")
while True:
    d = s.recv(65536)
    f.write(d.decode("utf-8", "replace").replace("\n", "\\n") + "\n")
' "$NOTIFY_NAME" "$NOTIFY_LOG" &
NOTIFY_PID=$!
ms_cleanup_add "ms_pid_stop $NOTIFY_PID notify-receiver"

# log_count PATTERN: lines of the daemon's log matching the ERE.
log_count() { grep -cE -- "$1" "$LOG" 2>/dev/null || true; }
log_has() { [ "$(log_count "$1")" -ge "$2" ]; }

wait_for "notify receiver bound" 5 grep -qx bound "$NOTIFY_LOG" || exit 1

NOTIFY_SOCKET="@$NOTIFY_NAME" WATCHDOG_USEC=400000 \
	"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"

# --- first pass, then polling -----------------------------------------------
wait_for "first pass" 30 log_has 'acct=t state=idle next_sync_in=2s ' 1 || exit 1
grep -qE 'acct=t state=idle .* new=20 ' "$LOG" &&
	ok "first pass stored the 20 messages: $(grep -m1 'state=idle' "$LOG")" ||
	fail "first pass: $(grep -m1 'state=idle' "$LOG")"
wait_for "READY=1" 5 grep -qx 'READY=1' "$NOTIFY_LOG" && ok "READY=1 sent"
watchdog_pings() { [ "$(grep -cx WATCHDOG=1 "$NOTIFY_LOG")" -ge 3 ]; }
wait_for "WATCHDOG=1 pings" 5 watchdog_pings &&
	ok "WATCHDOG=1 pings every WATCHDOG_USEC/2"
status_idle() { grep -qE '^STATUS=t: idle; bad: [a-z-]+( \(attempt [0-9]+\))?; p: idle$' "$NOTIFY_LOG"; }
wait_for "STATUS=t: idle; ... p: idle" 10 status_idle &&
	ok "STATUS=t: idle; ... p: idle sent" ||
	fail "no STATUS=t: idle: $(grep STATUS "$NOTIFY_LOG" | tail -3)"
grep -qE ' info acct=p state=idle next_sync_in=' "$LOG" &&
	ok "the POP3 account made its pass in the foreground mode: $(grep -m1 'acct=p state=idle' "$LOG")" ||
	fail "no POP3 pass: $(grep 'acct=p' "$LOG" | head -3)"
wait_for "bad login is auth-failed" 10 log_has ' error acct=bad state=auth-failed retry_in=900.0s attempt=1 reason=".+"' 1 &&
	ok "refused login: auth-failed, retried in 15 min, logged as an error: $(grep -m1 'acct=bad state=auth-failed' "$LOG")" ||
	fail "refused login: $(grep 'acct=bad' "$LOG" | head -3)"

kill -HUP "$DPID"
wait_for "SIGHUP logged" 5 log_has 'reload: 0 added, 0 removed, 0 restarted, 3 unchanged' 1 &&
	ms_pid_alive "$DPID" && ok "SIGHUP: the unchanged file reloaded, every account untouched"

mailmutate_add "$MS_USER1" INBOX "${files[0]}" >/dev/null || exit 1
wait_for "next poll stores the new message" 15 log_has 'acct=t state=idle .* new=1 ' 1 &&
	ok "a poll stored the message added on the server"

# --- server down: backoff -----------------------------------------------------
# Stop the master but keep its directory (mail, config, ports) for the restart.
ms_pid_stop "$MS_DOVECOT_PID" dovecot || exit 1
t_down=$SECONDS
# The server refuses connections: the account is offline (never reached),
# and backs off like any connection failure.
wait_for "three backoff attempts" 20 log_has 'acct=t state=offline .*attempt=3 ' 1 || exit 1
mapfile -t bl < <(grep -E 'acct=t state=offline ' "$LOG")
prev=0 okay=1
for l in "${bl[@]}"; do
	ri="$(sed -nE 's/.* retry_in=([0-9.]+)s .*/\1/p' <<< "$l")"
	at="$(sed -nE 's/.* attempt=([0-9]+) .*/\1/p' <<< "$l")"
	ms="$(awk -v r="$ri" 'BEGIN { printf "%d", r * 1000 + 0.5 }')"
	ceil=$((1000 << (at - 1)))
	if [ "$at" != $((prev + 1)) ] || [ "$ms" -lt 1000 ] || [ "$ms" -gt "$ceil" ]; then
		okay=0
		fail "backoff line out of order or bounds (ceiling ${ceil} ms): $l"
	fi
	[[ "$l" == *'reason="'?* ]] || { okay=0; fail "backoff line without reason: $l"; }
	prev=$at
done
[ "$okay" = 1 ] && [ "$(sed -nE 's/.* retry_in=([0-9.]+)s attempt=1 .*/\1/p' <<< "${bl[0]}")" = 1.0 ] &&
	ok "backoff: attempt 1..$prev, retry_in ${bl[0]##*retry_in=} ... within 1 s * 2^(attempt-1) ($((SECONDS - t_down)) s)" ||
	fail "first backoff line: ${bl[0]}"
printf '%s\n' "${bl[@]}" | sed 's/^/  /'
grep -qE '^STATUS=t: offline \(attempt [0-9]+\); ' "$NOTIFY_LOG" &&
	ok "STATUS shows the backoff" || fail "no STATUS=t: offline line"

# --- server back: recovery ------------------------------------------------------
dovecot_restart >/dev/null || exit 1
mailmutate_add "$MS_USER1" INBOX "${files[1]}" >/dev/null || exit 1
wait_for "recovery" 20 log_has 'acct=t state=idle .* backoff=reset failed_attempts=[0-9]+' 1 &&
	ok "recovered: $(grep -m1 -oE 'state=idle .* backoff=reset failed_attempts=[0-9]+' "$LOG")"
# The message was added after the restart, so the recovering pass or the
# next poll stores it.
n_idle_before="$(grep -nE 'backoff=reset' "$LOG" | head -1 | cut -d: -f1)"
arrived()
{
	tail -n "+${n_idle_before:-1}" "$LOG" | grep -qE 'acct=t state=idle .* new=1 '
}
wait_for "message added during the outage" 15 arrived &&
	ok "the message added at the restart arrived"
n_after="$(tail -n "+${n_idle_before:-1}" "$LOG" | grep -cE 'acct=t state=(backoff|offline)')"
[ "$n_after" = 0 ] || fail "backoff lines after the recovery: $n_after"

# --- SIGTERM: exit 0, bounded, nothing left ------------------------------------------
kids="$(ms_pid_descendants "$DPID")"
kill -TERM "$DPID"
pid="$DPID" DPID=''	# its exit is expected now; wait_for must not fail on it
daemon_gone() { ! ms_pid_alive "$pid"; }
wait_for "exit after SIGTERM" 10 daemon_gone || kill -KILL "$pid"
wait "$pid"
rc=$?
ms_cleanup_remove "ms_pid_stop $pid mailsyncd"
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || { fail "SIGTERM: exit status $rc; log tail:"; tail -20 "$LOG" >&2; }
grep -q 'mailsyncd stopped' "$LOG" || fail "no 'mailsyncd stopped' line"
grep -qx 'STOPPING=1' "$NOTIFY_LOG" && ok "STOPPING=1 sent" || fail "no STOPPING=1"
left=""
for p in $kids; do ms_pid_alive "$p" && left="$left $p"; done
[ -z "$left" ] && ok "no process left behind" || fail "left behind:$left"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"

# A wrong password is not hammered: one login attempt in the whole run.
n_bad="$(log_count 'acct=bad state=auth-failed')"
[ "$n_bad" = 1 ] && ok "the refused login was tried once in $((SECONDS)) s" ||
	fail "refused login tried $n_bad times: $(grep 'acct=bad' "$LOG" | head -5)"

# The store (its lock free again) holds what the server holds.
is_compare "after the daemon"
[ "$(is_store_msgs | wc -l)" = 22 ] && ok "22 messages in the store" ||
	fail "store has $(is_store_msgs | wc -l) messages, want 22"

# --- SIGTERM during a pass: stopped, what is complete committed, exit 0 ----
# Account "stall" connects to a server that accepts and never answers, so
# its pass is certainly running when SIGTERM comes (its timeout is 60 s);
# account t syncs 300 more messages into a fresh store meanwhile.
mailfill "$MS_USER1" 300 >/dev/null || exit 1
STALL_PORT="$(ms_free_ports 1)" || exit 1
: > "$WORK/stall.log"
"$MS_PYTHON" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
f = open(sys.argv[2], "a", buffering=1)
f.write("bound\n")
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    f.write("accepted\n")
' "$STALL_PORT" "$WORK/stall.log" &
STALL_PID=$!
ms_cleanup_add "ms_pid_stop $STALL_PID stall-server"
wait_for "stall server bound" 5 grep -qx bound "$WORK/stall.log" || exit 1
STORE2="$WORK/store2"
{
	sed -e "s|^store = .*|store = $STORE2|" "$CFG"
	printf '\n[account stall]\nprotocol = imap\nhost = localhost\nport = %s\n' "$STALL_PORT"
	printf 'tls = implicit\nca_file = %s\nuser = x\npassword = y\ntimeout = 60s\n' "$MS_TLS_CA"
} > "$WORK/cfg2.ini"
chmod 600 "$WORK/cfg2.ini"
LOG="$WORK/daemon2.log"
"$MAILSYNCD" -c "$WORK/cfg2.ini" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "stall account connected" 10 grep -qx accepted "$WORK/stall.log" || exit 1
t_term=$SECONDS
kill -TERM "$DPID"
pid="$DPID" DPID=''
wait_for "exit after SIGTERM during a pass" 15 daemon_gone || kill -KILL "$pid"
wait "$pid"
rc=$?
ms_cleanup_remove "ms_pid_stop $pid mailsyncd"
grep -q 'acct=stall state=stopped' "$LOG" &&
	ok "SIGTERM during a pass: acct=stall state=stopped, gone in $((SECONDS - t_term)) s" ||
	{ fail "no acct=stall state=stopped line"; tail -5 "$LOG" >&2; }
[ "$rc" = 0 ] && ok "SIGTERM during a pass: exit 0" ||
	{ fail "SIGTERM during a pass: exit $rc"; tail -20 "$LOG" >&2; }
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"
t_state="$(grep -oE 'acct=t state=(idle|stopped)' "$LOG" | head -1)"
if out="$("$STOREDUMP" "$STORE2" check)"; then
	ok "store after SIGTERM ($t_state, $("$STOREDUMP" "$STORE2" msgs t | wc -l) messages of t): $out"
else
	fail "store after SIGTERM: $out"
fi

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
