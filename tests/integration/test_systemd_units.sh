#!/bin/bash
# The systemd units (systemd/{user,system}/mailsyncd.service.in, as the
# build configured them):
#  - both pass `systemd-analyze verify` (ExecStart pointed at this build's
#    mailsyncd, which is not installed);
#  - `systemd-analyze security --offline` rates each at most 3.0 (OK)
#    and the exposure scores are printed;
#  - what the service depends on is in them: Type=notify, ExecReload by
#    SIGHUP, Restart=on-failure, WatchdogSec, the system unit's
#    User=mailsync and /etc/mailsync/config.ini, writable paths for the
#    store and the mirror;
#  - `cmake --install` puts them where systemd looks, with ExecStart at
#    the installed mailsyncd;
#  - the user unit runs for real under a user manager when this machine
#    has one (systemd-run --user); the test says so plainly when not;
#  - run as systemd would run it (NOTIFY_SOCKET, WATCHDOG_USEC and
#    JOURNAL_STREAM naming its stderr), mailsyncd sends READY=1, one
#    STATUS= line with the offline reason and WATCHDOG=1 pings, and logs
#    with "<N>" journal priorities; with stderr elsewhere, timestamps.
. "$MS_SOURCE_DIR/tests/integration/lib/common.sh"
. "$MS_SOURCE_DIR/tests/integration/lib/notify_sink.sh"
ms_trap_install
FAILS=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }
ok() { printf 'ok: %s\n' "$*"; }

command -v systemd-analyze >/dev/null || { ms_missing "systemd-analyze (apt-get install systemd)"; exit $?; }
WORK="$(ms_tmpdir_make ms-units)" || exit 1
ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
UNITS="$MS_BUILD_DIR/systemd"
mkdir -p "$WORK/system" "$WORK/user" "$WORK/rt"
chmod 700 "$WORK/rt"
for kind in system user; do
	[ -f "$UNITS/$kind/mailsyncd.service" ] || { fail "no $UNITS/$kind/mailsyncd.service"; exit 1; }
	sed "s|^ExecStart=[^ ]*/mailsyncd|ExecStart=$MAILSYNCD|" "$UNITS/$kind/mailsyncd.service" \
		> "$WORK/$kind/mailsyncd.service"
done

# --- verify ------------------------------------------------------------------
# --man=no: the man pages are not installed here.
if out="$(systemd-analyze verify --man=no "$WORK/system/mailsyncd.service" 2>&1)"; then
	ok "system unit: systemd-analyze verify passes${out:+ ($out)}"
else
	fail "system unit: systemd-analyze verify: $out"
fi
if out="$(XDG_RUNTIME_DIR="$WORK/rt" systemd-analyze --user verify --man=no "$WORK/user/mailsyncd.service" 2>&1)"; then
	ok "user unit: systemd-analyze --user verify passes${out:+ ($out)}"
else
	fail "user unit: systemd-analyze --user verify: $out"
fi

# --- security ------------------------------------------------------------------
for kind in system user; do
	flag=()
	[ "$kind" = user ] && flag=(--user)
	out="$(XDG_RUNTIME_DIR="$WORK/rt" systemd-analyze security --offline=true --threshold=30 \
		"${flag[@]}" "$WORK/$kind/mailsyncd.service" 2>&1)"
	rc=$?
	score="$(sed -nE 's/.*Overall exposure level for mailsyncd.service: ([0-9.]+ [A-Z]+).*/\1/p' <<< "$out")"
	if [ "$rc" = 0 ] && [ -n "$score" ] && awk -v s="${score%% *}" 'BEGIN { exit !(s <= 3.0) }'; then
		ok "$kind unit: systemd-analyze security exposure $score"
	else
		fail "$kind unit: systemd-analyze security (rc $rc): exposure '${score:-?}', want at most 3.0"
		grep -F '✗' <<< "$out" | head -10 >&2
	fi
