#!/bin/bash
# bench_loop_stall.sh - how long mailsyncd's event loop is held up, the
# latency every control request, watcher event and server push waits
# behind: MAILSYNC_LOOP_LATENESS makes the daemon run a 10 ms timer and
# report, at exit, the largest lateness of its firings (and percentiles,
# and a histogram).  Target: at most 20 ms.
#
#  (a) the initial sync of N messages (MS_BENCH_N, default 18000) from the
#      fixture Dovecot into the store and the Maildir mirror (--once), the
#      same fixture as bench_imap_sync.sh;
#  (b) a restart over a mirror of one folder of M messages (MS_BENCH_M,
#      default 100000) after a reader's bulk change (K renames to new
#      flags, MS_BENCH_K, default 5000): the start-up scan of the whole
#      mirror and the export after the pass (--once; the pass itself
#      fails at once, the account's server being a closed port, so that
#      only the mirror's work is measured);
#  (c) the same mirror under the foreground daemon: a reader renames K
#      more files while it runs, and the watch scans them.
# Each line: the phase, the daemon's wall and CPU time and peak RSS, and
# the lateness figures; then the ratio of the largest lateness to the
# target; then the daemon's own part (the lateness without the time the
# loop thread waited for a CPU: on a shared, loaded machine the rest).  Figures, not a test: run by hand after building (not by ctest).
#
#   bash tests/bench/bench_loop_stall.sh [BUILD_DIR]
#   MS_BENCH_PHASES="b c" ...   only those phases ((b) and (c) need no
#                               Dovecot)
#   MS_BENCH_NICE=-10 ...       mailsyncd runs under nice -n -10 (root):
#                               on a shared, loaded machine the loop also
#                               waits for a CPU; this shows what the
#                               daemon itself holds it for
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_SOURCE_DIR="${MS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
export MS_BUILD_DIR="${1:-${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}}"
export MAILSYNCD="${MAILSYNCD:-$MS_BUILD_DIR/daemon/mailsyncd}"
export MS_CORPUS="${MS_CORPUS:-$MS_SOURCE_DIR/tests/corpus}"
N="${MS_BENCH_N:-18000}"
M="${MS_BENCH_M:-100000}"
K="${MS_BENCH_K:-5000}"
PHASES="${MS_BENCH_PHASES:-a b c}"
NICE=()
[ -n "${MS_BENCH_NICE:-}" ] && NICE=(nice -n "$MS_BENCH_NICE")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs${MS_BENCH_NICE:+; mailsyncd under nice -n $MS_BENCH_NICE}"
TARGET_MS=20
BENCH_MIRROR="$MS_BUILD_DIR/tests/bench_mirror"
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed" >&2; exit 77; }
[ -x "$BENCH_MIRROR" ] || { echo "missing $BENCH_MIRROR (build tests)" >&2; exit 1; }

# report NAME LOG: the daemon's lateness line and /usr/bin/time's figures
# (its last line: a failing command adds one before).
report()
{
	local name="$1" log="$2" line wall user sys rss max
	line="$(grep 'loop lateness samples=' "$log" | tail -1)"
	read -r wall user sys rss < <(tail -1 "$WORK/time")
	if [ -z "$line" ]; then
		printf '  %-30s no lateness report (see %s)\n' "$name" "$log"
		return
	fi
	printf '  %-30s wall %ss cpu %ss peak rss %s kB\n' "$name" "$wall" \
		"$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss"
	printf '  %-30s %s\n' "" "${line#*loop lateness }"
	max="$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
	printf '  %-30s largest lateness %s ms = %s x the %s ms target; %s stalls above it\n' "" \
		"$max" "$(awk -v m="$max" -v t="$TARGET_MS" 'BEGIN { printf "%.2f", m / t }')" \
		"$TARGET_MS" "$(grep -c 'loop late by' "$log")"
	own_report "$log"
}

# own_report LOG: the daemon's own part of the lateness (without the time
# its loop thread waited for a CPU, which on a loaded machine is most of
# it), where the kernel tells it.
own_report()
{
	local line max
	line="$(grep 'loop lateness own' "$1" | tail -1)"
	[ -n "$line" ] || return 0
	max="$(sed -n 's/.*own max_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
	printf '  %-30s own part: %s\n' "" "${line#*loop lateness own }"
	printf '  %-30s largest own lateness %s ms = %s x the %s ms target\n' "" \
		"$max" "$(awk -v m="$max" -v t="$TARGET_MS" 'BEGIN { printf "%.2f", m / t }')" \
		"$TARGET_MS"
}

