#!/bin/bash
# The control socket shared with a group, as the system unit runs it
# (User=mailsync, socket_group = mailsync, DESIGN.md "Control protocol"):
# mailsyncd runs as an unprivileged uid and group (setpriv; numbers no
# account on this machine has), its socket is 0660 and the group's, the
# directory it makes for it 0750 and the group's; a user with the group as
# a supplementary group and one with it as primary group get `status`;
# a user without it is kept out by the file's mode (exit 3, naming the
# socket), and, with the mode opened by hand, by the daemon's own check
# (SO_PEERCRED, SO_PEERGROUPS), which logs why.  A socket_group that the
# system lacks is a FILE:LINE error.
. "$MS_SOURCE_DIR/tests/integration/lib/common.sh"
ms_trap_install
FAILS=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }
ok() { printf 'ok: %s\n' "$*"; }

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	# Running as other uids needs root and setpriv (util-linux).
	ms_missing "root and setpriv, to run mailsyncd and mailsyncctl as other uids"
	exit $?
fi
DUID=64321	# the daemon's user and group (the unit's mailsync)
DGID=64322
MEMBER=64323	# has DGID as a supplementary group
OTHER=64324	# has not
WORK="$(ms_tmpdir_make ms-ctlgroup)" || exit 1
ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
mkdir "$WORK/run" "$WORK/store"
chown "$DUID:$DGID" "$WORK/run" "$WORK/store"
SOCK="$WORK/run/mailsync/mailsync.sock"
CFG="$WORK/config.ini"
# The account's server is a closed port: the daemon serves status while
# it retries.
cat > "$CFG" <<EOC
[general]
store = $WORK/store
socket = $SOCK
socket_group = $DGID

[account t]
protocol = imap
host = 127.0.0.1
port = 1
tls = none
user = u
password = p
idle = no
EOC
chown "$DUID:$DGID" "$CFG"
chmod 600 "$CFG"
LOG="$WORK/daemon.log"
as() { local u="$1"; shift; setpriv --reuid="$u" "$@"; }

setpriv --reuid=$DUID --regid=$DGID --clear-groups \
	"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
listening() { grep -q 'control socket .* listening' "$LOG"; }
for _ in $(seq 1 100); do listening && break; sleep 0.1; done
listening || { fail "the daemon did not listen: $(tail -3 "$LOG")"; exit 1; }

# --- the files ------------------------------------------------------------------
read -r mode grp < <(stat -c '%a %g' "$SOCK")
[ "$mode" = 660 ] && [ "$grp" = $DGID ] && ok "socket 0660, group $DGID" ||
	fail "socket mode $mode group $grp"
read -r mode grp < <(stat -c '%a %g' "$(dirname "$SOCK")")
[ "$mode" = 750 ] && [ "$grp" = $DGID ] && ok "its directory made 0750, group $DGID" ||
	fail "directory mode $mode group $grp"

# --- members get status; others do not -----------------------------------------------
out="$(as $MEMBER --regid=$MEMBER --groups=$DGID "$MAILSYNCCTL" -s "$SOCK" --json status 2>&1)"; rc=$?
[ "$rc" = 0 ] && [[ "$out" == *'"name": "t"'* || "$out" == *'"name":"t"'* ]] &&
	ok "a member (supplementary group): status" ||
	fail "member (supplementary): exit $rc: $out"
out="$(as $MEMBER --regid=$DGID --clear-groups "$MAILSYNCCTL" -s "$SOCK" status 2>&1)"; rc=$?
[ "$rc" = 0 ] && ok "a member (primary group): status" ||
	fail "member (primary): exit $rc: $out"
out="$(as $OTHER --regid=$OTHER --clear-groups "$MAILSYNCCTL" -s "$SOCK" status 2>&1)"; rc=$?
[ "$rc" = 3 ] && [[ "$out" == *"$SOCK"* ]] &&
	ok "another user: kept out by the mode, exit 3: $out" ||
	fail "another user: exit $rc: $out"
# Past the modes, the daemon's own check refuses it and says why.
chmod 0755 "$(dirname "$SOCK")"; chmod 0666 "$SOCK"
out="$(as $OTHER --regid=$OTHER --clear-groups "$MAILSYNCCTL" -s "$SOCK" status 2>&1)"; rc=$?
chmod 0750 "$(dirname "$SOCK")"; chmod 0660 "$SOCK"
[ "$rc" = 3 ] && grep -q "refused: uid $OTHER .*nor in group $DGID (socket_group)" "$LOG" &&
	ok "past the mode, refused by the peer check: $(grep -m1 -oE "refused: uid $OTHER[^\"]*" "$LOG")" ||
	fail "the peer check: exit $rc: $out"

kill -TERM "$DPID"; wait "$DPID"; rc=$?
ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
[ "$rc" = 0 ] && ok "stopped" || fail "exit $rc after SIGTERM: $(tail -3 "$LOG")"
[ -e "$SOCK" ] && fail "socket left after exit"

# --- a group the system lacks -----------------------------------------------------------
sed -i 's/^socket_group = .*/socket_group = no-such-group-ms/' "$CFG"
out="$("$MAILSYNCD" -c "$CFG" --check-config 2>&1)"; rc=$?
[ "$rc" = 2 ] && [[ "$out" == *"$CFG:4: [general] socket_group: no group 'no-such-group-ms'"* ]] &&
	ok "unknown group: exit 2, $out" || fail "unknown group: exit $rc: $out"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