done

# --- what the service needs ------------------------------------------------------
need()
{
	local kind="$1" line="$2"
	grep -qxF -- "$line" "$UNITS/$kind/mailsyncd.service" || fail "$kind unit lacks '$line'"
}
for kind in system user; do
	need "$kind" "Type=notify"
	need "$kind" 'ExecReload=/bin/kill -HUP $MAINPID'
	need "$kind" "Restart=on-failure"
	need "$kind" "WatchdogSec=5min"
	need "$kind" "ProtectSystem=strict"
	need "$kind" "NoNewPrivileges=yes"
	need "$kind" "PrivateTmp=yes"
	need "$kind" "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK"
	need "$kind" "SystemCallFilter=@system-service"
done
need system "User=mailsync"
need system "StateDirectory=mailsync"
need system "RuntimeDirectory=mailsync"
# The socket's directory lets the group mailsync through to a 0660
# socket (socket_group = mailsync, test_ctl_socket_group.sh).
need system "Group=mailsync"
need system "RuntimeDirectoryMode=0750"
grep -qE '^ExecStart=/.*/mailsyncd -c /etc/mailsync/config.ini$' "$UNITS/system/mailsyncd.service" ||
	fail "system unit: ExecStart does not read /etc/mailsync/config.ini"
need user "ReadWritePaths=%h %t"
[ "$FAILS" = 0 ] && ok "both units: Type=notify, ExecReload by SIGHUP, Restart=on-failure, WatchdogSec, hardening; system: User=mailsync, /etc/mailsync/config.ini, /var/lib/mailsync and /run/mailsync writable"

