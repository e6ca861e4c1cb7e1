# fake_sync.sh - shared helpers of the tests that drive the scripted,
# misbehaving IMAP server tests/data/sync/fake_imap_sync.py (sourced; not a
# test): the server, a store and config per scenario, one pass, and the
# checks of the store.  Needs MAILSYNCD, MS_BUILD_DIR, MS_SOURCE_DIR; sets
# WORK (the test's temporary directory).
. "$MS_SOURCE_DIR/tests/integration/lib/common.sh"
. "$MS_SOURCE_DIR/tests/integration/lib/tls.sh"
ms_trap_install
ms_tls_ensure || exit 1
STOREDUMP="$MS_BUILD_DIR/tests/ms_storedump"
MIRRORCHECK="$MS_BUILD_DIR/tests/ms_mirrorcheck"
FAKE="$MS_SOURCE_DIR/tests/data/sync/fake_imap_sync.py"
[ -x "$STOREDUMP" ] || { echo "missing $STOREDUMP (build tests)" >&2; exit 1; }
FAILS=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }
ok() { printf 'ok: %s\n' "$*"; }
WORK="$(ms_tmpdir_make ms-syncfaults)" || exit 1
ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"

# fake_start ARGS...: the fake server with these mailboxes, on $PORT.
fake_start()
{
	local pid
	echo normal > "$WORK/mode"
	rm -f "$WORK/port.out"
	"$MS_PYTHON" "$FAKE" --mode-file "$WORK/mode" \
		--cert "$MS_TLS_CERT" --key "$MS_TLS_KEY" --log "$WORK/cmds" "$@" \
		> "$WORK/port.out" 2> "$WORK/fake.err" &
	pid=$!
	FAKE_PID=$pid
	ms_cleanup_add "ms_pid_stop $pid fake_imap_sync"
	for ((i = 0; i < 100; i++)); do
		grep -q '^PORT ' "$WORK/port.out" 2>/dev/null && break
		sleep 0.1
	done
	PORT="$(awk '/^PORT / { print $2 }' "$WORK/port.out")"
	[ -n "$PORT" ] || { cat "$WORK/fake.err" >&2; exit 1; }
}

fake_stop()
{
	ms_pid_stop "$FAKE_PID" fake_imap_sync
	ms_cleanup_remove "ms_pid_stop $FAKE_PID fake_imap_sync"
}

# scenario NAME: a fresh store and config for the running fake server.
scenario()
{
	SC="$1"
	STORE="$WORK/$SC.store"
	CFG="$WORK/$SC.ini"
	cat > "$CFG" <<EOC
[general]
store = $STORE
socket = $WORK/ctl.sock

[account t]
protocol = imap
host = 127.0.0.1
port = $PORT
tls = implicit
ca_file = $MS_TLS_CA
auth = ${AUTH:-plain}
user = u
password = p
timeout = 10
direction = ${DIRECTION:-pull}
EOC
	# A Maildir mirror (MIRROR=1): readers' moves and new folders.
	[ -z "${MIRROR:-}" ] || printf 'maildir = %s\n' "$WORK/$SC.mail" >> "$CFG"
	MAIL="$WORK/$SC.mail"
	chmod 600 "$CFG"
}

# pass MODE: one --once pass with the server in MODE; status in $RC.
pass()
{
	echo "$1" > "$WORK/mode"
	RC=0
	timeout "${PASS_TIMEOUT:-60}" "$MAILSYNCD" -c "$CFG" --once >"$WORK/$SC.out" \
		2>"$WORK/$SC.err" || RC=$?
	# A faulty pass exits 1 anyway: a crash must not hide behind it.
	if [ "$RC" -gt 1 ] || grep -qE 'Sanitizer|runtime error' "$WORK/$SC.err"; then
		fail "$SC: mailsyncd crashed (exit $RC):"
		tail -20 "$WORK/$SC.err" >&2
	fi
}

# pass_killed MODE MARK: a pass with the server in MODE, killed (-9) once
# the server logged MARK (it then answers nothing more).
pass_killed()
{
	local pid i
	echo "$1" > "$WORK/mode"
	"$MAILSYNCD" -c "$CFG" --once >"$WORK/$SC.out" 2>"$WORK/$SC.err" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "^$2\$" "$WORK/cmds" && break
		sleep 0.1
	done
	grep -q "^$2\$" "$WORK/cmds" || fail "$SC: the server never logged $2"
	sleep 0.3
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

uids() { "$STOREDUMP" "$STORE" msgs t "${2:-INBOX}" | awk -F'\t' '{ print $2 }' | tr '\n' ' '; }
uidnext() { "$STOREDUMP" "$STORE" folders | awk -F'\t' -v f="${1:-INBOX}" '$2 == f { sub("uidnext=", "", $4); print $4 }'; }

# expect_uids WHAT "UIDS" [FOLDER]
expect_uids()
{
	local got
	got="$(uids t "${3:-INBOX}")"
	if [ "$got" = "$2" ]; then ok "$SC: $1: UIDs $got"
	else fail "$SC: $1: UIDs '$got', expected '$2'"; cat "$WORK/$SC.err" >&2; fi
}

# expect_uidnext_le WHAT N: the watermark does not pass N.
expect_uidnext_le()
{
	local un
	un="$(uidnext)"
	if [ -n "$un" ] && [ "$un" -le "$2" ]; then ok "$SC: $1: uidnext $un <= $2"
	else fail "$SC: $1: uidnext '$un' > $2"; fi
}

BODIES_PY='
import hashlib, importlib.util, sys
spec = importlib.util.spec_from_file_location("f", sys.argv[1])
f = importlib.util.module_from_spec(spec)
spec.loader.exec_module(f)
for line in sys.stdin:
    box, uid = line.split()[:2]
    b = f.body(int(uid))
    print(box, uid, hashlib.sha256(b).hexdigest(), len(b))
'

# expect_bodies: every stored message is byte-identical to the server's.
expect_bodies()
{
	local want got
	got="$("$STOREDUMP" "$STORE" msgs t | awk -F'\t' '{ print $1, $2, $5, $6 }')"
	want="$("$MS_PYTHON" -B -c "$BODIES_PY" "$FAKE" <<< "$got")"
	if [ -n "$got" ] && [ "$got" = "$want" ]; then ok "$SC: stored bodies equal the server's"
	else fail "$SC: stored bodies differ from the server's:"; diff <(echo "$got") <(echo "$want") >&2; fi
}

expect_check()
{
	local out
	if out="$("$STOREDUMP" "$STORE" check)"; then ok "$SC: $out"
	else fail "$SC: store check: $out"; fi
	# With a mirror: store and mirror agree (mirror_check).
	[ -d "$MAIL" ] || return 0
	if out="$("$MIRRORCHECK" "$STORE" t "$MAIL" 2>&1)"; then ok "$SC: mirror_check: $out"
	else fail "$SC: mirror_check: $out"; fi
}
