#!/bin/bash
# The foreground mode on a server whose personal namespace has a prefix
# ("INBOX/", Courier/Cyrus style): like --once (test_mirror_namespace.sh),
# the daemon's mirror strips the prefix the pass learned from NAMESPACE
# ("INBOX/Sent" is Sent/), and a folder a reader makes is created inside
# the namespace.
MS_DOVECOT_NS_CONF='prefix = INBOX/'
export MS_DOVECOT_NS_CONF
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
printf 'poll_interval = 1h\n' >> "$CFG"
mapfile -t cfiles < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -5)
mailmutate_create "$MS_USER1" INBOX/Sent >/dev/null &&
mailmutate_add "$MS_USER1" INBOX "${cfiles[@]:0:2}" >/dev/null &&
mailmutate_add "$MS_USER1" INBOX/Sent "${cfiles[@]:2:2}" >/dev/null ||
	{ fail "filling the prefixed namespace"; exit 1; }
LOG="$WORK/daemon.log"

"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
passes() { grep -cE 'acct=t state=idle ' "$LOG" 2>/dev/null || true; }
# wait_passes N SECONDS: until N passes ended, at most SECONDS.
wait_passes()
{
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$(passes)" -ge "$1" ] && return 0
		ms_pid_alive "$DPID" || { fail "mailsyncd died: $(tail -5 "$LOG")"; return 1; }
		sleep 0.1
	done
	fail "no pass $1 within $2 s: $(tail -5 "$LOG")"
	return 1
}

wait_passes 1 30 || exit 1
n="$(find "$MAIL/Sent/cur" "$MAIL/Sent/new" -type f 2>/dev/null | wc -l)"
[ "$n" = 2 ] && ok "INBOX/Sent is Sent/ in the daemon's mirror ($n files)" ||
	fail "Sent/ holds $n files: $(find "$MAIL" -type d | sed "s|$MAIL||" | tr '\n' ' ')"
find "$MAIL" -name '%*' | grep -q . && fail "escaped names in the mirror: $(find "$MAIL" -name '%*' | head -3)"

mkdir -p "$MAIL/Projects"/{cur,new,tmp}
cp "${cfiles[4]}" "$MAIL/Projects/new/reader-1.eml"
if wait_passes 2 20; then
	n="$(is_server_msgs --folder INBOX/Projects | wc -l)"
	[ "$n" = 1 ] && ok "the reader's folder is INBOX/Projects on the server, with its message" ||
		fail "INBOX/Projects on the server: $n messages; log: $(grep -i mirror "$LOG" | tail -3)"
	is_server_msgs | cut -f1 | grep -qx Projects && fail "a folder Projects outside the namespace was created"
fi

kill -TERM "$DPID"
for ((i = 0; i < 50; i++)); do ms_pid_alive "$DPID" || break; sleep 0.2; done
if ms_pid_alive "$DPID"; then
	fail "mailsyncd still running 10 s after SIGTERM"
else
	wait "$DPID" || fail "mailsyncd: exit $?"
fi
"$MIRRORCHECK" "$STORE" t "$MAIL" >/dev/null 2>&1 && ok "mirror_check: store and mirror agree" ||
	fail "mirror_check: $("$MIRRORCHECK" "$STORE" t "$MAIL" 2>&1 | head -3)"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all daemon namespace checks passed"
