#!/bin/bash
# Moves a reader makes in the Maildir mirror, against a Dovecot that does
# not offer MOVE: each is pushed as UID COPY, then \Deleted and UID EXPUNGE
# of the source (never a plain EXPUNGE), bound to the copy's UID by
# COPYUID.  Nothing is downloaded or uploaded again, the copy keeps the
# reader's flag change made on the way, and a message another client
# marked \Deleted in the source folder is not expunged with it.
# (test_mirror.sh covers the UID MOVE path.)
MS_DOVECOT_IMAP_CONF='imap_capability = IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS SPECIAL-USE'
export MS_DOVECOT_IMAP_CONF
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
mailfill "$MS_USER1" 40 >/dev/null || exit 1
mailmutate_create "$MS_USER1" 'Projects/2026' >/dev/null

# body_fetches: UID FETCH commands for bodies in the -v trace of a pass.
body_fetches() { grep -cE ' C: A[0-9]+ UID FETCH .*BODY\.PEEK\[\]' "$WORK/err"; }

mirror_vsync "initial sync"
grep -qE ' C: A[0-9]+ (UID )?MOVE' "$WORK/err" && fail "MOVE sent to a server without it"
mirror_compare "initial"

# Another client marks an INBOX message \Deleted (not expunged): a plain
# EXPUNGE from us would take it too.
marked_uid="$(mailmutate_uids "$MS_USER1" INBOX | head -1)"
dovecot_doveadm flags add -u "$MS_USER1" '\Deleted' mailbox INBOX uid "$marked_uid" ||
	fail "doveadm could not mark INBOX $marked_uid"

# Three moves: INBOX -> Archive, INBOX -> Projects/2026 with the reader
# flagging it on the way, Sent -> INBOX.
mapfile -t inbox < <(find "$MAIL/cur" "$MAIL/new" -type f | sort)
one="${inbox[2]}" two="${inbox[3]}"
three="$(find "$MAIL/Sent/cur" "$MAIL/Sent/new" -type f | sort | head -1)"
[ -n "$one" ] && [ -n "$two" ] && [ -n "$three" ] || { fail "not enough messages to move"; exit 1; }
declare -A sha
for f in "$one" "$two" "$three"; do sha["$f"]="$(mail_sha "$f")"; done
uid_one="$(uid_of "$one")" uid_two="$(uid_of "$two")" uid_three="$(uid_of "$three")"
mv "$one" "$MAIL/Archive/cur/"
base_two="$(basename "$two")"
mv "$two" "$MAIL/Projects/2026/cur/${base_two%%:2,*}:2,F"
mv "$three" "$MAIL/new/"

mirror_vsync "sync after three moves"
grep -q ' 0 new, .* 3 moved, ' "$WORK/out" && ok "three moves pushed, nothing downloaded" ||
	fail "want 0 new and 3 moved: $(cat "$WORK/out")"
[ "$(grep -cE ' C: A[0-9]+ UID COPY ' "$WORK/err")" = 3 ] && ok "UID COPY for each move" ||
	fail "UID COPY commands: $(grep -cE ' C: A[0-9]+ UID COPY ' "$WORK/err")"
grep -qE ' C: A[0-9]+ EXPUNGE' "$WORK/err" && fail "a plain EXPUNGE was sent: $(grep -E ' C: A[0-9]+ EXPUNGE' "$WORK/err")"
[ "$(body_fetches)" = 0 ] || fail "the move pass fetched bodies"
grep -qE ' C: A[0-9]+ APPEND ' "$WORK/err" && fail "a move was uploaded with APPEND"
[ -z "$("$STOREDUMP" "$STORE" changes)" ] || fail "changes left: $("$STOREDUMP" "$STORE" changes)"

# The server: each message once in its new folder, gone from the old one.
check_moved() # FOLDER-FROM UID FOLDER-TO SHA WANT-FLAG
{
	local n
	[ -z "$(server_flags "$1" "$2")" ] || fail "$1 $2 is still on the server"
	n="$(is_server_msgs --folder "$3" | awk -F'\t' -v h="$4" '$4 == h' | wc -l)"
	[ "$n" = 1 ] && ok "$1 $2 is in $3 once" || fail "$3 holds $n copies of $1 $2"
	if [ -n "$5" ]; then
		is_server_msgs --folder "$3" | awk -F'\t' -v h="$4" '$4 == h { print $3 }' | grep -qF "$5" &&
			ok "the copy in $3 carries $5" || fail "the copy in $3 lacks $5"
	fi
}
check_moved INBOX "$uid_one" Archive "${sha[$one]}" ""
check_moved INBOX "$uid_two" Projects/2026 "${sha[$two]}" '\Flagged'
check_moved Sent "$uid_three" INBOX "${sha[$three]}" ""
[ -n "$(server_flags INBOX "$marked_uid")" ] && ok "the message another client marked \\Deleted is still there" ||
	fail "INBOX $marked_uid (marked \\Deleted by another client) was expunged"
is_compare "after the moves"
mirror_compare "after the moves"

mirror_vsync "the pass after"
grep -q ' 0 new, 0 changed, 0 deleted, 0 appended, 0 moved, ' "$WORK/out" && ok "nothing left to do" ||
	fail "the pass after the moves: $(cat "$WORK/out")"
[ "$(body_fetches)" = 0 ] && ok "no copy is downloaded" ||
	fail "the pass after the moves fetched bodies: $(grep -E 'UID FETCH .*BODY' "$WORK/err" | head -3)"
mirror_compare "the pass after"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all move checks passed"
