# shellcheck shell=bash
# Shared helpers for the integration fixtures: skip-or-fail, free ports,
# process lifetime by PID, bounded waits and one cleanup trap for all servers.
# Source it (dovecot.sh and smtp.sh do); it defines functions only. The
# functions work in tests that use "set -euo pipefail" too.
#
# Exit code 77 means "skipped" to ctest (SKIP_RETURN_CODE in
# tests/CMakeLists.txt); MS_REQUIRE_SERVERS=1 (set by CI) turns a missing
# server into a failure so that CI can never pass by skipping.

[ -n "${_MS_COMMON_SH:-}" ] && return 0
_MS_COMMON_SH=1

MS_FIXTURE_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_FIXTURE_LIB
MS_PYTHON="${MS_PYTHON:-/usr/bin/python3}"

ms_log()
{
	printf '[fixture] %s\n' "$*" >&2
}

# ms_missing WHAT: a prerequisite is absent. Returns 77 (skip) or, with
# MS_REQUIRE_SERVERS=1, 1 with a message that says what to install.
ms_missing()
{
	if [ "${MS_REQUIRE_SERVERS:-0}" = 1 ]; then
		printf 'FAIL: %s (MS_REQUIRE_SERVERS=1, so this is an error, not a skip)\n' "$*" >&2
		return 1
	fi
	printf 'SKIP: %s\n' "$*" >&2
	return 77
}

# ms_tmpdir_make PREFIX: prints a fresh private directory under
# ${MS_TEST_TMP:-/tmp}. Mode 0711 so that unprivileged server processes
# (dovenull, dovecot, the mail uid) can traverse to their own files in it.
ms_tmpdir_make()
{
	local base="${MS_TEST_TMP:-/tmp}" d
	d="$(mktemp -d "$base/$1.XXXXXX")" || return 1
	chmod 0711 "$d" || return 1
	printf '%s\n' "$d"
}

# ms_tmpdir_remove DIR RC: removes a fixture's directory, unless its server
# did not stop (RC != 0) or MS_KEEP_TMP=1, when it stays for inspection.
ms_tmpdir_remove()
{
	[ -n "$1" ] && [ -d "$1" ] || return 0
	if [ "$2" != 0 ] || [ "${MS_KEEP_TMP:-0}" = 1 ]; then
		ms_log "keeping $1 for inspection"
	else
		rm -rf "$1"
	fi
}

# ms_free_ports N: prints N distinct TCP ports on 127.0.0.1 that were free a
# moment ago. There is a window between this check and the server's bind;
# dovecot_start retries with new ports when the bind loses that race.
ms_free_ports()
{
	"$MS_PYTHON" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ms_wait_port_file FILE PID NAME [LOG...]: waits (100 x 0.1 s) until a
# server that binds port 0 itself has written its port to FILE, and prints
# it. On failure shows the LOGs. Servers that pick their own port this way
# cannot lose a race for it.
ms_wait_port_file()
{
	local f="$1" pid="$2" name="$3" i
	shift 3
	for ((i = 0; i < 100; i++)); do
		[ -s "$f" ] && break
		ms_pid_alive "$pid" || break
		sleep 0.1
	done
	if ! [ -s "$f" ]; then
		ms_log "$name (pid $pid) did not start within 10 s:"
		cat "$@" >&2 2>/dev/null
		return 1
	fi
	cat "$f"
}

# ms_pid_alive PID: true while PID exists and is not a zombie (kill -0
# succeeds on zombies, which would make a stopped server look alive).
ms_pid_alive()
{
	local st
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	st="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# ms_pid_descendants PID: prints PID's descendants, children first.
ms_pid_descendants()
{
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		printf '%s\n' "$c"
		ms_pid_descendants "$c"
	done
}

# ms_pid_stop PID NAME: SIGTERM, wait up to 10 s (100 x 0.1 s), then SIGKILL
# PID and any descendant still there. Reaps PID when it is our child.
# Returns 0 when everything is gone.
ms_pid_stop()
{
	local pid="$1" name="$2" kids i p left=""
	[ -n "$pid" ] || return 0
	kids="$(ms_pid_descendants "$pid")"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		ms_pid_alive "$pid" || break
		sleep 0.1
	done
	if ms_pid_alive "$pid"; then
		ms_log "$name (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	# Children the master did not take down with it (it normally does).
	for ((i = 0; i < 50; i++)); do
		left=""
		for p in $kids; do
			ms_pid_alive "$p" && left="$left $p"
		done
		[ -z "$left" ] && break
		if [ "$i" = 20 ]; then
			kill -KILL $left 2>/dev/null || true
		fi
		sleep 0.1
	done
	for ((i = 0; i < 50; i++)); do
		ms_pid_alive "$pid" || break
		sleep 0.1
	done
	if ms_pid_alive "$pid" || [ -n "$left" ]; then
		ms_log "$name: processes still alive after stop: $pid$left"
		return 1
	fi
	return 0
}

# ms_watchdog_start DIR: a background guard for the case the trap cannot
# cover: the test shell killed with SIGKILL (a ctest timeout, say). Once the
# test shell ($$) is gone, it stops the PIDs listed in DIR/.pids (TERM, then
# KILL) and removes DIR. Sets _MS_WATCHDOG_PID; stop it with
# ms_watchdog_stop PID when the fixture stops normally.
ms_watchdog_start()
{
	local dir="$1" owner="$$"
	(
		trap '' INT
		while ms_pid_alive "$owner"; do
			sleep 1
		done
		pids="$(cat "$dir/.pids" 2>/dev/null)"
		if [ -n "$pids" ]; then
			kill -TERM $pids
			sleep 3
			kill -KILL $pids
		fi
		rm -rf "$dir"
	) > /dev/null 2>&1 < /dev/null &
	_MS_WATCHDOG_PID=$!
}

ms_watchdog_stop()
{
	if [ -n "$1" ]; then
		kill "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}

# Cleanup registry: every started server registers its stop command, and one
# trap runs them all (latest first) on EXIT, INT and TERM, so servers stop
# even when a test fails half-way or is interrupted.
_MS_CLEANUPS=()

ms_cleanup_add()
{
	_MS_CLEANUPS+=("$1")
	ms_trap_install
}

ms_cleanup_remove()
{
	local i
	for i in "${!_MS_CLEANUPS[@]}"; do
		if [ "${_MS_CLEANUPS[$i]}" = "$1" ]; then
			unset '_MS_CLEANUPS[$i]'
		fi
	done
	return 0
}

ms_cleanup_run()
{
	local i idx
	idx=("${!_MS_CLEANUPS[@]}")
	for ((i = ${#idx[@]} - 1; i >= 0; i--)); do
		eval "${_MS_CLEANUPS[${idx[$i]}]}" || true
	done
	_MS_CLEANUPS=()
}

_ms_trap_exit()
{
	local rc=$?
	# Clean up completely even in a "set -e" test.
	set +e
	ms_cleanup_run
	exit "$rc"
}

_ms_trap_signal()
{
	trap - INT TERM
	set +e
	ms_log "interrupted by SIG$1, stopping servers"
	ms_cleanup_run
	[ "$1" = INT ] && exit 130
	exit 143
}

# ms_trap_install: installs the EXIT/INT/TERM traps (idempotent). A test that
# needs its own cleanup should call ms_cleanup_add "cmd" instead of "trap".
ms_trap_install()
{
	[ -n "${_MS_TRAP_SET:-}" ] && return 0
	_MS_TRAP_SET=1
	trap _ms_trap_exit EXIT
	trap '_ms_trap_signal INT' INT
	trap '_ms_trap_signal TERM' TERM
}
