#!/bin/bash
# bench_send.sh - sending N messages: msmtp (one process and one SMTP
# session per message, as a reader's sendmail runs it) against mailsync
# (N x `mailsyncctl send`, each made durable with fsync, then one
# `mailsyncd --once` delivering them all over one pipelined session), to
# the same fixture SMTP receiver over implicit TLS with AUTH.  A send-only
# account, so neither files a Sent copy.  Prints wall time, CPU
# (user+sys) and peak RSS of each step and the ratios; at the end both
# must have delivered N messages.  Figures, not a test (not run by ctest).
#
#   MS_BENCH_N=200 bash tests/bench/bench_send.sh [BUILD_DIR]
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_SOURCE_DIR="${MS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
export MS_BUILD_DIR="${1:-${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}}"
export MAILSYNCD="${MAILSYNCD:-$MS_BUILD_DIR/daemon/mailsyncd}"
export MAILSYNCCTL="${MAILSYNCCTL:-$MS_BUILD_DIR/client/mailsyncctl}"
N="${MS_BENCH_N:-200}"
. "$MS_SOURCE_DIR/tests/tools/send_common.sh"
command -v msmtp >/dev/null || { echo "msmtp is not installed" >&2; exit 77; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed" >&2; exit 77; }

WORK="$(ms_tmpdir_make ms-bench-send)" || exit 1
ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
STORE="$WORK/store"
CFG="$WORK/mailsync.ini"
smtp_sink_start --tls implicit --auth "smtpuser:smtp-pass-1" || exit 1
send_config_smtp alice@example.org
[general]
store = $STORE
[account out]
protocol = smtp
smtp_host = localhost
smtp_port = $MS_SMTP_PORT
smtp_tls = implicit
ca_file = $MS_TLS_CA
smtp_user = smtpuser
smtp_password_cmd = echo smtp-pass-1
from = alice@example.org
EOC
cat > "$WORK/msmtprc" <<EOC
account bench
host localhost
port $MS_SMTP_PORT
tls on
tls_starttls off
tls_trust_file $MS_TLS_CA
auth plain
user smtpuser
password smtp-pass-1
from alice@example.org
account default : bench
EOC
chmod 600 "$CFG" "$WORK/msmtprc"
# One message of about 4 KB.
{ printf 'From: alice@example.org\nTo: bob@example.net\nSubject: bench\n\n'
  for i in $(seq 1 60); do echo "line $i of a message body of some ordinary length, text."; done; } > "$WORK/msg"

# timed NAME COMMAND...: wall s, CPU s, peak RSS KB into $WORK/NAME.t
timed()
{
	local name="$1"
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.t" "$@"
}
show()
{
	read -r wall user sys rss < "$WORK/$1.t"
	printf '%-28s wall %7.2f s  cpu %7.2f s  peak RSS %7d KB\n' "$2" "$wall" \
		"$(echo "$user + $sys" | bc)" "$rss"
}

loop_msmtp() { for ((i = 0; i < N; i++)); do msmtp -C "$WORK/msmtprc" -t < "$WORK/msg" || return 1; done; }
loop_queue() { for ((i = 0; i < N; i++)); do "$MAILSYNCCTL" -c "$CFG" send -t < "$WORK/msg" || return 1; done; }
export -f loop_msmtp loop_queue
export N WORK CFG

timed msmtp bash -c loop_msmtp || { echo "msmtp failed" >&2; exit 1; }
n_msmtp="$(sink_count)"
smtp_sink_stop
smtp_sink_start --tls implicit --auth "smtpuser:smtp-pass-1" --port "$(sed -n 's/^smtp_port = //p' "$CFG")" || exit 1
timed queue bash -c loop_queue || { echo "mailsyncctl send failed" >&2; exit 1; }
timed deliver "$MAILSYNCD" -c "$CFG" --once > "$WORK/out" 2>&1 || { cat "$WORK/out"; exit 1; }
n_ms="$(sink_count)"

echo "sending $N messages of $(wc -c < "$WORK/msg") bytes (implicit TLS, AUTH PLAIN)"
show msmtp "msmtp -t, one per message"
show queue "mailsyncctl send -t x $N"
show deliver "mailsyncd --once"
read -r mw mu ms _ < "$WORK/msmtp.t"; read -r qw qu qs _ < "$WORK/queue.t"; read -r dw du ds _ < "$WORK/deliver.t"
printf 'ratio mailsync/msmtp: wall %.2f (queueing alone %.2f), cpu %.2f\n' \
	"$(echo "($qw + $dw) / $mw" | bc -l)" "$(echo "$qw / $mw" | bc -l)" \
	"$(echo "($qu + $qs + $du + $ds) / ($mu + $ms)" | bc -l)"
echo "delivered: msmtp $n_msmtp, mailsync $n_ms (want $N each)"
[ "$n_msmtp" = "$N" ] && [ "$n_ms" = "$N" ]
