#!/bin/bash
# bench_push.sh - how fast pushed mail reaches the Maildir, and what it
# costs: mailsyncd (push with NOTIFY on the fixture Dovecot, the mirror)
# beside a floor (tests/bench/push_floor.py: one connection per folder
# that IDLEs and fetches, the least a client can do), both watching the
# same server during the same deliveries.
#
# tests/bench/push_deliver.py appends N messages (default 100) round-robin
# to INBOX, Lists and Work, spaced uniformly 1-2 s apart, and times each
# from the server's tagged OK of its APPEND to the file in each client's
# Maildir (inotify).  Printed: p50, p99 and max per client and folder;
# CPU (user+sys from /proc) per delivered message; peak RSS; and over an
# idle minute after the deliveries, CPU and wake-ups (context switches
# of all threads).  Dovecot holds a notification about half a second, so
# the floor's latency is mostly the server's; mailsyncd's target is the
# floor + 10 ms in every folder.  Memory: mailsyncd's anonymous RSS is
# sampled every second during the deliveries, and printed at a tenth, half
# and the end of them with the growth between the first and the last (flat
# means no growth per delivery), and with its [heap] at each quarter of the
# deliveries; for the 1,000-delivery run:
#   MS_BENCH_N=1000 MS_BENCH_GAP_MIN=0.05 MS_BENCH_GAP_MAX=0.15 MS_BENCH_IDLE=10 ...
# MS_BENCH_FILL=N first fills the three folders with N messages (from the
# corpus, round-robin; synced by the first pass before the deliveries), so
# that what a pushed message costs in a large folder shows: 3000 for a
# 1,000-message folder each.
# Figures, not a test: run by hand after building (not run by ctest).
#
#   MS_BENCH_N=100 MS_BENCH_IDLE=60 bash tests/bench/bench_push.sh [BUILD_DIR]
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_SOURCE_DIR="${MS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
export MS_BUILD_DIR="${1:-${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}}"
export MAILSYNCD="${MAILSYNCD:-$MS_BUILD_DIR/daemon/mailsyncd}"
N="${MS_BENCH_N:-100}"
GAP_MIN="${MS_BENCH_GAP_MIN:-1}"
GAP_MAX="${MS_BENCH_GAP_MAX:-2}"
IDLE_S="${MS_BENCH_IDLE:-60}"
FILL="${MS_BENCH_FILL:-0}"
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both "poll_interval = 1h"
printf 'maildir = %s\n' "$WORK/mirror" >> "$CFG"
if [ "$FILL" -gt 0 ]; then
	bench_mailfill "$MS_USER1" "$FILL" --folder INBOX --folder Lists --folder Work || exit 1
else
	for f in Lists Work; do mailmutate_create "$MS_USER1" "$f" >/dev/null || exit 1; done
fi
FLOOR="$WORK/floor"
mkdir -p "$FLOOR"

# cpu_ticks PID: user+sys clock ticks of the process (all threads).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# switches PID: voluntary + involuntary context switches of all threads.
switches()
{
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { n += $2 } END { print n + 0 }'
}
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
anon() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# heap PID: resident kB of the process's [heap] (the main arena's brk).
heap()
{
	awk '/^[0-9a-f]+-[0-9a-f]+ / { h = ($NF == "[heap]") }
	     h && /^Rss:/ { n += $2 } END { print n + 0 }' "/proc/$1/smaps" 2>/dev/null
}
# mirrored: message files in mailsyncd's Maildirs of the three folders.
mirrored()
{
	local d n=0
	for d in "$WORK/mirror" "$WORK/mirror/Lists" "$WORK/mirror/Work"; do
		n=$((n + $(find "$d/new" "$d/cur" -maxdepth 1 -type f 2>/dev/null | wc -l)))
	done
	echo "$n"
}
TCK="$(getconf CLK_TCK)"

LOG="$WORK/daemon.log"
"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "mailsyncd push up" $((30 + FILL / 100)) grep -q 'push="notify on every folder' "$LOG" || exit 1
"$MS_PYTHON" "$HERE/push_floor.py" localhost "$MS_IMAPS_PORT" "$MS_TLS_CA" "$MS_USER1" "$MS_PASS1" \
	"$FLOOR" INBOX Lists Work 2>"$WORK/floor.err" &
FPID=$!
ms_cleanup_add "ms_pid_stop $FPID push-floor"
wait_for "floor in IDLE" 30 test -e "$FLOOR/ready" || { cat "$WORK/floor.err" >&2; exit 1; }

echo "bench_push: $N deliveries to INBOX, Lists, Work, ${GAP_MIN}-${GAP_MAX} s apart, into folders of $((FILL / 3)) messages; mailsyncd (NOTIFY, 1 push connection) and the floor (IDLE + FETCH, 1 connection per folder)"
d0="$(cpu_ticks "$DPID")" f0="$(cpu_ticks "$FPID")"
t0=$SECONDS
# mailsyncd's anonymous RSS, once a second while the deliveries run, with
# its [heap] and the messages delivered so far.
m0="$(mirrored)"
( while kill -0 "$DPID" 2>/dev/null; do
	echo "$(anon "$DPID") $(heap "$DPID") $(( $(mirrored) - m0 ))"; sleep 1
  done ) > "$WORK/rss.txt" &
