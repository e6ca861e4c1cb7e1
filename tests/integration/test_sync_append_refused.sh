#!/bin/bash
# A local message the server refuses to APPEND (Cyrus refuses some
# malformed real mail) against the scripted server
# (tests/data/sync/fake_imap_sync.py, mode appendno): it stays local, the
# refusal is recorded in the store with the server's text, warned about
# once, named in every --once summary (exit 1) and not sent again: not on
# the next pass, not after a restart, only once its file changes (a new
# pending APPEND) or the user asks for a retry.
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"

appends() { grep -c '^APPEND$' "$WORK/cmds"; }
expect_appends()
{
	local n
	n="$(appends)"
	[ "$n" = "$2" ] && ok "$SC: $1: $n APPENDs in all" ||
		fail "$SC: $1: $n APPENDs in all, expected $2"
}
expect_rc()
{
	[ "$RC" = "$2" ] && ok "$SC: $1: exit $RC" ||
		{ fail "$SC: $1: exit $RC, expected $2"; tail -5 "$WORK/$SC.err" >&2; }
}
# expect_summary WHAT N: --once names N refused messages (0: none).
expect_summary()
{
	local line="mailsyncd: t: $2 local message refused by the server (see the log)"
	if [ "$2" = 0 ]; then
		grep -q 'refused by the server' "$WORK/$SC.err" &&
			fail "$SC: $1: the summary still names a refusal" ||
			ok "$SC: $1: no refusal in the summary"
	elif sed -E 's/^[^ ]+ error //' "$WORK/$SC.err" | grep -qxF "$line"; then
		ok "$SC: $1: the summary says so"
	else
		fail "$SC: $1: no line '$line'"; tail -5 "$WORK/$SC.err" >&2
	fi
}
refusals() { "$STOREDUMP" "$STORE" refusals; }
# start NAME BOXES...: the server, a synced store, and bad.eml pending.
start()
{
	fake_start "${@:2}" --caps UIDPLUS
	DIRECTION=both scenario "$1"
	pass normal
	"$STOREDUMP" "$STORE" append t INBOX "$WORK/bad.eml" >/dev/null ||
		fail "$SC: storedump append"
	: > "$WORK/cmds"
}

printf 'From: l@example.org\r\nSubject: bad one\r\nMessage-ID: <bad@example.org>\r\n\r\nlocal\r\n' \
	> "$WORK/bad.eml"
printf 'From: l@example.org\r\nSubject: bad one\r\nMessage-ID: <bad@example.org>\r\n\r\nlocal, edited\r\n' \
	> "$WORK/edited.eml"

start refused --box INBOX:1,2
pass appendno
expect_appends "refused" 1
expect_rc "refused" 1
expect_summary "refused" 1
grep -q 'server refused to append the local message "bad one" <bad@example.org>: \[SERVERBUG\] Message contains invalid header' \
	"$WORK/$SC.err" && ok "$SC: the warning names the message and the server's text" ||
	fail "$SC: no warning naming the message: $(grep refused "$WORK/$SC.err")"
refusals | grep -qP '^\d+\trefused\tfolder=\d+\t\[SERVERBUG\] Message contains invalid header$' &&
	ok "$SC: the refusal is in the store" || fail "$SC: refusals: $(refusals)"

# Next pass, same server: not sent, not warned again, still reported.
pass appendno
expect_appends "next pass" 1
expect_rc "next pass" 1
expect_summary "next pass" 1
grep -q 'server refused to append' "$WORK/$SC.err" &&
	fail "$SC: warned again" || ok "$SC: not warned again"
# A restart does not retry either, even where the server would take it.
pass normal
expect_appends "restart" 1
expect_rc "restart" 1
expect_uids "the message stays local" "1 2 "
n="$("$STOREDUMP" "$STORE" changes | awk '$2 == "kind=3"' | wc -l)"
[ "$n" = 1 ] && ok "$SC: its APPEND stays pending" || fail "$SC: $n APPENDs pending"
expect_check

# The user asks: tried again, taken, nothing left.
"$STOREDUMP" "$STORE" retry || fail "$SC: storedump retry"
pass normal
expect_appends "retry" 2
expect_rc "retry" 0
expect_summary "retry" 0
expect_uids "appended on the retry" "1 2 3 "
[ -z "$(refusals)" ] && ok "$SC: no refusal left" || fail "$SC: refusals: $(refusals)"
expect_check
fake_stop

# The file changes: the new bytes are a new pending APPEND, sent; the
# refused one stays refused.
start edited --box INBOX:1
pass appendno
expect_appends "refused" 1
"$STOREDUMP" "$STORE" append t INBOX "$WORK/edited.eml" >/dev/null || fail "$SC: storedump append"
pass normal
expect_appends "edited" 2
expect_uids "the edited message is appended" "1 2 "
expect_rc "the old one still refused" 1
expect_summary "the old one still refused" 1
expect_check
fake_stop

# A refusal for a passing reason (RFC 5530 OVERQUOTA) says nothing about
# the message: not recorded, tried again on the next pass.
start quota --box INBOX:1
pass appendquota
expect_appends "over quota" 1
grep -q 'did not take the local message .* \[OVERQUOTA\] Quota exceeded; it stays pending' \
	"$WORK/$SC.err" && ok "$SC: warned" || fail "$SC: no warning: $(grep warn "$WORK/$SC.err")"
[ -z "$(refusals)" ] && ok "$SC: not recorded as refused" || fail "$SC: refusals: $(refusals)"
pass normal
expect_appends "next pass" 2
expect_rc "next pass" 0
expect_uids "appended on the next pass" "1 2 "
expect_check
fake_stop

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all refusal scenarios passed"
