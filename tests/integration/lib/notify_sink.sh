# shellcheck shell=bash
# A fake systemd for tests: a receiver on an abstract AF_UNIX datagram
# socket that writes one line per datagram (newlines inside shown as \n).
#
#   notify_sink_start LOGFILE   sets NOTIFY_SOCKET_NAME ("@name") and
#                               NOTIFY_SINK_PID; stopped by the cleanup
#                               trap (ms_cleanup_add), by PID
[ -n "${_MS_NOTIFY_SINK_SH:-}" ] && return 0
_MS_NOTIFY_SINK_SH=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

notify_sink_start()
{
	local log="$1" name="ms-notify-$$-$RANDOM" i
	: > "$log"
	"$MS_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
f = open(sys.argv[2], "a", buffering=1)
f.write("bound\n")
while True:
    d = s.recv(65536)
    f.write(d.decode("utf-8", "replace").replace("\n", "\\n") + "\n")
' "$name" "$log" &
	NOTIFY_SINK_PID=$!
	ms_cleanup_add "ms_pid_stop $NOTIFY_SINK_PID notify-receiver"
	NOTIFY_SOCKET_NAME="@$name"
	for ((i = 0; i < 50; i++)); do
		grep -qx bound "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	ms_log "notify receiver did not bind within 5 s"
	return 1
}
