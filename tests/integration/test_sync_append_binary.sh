#!/bin/bash
# A reader's message with NUL bytes, against the scripted server
# (tests/data/sync/fake_imap_sync.py, which answers a NUL in a plain
# literal with BAD and, like Dovecot, fetches NUL as 0x80): it never goes
# in a plain literal, which IMAP forbids.  Where the server offers BINARY
# it goes once as a literal8 (RFC 3516), is not bound to the bytes sent
# (the server's copy differs) but fetched, and the reader's file is not
# appended again; without BINARY it stays local, named in a warning and
# in --once's summary (exit 1), and is sent once the server offers BINARY.
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"

count() { grep -c "^$1\$" "$WORK/cmds"; }
expect_count()
{
	local n
	n="$(count "$2")"
	[ "$n" = "$3" ] && ok "$SC: $1: $n $2" || fail "$SC: $1: $n $2, expected $3"
}
expect_rc()
{
	[ "$RC" = "$2" ] && ok "$SC: $1: exit $RC" ||
		{ fail "$SC: $1: exit $RC, expected $2"; tail -5 "$WORK/$SC.err" >&2; }
}
nfiles() { find "$1/cur" "$1/new" -maxdepth 1 -type f 2>/dev/null | wc -l; }
refusals() { "$STOREDUMP" "$STORE" refusals; }
# sha256 of the message as the server fetches it (NUL as 0x80).
served_hash() { tr '\000' '\200' < "$1" | sha256sum | cut -d' ' -f1; }

printf 'From: l@example.org\r\nSubject: nul\r\nMessage-ID: <nul@example.org>\r\n\r\na\0b\r\n' \
	> "$WORK/nul.eml"
printf 'From: l@example.org\r\nSubject: plain\r\nMessage-ID: <plain@example.org>\r\n\r\nplain\r\n' \
	> "$WORK/plain.eml"
SUMMARY='mailsyncd: t: 1 local message not sent: NUL bytes need BINARY, which the server lacks (see the log)'

# No BINARY: kept local, reported, not sent; the other message is.
fake_start --box INBOX:1 --caps UIDPLUS
DIRECTION=both MIRROR=1 scenario nobinary
pass normal
cp "$WORK/nul.eml" "$MAIL/new/1700000000.nul.local"
cp "$WORK/plain.eml" "$MAIL/new/1700000001.plain.local"
: > "$WORK/cmds"
pass normal
expect_count "no BINARY" NULLITERAL 0
expect_count "no BINARY" APPEND 1
expect_rc "no BINARY" 1
# The summary's lines are stamped like the log: "TIME error mailsyncd: ..."
sed -E 's/^[^ ]+ error //' "$WORK/$SC.err" | grep -qxF "$SUMMARY" && ok "$SC: the summary says so" ||
	{ fail "$SC: no line '$SUMMARY'"; tail -5 "$WORK/$SC.err" >&2; }
grep -q 'folder=INBOX the local message "nul" <nul@example.org> holds NUL bytes.*not sent' \
	"$WORK/$SC.err" && ok "$SC: a warning names it" ||
	fail "$SC: no warning: $(grep warn "$WORK/$SC.err")"
refusals | grep -q '	unsendable	' && ok "$SC: recorded" || fail "$SC: refusals: $(refusals)"
pass normal
expect_count "next pass" APPEND 1
expect_rc "next pass" 1
grep -q 'holds NUL bytes' "$WORK/$SC.err" && fail "$SC: warned again" || ok "$SC: not warned again"
expect_uids "only the plain message is appended" "1 2 "
expect_check
fake_stop
# The server now offers BINARY: the message goes.
fake_start --box INBOX:1,2 --caps "UIDPLUS BINARY"
DIRECTION=both MIRROR=1 scenario nobinary
: > "$WORK/cmds"
pass normal
expect_count "BINARY now" LITERAL8 1
expect_rc "BINARY now" 0
fake_stop

# BINARY: sent once, as a literal8; the server's copy is fetched, not
# assumed; the reader's file is not appended again.
fake_start --box INBOX:1 --caps "UIDPLUS BINARY"
DIRECTION=both MIRROR=1 scenario binary
pass normal
cp "$WORK/nul.eml" "$MAIL/new/1700000000.nul.local"
: > "$WORK/cmds"
pass normal
expect_count "BINARY" NULLITERAL 0
expect_count "BINARY" LITERAL8 1
expect_rc "BINARY" 0
expect_uids "not bound to the bytes sent" "1 "
refusals | grep -q '	altered	' && ok "$SC: held as sent" || fail "$SC: refusals: $(refusals)"
pass normal
pass normal
expect_count "two passes later" APPEND 1
expect_rc "two passes later" 0
expect_uids "the server's copy is fetched" "1 2 "
got="$("$STOREDUMP" "$STORE" msgs t INBOX | awk -F'\t' '$2 == 2 { print $5 }')"
[ "$got" = "$(served_hash "$WORK/nul.eml")" ] && ok "$SC: the record holds the server's copy" ||
	fail "$SC: UID 2 holds $got, not the server's copy"
[ "$(nfiles "$MAIL")" = 3 ] && ok "$SC: the reader's file stays beside the server's copy" ||
	fail "$SC: $(nfiles "$MAIL") files in the mirror, expected 3"
expect_check
"$STOREDUMP" "$STORE" retry || fail "$SC: storedump retry"
pass normal
expect_count "after a retry" APPEND 1
fake_stop

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all NUL scenarios passed"
