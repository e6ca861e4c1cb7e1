# imap_sync_common.sh - shared helpers of tests/integration/test_imap_sync*.sh
# (sourced; not a test).  Needs MAILSYNCD, MS_BUILD_DIR, MS_SOURCE_DIR.
LIB="$MS_SOURCE_DIR/tests/integration/lib"
. "$LIB/mailmutate.sh"
ms_trap_install

STOREDUMP="$MS_BUILD_DIR/tests/ms_storedump"
SERVERDUMP="$MS_SOURCE_DIR/tests/tools/imap_server_dump.py"
FAILS=0

fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	FAILS=$((FAILS + 1))
}

ok()
{
	printf 'ok: %s\n' "$*"
}

# is_sync_setup [DIRECTION] [EXTRA-CONFIG-LINES]: Dovecot, a work dir, a
# config for account "t" (alice) in $CFG with its store in $STORE.
is_sync_setup()
{
	local direction="${1:-both}"
	[ -x "$STOREDUMP" ] || { echo "missing $STOREDUMP (build tests)" >&2; exit 1; }
	dovecot_start || exit $?
	WORK="$(ms_tmpdir_make ms-imapsync)" || exit 1
	ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
	STORE="$WORK/store"
	CFG="$WORK/mailsync.ini"
	cat > "$CFG" <<EOC
[general]
store = $STORE
socket = $WORK/ctl.sock

[account t]
protocol = imap
host = localhost
port = $MS_IMAPS_PORT
tls = implicit
ca_file = $MS_TLS_CA
user = $MS_USER1
password = $MS_PASS1
direction = $direction
${2:-}
EOC
	chmod 600 "$CFG"
}

# is_account_section NAME USER PASSWORD [EXTRA-LINES]: a config section for
# an IMAP account NAME of the fixture Dovecot over IMAPS, on stdout (to
# append to a config).
is_account_section()
{
	printf '\n[account %s]\nprotocol = imap\nhost = localhost\n' "$1"
	printf 'port = %s\ntls = implicit\nca_file = %s\n' "$MS_IMAPS_PORT" "$MS_TLS_CA"
	printf 'user = %s\npassword = %s\n%s\n' "$2" "$3" "${4:-}"
}

# is_home_setup: Dovecot, a work dir, and a $HOME in it with an empty
# ~/.config/mailsync, as a person moving to mailsync has.
is_home_setup()
{
	dovecot_start || exit $?
	WORK="$(ms_tmpdir_make ms-convert)" || exit 1
	ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
	export HOME="$WORK/home"
	mkdir -p "$HOME/.config/mailsync"
}

# is_slow_link DELAY_MS: account t reaches Dovecot through
# tests/bench/latproxy.py, which delays each direction by DELAY_MS (a
# round trip of twice that); stopped by the test's cleanup.
is_slow_link()
{
	"$MS_PYTHON" "$MS_SOURCE_DIR/tests/bench/latproxy.py" --listen 0 \
		--target "$MS_IMAPS_PORT" --delay "$1" > "$WORK/proxy.out" 2>&1 &
	PROXY_PID=$!
	ms_cleanup_add "ms_pid_stop $PROXY_PID latproxy"
	proxy_up() { grep -qs '^PORT ' "$WORK/proxy.out"; }
	wait_for "latproxy listening" 10 proxy_up || exit 1
	PROXY_PORT="$(awk '/^PORT /{ print $2 }' "$WORK/proxy.out")"
	sed -i "s/^port = .*/port = $PROXY_PORT/" "$CFG"
}

# is_sync [ARGS...]: mailsyncd --once; stdout in $WORK/out, stderr in
# $WORK/err; returns its status.
is_sync()
{
	"$MAILSYNCD" -c "$CFG" --once "$@" >"$WORK/out" 2>"$WORK/err"
}

# The store's messages and the server's, in the same format.
is_store_msgs()
{
	"$STOREDUMP" "$STORE" msgs t | sort
}

is_server_msgs()
{
	"$MS_PYTHON" "$SERVERDUMP" --port "$MS_IMAPS_PORT" --ca "$MS_TLS_CA" \
		--user "$MS_USER1" --password "$MS_PASS1" "$@" | sort
}

# Store (flags, not the synced flags column) equals the server.
is_compare()
{
	local what="$1"
	is_store_msgs | awk -F'\t' -v OFS='\t' '{ print $1, $2, $3, $5, $6 }' \
		> "$WORK/store.txt"
	is_server_msgs > "$WORK/server.txt"
	if cmp -s "$WORK/store.txt" "$WORK/server.txt" && [ -s "$WORK/server.txt" ]; then
		ok "$what: store equals server ($(wc -l < "$WORK/server.txt") messages)"
	else
		fail "$what: store differs from server:"
		diff "$WORK/store.txt" "$WORK/server.txt" | head -20 >&2
	fi
	if out="$("$STOREDUMP" "$STORE" check)"; then
		ok "$what: $out"
	else
		fail "$what: $out"
	fi
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.2 s until it
# succeeds, at most SECONDS (and 5 x SECONDS tries); fails with the tail
# of $LOG, and exits when the daemon $DPID (if set) died.
wait_for()
{
	local what="$1" secs="$2" i end
	shift 2
	end=$((SECONDS + secs))
	for ((i = 0; i < secs * 5 && SECONDS <= end; i++)); do
		"$@" && return 0
		if [ -n "${DPID:-}" ] && ! ms_pid_alive "$DPID"; then
			fail "$what: mailsyncd died; log:"
			tail -20 "$LOG" >&2
			exit 1
		fi
		sleep 0.2
	done
	fail "$what: not within $secs s; log tail:"
	tail -15 "$LOG" >&2
	return 1
}

# is_once_killed_when WHAT COMMAND...: mailsyncd -c $CFG --once in the
# background (stdout $WORK/out, stderr $WORK/err), killed with SIGKILL
# as soon as COMMAND succeeds (wait_for WHAT, 120 s); exits when it never
# does.
is_once_killed_when()
{
	local what="$1"
	shift
	"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" &
	DPID=$!
	ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
	wait_for "$what" 120 "$@" || exit 1
	kill -9 "$DPID"
	wait "$DPID" 2>/dev/null
	ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
	DPID=''
}

# is_daemon_term SECONDS: SIGTERM to the mailsyncd in $DPID (started with
# the cleanup "ms_pid_stop $DPID mailsyncd"), SIGKILL when it has not
# exited within SECONDS; ok or fail on its exit status.
is_daemon_term()
{
	local pid="$DPID" rc
	kill -TERM "$pid"
	DPID=''
	daemon_gone() { ! ms_pid_alive "$pid"; }
	wait_for "exit after SIGTERM" "$1" daemon_gone || kill -KILL "$pid"
	wait "$pid"
	rc=$?
	ms_cleanup_remove "ms_pid_stop $pid mailsyncd"
	[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
}
