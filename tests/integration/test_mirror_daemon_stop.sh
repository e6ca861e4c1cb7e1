#!/bin/bash
# SIGTERM while mailsyncd's foreground mode exports a large mirror: the
# export runs in steps on the loop (mirror_job.h), so the signal is served
# between two steps and the daemon exits promptly with status 0, leaving a
# partial mirror; the next `mailsyncd --once` completes it without fetching
# a body again, and store, mirror and server agree.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

N="${MS_STOP_MSGS:-6000}"
mirror_setup
printf 'poll_interval = 1h\n' >> "$CFG"
mailfill "$MS_USER1" "$N" >/dev/null || exit 1
# The store is filled first, without the mirror: the daemon's pass then
# fetches nothing and its export writes all N files after it (a first sync
# with the mirror exports as it goes: test_mirror_first_sync.sh).
mirror_store_first

# mirror_files: message files in the mirror so far.
mirror_files() { find "$MAIL" -path '*/cur/*' -type f -o -path '*/new/*' -type f 2>/dev/null | wc -l; }

mirror_daemon_start

# Wait until the export has begun: files appear in the mirror while the
# pass has not ended ("state=idle" comes after the export).
started=0
for ((i = 0; i < 600; i++)); do
	ms_pid_alive "$DPID" || { fail "mailsyncd died: $(tail -5 "$LOG")"; exit 1; }
	grep -q 'acct=t state=' "$LOG" && break
	if [ "$(mirror_files)" -gt 50 ]; then
		started=1
		break
	fi
	sleep 0.05
done
if [ "$started" != 1 ]; then
	fail "the export was not seen under way (log: $(grep -E 'state=|mirror' "$LOG" | tail -3))"
	exit 1
fi
if ! mirror_daemon_sigterm; then
	fail "mailsyncd still running $TERM_MS ms after SIGTERM"
	exit 1
fi
ms="$TERM_MS"
rc="$TERM_RC"
n_files="$(mirror_files)"
[ "$rc" = 0 ] && ok "SIGTERM during the export: exit 0 after $ms ms" || fail "SIGTERM: exit $rc"
[ "$ms" -lt 2000 ] || fail "SIGTERM took $ms ms (want < 2000)"
[ "$n_files" -lt "$N" ] && ok "the export was stopped part way: $n_files of $N files" ||
	fail "the export was not stopped: $n_files of $N files (log: $(grep -E 'state=|mirror' "$LOG" | tail -3))"
grep -q 'state=idle next_sync' "$LOG" && fail "the pass ended before the signal: $(grep state= "$LOG")"

if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace"; then
	ok "--once after the stop: $(cat "$WORK/out")"
else
	fail "--once after the stop: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
fi
if grep -E ' C: A[0-9]+ UID FETCH ' "$WORK/trace" | grep -q 'BODY'; then
	fail "the --once fetched bodies again"
else
	ok "no body fetched again"
fi
mirror_compare "after --once"
is_compare "after --once"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all daemon stop checks passed"
