#!/bin/bash
# bench_ctl_status.sh - how fast the control socket answers `status` while
# mailsyncd does a large initial sync (MS_BENCH_N messages, 18,000 by
# default, made as tests/bench/bench_imap_sync.sh makes them), compared
# with the same calls on the idle daemon afterwards.
#
# Two measures, MS_BENCH_CALLS (200) calls each, spread over the sync:
#   - `mailsyncctl --json status` as a user runs it (process start,
#     config lookup, connect, hello, request, reply);
#   - one `status` request on an open connection (the daemon's own
#     answer time), timed by a small Python client.
# Prints p50, p99 and max of each, during the sync and when idle, and
# their ratio; the daemon's wall, CPU and peak RSS for the whole run.
# Figures, not a test: run by hand after building (not run by ctest).
#
#   MS_BENCH_N=18000 bash tests/bench/bench_ctl_status.sh [BUILD_DIR]
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_SOURCE_DIR="${MS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
export MS_BUILD_DIR="${1:-${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}}"
export MAILSYNCD="${MAILSYNCD:-$MS_BUILD_DIR/daemon/mailsyncd}"
MAILSYNCCTL="${MAILSYNCCTL:-$MS_BUILD_DIR/client/mailsyncctl}"
export MS_CORPUS="${MS_CORPUS:-$MS_SOURCE_DIR/tests/corpus}"
N="${MS_BENCH_N:-18000}"
CALLS="${MS_BENCH_CALLS:-200}"
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed" >&2; exit 77; }

is_sync_setup both "poll_interval = 1h"
printf 'maildir = %s\n' "$WORK/mirror" >> "$CFG"
FOLDERS=(--folder INBOX --folder Sent --folder Archive --folder Lists/dev --folder 'Ünïcödé')
bench_mailfill "$MS_USER1" "$N" "${FOLDERS[@]}" || exit 1
SOCK="$WORK/ctl.sock"
LOG="$WORK/daemon.log"

/usr/bin/time -f '%e %U %S %M' -o "$WORK/daemon.time" "$MAILSYNCD" -c "$CFG" 2>"$LOG" &
TPID=$!
ms_cleanup_add "kill $TPID 2>/dev/null"
for ((i = 0; i < 100; i++)); do
	"$MAILSYNCCTL" -s "$SOCK" status >/dev/null 2>&1 && break
	sleep 0.05
done

# sample KIND: CALLS timed calls, one every 20 ms, each line "STATE MS".
sample()
{
	local kind="$1" out="$WORK/$1.txt"
	: > "$out"
	"$MS_PYTHON" - "$SOCK" "$CALLS" "$MAILSYNCCTL" "$out" <<'EOF'
import json, socket, subprocess, sys, time
sock, calls, ctl, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = socket.socket(socket.AF_UNIX)
c.connect(sock)
f = c.makefile("rb")
json.loads(f.readline())
with open(out, "w") as o:
    for i in range(calls):
        t0 = time.perf_counter()
        c.sendall(b'{"id":%d,"cmd":"status"}\n' % i)
        r = json.loads(f.readline())
        conn_ms = (time.perf_counter() - t0) * 1000
        state = r["data"]["accounts"][0]["state"]
        t0 = time.perf_counter()
        subprocess.run([ctl, "-s", sock, "--json", "status"], check=True,
                       stdout=subprocess.DEVNULL)
        proc_ms = (time.perf_counter() - t0) * 1000
        o.write("%s %.3f %.3f\n" % (state, conn_ms, proc_ms))
        time.sleep(0.02)
EOF
}

# stats FILE COLUMN LABEL [STATE]: p50, p99 and max of the calls (only
# those answered in STATE when given) on stdout; "p50 p99" on stderr.
stats()
{
	"$MS_PYTHON" - "$@" <<'EOF'
import math, sys
path, col, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
want = sys.argv[4] if len(sys.argv) > 4 else ""
v = sorted(float(l.split()[col - 1]) for l in open(path)
           if not want or l.split()[0] == want)
if not v:
    print("  %-36s no calls" % label)
    print("0 0", file=sys.stderr)
    sys.exit(0)
pct = lambda p: v[min(len(v) - 1, max(0, math.ceil(p * len(v)) - 1))]
print("  %-36s n=%3d  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms"
      % (label, len(v), pct(0.50), pct(0.99), v[-1]))
print("%.3f %.3f" % (pct(0.50), pct(0.99)), file=sys.stderr)
EOF
}

echo "status during the initial sync of $N messages ($CALLS calls, 20 ms apart):"
sample sync
n_sync="$(awk '$1 == "syncing"' "$WORK/sync.txt" | wc -l)"
echo "  ($n_sync of $CALLS calls were answered while the account was syncing)"
stats "$WORK/sync.txt" 2 "request on an open connection" syncing 2>"$WORK/s_conn"
stats "$WORK/sync.txt" 3 "mailsyncctl --json status (process)" syncing 2>"$WORK/s_proc"
for ((i = 0; i < 3000; i++)); do
	grep -q 'acct=t state=idle ' "$LOG" && break
	sleep 0.2
done
echo "status on the idle daemon afterwards:"
sample idle
stats "$WORK/idle.txt" 2 "request on an open connection" "" 2>"$WORK/i_conn"
stats "$WORK/idle.txt" 3 "mailsyncctl --json status (process)" "" 2>"$WORK/i_proc"
echo "ratios (during the sync / idle; 1.0x means the sync costs status nothing):"
for m in conn proc; do
	read -r sp50 sp99 < "$WORK/s_$m"
	read -r ip50 ip99 < "$WORK/i_$m"
	awk -v m="$m" -v a="$sp50" -v b="$ip50" -v c="$sp99" -v d="$ip99" 'BEGIN {
		r = (b > 0 && d > 0) ? sprintf("p50 %.1fx  p99 %.1fx", a / b, c / d) : "n/a"
		printf "  %-36s %s\n", (m == "conn" ? "request on an open connection" : "mailsyncctl process"), r }'
done
grep -m1 'acct=t state=idle ' "$LOG" | sed 's/^/  sync: /'
kill -TERM "$(pgrep -P "$TPID" mailsyncd)" 2>/dev/null
wait "$TPID"
read -r wall user sys rss < "$WORK/daemon.time"
awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN {
	printf "mailsyncd for the whole run: wall %ss  cpu %.2fs  peak rss %s kB\n", w, u + s, r }'