# --- cmake --install ---------------------------------------------------------------
if out="$(DESTDIR="$WORK/dest" cmake --install "$MS_BUILD_DIR" 2>&1)"; then
	prefix="$(sed -nE 's/^CMAKE_INSTALL_PREFIX:PATH=(.*)/\1/p' "$MS_BUILD_DIR/CMakeCache.txt")"
	bindir="$(sed -nE 's/^CMAKE_INSTALL_BINDIR:PATH=(.*)/\1/p' "$MS_BUILD_DIR/CMakeCache.txt")"
	case "$bindir" in /*) ;; *) bindir="$prefix/$bindir" ;; esac
	for kind in system user; do
		f="$WORK/dest$prefix/lib/systemd/$kind/mailsyncd.service"
		if [ -f "$f" ] && grep -q "^ExecStart=$bindir/mailsyncd" "$f" && [ -x "$WORK/dest$bindir/mailsyncd" ]; then
			ok "cmake --install: $prefix/lib/systemd/$kind/mailsyncd.service, ExecStart=$bindir/mailsyncd"
		else
			fail "cmake --install: no $kind unit with ExecStart=$bindir/mailsyncd under $WORK/dest$prefix"
		fi
	done
else
	fail "cmake --install: $out"
fi

# --- a config whose account cannot be reached (port closed) -------------------------
port="$(ms_free_ports 1)" || exit 1
CFG="$WORK/config.ini"
cat > "$CFG" <<EOC
[general]
store = $WORK/store
socket = $WORK/ctl.sock

[account down]
protocol = imap
host = localhost
port = $port
tls = none
user = nobody
password = nothing
poll_interval = 1h
EOC
chmod 600 "$CFG"

# --- the user unit for real, where a user manager runs ---------------------------
if out="$(timeout 10 systemd-run --user --wait --quiet true 2>&1)"; then
	unit="mailsyncd-test-$$"
	mkdir -p "$WORK/sdunit"
	sed "s|^ExecStart=.*|ExecStart=$MAILSYNCD -c $CFG|" "$WORK/user/mailsyncd.service" > "$WORK/sdunit/$unit.service"
	systemctl --user link "$WORK/sdunit/$unit.service" >/dev/null 2>&1 &&
		ms_cleanup_add "systemctl --user stop $unit; systemctl --user disable $unit"
	if systemctl --user start "$unit" && [ "$(systemctl --user is-active "$unit")" = active ]; then
		ok "user unit started for real: $(systemctl --user show -p StatusText --value "$unit")"
		systemctl --user stop "$unit" && ok "user unit stopped"
	else
		fail "user unit did not start: $(systemctl --user status "$unit" 2>&1 | tail -5)"
	fi
else
	printf 'NOTE: cannot run the user unit for real on this machine: no user service manager (systemd-run --user: %s); the rest of this test runs mailsyncd the way systemd would instead\n' "$(head -1 <<< "$out")"
fi

# --- as systemd runs it: notify socket, watchdog, journal stream ---------------------
NOTIFY_LOG="$WORK/notify.log"
notify_sink_start "$NOTIFY_LOG" || exit 1
LOG="$WORK/daemon.log"
: > "$LOG"
js="$(stat -c '%d:%i' "$LOG")"
NOTIFY_SOCKET="$NOTIFY_SOCKET_NAME" WATCHDOG_USEC=400000 JOURNAL_STREAM="$js" \
	"$MAILSYNCD" -c "$CFG" 2>>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
for ((i = 0; i < 50; i++)); do
	grep -qE '^STATUS=down: offline \(attempt 1\): .+' "$NOTIFY_LOG" &&
		[ "$(grep -cx WATCHDOG=1 "$NOTIFY_LOG")" -ge 3 ] && break
	sleep 0.2
done
grep -qx 'READY=1' "$NOTIFY_LOG" && ok "READY=1" || fail "no READY=1: $(head -5 "$NOTIFY_LOG")"
st="$(grep -m1 -E '^STATUS=down: offline' "$NOTIFY_LOG")"
[[ "$st" =~ ^STATUS=down:\ offline\ \(attempt\ 1\):\ .*connection\ refused ]] &&
	ok "one STATUS= line with the reason: $st" || fail "STATUS: $(grep STATUS "$NOTIFY_LOG" | tail -3)"
[ "$(grep -cx WATCHDOG=1 "$NOTIFY_LOG")" -ge 3 ] && ok "WATCHDOG=1 pings every WATCHDOG_USEC/2" ||
	fail "WATCHDOG=1 pings: $(grep -cx WATCHDOG=1 "$NOTIFY_LOG")"
kill -HUP "$DPID"
sleep 0.5
kill -TERM "$DPID"
for ((i = 0; i < 50; i++)); do ms_pid_alive "$DPID" || break; sleep 0.2; done
wait "$DPID"
rc=$?
ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
grep -qx 'STOPPING=1' "$NOTIFY_LOG" && ok "STOPPING=1" || fail "no STOPPING=1"
if grep -qE '^<4>acct=down state=offline ' "$LOG" && grep -qE '^<6>mailsyncd running' "$LOG" &&
	! grep -qvE '^<[0-7]>' "$LOG"; then
	ok "JOURNAL_STREAM naming stderr: every line has a journal priority ($(grep -m1 '^<4>' "$LOG" | cut -c1-60)...)"
else
	fail "journal priorities: $(head -3 "$LOG")"
fi
# JOURNAL_STREAM left over from a parent whose stderr was not ours.
LOG2="$WORK/daemon2.log"
# -v: --once logs its steps; its summary of failures is stamped the same.
JOURNAL_STREAM="$js" timeout 10 "$MAILSYNCD" -v -c "$CFG" --once 2>"$LOG2" >/dev/null
if grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}[+-][0-9]{4} ' "$LOG2" &&
	! grep -qvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}[+-][0-9]{4} ' "$LOG2"; then
	ok "JOURNAL_STREAM of another stream: timestamped lines ($(head -1 "$LOG2" | cut -c1-50)...)"
else
	fail "stderr not the journal: $(head -3 "$LOG2")"
fi

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
