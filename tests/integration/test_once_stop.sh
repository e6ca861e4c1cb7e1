#!/bin/bash
# SIGTERM while `mailsyncd --once` exports a large mirror: the export
# stops between two steps and --once exits promptly, but not with 0: the
# mirror was left incomplete, which its summary says; a second --once
# completes it without fetching a body again.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

N="${MS_STOP_MSGS:-6000}"
mirror_setup
mailfill "$MS_USER1" "$N" >/dev/null || exit 1
# The store first: the pass then fetches nothing and the export after it
# writes all N files (a first sync exports as it goes).
mirror_store_first

mirror_files() { find "$MAIL" -path '*/cur/*' -type f -o -path '*/new/*' -type f 2>/dev/null | wc -l; }

"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
started=0
for ((i = 0; i < 1200; i++)); do
	ms_pid_alive "$DPID" || break
	if [ "$(mirror_files)" -gt 50 ]; then
		started=1
		break
	fi
	sleep 0.05
done
[ "$started" = 1 ] || { fail "the export was not seen under way: $(tail -3 "$WORK/err")"; exit 1; }
kill -TERM "$DPID"
for ((i = 0; i < 500; i++)); do ms_pid_alive "$DPID" || break; sleep 0.02; done
ms_pid_alive "$DPID" && { fail "--once still running 10 s after SIGTERM"; exit 1; }
wait "$DPID"
rc=$?
ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
n_files="$(mirror_files)"
if [ "$n_files" -ge "$N" ]; then
	echo "the export finished before the signal ($n_files files): nothing to check" >&2
	exit 77
fi
[ "$rc" = 1 ] && ok "SIGTERM during the export: exit 1 ($n_files of $N files)" ||
	fail "SIGTERM during the export with $n_files of $N files: exit $rc, out: $(cat "$WORK/out")"
grep -q 'mailsyncd: t: mirror export .*interrupted' "$WORK/err" &&
	ok "$(grep -m1 'mailsyncd: t: mirror export' "$WORK/err")" ||
	fail "no interrupted export in the summary: $(grep '^mailsyncd:' "$WORK/err")"

if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace"; then
	ok "--once after the stop: $(cat "$WORK/out")"
else
	fail "--once after the stop: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
fi
grep -E ' C: A[0-9]+ UID FETCH ' "$WORK/trace" | grep -q 'BODY' &&
	fail "the second --once fetched bodies again"
mirror_compare "after the second --once"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
