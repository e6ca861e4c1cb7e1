#!/bin/bash
# A pass over a mirror nothing changed in lists no Maildir (a no-change
# pass costs per folder, not per message): the scan and the export leave
# each folder's new/ and cur/ unlisted while their times and the store are
# as a pass recorded them (the daemon's -v summary says listed=0; strace
# sees no getdents64 of new/ or cur/).  A reader's change made at once
# after such a pass (within the second of its scan: a new file, a rename
# to other flags, a deletion, in new/ and in cur/) reaches the server all
# the same, and the mirror ends equal to the server.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
mailfill "$MS_USER1" 40 >/dev/null || exit 1
mapfile -t cfiles < <(corpus_messages 60 | tail -2)

# mirror_line WHAT: the last pass's "mirror WHAT folders=" debug line (scan,
# export): folders visited, left alone unlisted, entries listed.
mirror_line() { grep -E "acct=t mirror $1 folders=" "$WORK/err" | tail -1; }
# field NAME LINE: NAME's number in a summary line.
field() { sed -nE "s/.* $1=([0-9]+).*/\1/p" <<<"$2"; }

# is_unlisted: the last pass's scan and export both listed nothing and
# left every folder alone.
is_unlisted()
{
	local s e
	s="$(mirror_line scan)" e="$(mirror_line export)"
	[ -n "$s" ] && [ -n "$e" ] &&
		[ "$(field listed "$s")" = 0 ] && [ "$(field listed "$e")" = 0 ] &&
		[ "$(field unchanged "$s")" = "$(field folders "$s")" ] &&
		[ "$(field unchanged "$e")" = "$(field folders "$e")" ] &&
		[ "$(field folders "$s")" -gt 0 ]
}

# skip_capable WHAT: passes (at most 3) until one lists nothing: a change
# makes the next export or scan list the folders again, once.
skip_capable()
{
	local i
	for i in 1 2 3; do
		mirror_vsync "$1: pass $i"
		is_unlisted && { ok "$1: pass $i listed no Maildir: $(mirror_line scan | sed 's/.* folders=/folders=/')"; return 0; }
	done
	fail "$1: still listing after 3 passes: $(mirror_line scan); $(mirror_line export)"
	return 1
}

mirror_vsync "initial sync"
mirror_compare "initial"
# The initial sync's export listed each folder again after its writes
# (once the clock had moved on) and recorded it: the very next pass lists
# no Maildir, nor does the one after it.
for pass in first second; do
	mirror_vsync "$pass no-change pass"
	if is_unlisted; then
		ok "$pass no-change pass: scan and export list no Maildir ($(mirror_line export | sed 's/.* folders=/folders=/'))"
	else
		fail "$pass no-change pass listed: $(mirror_line scan); $(mirror_line export)"
	fi
done

# The system calls agree: no directory listing of a new/ or cur/.
# (LeakSanitizer cannot run under ptrace: off for this pass of a
# sanitized build.)
if command -v strace >/dev/null; then
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -y -e trace=getdents64 -o "$WORK/strace.txt" \
		"$MAILSYNCD" -c "$CFG" --once >/dev/null 2>"$WORK/strace.err" ||
		fail "no-change pass under strace: $(tail -3 "$WORK/strace.err")"
	n_all="$(grep -c 'getdents64(' "$WORK/strace.txt")"
	n_msg="$(grep -cE 'getdents64\([0-9]+<[^>]*/(new|cur)>' "$WORK/strace.txt")"
	[ "$n_all" -gt 0 ] && [ "$n_msg" = 0 ] &&
		ok "strace: $n_all getdents64 (the folder tree), none of new/ or cur/" ||
		fail "strace: $n_msg of $n_all getdents64 read new/ or cur/: $(grep -E '/(new|cur)>' "$WORK/strace.txt" | head -2)"
else
	echo "strace not installed: system call check skipped"
fi

