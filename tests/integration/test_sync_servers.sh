#!/bin/bash
# Servers that are not Dovecot (issue 16), each quirk played by the
# scripted server tests/data/sync/fake_imap_sync.py as GNU Mailutils
# imap4d or hoodiecrow show it: the account still syncs, the fault is
# reported once, and nothing is uploaded twice.
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"

expect_rc()
{
	[ "$RC" = "$2" ] && ok "$SC: $1: exit $RC" ||
		{ fail "$SC: $1: exit $RC, expected $2"; tail -5 "$WORK/$SC.err" >&2; }
}
# expect_lines WHAT N PATTERN: the pass's stderr has N lines matching.
expect_lines()
{
	local n
	n="$(grep -cE -- "$3" "$WORK/$SC.err")"
	[ "$n" = "$2" ] && ok "$SC: $1: $n line(s)" ||
		{ fail "$SC: $1: $n line(s) matching '$3', expected $2"; tail -8 "$WORK/$SC.err" >&2; }
}
count() { grep -cxF -- "$1" "$WORK/cmds"; }
# mfile DIR UID: the mirror's file of UID in the Maildir DIR.
mfile() { find "$1/cur" "$1/new" -maxdepth 1 -type f -name "*-$2-*" 2>/dev/null | head -1; }
# nfiles DIR: message files in the Maildir DIR.
nfiles() { find "$1/cur" "$1/new" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# --- 4. AUTHENTICATE refused: the next mechanism the server offers -------
# auth_case NAME AUTH RC "ATTEMPTS" FAKE-ARGS...: one pass with auth = AUTH
# against the fake started with FAKE-ARGS; exit RC, the server saw these
# login attempts in this order.
auth_case()
{
	local got
	fake_start --box INBOX:1,2 "${@:5}"
	AUTH="$2" scenario "$1"
	: > "$WORK/cmds"
	pass normal
	expect_rc "auth = $2" "$3"
	got="$(grep '^AUTH ' "$WORK/cmds" | sed 's/^AUTH //' | tr '\n' ' ')"
	[ "$got" = "$4" ] && ok "$SC: login attempts: $got" ||
		fail "$SC: login attempts: '$got', expected '$4'"
}

# imap4d offers SCRAM-SHA-256 and refuses it for a user without SCRAM
# keys; auth = auto goes on to the next offered mechanism.
auth_case authnext auto 0 "SCRAM-SHA-256 CRAM-MD5 PLAIN " \
	--caps "AUTH=SCRAM-SHA-256 AUTH=CRAM-MD5" \
	--refuse-auth SCRAM-SHA-256 --refuse-auth CRAM-MD5
expect_uids "synced after the fallback" "1 2 "
expect_lines "each fallback logged" 2 'the server refused (SCRAM-SHA-256; trying CRAM-MD5|CRAM-MD5; trying PLAIN)$'
fake_stop

# Every mechanism refused (and the LOGIN command): one error naming each.
auth_case authall auto 1 "SCRAM-SHA-256 PLAIN LOGIN " \
	--caps "AUTH=SCRAM-SHA-256" \
	--refuse-auth SCRAM-SHA-256 --refuse-auth PLAIN --refuse-auth LOGIN
expect_lines "one error names every refusal" 1 \
	'authentication as u failed: SCRAM-SHA-256: .*; PLAIN: .*; LOGIN: '
fake_stop

# A wrong password ([AUTHENTICATIONFAILED], as Dovecot answers it): no
# other mechanism is tried with it, one failed login in the server's log.
auth_case authwrong auto 1 "SCRAM-SHA-256 " \
	--caps "AUTH=SCRAM-SHA-256 AUTH=CRAM-MD5" --wrong-password
expect_lines "the server's words" 1 'authentication as u failed: .*Authentication failed\.'
fake_stop

# Refusals without a code: two fallbacks at most (three failed logins),
# well under an intrusion guard's ban.
auth_case authcap auto 1 "SCRAM-SHA-256 CRAM-MD5 PLAIN " \
	--caps "AUTH=SCRAM-SHA-256 AUTH=CRAM-MD5" \
	--refuse-auth SCRAM-SHA-256 --refuse-auth CRAM-MD5 \
	--refuse-auth PLAIN --refuse-auth LOGIN
fake_stop

# A configured mechanism is the only one tried.
auth_case authcfg scram-sha-256 1 "SCRAM-SHA-256 " \
	--caps "AUTH=SCRAM-SHA-256" --refuse-auth SCRAM-SHA-256
fake_stop

# --- 7. tls = none (loopback): plaintext login, one warning --------------
fake_start --plain --box INBOX:1,2,3
scenario tlsnone
sed -i -e 's/^tls = implicit$/tls = none/' -e '/^ca_file = /d' "$CFG"
pass normal
expect_rc "plaintext login on loopback" 0
expect_uids "synced without TLS" "1 2 3 "
expect_lines "one warning" 1 'tls = none: the password goes to 127\.0\.0\.1:[0-9]+ in the clear'
fake_stop

# --- 2. A malformed STATUS line: that folder is selected, the rest syncs --
for mode in statusunquoted hmsnil; do
	fake_start --box INBOX:1,2 --box "Other Folder:1,2,3" --box Sub:4
	scenario "$mode"
	pass "$mode"
	expect_rc "the account syncs" 0
	expect_uids "INBOX" "1 2 " INBOX
	expect_uids "the folder with a space" "1 2 3 " "Other Folder"
	expect_uids "Sub" "4 " Sub
	expect_lines "the server's fault, said once" 1 \
		'the server sent a STATUS response against the IMAP grammar'
	fake_stop
done

# --- 3. A listed folder that refuses SELECT: skipped, said once, exit 0 --
fake_start --box INBOX:1,2 --box "[Gmail]:" --refuse-select "[Gmail]"
MIRROR=1 scenario noselect
pass normal
expect_rc "the rest synced" 0
expect_uids "INBOX" "1 2 " INBOX
expect_lines "reported" 1 'folder=\[Gmail\] the server lists it as a folder but refuses to SELECT it'
find "$MAIL" -name '*Gmail*' | grep -q . && fail "$SC: a Maildir for [Gmail]: $(find "$MAIL" -name '*Gmail*')" ||
	ok "$SC: no Maildir for it"
pass normal
expect_rc "next pass" 0
expect_lines "not reported again" 0 'refuses to SELECT'
expect_check
fake_stop
# The server selects it again (with a message): synced like any folder.
fake_start --box INBOX:1,2 --box "[Gmail]:5"
MIRROR=1 scenario noselect
pass normal
expect_rc "selectable again" 0
expect_uids "its message" "5 " "[Gmail]"
expect_lines "said" 1 'folder=\[Gmail\] the server selects it now'
expect_check
fake_stop

# A folder never selected whose SELECT is refused for a passing reason
# ([UNAVAILABLE]): a folder error (exit 1), not marked unselectable; the
# next pass syncs it.
fake_start --box INBOX:1,2 --box Sub:3
MIRROR=1 scenario selectbusy
pass selectbusy
expect_rc "a transient refusal is a folder error" 1
expect_lines "not taken for a folder without messages" 0 'refuses to SELECT'
pass normal
expect_rc "the next pass" 0
expect_uids "its message" "3 " Sub
expect_lines "never marked" 0 'the server selects it now'
expect_check
fake_stop

# --- 5. No UIDPLUS: what the reader deleted or moved away stays away ----
# The server keeps both messages marked \Deleted (no UID EXPUNGE, and a
# plain EXPUNGE would take other clients' marked messages too).
fake_start --box INBOX:1,2,3 --box Sub:1
DIRECTION=both MIRROR=1 scenario nouidplus
pass normal
rm -f "$(mfile "$MAIL" 2)"
mv "$(mfile "$MAIL" 3)" "$MAIL/Sub/cur/"
: > "$WORK/cmds"
pass normal
pass normal
pass normal
expect_rc "three passes" 0
expect_uids "the store forgets them in INBOX" "1 " INBOX
expect_uids "the moved one is in Sub" "1 2 " Sub
[ "$(nfiles "$MAIL")/$(nfiles "$MAIL/Sub")" = 1/2 ] &&
	ok "$SC: the mirror holds 1 + 2 files" ||
	fail "$SC: the mirror holds $(nfiles "$MAIL") + $(nfiles "$MAIL/Sub") files, expected 1 + 2: $(find "$MAIL" -type f -path '*/cur/*' -o -type f -path '*/new/*')"
find "$MAIL" -type f -name '*:2,*T*' | grep -q . &&
	fail "$SC: a file marked trashed is back: $(find "$MAIL" -type f -name '*:2,*T*')" ||
	ok "$SC: no trashed file written back"
[ "$(count 'UID STORE')" -ge 1 ] && [ "$(count EXPUNGE)" = 0 ] &&
	ok "$SC: marked \\Deleted on the server, never EXPUNGEd" ||
	fail "$SC: commands: $(sort "$WORK/cmds" | uniq -c | tr '\n' ' ')"
expect_lines "the missing UIDPLUS said (last pass: nothing to push)" 0 'has no UIDPLUS'
expect_check
# GNU imap4d changes UIDVALIDITY after an APPEND: the folder is matched
# again, and the messages marked \Deleted that the store does not hold
# stay away (not downloaded either).
: > "$WORK/cmds"
pass newuv
expect_rc "UIDVALIDITY changed" 0
expect_uids "INBOX still" "1 " INBOX
expect_uids "Sub still" "1 2 " Sub
[ "$(nfiles "$MAIL")/$(nfiles "$MAIL/Sub")" = 1/2 ] &&
	ok "$SC: the mirror still holds 1 + 2 files" ||
	fail "$SC: the mirror holds $(nfiles "$MAIL") + $(nfiles "$MAIL/Sub") files after the UIDVALIDITY change, expected 1 + 2"
n="$(grep -c '^BODY ' "$WORK/cmds")"
[ "$n" = 0 ] && ok "$SC: nothing downloaded again" || fail "$SC: $n bodies downloaded again: $(grep '^BODY ' "$WORK/cmds" | tr '\n' ' ')"
expect_lines "said" 1 'folder=INBOX re-matched 1 of 1 messages .* 2 marked \\Deleted on the server left out'
expect_check
pass newuv
expect_uids "and after one more pass" "1 " INBOX
fake_stop

# --- 1. No UIDPLUS, a server that rewrites what it stores: each file once --
# GNU imap4d drops the "From " line, Status: and X-UID: and squeezes
# spaces: no fetch returns the bytes sent.  A reader's new file is appended
# once, bound to the server's copy by its Message-ID, and adopted in the
# mirror; one without a Message-ID is appended once too, and bound to the
# one new message with the date it was sent with (it was held, and the
# mirror showed it twice: the file and the server's copy).
fake_start --box INBOX:1
DIRECTION=both MIRROR=1 scenario rewrite
pass normal
printf 'From l@example.org Mon Dec  7 06:00:00 2026\nStatus: RO\nX-UID: 9\nFrom: l@example.org\nSubject: a  local   one\nMessage-ID: <local1@example.org>\n\nbody  with  spaces\n' \
	> "$MAIL/new/1765000000.local1.host"
printf 'From: l@example.org\nSubject: no  id\n\nno  Message-ID\n' \
	> "$MAIL/new/1765000001.local2.host"
: > "$WORK/cmds"
pass noappenduid+rewrite
expect_lines "the copy found by its Message-ID" 1 \
	'<local1@example\.org> appended without APPENDUID is UID [23] on the server \(found by its Message-ID\)'
expect_lines "the one without Message-ID found by its date" 1 \
	'"no  id" <> appended without APPENDUID is UID [23] on the server \(found by its size and date among the new messages\)'
for i in 2 3; do pass noappenduid+rewrite; done
expect_rc "three passes" 0
n="$(count APPEND)"
[ "$n" = 2 ] && ok "$SC: each file appended once in three passes" ||
	fail "$SC: $n APPENDs in three passes, expected 2"
expect_lines "found by its Message-ID (last pass: nothing to find)" 0 'found by its Message-ID'
expect_uids "both bound" "1 2 3 " INBOX
[ "$(nfiles "$MAIL")" = 3 ] && ok "$SC: the mirror holds 1 + the two adopted files" ||
	fail "$SC: the mirror holds $(nfiles "$MAIL") files, expected 3: $(ls "$MAIL/cur" "$MAIL/new")"
[ -z "$("$STOREDUMP" "$STORE" refusals)" ] && ok "$SC: nothing held" ||
	fail "$SC: refusals: $("$STOREDUMP" "$STORE" refusals)"
expect_check
# imap4d changes UIDVALIDITY after an APPEND: the bound copy (the bytes
# sent, the server's rewritten) is not appended again either.
: > "$WORK/cmds"
pass noappenduid+rewrite+newuv
pass noappenduid+rewrite+newuv
expect_rc "after the UIDVALIDITY change" 0
n="$(count APPEND)"
[ "$n" = 0 ] && ok "$SC: nothing appended again" || fail "$SC: $n APPENDs after the UIDVALIDITY change"
[ "$(nfiles "$MAIL")" = 3 ] && ok "$SC: the mirror still holds 3 files" ||
	fail "$SC: the mirror holds $(nfiles "$MAIL") files, expected 3: $(ls "$MAIL/cur" "$MAIL/new")"
expect_check
fake_stop

# --- 1b. No UIDPLUS, a Sent copy with the same Message-ID came first -----
# The server saves its own copy of the message (as a server that files
# submitted mail does) just before the APPEND's: the search for the
# Message-ID finds both.  The size and date the APPEND gave tell which is
# the reader's; the Sent copy is fetched as what it is, and the reader's
# file is shown once (bound to the lowest hit, it was shown twice and the
# Sent copy never).
fake_start --box INBOX:1
DIRECTION=both MIRROR=1 scenario sentcopy
pass normal
printf 'From: l@example.org\nSubject: sent one\nDate: Mon, 07 Dec 2026 06:00:00 +0000\nMessage-ID: <sent1@example.org>\n\nsent body\n' \
	> "$MAIL/new/1765000002.sent1.host"
: > "$WORK/cmds"
pass noappenduid+sentcopy
expect_rc "appended" 0
expect_lines "bound to the APPEND's copy, not the Sent copy" 1 \
	'<sent1@example\.org> appended without APPENDUID is UID 3 on the server'
pass noappenduid
pass noappenduid
expect_rc "two more passes" 0
expect_uids "the Sent copy fetched, the reader's bound" "1 2 3 " INBOX
n="$(grep -l '^Subject: sent one' "$MAIL"/cur/* "$MAIL"/new/* 2>/dev/null | wc -l)"
s="$(grep -l '^Received: by fake (a Sent copy)' "$MAIL"/cur/* "$MAIL"/new/* 2>/dev/null | wc -l)"
[ "$n/$s" = 2/1 ] && ok "$SC: the reader's file once, the Sent copy once" ||
	fail "$SC: $n files with the message, $s of them the Sent copy, expected 2 and 1: $(ls "$MAIL/cur" "$MAIL/new")"
[ "$(count APPEND)" = 1 ] && ok "$SC: appended once" || fail "$SC: $(count APPEND) APPENDs"
expect_check
fake_stop

# --- 6. UIDVALIDITY changed: sizes and Message-IDs first ----------------
# Only what matches nothing is downloaded: UID 31, new after the change,
# and UIDs 12 and 13, which share a size and a Message-ID (a list's copy
# and the direct one): which is which is not guessed, their bodies tell.
export FAKE_IMAP_MSGID_OF=12:13
fake_start --box INBOX:$(seq -s, 1 30) --box Sub:1,2
scenario rematch
pass normal
expect_rc "first pass" 0
fake_stop
fake_start --box INBOX:$(seq -s, 1 31) --box Sub:1,2 \
	--uidvalidity INBOX:8 --uidvalidity Sub:8
scenario rematch
: > "$WORK/cmds"
pass normal
expect_rc "re-matched" 0
got="$(grep '^BODY ' "$WORK/cmds" | sort -k3n | tr '\n' ' ')"
[ "$got" = "BODY INBOX 12 BODY INBOX 13 BODY INBOX 31 " ] &&
	ok "$SC: only the ambiguous and the new bodies downloaded" ||
	fail "$SC: bodies downloaded: '$got', expected UIDs 12, 13 and 31 of INBOX"
expect_uids "INBOX" "$(seq -s ' ' 1 31) " INBOX
expect_uids "Sub" "1 2 " Sub
expect_lines "said" 1 'folder=INBOX re-matched 28 of 30 messages by size and Message-ID, not downloaded; 2 with the size and Message-ID of another are downloaded'
expect_lines "said" 1 'folder=Sub re-matched 2 of 2 messages'
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 0 ] && ok "$SC: nothing left parked" || fail "$SC: $n changes pending"
expect_bodies
expect_check
fake_stop
unset FAKE_IMAP_MSGID_OF

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all server quirk scenarios passed"
