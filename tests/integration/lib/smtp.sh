# shellcheck shell=bash
# A real SMTP receiver (aiosmtpd, smtp_sink.py) on a free loopback port.
# Source this file, then:
#
#   smtp_sink_start [--tls none|starttls|implicit] [--auth USER:PASSWORD]
#                   [--reject ADDR=451|550...]... [--reject-data CODE]
#                   [--defer-data N:CODE] [--drop-after-data N] [--size N]
#                   [--stall-data SECONDS] [--port N]
#                   [--no-pipelining] [--no-smtputf8] [--starttls-reply CODE]
#                   [--starttls-inject TEXT] [--strip-starttls] || exit $?
#   (the faults are described in smtp_sink.py)
#   ... send to 127.0.0.1:$MS_SMTP_PORT ...
#   smtp_sink_wait N [SECONDS]   waits until N messages are stored (default 10 s)
#   smtp_sink_stop               (also done by the EXIT/INT/TERM trap)
#
# Exports: MS_SMTP_HOST (127.0.0.1) MS_SMTP_PORT MS_SMTP_PID MS_SMTP_TLS
#   MS_SMTP_DIR (NNN.eml = bytes received, NNN.json = envelope, see smtp_sink.py)
#   MS_SMTP_LOG, and with --auth: MS_SMTP_USER MS_SMTP_PASS.
# TLS uses the test shell's PKI (tls.sh, shared with the Dovecot fixture), so
# clients verify it against $MS_TLS_CA for the name localhost.
# Returns 77 (skip) when python3-aiosmtpd is missing, unless MS_REQUIRE_SERVERS=1.

[ -n "${_MS_SMTP_SH:-}" ] && return 0
_MS_SMTP_SH=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=tls.sh
. "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

smtp_sink_start()
{
	local tls=none args=() d
	[ -n "${MS_SMTP_PID:-}" ] && { ms_log "smtp_sink_start: already running"; return 1; }
	"$MS_PYTHON" -c 'import aiosmtpd' 2>/dev/null ||
		{ ms_missing "python3-aiosmtpd not installed for $MS_PYTHON (apt-get install python3-aiosmtpd)"; return; }
	while [ $# -gt 0 ]; do
		case "$1" in
		--tls) tls="$2"; shift 2 ;;
		--auth)
			args+=(--auth "$2")
			export MS_SMTP_USER="${2%%:*}" MS_SMTP_PASS="${2#*:}"
			shift 2 ;;
		--reject|--reject-data|--defer-data|--drop-after-data|--size|\
		--stall-data|--port|\
		--starttls-reply|--starttls-inject)
			args+=("$1" "$2"); shift 2 ;;
		--no-pipelining|--no-smtputf8|--strip-starttls)
			args+=("$1"); shift ;;
		*) ms_log "smtp_sink_start: unknown option $1"; return 1 ;;
		esac
	done
	if [ "$tls" != none ]; then
		ms_tls_ensure || return $?
		args+=(--cert "$MS_TLS_CERT" --key "$MS_TLS_KEY")
	fi
	d="$(ms_tmpdir_make ms-smtp)" || return 1
	export MS_SMTP_DIR="$d/spool" MS_SMTP_LOG="$d/smtp.log" MS_SMTP_TLS="$tls"
	_SMTP_TOP="$d"
	ms_cleanup_add smtp_sink_stop
	"$MS_PYTHON" "$MS_FIXTURE_LIB/smtp_sink.py" --dir "$MS_SMTP_DIR" --port-file "$d/port" \
		--tls "$tls" --log "$MS_SMTP_LOG" "${args[@]}" > "$d/out" 2>&1 &
	MS_SMTP_PID=$!
	export MS_SMTP_PID
	echo "$MS_SMTP_PID" > "$d/.pids"
	ms_watchdog_start "$d"
	_SMTP_WATCHDOG="$_MS_WATCHDOG_PID"
	MS_SMTP_PORT="$(ms_wait_port_file "$d/port" "$MS_SMTP_PID" "smtp sink" \
		"$d/out" "$MS_SMTP_LOG")" || return 1
	export MS_SMTP_PORT MS_SMTP_HOST=127.0.0.1
	ms_log "smtp sink pid $MS_SMTP_PID: port $MS_SMTP_PORT tls=$tls, spool $MS_SMTP_DIR"
}

# smtp_sink_wait N [SECONDS]: true once N messages (NNN.json) are stored.
smtp_sink_wait()
{
	local n="$1" limit="${2:-10}" i have=0
	for ((i = 0; i < limit * 10; i++)); do
		have="$(find "$MS_SMTP_DIR" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l)"
		[ "$have" -ge "$n" ] && return 0
		sleep 0.1
	done
	ms_log "smtp sink: $have of $n messages after $limit s"
	return 1
}

smtp_sink_stop()
{
	local rc=0
	ms_watchdog_stop "${_SMTP_WATCHDOG:-}"
	if [ -n "${MS_SMTP_PID:-}" ]; then
		ms_pid_stop "$MS_SMTP_PID" smtp-sink || rc=1
	fi
	ms_tmpdir_remove "${_SMTP_TOP:-}" "$rc"
	MS_SMTP_PID='' _SMTP_TOP='' _SMTP_WATCHDOG=''
	# Only now: should this function die half-way, the exit trap tries again.
	ms_cleanup_remove smtp_sink_stop
	return "$rc"
}
