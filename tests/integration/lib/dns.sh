# shellcheck shell=bash
# A private DNS server (dnsmasq) on a free loopback port, answering only
# from the records a test gives, for the domains it names (everything else
# in those domains is NXDOMAIN; nothing is forwarded anywhere).
# Source this file, then:
#
#   dns_start --domain test  RECORD-LINE... || exit $?
#       RECORD-LINE is a dnsmasq option without "--", e.g.
#       "host-record=imap.example.test,127.0.0.1"
#       "srv-host=_imaps._tcp.example.test,imap.example.test,993,0,0"
#       "mx-host=example.test,mx.example.test,10"
#   ... resolve through 127.0.0.1:$MS_DNS_PORT ...
#   dns_stop                (also done by the EXIT/INT/TERM trap)
#
# Returns 77 (skip) when dnsmasq is missing, unless MS_REQUIRE_SERVERS=1.
# Exports MS_DNS_PORT MS_DNS_PID MS_DNS_LOG.

[ -n "${_MS_DNS_SH:-}" ] && return 0
_MS_DNS_SH=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

MS_DNSMASQ_BIN="${MS_DNSMASQ_BIN:-/usr/sbin/dnsmasq}"

dns_start()
{
	local d domain="" line port attempt
	[ -n "${MS_DNS_PID:-}" ] && { ms_log "dns_start: already running"; return 1; }
	[ -x "$MS_DNSMASQ_BIN" ] ||
		{ ms_missing "dnsmasq not installed (apt-get install dnsmasq-base)"; return; }
	if [ "${1:-}" = --domain ]; then
		domain="$2"
		shift 2
	fi
	d="$(ms_tmpdir_make ms-dns)" || return 1
	_DNS_DIR="$d"
	ms_cleanup_add dns_stop
	for attempt in 1 2 3 4 5; do
		port="$(ms_free_ports 1)" || return 1
		{
			echo "port=$port"
			echo "listen-address=127.0.0.1"
			echo "bind-interfaces"
			echo "no-resolv"
			echo "no-hosts"
			echo "no-poll"
			echo "user=root"
			echo "pid-file="
			echo "log-queries"
			echo "log-facility=$d/dnsmasq.log"
			[ -n "$domain" ] && echo "local=/$domain/"
			for line in "$@"; do
				echo "$line"
			done
		} > "$d/dnsmasq.conf"
		"$MS_DNSMASQ_BIN" --keep-in-foreground --conf-file="$d/dnsmasq.conf" \
			> "$d/out" 2>&1 &
		MS_DNS_PID=$!
		echo "$MS_DNS_PID" > "$d/.pids"
		# Bounded: 50 x 0.1 s for the first answer.
		local i
		for ((i = 0; i < 50; i++)); do
			ms_pid_alive "$MS_DNS_PID" || break
			if "$MS_PYTHON" - "$port" <<'EOP' 2>/dev/null; then
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
# A query for "." NS: any answer (even REFUSED) means it listens.
s.sendto(bytes.fromhex("abcd01000001000000000000" "0000020001"), ("127.0.0.1", int(sys.argv[1])))
s.recvfrom(512)
EOP
				export MS_DNS_PORT="$port" MS_DNS_PID MS_DNS_LOG="$d/dnsmasq.log"
				ms_watchdog_start "$d"
				_DNS_WATCHDOG="$_MS_WATCHDOG_PID"
				ms_log "dnsmasq pid $MS_DNS_PID on 127.0.0.1:$port"
				return 0
			fi
			sleep 0.1
		done
		if grep -q 'Address already in use' "$d/out" 2>/dev/null; then
			ms_pid_stop "$MS_DNS_PID" dnsmasq
			MS_DNS_PID=''
			continue
		fi
		ms_log "dnsmasq did not start:"
		cat "$d/out" >&2
		return 1
	done
	return 1
}

dns_stop()
{
	local rc=0
	ms_watchdog_stop "${_DNS_WATCHDOG:-}"
	if [ -n "${MS_DNS_PID:-}" ]; then
		ms_pid_stop "$MS_DNS_PID" dnsmasq || rc=1
	fi
	ms_tmpdir_remove "${_DNS_DIR:-}" "$rc"
	MS_DNS_PID='' _DNS_DIR='' _DNS_WATCHDOG=''
	ms_cleanup_remove dns_stop
	return "$rc"
}
