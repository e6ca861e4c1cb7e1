#!/bin/bash
# A reader's moves across folders under mailsyncd's foreground mode (the
# watch): mutt's way (the copy written in the target folder, then the
# source file unlinked) and a plain rename.  The watch reports each folder
# of the burst on its own; the scan must still see both halves and push
# a MOVE, never a DELETE of the source and an APPEND of a new copy (the
# server's flags and UID history would be lost, and a refused APPEND would
# leave the mail only here).
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
printf 'poll_interval = 1h\nidle = no\n' >> "$CFG"
mailfill "$MS_USER1" 20 >/dev/null || exit 1
mirror_daemon_start
mirror_wait_passes 1 30 || exit 1
total0="$(is_server_msgs | wc -l)"

mapfile -t inbox < <(find "$MAIL/cur" "$MAIL/new" -type f | sort)
one="${inbox[1]}" two="${inbox[2]}"
[ -n "$one" ] && [ -n "$two" ] && [ -d "$MAIL/Archive/cur" ] && [ -d "$MAIL/Sent/cur" ] ||
	{ fail "not enough messages or folders to move"; exit 1; }
sha_one="$(mail_sha "$one")" sha_two="$(mail_sha "$two")"
uid_one="$(uid_of "$one")" uid_two="$(uid_of "$two")"

# mutt's save to another folder: write in tmp/, rename into cur/ of the
# target under a name of its own, then unlink the source.
name="$(date +%s).$$_1.$(hostname)"
cp "$one" "$MAIL/Archive/tmp/$name"
mv "$MAIL/Archive/tmp/$name" "$MAIL/Archive/cur/$name:2,S"
rm "$one"
# A plain rename across folders.
mv "$two" "$MAIL/Sent/cur/"

mirror_wait_passes 2 30 || exit 1
# The scan may come in two pieces (two bursts); the pass after it ends
# the job: wait until nothing is pending.
for ((i = 0; i < 100; i++)); do
	[ -z "$("$STOREDUMP" "$STORE" changes)" ] && break
	sleep 0.2
done
[ -z "$("$STOREDUMP" "$STORE" changes)" ] || fail "changes left: $("$STOREDUMP" "$STORE" changes)"
n_app="$(grep -c 'APPEND pending' "$LOG")"
n_mov="$(grep -c 'MOVE pending' "$LOG")"
[ "$n_app" = 0 ] && ok "no APPEND for a moved file" ||
	fail "$n_app APPEND(s): $(grep 'APPEND pending' "$LOG" | head -2)"
[ "$n_mov" = 2 ] && ok "two MOVEs pending from the watch's scan" ||
	fail "$n_mov MOVE(s) pending, want 2: $(grep -E 'mirror (scan|uid)' "$LOG" | tail -4)"

check_moved() # FROM UID TO SHA
{
	local n
	[ -z "$(server_flags "$1" "$2")" ] || fail "$1 $2 is still on the server"
	n="$(is_server_msgs --folder "$3" | awk -F'\t' -v h="$4" '$4 == h' | wc -l)"
	[ "$n" = 1 ] && ok "$1 $2 is in $3 once" || fail "$3 holds $n copies of $1 $2"
}
check_moved INBOX "$uid_one" Archive "$sha_one"
check_moved INBOX "$uid_two" Sent "$sha_two"
# The mutt copy kept the \Seen it was written with.
is_server_msgs --folder Archive | awk -F'\t' -v h="$sha_one" '$4 == h { print $3 }' | grep -qF '\Seen' &&
	ok "the copy in Archive is \\Seen" || fail "the copy in Archive lacks \\Seen"
total1="$(is_server_msgs | wc -l)"
[ "$total1" = "$total0" ] && ok "the server holds $total1 messages, as before" ||
	fail "the server holds $total1 messages, $total0 before"

mirror_daemon_sigterm || fail "mailsyncd still running 10 s after SIGTERM"
[ "$TERM_RC" = 0 ] || fail "SIGTERM: exit $TERM_RC"
is_compare "after the moves"
mirror_compare "after the moves"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all daemon move checks passed"
