#!/bin/bash
# Reload (mailsyncctl reload and SIGHUP) against a daemon syncing the
# fixture Dovecot: an account added starts and syncs, a changed one
# restarts, a removed one stops, an unchanged one runs on; a broken file
# keeps the running configuration and the reply and the log carry every
# FILE:LINE problem.  Under systemd, READY=1 comes when the control socket
# already answers.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both "poll_interval = 10m"
mailfill "$MS_USER1" 10 >/dev/null || exit 1
mailfill "$MS_USER2" 12 >/dev/null || exit 1
LOG="$WORK/daemon.log"
SOCK="$WORK/ctl.sock"
log_count() { grep -cE -- "$1" "$LOG" 2>/dev/null || true; }
log_has() { [ "$(log_count "$1")" -ge "$2" ]; }
C() { "$MAILSYNCCTL" -c "$CFG" "$@"; }
J() { "$MAILSYNCCTL" -c "$CFG" --json "$@"; }
states() { J status | "$MS_PYTHON" -c 'import json,sys; print(" ".join("%s=%s" % (a["name"], a["state"]) for a in json.load(sys.stdin)["accounts"]))'; }
# settled NAME...: each runtime's push watches and the pass that push asks
# for once it does (what changed while it connected) has ended too: its
# first pass and that one, passes >= 2.  Only then does a runtime stay
# idle; before, status may rightly show it syncing.
settled()
{
	J status | "$MS_PYTHON" -c '
import json, sys
accts = {a["name"]: a for a in json.load(sys.stdin)["accounts"]}
sys.exit(not all(n in accts and accts[n]["passes"] >= 2 and
                 accts[n]["state"] != "syncing" and
                 accts[n]["push"] not in ("", "off") and
                 "connecting" not in accts[n]["push"] for n in sys.argv[1:]))' "$@"
}
cp "$CFG" "$WORK/base.ini"
account_u()
{
	cat <<EOC

[account u]
protocol = imap
host = localhost
port = $MS_IMAPS_PORT
tls = implicit
ca_file = $MS_TLS_CA
user = $MS_USER2
password = $MS_PASS2
poll_interval = 10m
EOC
}

# A fake systemd that, on READY=1, checks that the socket answers.
NOTIFY_NAME="ms-notify-$$-$RANDOM"
"$MS_PYTHON" - "$NOTIFY_NAME" "$SOCK" > "$WORK/notify.txt" <<'EOF' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
print("bound", flush=True)
while True:
    if b"READY=1" in s.recv(65536):
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(5)
        try:
            c.connect(sys.argv[2])
            print("READY=1, socket answers:", json.loads(c.makefile("rb").readline())["hello"]["proto"], flush=True)
        except OSError as e:
            print("READY=1, socket does not answer:", e, flush=True)
        break
EOF
NPID=$!
ms_cleanup_add "ms_pid_stop $NPID notify-receiver"
wait_for "notify receiver" 5 grep -q bound "$WORK/notify.txt" || exit 1

NOTIFY_SOCKET="@$NOTIFY_NAME" "$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "first pass" 30 log_has 'acct=t state=idle .* new=10 ' 1 || exit 1
wait_for "READY=1" 10 grep -q 'READY=1' "$WORK/notify.txt"
grep -q 'READY=1, socket answers: 1' "$WORK/notify.txt" && ok "READY=1 once the control socket answers" ||
	fail "notify: $(cat "$WORK/notify.txt")"

# --- an account added ----------------------------------------------------------------
{ cat "$WORK/base.ini"; account_u; } > "$CFG"
out="$(C reload)"; rc=$?
[ "$rc" = 0 ] && [[ "$out" == *"added: u"*"unchanged: t"* ]] && ok "reload: $(echo $out)" ||
	fail "reload (add): exit $rc: $out"
wait_for "u synced" 30 log_has 'acct=u state=idle .* new=12 ' 1 && ok "the added account synced its 12 messages"
[ "$(log_count 'acct=t state=stopped')" = 0 ] && ok "t ran on untouched" ||
	fail "t was stopped by a reload that did not change it"

# --- an account changed, by SIGHUP ----------------------------------------------------------
{ sed 's/^poll_interval = 10m$/poll_interval = 20m/' "$WORK/base.ini"; account_u; } > "$CFG"
kill -HUP "$DPID"
wait_for "t restarted" 15 log_has 'reload: account t changed: restarting it' 1 &&
	wait_for "t's new runtime synced" 30 log_has 'acct=t state=idle next_sync_in=1200s' 1 &&
	ok "SIGHUP: t restarted with poll_interval 20m"
log_has 'reload: 0 added, 0 removed, 1 restarted, 1 unchanged' 1 && ok "SIGHUP: u unchanged" ||
	fail "SIGHUP summary: $(grep 'reload:' "$LOG" | tail -1)"
wait_for "t and u settled" 30 settled t u
st="$(states)"
[ "$st" = "t=idle u=idle" ] && ok "status: $st" || fail "status after SIGHUP: $st"

# --- a broken file keeps the running configuration ---------------------------------------------
{ cat "$WORK/base.ini"; echo "bogus_key = 1"; echo "port = notanumber"; } > "$CFG"
out="$(C reload 2>&1)"; rc=$?
n_lines="$(grep -cE "mailsyncctl: $CFG:[0-9]+: " <<< "$out")"
[ "$rc" = 1 ] && [ "$n_lines" = 2 ] && ok "broken file: exit 1, both problems:
$out" || fail "broken reload: exit $rc, $n_lines FILE:LINE lines: $out"
[ "$(log_count "reload: $CFG:[0-9]+: ")" = 2 ] && ok "the log names both problems" ||
	fail "log: $(grep 'reload:' "$LOG" | tail -3)"
[ "$(states)" = "t=idle u=idle" ] && ok "the running configuration stays: $(states)" ||
	fail "after a broken reload: $(states)"
kill -HUP "$DPID"
wait_for "SIGHUP with a broken file" 10 log_has 'reload: the running configuration stays' 1 &&
	ok "SIGHUP with a broken file keeps it too"
C sync u --wait >/dev/null && ok "u still syncs" || fail "u after a broken reload"

# --- an account removed -----------------------------------------------------------------------
sed 's/^poll_interval = 10m$/poll_interval = 20m/' "$WORK/base.ini" > "$CFG"
out="$(J reload)" && [ "$(echo "$out" | "$MS_PYTHON" -c 'import json,sys; d = json.load(sys.stdin); print(d["removed"], d["unchanged"])')" = "['u'] ['t']" ] &&
	ok "reload --json: u removed, t unchanged" || fail "reload (remove): $out"
wait_for "u stopped" 10 log_has 'acct=u state=stopped' 1
[ "$(states)" = "t=idle" ] && ok "status: $(states)" || fail "after removal: $(states)"
out="$(C status u 2>&1)"; rc=$?
[ "$rc" = 1 ] && ok "status of the removed account: exit 1" || fail "status u: $rc $out"

is_daemon_term 15
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