# sha_in FOLDER SHA: the server's flags of the message with those bytes
# in FOLDER ("" when none).
sha_in() { is_server_msgs --folder "$1" | awk -F'\t' -v h="$2" '$4 == h { print $3 }'; }
# a_file FOLDER-DIR SUB PATTERN: one message file of the mirror.
a_file() { find "$MAIL/$1/$2" -maxdepth 1 -type f -name "$3" | sort | head -1; }
# after_pass: ms since the last pass ended (the reader's change comes now).
after_pass() { echo "$(( ($(date +%s%N) - PASS_END) / 1000000 )) ms after the pass"; }
change_sync()
{
	mirror_vsync "$1"
	grep -qE 'acct=t mirror scan folders=.* listed=[1-9]' "$WORK/err" ||
		fail "$1: the scan listed nothing: $(mirror_line scan)"
}

# 1. A new file in new/.
skip_capable "before a new file in new/" && PASS_END="$(date +%s%N)"
cp "${cfiles[0]}" "$MAIL/new/1700000001.M1P1.reader"
when="$(after_pass)"
change_sync "new file in new/"
[ "$(sha_in INBOX "$(sha256sum < "${cfiles[0]}" | cut -d' ' -f1)")" != "" ] &&
	ok "a new file in new/ ($when) is on the server" ||
	fail "the new file in new/ ($when) is not in the server's INBOX"

# 2. A new file in cur/, read.
skip_capable "before a new file in cur/" && PASS_END="$(date +%s%N)"
cp "${cfiles[1]}" "$MAIL/Archive/cur/1700000002.M1P1.reader:2,S"
when="$(after_pass)"
change_sync "new file in cur/"
f="$(sha_in Archive "$(sha256sum < "${cfiles[1]}" | cut -d' ' -f1)")"
[ "$f" = '\Seen' ] && ok "a new file in cur/ ($when) is on the server, \\Seen" ||
	fail "the new file in cur/ ($when): server flags '$f'"

# 3. A rename in cur/ to other flags.
skip_capable "before a flag change" && PASS_END="$(date +%s%N)"
file="$(a_file '' cur '*-*-*,U=*:2,S')"
uid="$(uid_of "$file")"
mv "$file" "${file%%:2,*}:2,FS"
when="$(after_pass)"
change_sync "flag change in cur/"
f="$(server_flags INBOX "$uid")"
[ "$f" = '\Seen \Flagged' ] && ok "a rename in cur/ to :2,FS ($when): INBOX $uid is $f" ||
	fail "rename in cur/ ($when): INBOX $uid is '$f'"

# 4. new/ to cur/, read.
skip_capable "before a file read" && PASS_END="$(date +%s%N)"
file="$(a_file '' new '*-*-*,U=*')"
uid="$(uid_of "$file")"
mv "$file" "$MAIL/cur/$(basename "$file"):2,S"
when="$(after_pass)"
change_sync "new/ to cur/"
f="$(server_flags INBOX "$uid")"
[ "$f" = '\Seen' ] && ok "new/ to cur/ with :2,S ($when): INBOX $uid is $f" ||
	fail "new/ to cur/ ($when): INBOX $uid is '$f'"

# 5. A deletion in cur/, 6. one in new/.
skip_capable "before a deletion in cur/" && PASS_END="$(date +%s%N)"
file="$(a_file Sent cur '*-*-*,U=*')"
uid="$(uid_of "$file")"
rm "$file"
when="$(after_pass)"
change_sync "deletion in cur/"
[ -z "$(server_flags Sent "$uid")" ] && ok "a deletion in cur/ ($when): Sent $uid is gone" ||
	fail "deletion in cur/ ($when): Sent $uid is still on the server"
skip_capable "before a deletion in new/" && PASS_END="$(date +%s%N)"
file="$(a_file '' new '*-*-*,U=*')"
uid="$(uid_of "$file")"
rm "$file"
when="$(after_pass)"
change_sync "deletion in new/"
[ -z "$(server_flags INBOX "$uid")" ] && ok "a deletion in new/ ($when): INBOX $uid is gone" ||
	fail "deletion in new/ ($when): INBOX $uid is still on the server"

[ -z "$("$STOREDUMP" "$STORE" changes)" ] || fail "changes left: $("$STOREDUMP" "$STORE" changes)"
skip_capable "at the end"
is_compare "at the end"
mirror_compare "at the end"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all unchanged-mirror checks passed"