# --- (a) initial sync ---------------------------------------------------------
if [[ " $PHASES " == *" a "* ]]; then
is_sync_setup both
printf 'maildir = %s\n' "$WORK/mirror" >> "$CFG"
FOLDERS=(--folder INBOX --folder Sent --folder Archive --folder Lists/dev --folder 'Ünïcödé')
bench_mailfill "$MS_USER1" "$N" "${FOLDERS[@]}" || exit 1
echo "(a) initial sync of $N messages (mailsyncd --once):"
MAILSYNC_LOOP_LATENESS=$TARGET_MS /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
	"${NICE[@]}" "$MAILSYNCD" -c "$CFG" --once >"$WORK/a.out" 2>"$WORK/a.log" ||
	{ echo "  the sync failed:" >&2; tail -5 "$WORK/a.log" >&2; }
report "initial sync" "$WORK/a.log"
echo "  $(head -1 "$WORK/a.out")"
else
	WORK="$(ms_tmpdir_make ms-loopstall)" || exit 1
	ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
fi

# --- (b) restart over a big mirror ----------------------------------------------
[[ " $PHASES " == *" b "* || " $PHASES " == *" c "* ]] || exit 0
BIG="$WORK/big"
mkdir -p "$BIG"
"$BENCH_MIRROR" fill "$BIG" "$M" | head -1 | sed 's/^/  store: /'
"$BENCH_MIRROR" export "$BIG" | head -1 | sed 's/^/  mirror: /'
"$BENCH_MIRROR" touch "$BIG" "$K" | sed 's/^/  reader: /'
read -r DEAD_PORT < <(ms_free_ports 1)
cat > "$BIG/mailsync.ini" <<EOC
[general]
store = $BIG/store
socket = $BIG/ctl.sock

[account bench]
protocol = imap
host = 127.0.0.1
port = $DEAD_PORT
tls = implicit
user = bench
password = bench
maildir = $BIG/mail
EOC
chmod 600 "$BIG/mailsync.ini"
if [[ " $PHASES " == *" b "* ]]; then
echo "(b) restart over a $M-message mirror after $K reader renames (mailsyncd --once):"
MAILSYNC_LOOP_LATENESS=$TARGET_MS /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
	"${NICE[@]}" "$MAILSYNCD" -c "$BIG/mailsync.ini" --once >"$WORK/b.out" 2>"$WORK/b.log"
report "start-up scan and export" "$WORK/b.log"
grep -E 'mirror (scan|export) ' "$WORK/b.log" | sed 's/^.*acct=/  acct=/' | cut -c1-100
fi

# --- (c) a reader's bulk change under the running daemon -------------------------
[[ " $PHASES " == *" c "* ]] || exit 0
# The daemon logs every lateness above 2 ms as it happens; the largest
# of those after the renames began is the watch's (its start-up scan and
# export, as in (b), come before).
echo "(c) $K reader renames while the foreground daemon watches the $M-message mirror:"
LOG="$WORK/c.log"
MAILSYNC_LOOP_LATENESS=2 "${NICE[@]}" "$MAILSYNCD" -c "$BIG/mailsync.ini" -v >"$WORK/c.out" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
exported() { grep -q 'mirror export ' "$LOG"; }
wait_for "the first export" 300 exported
sleep 1
mark="$(wc -l < "$LOG")"
"$MS_PYTHON" - "$BIG/mail/cur" "$K" <<'EOP'
import os, sys
cur, k = sys.argv[1], int(sys.argv[2])
n = 0
for name in sorted(os.listdir(cur)):
    if n >= k:
        break
    if name.endswith(":2,S"):
        os.rename(os.path.join(cur, name), os.path.join(cur, name[:-1] + "FS"))
        n += 1
print("  reader: %d files renamed to add F" % n)
EOP
scanned() { tail -n +"$((mark + 1))" "$LOG" | grep -q 'mirror scan .*flags=[1-9]'; }
wait_for "the watch's scan" 300 scanned
sleep 1
is_daemon_term 60 >/dev/null
line="$(grep 'loop lateness samples=' "$LOG" | tail -1)"
printf '  %-30s %s\n' "whole run (start-up included)" "${line#*loop lateness }"
own_report "$LOG"
max="$(tail -n +"$((mark + 1))" "$LOG" | sed -n 's/.*loop late by \([0-9.]*\) ms.*/\1/p' | sort -g | tail -1)"
printf '  %-30s largest lateness %s ms = %s x the %s ms target\n' "after the renames" \
	"${max:-<2}" "$(awk -v m="${max:-2}" -v t="$TARGET_MS" 'BEGIN { printf "%.2f", m / t }')" "$TARGET_MS"
tail -n +"$((mark + 1))" "$LOG" | grep -E 'mirror scan .*flags=[1-9]' | head -1 | sed 's/^.*acct=/  acct=/' | cut -c1-100