RSSPID=$!
ms_cleanup_add "ms_pid_stop $RSSPID rss-sampler"
"$MS_PYTHON" "$HERE/push_deliver.py" localhost "$MS_IMAPS_PORT" "$MS_TLS_CA" "$MS_USER1" "$MS_PASS1" \
	"$N" "$GAP_MIN" "$GAP_MAX" 30 \
	"mailsyncd=INBOX=$WORK/mirror" "mailsyncd=Lists=$WORK/mirror/Lists" "mailsyncd=Work=$WORK/mirror/Work" \
	"floor=INBOX=$FLOOR/INBOX" "floor=Lists=$FLOOR/Lists" "floor=Work=$FLOOR/Work" | tee "$WORK/lat.txt"
wall=$((SECONDS - t0))
ms_pid_stop "$RSSPID" rss-sampler
ms_cleanup_remove "ms_pid_stop $RSSPID rss-sampler"
d1="$(cpu_ticks "$DPID")" f1="$(cpu_ticks "$FPID")"
dcpu="$(awk -v a="$d0" -v b="$d1" -v t="$TCK" -v n="$N" 'BEGIN { printf "%.2f", (b - a) * 1000 / t / n }')"
fcpu="$(awk -v a="$f0" -v b="$f1" -v t="$TCK" -v n="$N" 'BEGIN { printf "%.2f", (b - a) * 1000 / t / n }')"

# An idle stretch: nothing delivered.
sleep 2
ds0="$(switches "$DPID")" fs0="$(switches "$FPID")" d2="$(cpu_ticks "$DPID")" f2="$(cpu_ticks "$FPID")"
sleep "$IDLE_S"
ds1="$(switches "$DPID")" fs1="$(switches "$FPID")" d3="$(cpu_ticks "$DPID")" f3="$(cpu_ticks "$FPID")"

echo
printf '%-10s %10s %12s %14s %16s %12s\n' client wall_s cpu_ms/msg peak_rss_kB "idle_cpu_ms/${IDLE_S}s" "wakeups/${IDLE_S}s"
printf '%-10s %10s %12s %14s %16s %12s\n' mailsyncd "$wall" "$dcpu" "$(hwm "$DPID")" \
	"$(( (d3 - d2) * 1000 / TCK ))" "$((ds1 - ds0))"
printf '%-10s %10s %12s %14s %16s %12s\n' floor "$wall" "$fcpu" "$(hwm "$FPID")" \
	"$(( (f3 - f2) * 1000 / TCK ))" "$((fs1 - fs0))"
echo
echo "ratios mailsyncd / floor (p50, p99 per folder):"
awk 'NR > 1 { p50[$1 " " $2] = $4; p99[$1 " " $2] = $5; f[$2] = 1 }
     END { for (x in f) printf "  %-8s p50 %.2f  p99 %.2f  (mailsyncd - floor: p50 %+.1f ms, p99 %+.1f ms)\n", x,
           p50["mailsyncd " x] / p50["floor " x], p99["mailsyncd " x] / p99["floor " x],
           p50["mailsyncd " x] - p50["floor " x], p99["mailsyncd " x] - p99["floor " x] }' "$WORK/lat.txt"
awk -v d="$dcpu" -v f="$fcpu" 'BEGIN { if (f > 0) printf "  cpu per message: %.2fx the floor\n", d / f }'
echo
awk -v n="$N" '{ v[NR] = $1 } END {
	if (NR < 3) { print "memory: too few samples"; exit }
	a = v[int(NR / 10) + 1]; m = v[int(NR / 2) + 1]; z = v[NR]
	printf "memory (mailsyncd RssAnon over %d deliveries, %d samples): at 1/10 %d kB, at 1/2 %d kB, at the end %d kB; growth 1/10 -> 1/2 %+d kB, 1/2 -> end %+d kB (%+.1f bytes per delivery over the second half)\n",
		n, NR, a, m, z, m - a, z - m, (z - m) * 1024 / (n * 0.5) }' "$WORK/rss.txt"
# The first sample at or past each quarter of the deliveries.
awk -v n="$N" '{ for (q = 1; q <= 4; q++)
		if (!(q in at) && $3 >= n * q / 4) { at[q] = $3; a[q] = $1; h[q] = $2 } }
	END { printf "memory at each quarter (delivered: RssAnon kB, [heap] kB):"
	      for (q = 1; q <= 4; q++) if (q in at) printf "  %d: %d, %d", at[q], a[q], h[q]
	      print "" }' "$WORK/rss.txt"
grep -E ' (warn|error) ' "$LOG" | head -5
