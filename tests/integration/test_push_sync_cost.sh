#!/bin/bash
# What a pushed message costs the disk, counted in system calls: the
# device flushes (fdatasync, fsync, syncfs, and writes through a
# descriptor opened O_DSYNC or O_SYNC, as LMDB's meta page is) the daemon
# makes while messages are pushed to two folders one at a time.  Per
# message: the pass's durable commit (its data pages, then its meta page)
# and the export's lazy commit of the file's name (its data pages only:
# the meta page waits for the next durable commit), three.  Before, the
# lazy commit synced its meta page too (LMDB 0.9 ignores MDB_NOMETASYNC
# on a transaction): four.  The mirror's flush (one syncfs and a durable
# commit of the marks, at most every few seconds) is counted apart.
# Every message still arrives exactly once, and a kill -9 right after the
# last one loses nothing: the restart has every message in the store and
# the Maildir, each once.
# Needs strace (scripts/deps.sh); says so and stops when it cannot trace.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

K=12	# pushed messages, alternately to INBOX and Lists

if ! command -v strace >/dev/null; then
	echo "strace not installed: the flush count cannot be taken (scripts/deps.sh installs it)"
	exit 0
fi
mirror_setup
cat >> "$CFG" <<EOC
poll_interval = 1h
EOC
mailmutate_create "$MS_USER1" Lists >/dev/null || exit 1
mapfile -t msgs < <(corpus_messages $((K + 2)))
[ "${#msgs[@]}" -ge $((K + 2)) ] || { echo "corpus: need $((K + 2)) messages" >&2; exit 1; }
mailmutate_add "$MS_USER1" Lists "${msgs[0]}" >/dev/null || exit 1
mailmutate_add "$MS_USER1" INBOX "${msgs[1]}" >/dev/null || exit 1

LOG="$WORK/daemon.log"
TRACE="$WORK/strace.txt"
strace -f -qq -y -ttt -e trace=openat,fdatasync,fsync,syncfs,pwrite64 \
	-o "$TRACE" "$MAILSYNCD" -v -c "$CFG" 2>"$LOG" &
SPID=$!
ms_cleanup_add "ms_pid_stop $SPID strace"
log_has() { grep -qE -- "$1" "$LOG"; }
if ! wait_for "push up" 60 log_has 'acct=t push="notify on every folder'; then
	if grep -qiE 'ptrace|Operation not permitted' "$TRACE" "$LOG" 2>/dev/null; then
		echo "strace cannot trace here (ptrace not permitted): the flush count cannot be taken"
		exit 0
	fi
	exit 1
fi
DPID="$(pgrep -P "$SPID" -x mailsyncd | head -1)"
[ -n "$DPID" ] || { echo "no mailsyncd under strace $SPID" >&2; exit 1; }
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "the first pass in the mirror" 30 eval 'in_mirror INBOX 1 && in_mirror Lists 1' ||
	exit 1
sleep 1
t0="$(date +%s.%N)"
n_in=1 n_lists=1
for k in $(seq 1 "$K"); do
	if [ $((k % 2)) = 1 ]; then
		folder=Lists n_lists=$((n_lists + 1)) want=$((n_lists))
	else
		folder=INBOX n_in=$((n_in + 1)) want=$((n_in))
	fi
	mailmutate_add "$MS_USER1" "$folder" "${msgs[$((k + 1))]}" >/dev/null || exit 1
	wait_for "pushed message $k in $folder" 15 in_mirror "$folder" "$want" || exit 1
done
# The last export's commit comes after its file: a moment for it.
sleep 0.5
t1="$(date +%s.%N)"

# The flushes between t0 and t1 (strace writes each line as the call
# returns or is cut; a call still running at t1 is left out).
read -r n_sync n_syncfs dsync_fds <<<"$(awk -v t0="$t0" -v t1="$t1" '
	# A descriptor opened O_DSYNC or O_SYNC: each write through it
	# waits for the device.
	/openat\(.*O_(D)?SYNC/ && match($0, /\) = [0-9]+</) {
		fd = substr($0, RSTART + 4, RLENGTH - 5); dsync[fd] = 1
	}
	{ t = $2 + 0 }
	t < t0 || t > t1 { next }
	/ (fdatasync|fsync)\(/ { n++ }
	/ syncfs\(/ { n++; nfs++ }
	/ pwrite64\(/ && match($0, /pwrite64\([0-9]+/) {
		fd = substr($0, RSTART + 9, RLENGTH - 9); if (fd in dsync) n++
	}
	END { s = ""; for (fd in dsync) s = s fd ","
	      printf "%d %d %s\n", n, nfs, (s == "" ? "-" : s) }' "$TRACE")"
# The mirror's flush: a syncfs and the durable commit of the marks.
per_delivery=$(( (n_sync - 3 * n_syncfs) ))
# Three per message; the first export in each folder removes the folder's
# mirror_dir record the whole pass left (a durable commit: two each); and
# two for a flush whose syncfs came just before t0.  Four per message
# would pass 4 * K + 4.
limit=$((3 * K + 2 * 2 + 2))
echo "flushes during $K pushed messages: $n_sync ($n_syncfs syncfs of the mirror's flush; O_DSYNC descriptors: $dsync_fds)"
if [ "$per_delivery" -le "$limit" ]; then
	ok "$per_delivery device flushes for $K pushed messages besides the mirror's flush (at most $limit: 3 per message)"
else
	fail "$per_delivery device flushes for $K pushed messages besides the mirror's flush, more than $limit (3 per message): $(awk -v t0="$t0" -v t1="$t1" '$2 + 0 >= t0 && $2 + 0 <= t1 && / (fdatasync|fsync|syncfs)\(/' "$TRACE" | head -5)"
fi
[ "$n_sync" -gt 0 ] || fail "no flush at all was seen: the trace is not the daemon's"

# kill -9 right after the last message: nothing lost, nothing twice.
kill -9 "$DPID"
wait "$SPID" 2>/dev/null
ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
ms_cleanup_remove "ms_pid_stop $SPID strace"
mirror_vsync "the pass after kill -9"
in_mirror INBOX "$n_in" && in_mirror Lists "$n_lists" &&
	ok "after kill -9: INBOX $n_in and Lists $n_lists files, each message once" ||
	fail "after kill -9: INBOX $(mirror_count INBOX) files (want $n_in), Lists $(mirror_count Lists) (want $n_lists)"
mirror_compare "after kill -9"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all push sync cost checks passed"
