#!/bin/bash
# The sync engine against a scripted, misbehaving IMAP server
# (tests/data/sync/fake_imap_sync.py): every fault must leave a clean
# store (no message the server does not have, no watermark past a message
# not stored) and a following correct pass must make the store complete.
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"

# Sparse UIDs: three pipelined ranges 1:200, 201:400, 401:600 (then 601:*).
fake_start --box INBOX:1,2,250,450,900
scenario stray
pass stray
expect_uids "a FETCH for a UID not asked for is not stored" "1 2 "
expect_uidnext_le "after the drop" 201
pass normal
expect_uids "the next pass completes" "1 2 250 450 900 "
expect_bodies
expect_check

# One message that cannot be stored does not stop the folder: every
# later range is still fetched (the watermark stays before it).
scenario shortmany
pass nouid
expect_uids "the messages after the bad one are stored" "1 250 450 900 "
expect_uidnext_le "the watermark stays before it" 2
pass normal
expect_uids "the next pass completes" "1 2 250 450 900 "
expect_bodies

scenario midno
pass midno
expect_uidnext_le "a NO in the middle of the batch" 2
pass normal
expect_uids "the next pass completes" "1 2 250 450 900 "
expect_bodies
expect_check
fake_stop

# Hundreds of holes: every even UID fails, so the next pass has 200
# stored UIDs above the watermark to leave out, across three fetch ranges
# and the final "lo:*" one.  It downloads exactly the 200 missing bodies.
fake_start --box INBOX:$(seq -s, 1 400)
scenario holes
pass nouideven
[ "$(uids | wc -w)" = 200 ] && ok "$SC: the 200 odd UIDs stored" || fail "$SC: $(uids | wc -w) stored"
expect_uidnext_le "the watermark stays before UID 2" 2
: > "$WORK/cmds"
pass normal
[ "$(uids | wc -w)" = 400 ] && ok "$SC: all 400 stored" || fail "$SC: $(uids | wc -w) stored after the second pass"
got="$(awk '$1 == "BODY" { print $3 }' "$WORK/cmds" | sort -n | tr '\n' ' ')"
[ "$got" = "$(seq 2 2 400 | tr '\n' ' ')" ] && ok "$SC: only the 200 missing bodies downloaded" ||
	fail "$SC: bodies downloaded: $(echo "$got" | wc -w) ($(echo "$got" | cut -c1-80)...)"
[ "$(uidnext)" = 401 ] && ok "$SC: uidnext 401" || fail "$SC: uidnext $(uidnext), expected 401"
expect_bodies
expect_check
fake_stop

fake_start --box INBOX:1,2,3
for sc in nouid:"1 3 " drop:"1 "; do
	scenario "${sc%%:*}"
	pass "$SC"
	[ "$RC" -ne 0 ] || fail "$SC: the faulty pass exited 0"
	expect_uids "the faulty pass stores only whole messages" "${sc#*:}"
	expect_uidnext_le "the watermark stays at the fault" 2
	pass normal
	expect_uids "the next pass completes" "1 2 3 "
	expect_bodies
	expect_check
done

# A literal shorter than RFC822.SIZE is complete (a cut connection is
# "drop"): stored as sent, with a warning naming both sizes, and the
# watermark passes it.
scenario short
pass short
[ "$RC" -eq 0 ] || fail "$SC: the pass failed: $(tail -3 "$WORK/$SC.err")"
expect_uids "a body shorter than RFC822.SIZE is stored" "1 2 3 "
grep -q 'uid=2 the body has .* bytes, RFC822.SIZE said .*: stored as sent' "$WORK/$SC.err" &&
	ok "$SC: the size mismatch is logged" || fail "$SC: no warning about the size"
[ "$(uidnext)" = 4 ] || fail "$SC: uidnext $(uidnext), expected 4"
expect_check

# A message that cannot be stored does not hold back the push of local
# changes to the messages that are stored.
DIRECTION=both scenario shortpush
pass nouid
"$STOREDUMP" "$STORE" flag t INBOX 1 +\\Flagged >/dev/null || fail "$SC: storedump flag"
: > "$WORK/cmds"
pass nouid
grep -q '^UID STORE$' "$WORK/cmds" && ok "$SC: the local flag is pushed" ||
	fail "$SC: the local flag is not pushed: $(sort -u "$WORK/cmds" | tr '\n' ' ')"
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $n changes pending"

# Local flag changes go out as one UID STORE set; a UID the server names
# in MODIFIED (changed by another client meanwhile) stays pending and is
# pushed by a later pass, the others are cleared.  (UID 1 is \Flagged on
# the server already, by shortpush.)
DIRECTION=both scenario modified
pass normal
for u in 2 3; do
	"$STOREDUMP" "$STORE" flag t INBOX "$u" +\\Flagged >/dev/null || fail "$SC: storedump flag"
done
: > "$WORK/cmds"
pass modified
[ "$(grep -c '^UID STORE$' "$WORK/cmds")" = 1 ] && ok "$SC: one UID STORE for 2 changes" ||
	fail "$SC: $(grep -c '^UID STORE$' "$WORK/cmds") UID STOREs, expected 1"
got="$("$STOREDUMP" "$STORE" changes | awk -F'\t' '{ print $4 }' | tr '\n' ' ')"
[ "$got" = "uid=2 " ] && ok "$SC: the MODIFIED UID stays pending" || fail "$SC: pending: '$got', expected 'uid=2 '"
pass normal
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 0 ] && ok "$SC: pushed by the next pass" || fail "$SC: $n changes pending"
n="$("$STOREDUMP" "$STORE" msgs t INBOX | awk -F'\t' '$3 ~ /Flagged/ && $4 == $3' | wc -l)"
[ "$n" = 3 ] && ok "$SC: 3 records flagged and synced" || fail "$SC: $n records flagged and synced, expected 3"
expect_check

scenario uidnextzero
pass uidnextzero
expect_uids "UIDNEXT 0 on a first pass: every message is fetched" "1 2 3 "
pass uidnextzero
expect_uids "and on the next" "1 2 3 "
if grep -q "went backwards" "$WORK/$SC.err"; then
	fail "$SC: UIDNEXT 0 taken for a UIDNEXT going backwards"
else
	ok "$SC: not taken for a UIDNEXT going backwards"
fi

scenario uidnextback
pass normal
pass uidnextback
if grep -q "UIDNEXT" "$WORK/$SC.err"; then ok "$SC: logged"
else fail "$SC: a UIDNEXT going backwards is not logged"; fi
expect_uids "the folder is re-matched" "1 2 3 "
expect_bodies
[ "$(uidnext)" = 4 ] || fail "$SC: uidnext $(uidnext), expected 4"
if [ -z "$("$STOREDUMP" "$STORE" changes)" ]; then ok "$SC: nothing left pending"
else fail "$SC: pending changes left: $("$STOREDUMP" "$STORE" changes)"; fi
expect_check

scenario unordered
pass normal
pass unordered
expect_uids "a flag diff answered out of UID order expunges nothing" "1 2 3 "

scenario vanishedhigh
pass normal
pass vanishedhigh
expect_uids "a VANISHED above UIDNEXT removes nothing" "1 2 3 "
if "$STOREDUMP" "$STORE" folders | grep -q "uidnext=4	hms=0	messages=3	"; then
	ok "$SC: watermark and message count unchanged"
else
	fail "$SC: folder state: $("$STOREDUMP" "$STORE" folders)"
fi
fake_stop

# The same store once the server lost UID 2: still expunged at the end.
fake_start --box INBOX:1,3 --uidnext INBOX:4
scenario unordered
pass unordered
expect_uids "a UID the out-of-order diff never listed is expunged" "1 3 "
expect_check
fake_stop

fake_start --box INBOX:1,2 --box Sub:1,2,3
scenario gone
pass normal
expect_uids "first pass" "1 2 3 " Sub
pass gone
if [ "$RC" -ne 0 ]; then ok "$SC: the folder error shows in the exit status"
else fail "$SC: exit status 0 with a folder that failed"; fi
expect_uids "a folder that fails SELECT keeps its messages" "1 2 3 " Sub
expect_uids "the other folder is synced" "1 2 " INBOX
fake_stop

# direction = pull: local changes stay local, no command writes.
fake_start --box INBOX:1,2,3
scenario pull
pass normal
printf 'From: l@example.org\r\nSubject: local\r\n\r\nlocal\r\n' > "$WORK/local.eml"
"$STOREDUMP" "$STORE" flag t INBOX 1 +\\Flagged >/dev/null &&
"$STOREDUMP" "$STORE" delete t INBOX 2 >/dev/null &&
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local.eml" >/dev/null ||
	fail "$SC: storedump changes"
: > "$WORK/cmds"
pass normal
if grep -qE '^(APPEND|STORE|UID STORE|EXPUNGE|UID EXPUNGE|COPY|UID COPY|MOVE|UID MOVE|DELETE|CREATE|RENAME)$' "$WORK/cmds"; then
	fail "$SC: commands that change the server: $(sort -u "$WORK/cmds" | tr '\n' ' ')"
else
	ok "$SC: no command changed the server ($(sort -u "$WORK/cmds" | tr '\n' ' '))"
fi
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 3 ] && ok "$SC: the 3 local changes stay pending" || fail "$SC: $n changes pending, expected 3"
"$STOREDUMP" "$STORE" msgs t INBOX | awk -F'\t' '$2 == 1 && $3 ~ /Flagged/ { f = 1 } END { exit !f }' &&
	ok "$SC: the local flag stays" || fail "$SC: the local flag is gone"
fake_stop

# APPEND without APPENDUID (direction = both): appended once, found by
# the next pass, nothing left pending; a body with bare LF too.
fake_start --box INBOX:1
DIRECTION=both scenario noappenduid
pass normal
printf 'From: l@example.org\nSubject: local LF\n\nlocal\n' > "$WORK/local-lf.eml"
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local.eml" >/dev/null &&
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local-lf.eml" >/dev/null ||
	fail "$SC: storedump append"
: > "$WORK/cmds"
pass noappenduid
[ "$(grep -c '^APPEND$' "$WORK/cmds")" = 2 ] && ok "$SC: 2 APPENDs" ||
	fail "$SC: $(grep -c '^APPEND$' "$WORK/cmds") APPENDs, expected 2"
pass noappenduid
pass noappenduid
[ "$(grep -c '^APPEND$' "$WORK/cmds")" = 2 ] && ok "$SC: no APPEND again" ||
	fail "$SC: $(grep -c '^APPEND$' "$WORK/cmds") APPENDs after 3 passes"
expect_uids "each appended message once" "1 2 3 "
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $n changes pending"
"$STOREDUMP" "$STORE" flag t INBOX 1 +\\Flagged >/dev/null || fail "$SC: storedump flag"
pass normal
pass normal
"$STOREDUMP" "$STORE" msgs t INBOX | awk -F'\t' '$2 == 1 && $3 ~ /Flagged/ && $4 == $3 { f = 1 } END { exit !f }' &&
	grep -q '^UID STORE$' "$WORK/cmds" && ok "$SC: a local flag is pushed and stays synced" ||
	fail "$SC: local flag: $("$STOREDUMP" "$STORE" msgs t INBOX | head -1)"
expect_check
fake_stop

# kill -9 after the server took an APPEND and before the commit that
# clears it: the next passes find the message (sent with CRLF line ends,
# so with another hash than the local LF body) and do not append it again.
fake_start --box INBOX:1
DIRECTION=both scenario appendkill
pass normal
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local-lf.eml" >/dev/null &&
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local.eml" >/dev/null ||
	fail "$SC: storedump append"
: > "$WORK/cmds"
pass_killed appendhang APPENDED
pass normal
pass normal
expect_uids "each local message on the server once" "1 2 3 "
# The killed pass sent both (the second went unanswered); the next one
# sends only the second again.
n="$(grep -c '^APPEND$' "$WORK/cmds")"
[ "$n" = 3 ] && ok "$SC: 3 APPENDs in all" || fail "$SC: $n APPENDs, expected 3"
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $n changes pending"
expect_check
fake_stop

# APPEND answered OK without APPENDUID by a server that rewrites what it
# stores (GNU imap4d), then the connection drops before the UID SEARCH
# for its Message-ID answers: the change was held as soon as the APPEND
# said OK, so the next passes do not append it again (a duplicate the
# server's copy, with other bytes, would not reveal).
fake_start --box INBOX:1
DIRECTION=both scenario searchbye
pass normal
printf 'From: l@example.org\nMessage-ID: <searchbye@example.org>\nSubject: local  spaced\n\nlocal\n' \
	> "$WORK/local-msgid.eml"
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local-msgid.eml" >/dev/null || fail "$SC: storedump append"
: > "$WORK/cmds"
pass rewrite+noappenduid+searchbye
grep -q '^SEARCHBYE$' "$WORK/cmds" && ok "$SC: the connection dropped at the search" ||
	fail "$SC: the search never came: $(tail -3 "$WORK/$SC.err")"
pass rewrite+noappenduid
pass rewrite+noappenduid
n="$(grep -c '^APPEND$' "$WORK/cmds")"
[ "$n" = 1 ] && ok "$SC: appended once" || fail "$SC: $n APPENDs, expected 1"
# The hold recorded the form the APPEND went in (bare LF sent as CRLF, by
# that form's hash): a pass looks for the server's copy by it, without
# reading and hashing the held body again, on the loop, every pass.
sed -i '/^\[general\]$/a log_level = debug' "$CFG"
pass rewrite+noappenduid
n="$(grep -c 'held APPEND: its body is read' "$WORK/$SC.err")"
grep -q 'step=push->done' "$WORK/$SC.err" && [ "$n" = 0 ] &&
	ok "$SC: the held body is not read again" ||
	fail "$SC: the held body read $n time(s) in a pass (or no debug log)"
"$STOREDUMP" "$STORE" refusals | grep -q 'altered' &&
	ok "$SC: still held" || fail "$SC: refusals: $("$STOREDUMP" "$STORE" refusals)"
expect_uids "the server's copy is fetched, once" "1 2 "
n="$("$STOREDUMP" "$STORE" changes | awk '$2 == "kind=3"' | wc -l)"
[ "$n" -le 1 ] || fail "$SC: $n APPENDs pending"
expect_check
fake_stop

# A folder gone from the server while a local message waits to be
# appended to it: the local message is not dropped with the folder.
fake_start --box INBOX:1 --box Sub:1
DIRECTION=both scenario gonelocal
pass normal
fake_stop
"$STOREDUMP" "$STORE" append t Sub "$WORK/local.eml" >/dev/null || fail "$SC: storedump append"
fake_start --box INBOX:1
DIRECTION=both scenario gonelocal
pass normal
n="$("$STOREDUMP" "$STORE" changes | awk '$2 == "kind=3"' | wc -l)"
[ "$n" = 1 ] && ok "$SC: the pending APPEND is kept" || fail "$SC: the pending APPEND is gone ($n left)"
if "$STOREDUMP" "$STORE" folders | awk -F'\t' '$2 == "Sub" { f = 1 } END { exit !f }'; then
	ok "$SC: so is its folder"
else
	fail "$SC: the folder is gone from the store"
fi
expect_check
fake_stop

# --- moves a reader makes in the Maildir mirror (direction = both) -------

# mfile DIR UID: the mirror's file of UID in the Maildir DIR.
mfile() { find "$1/cur" "$1/new" -maxdepth 1 -type f -name "*-$2-*" 2>/dev/null | head -1; }
# nfiles DIR: message files in the Maildir DIR.
nfiles() { find "$1/cur" "$1/new" -maxdepth 1 -type f 2>/dev/null | wc -l; }
# move_start SC [CAPS [DEST [SUB]]]: the fake server (capabilities CAPS,
# by default UIDPLUS; Sub holds UID SUB, by default 1) and a fresh mirror
# scenario (direction $DIRECTION, by default both) synced once; INBOX UID
# 2 moved by the reader into the Maildir DEST (by default Sub; made when
# missing: a new folder).
move_start()
{
	local f dest
	fake_start --caps "${2:-UIDPLUS}" --box INBOX:1,2,3 --box "Sub:${4:-1}" \
		--uidvalidity "Sub:${SUB_UV:-8}"
	DIRECTION="${DIRECTION:-both}" MIRROR=1 scenario "$1"
	pass normal
	dest="$MAIL/${3:-Sub}"
	mkdir -p "$dest/cur" "$dest/new" "$dest/tmp"
	f="$(mfile "$MAIL" 2)"
	if [ -z "$f" ] || [ ! -d "$MAIL/Sub/cur" ]; then
		fail "$SC: no mirror file for INBOX 2 or no Sub Maildir"; return 1
	fi
	mv "$f" "$dest/cur/"
	: > "$WORK/cmds"
}
# move_expect WHAT [CMD]: the message is once in Sub, gone from INBOX, in
# the store and the mirror, nothing pending, the store consistent, and
# (with CMD) one CMD sent in all; then the fake server stops.
move_expect()
{
	if [ -n "${2:-}" ]; then
		n="$(grep -c "^$2\$" "$WORK/cmds")"
		[ "$n" = 1 ] && ok "$SC: one $2 in all" || fail "$SC: $n $2 commands, expected 1"
	fi
	expect_uids "$1: one copy in the destination" "1 2 " Sub
	expect_uids "$1: gone from the source" "1 3 " INBOX
	n="$("$STOREDUMP" "$STORE" changes | wc -l)"
	[ "$n" = 0 ] && ok "$SC: nothing pending" ||
		fail "$SC: $n changes pending: $("$STOREDUMP" "$STORE" changes)"
	[ "$(nfiles "$MAIL")/$(nfiles "$MAIL/Sub")" = 2/2 ] &&
		ok "$SC: the mirror holds 2 + 2 files" ||
		fail "$SC: the mirror holds $(nfiles "$MAIL") + $(nfiles "$MAIL/Sub") files, expected 2 + 2"
	expect_check
	fake_stop
}

# A move by UID COPY bound by COPYUID downloads nothing, in that pass or
# the next.
move_start movedone
pass normal
grep -q ' 0 new, .* 1 moved, ' "$WORK/$SC.out" && ok "$SC: $(cat "$WORK/$SC.out")" ||
	fail "$SC: want 0 new and 1 moved: $(cat "$WORK/$SC.out")"
pass normal
grep -q '^BODY ' "$WORK/cmds" && fail "$SC: bodies downloaded: $(grep '^BODY ' "$WORK/cmds" | tr '\n' ' ')" ||
	ok "$SC: no body downloaded"
move_expect "moved" "UID COPY"

# Moves both ways (INBOX 2 -> Sub, Sub 5 -> INBOX): one destination is
# synced before its source, the other after; both are bound by COPYUID,
# nothing is downloaded.
move_start movecycle UIDPLUS Sub 5
f="$(mfile "$MAIL/Sub" 5)"
[ -n "$f" ] && mv "$f" "$MAIL/cur/" || fail "$SC: no mirror file for Sub 5"
pass normal
pass normal
grep -q '^BODY ' "$WORK/cmds" && fail "$SC: bodies downloaded: $(grep '^BODY ' "$WORK/cmds" | tr '\n' ' ')" ||
	ok "$SC: no body downloaded"
expect_uids "INBOX" "1 3 4 " INBOX
expect_uids "Sub" "6 " Sub
[ "$(nfiles "$MAIL")/$(nfiles "$MAIL/Sub")" = 3/1 ] && ok "$SC: the mirror holds 3 + 1 files" ||
	fail "$SC: the mirror holds $(nfiles "$MAIL") + $(nfiles "$MAIL/Sub") files, expected 3 + 1"
[ -z "$("$STOREDUMP" "$STORE" changes)" ] && ok "$SC: nothing pending" || fail "$SC: changes pending"
expect_check
fake_stop

# The tagged replies of a flag change's UID STORE and of the move's UID
# COPY pipelined behind it (a reader flagged INBOX 1 too) come in the
# other order.
move_start reorder
f="$(mfile "$MAIL" 1)"
[ -n "$f" ] && mv "$f" "${f%:2,*}:2,FS" || fail "$SC: no mirror file for INBOX 1"
pass reorder
grep -q '^REORDERED$' "$WORK/cmds" && ok "$SC: a STORE answered after the next command" ||
	fail "$SC: nothing was answered out of order"
move_expect "replies out of order" "UID COPY"

# kill -9 after the server took the UID COPY of a move and before the
# source was expunged: the copy's record (bound by COPYUID) must be
# durable by then, or the next pass, which syncs the source before the
# destination, copies the message a second time.
move_start movekill
pass_killed copyhang COPIED
pass normal
pass normal
move_expect "after the kill" "UID COPY"

# The connection cut after the server made the copy and before its reply
# (COPYUID) came: the destination is synced before the source in the next
# pass (it is a pending move's destination), so the retry finds the copy
# by its body instead of copying again.
move_start copybye
pass copybye
pass normal
pass normal
move_expect "after the cut COPY" "UID COPY"

# The expunge of the source refused after the copy: the move stays
# pending, and the retry removes the source without copying again.
move_start moveexpungeno
pass expungeno
n="$("$STOREDUMP" "$STORE" changes | awk '$2 == "kind=4"' | wc -l)"
[ "$n" = 1 ] && ok "$SC: the move stays pending" || fail "$SC: $n MOVEs pending, expected 1"
pass normal
move_expect "after the retry" "UID COPY"

# COPY refused: the move stays pending and is done by the next pass.
move_start copyno
pass copyno
expect_uids "a refused COPY keeps the source" "1 2 3 " INBOX
pass normal
move_expect "after the retry"

# COPYUID that cannot be taken (another UIDVALIDITY, two UIDs for one):
# no record is bound; the destination fetches the copy instead.
for mode in copyuidother copyuidmulti; do
	move_start "$mode"
	pass "$mode"
	pass normal
	move_expect "$mode"
done

# UID MOVE done on the server, connection closed before its tagged OK
# (after the untagged COPYUID): the next pass finds the source expunged
# and fetches the copy; nothing moves twice.
move_start movebye "UIDPLUS MOVE"
pass movebye
pass normal
pass normal
move_expect "after the cut MOVE" "UID MOVE"

# A move into a folder the reader created in the mirror: CREATE, then the
# move (no COPYUID for a folder never selected: fetched there).
move_start movenew "UIDPLUS MOVE" Projects
pass normal
grep -q '^CREATE$' "$WORK/cmds" && ok "$SC: CREATE sent" || fail "$SC: no CREATE"
pass normal
expect_uids "the message is in the new folder" "1 " Projects
expect_uids "and gone from the source" "1 3 " INBOX
[ "$(nfiles "$MAIL/Projects")/$(nfiles "$MAIL")" = 1/2 ] && ok "$SC: mirror 1 + 2 files" ||
	fail "$SC: the mirror holds $(nfiles "$MAIL/Projects") + $(nfiles "$MAIL") files, expected 1 + 2"
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $n changes pending"
expect_check
fake_stop

# direction = pull with a mirror: a reader's new folder and moves (into
# it and into Sub) write nothing to the server.
DIRECTION=pull move_start movepull "UIDPLUS MOVE" Projects
f="$(mfile "$MAIL" 3)"
[ -n "$f" ] && mv "$f" "$MAIL/Sub/cur/" || fail "$SC: no mirror file for INBOX 3"
pass normal
pass normal
if grep -qE '^(APPEND|STORE|UID STORE|EXPUNGE|UID EXPUNGE|COPY|UID COPY|MOVE|UID MOVE|DELETE|CREATE|RENAME)$' "$WORK/cmds"; then
	fail "$SC: commands that change the server: $(sort -u "$WORK/cmds" | tr '\n' ' ')"
else
	ok "$SC: no command changed the server ($(sort -u "$WORK/cmds" | tr '\n' ' '))"
fi
expect_uids "the source keeps its messages" "1 2 3 " INBOX
fake_stop

# The destination already holds a message with the same bytes (the same
# mail filed twice; the fake's Sub UID 2 has INBOX UID 2's body): with
# MOVE, a move is not taken for done by an earlier attempt; both copies
# end up there, in the store and the mirror, and nothing stays pending.
move_start dupbody "UIDPLUS MOVE" Sub 2
pass normal
pass normal
expect_uids "both copies in the destination" "2 3 " Sub
expect_uids "gone from the source" "1 3 " INBOX
[ "$(nfiles "$MAIL")/$(nfiles "$MAIL/Sub")" = 2/2 ] && ok "$SC: the mirror holds 2 + 2 files" ||
	fail "$SC: the mirror holds $(nfiles "$MAIL") + $(nfiles "$MAIL/Sub") files, expected 2 + 2"
n="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$n" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $n changes pending: $("$STOREDUMP" "$STORE" changes)"
expect_check
fake_stop

# A reader's move between two folders that share a UIDVALIDITY (Cyrus
# and Courier give folders created in the same second the same one): the
# moved file's name must not read as an expunged record of the
# destination, or the move becomes a deletion (the message expunged on
# the server, its file removed: lost everywhere; fixed in the mirror by
# d3b49db).
SUB_UV=7 move_start sameuv "UIDPLUS MOVE"
pass normal
pass normal
move_expect "a move between folders with the same UIDVALIDITY" "UID MOVE"

# --- folders gone from the server (tombstones, with a mirror) -----------

# restart_with ARGS...: the fake server again with other mailboxes, and
# the scenario's config pointed at it (same store and mirror).
restart_with()
{
	fake_stop
	fake_start "$@"
	DIRECTION=both MIRROR=1 scenario "$SC"
}

# A pending move out of a folder that then goes from the server: the
# reader's file becomes a new message where it was moved to.
fake_start --box INBOX:1 --box Sub:1,2,3 --uidvalidity Sub:8
DIRECTION=both MIRROR=1 scenario gonesrc
pass normal
f="$(mfile "$MAIL/Sub" 2)"
[ -n "$f" ] && mv "$f" "$MAIL/cur/" || fail "$SC: no mirror file for Sub 2"
restart_with --box INBOX:1
pass normal
pass normal
expect_uids "the moved message is appended where the reader put it" "1 2 " INBOX
[ "$(nfiles "$MAIL")" = 2 ] && ok "$SC: 2 files in the mirror's INBOX" ||
	fail "$SC: $(nfiles "$MAIL") files in the mirror's INBOX, expected 2"
expect_check
fake_stop

# A pending move into a folder that goes from the server, the reader's
# file still in its Maildir: the reader wants the folder, so it is created
# again and the move done (mirror.h: a tombstone's Maildir with a reader's
# files).  The export's own file of Sub goes first, then the next scan
# takes the Maildir for the reader's.
fake_start --caps UIDPLUS --box INBOX:1,2,3 --box Sub:1 --uidvalidity Sub:8
DIRECTION=both MIRROR=1 scenario gonedest
pass normal
f="$(mfile "$MAIL" 2)"
[ -n "$f" ] && mv "$f" "$MAIL/Sub/cur/" || fail "$SC: no mirror file for INBOX 2"
restart_with --caps UIDPLUS --box INBOX:1,2,3 --uidvalidity Sub:9
: > "$WORK/cmds"
pass normal
grep -qE '^(UID STORE|UID EXPUNGE|UID COPY|UID MOVE|CREATE)$' "$WORK/cmds" &&
	fail "$SC: commands that change the server while the export's file is there: $(sort -u "$WORK/cmds" | tr '\n' ' ')" ||
	ok "$SC: no command changed the server while the export's file was there"
pass normal
grep -q "to be created on the server again" "$WORK/$SC.err" &&
	ok "$SC: the scan takes Sub for the reader's" ||
	fail "$SC: Sub is not to be created again: $(tail -5 "$WORK/$SC.err")"
grep -qx 'CREATE' "$WORK/cmds" && ok "$SC: Sub created again" ||
	fail "$SC: no CREATE: $(sort -u "$WORK/cmds" | tr '\n' ' ')"
pass normal
expect_uids "the source gave the message up" "1 3 " INBOX
[ "$(uids t Sub | wc -w)" = 1 ] && ok "$SC: Sub holds the moved message" ||
	fail "$SC: Sub holds UIDs '$(uids t Sub)'"
[ "$(nfiles "$MAIL/Sub")" = 1 ] && ok "$SC: one file in the mirror's Sub" ||
	fail "$SC: $(nfiles "$MAIL/Sub") files in the mirror's Sub, expected 1"
expect_check
fake_stop

# The same with the reader's file gone too (they removed the Maildir): the
# move is dropped, the message gets its file back in INBOX, and nothing
# is deleted on the server.
fake_start --box INBOX:1,2,3 --box Sub:1 --uidvalidity Sub:8
DIRECTION=both MIRROR=1 scenario gonedest2
pass normal
f="$(mfile "$MAIL" 2)"
[ -n "$f" ] && mv "$f" "$MAIL/Sub/cur/" || fail "$SC: no mirror file for INBOX 2"
restart_with --box INBOX:1,2,3
pass normal
rm -rf "$MAIL/Sub"
: > "$WORK/cmds"
pass normal
grep -q "the move to Sub is dropped" "$WORK/$SC.err" &&
	ok "$SC: the move is dropped" ||
	fail "$SC: the move is not dropped: $(tail -5 "$WORK/$SC.err")"
pass normal
[ -n "$(mfile "$MAIL" 2)" ] && ok "$SC: INBOX 2 has its file again" ||
	fail "$SC: no file for INBOX 2"
expect_uids "the source keeps the message" "1 2 3 " INBOX
grep -qE '^(UID STORE|UID EXPUNGE|UID COPY|UID MOVE|CREATE)$' "$WORK/cmds" &&
	fail "$SC: commands that change the server: $(sort -u "$WORK/cmds" | tr '\n' ' ')" ||
	ok "$SC: no command changed the server"
"$STOREDUMP" "$STORE" changes 2>/dev/null | grep -q . &&
	fail "$SC: changes still pending: $("$STOREDUMP" "$STORE" changes)" ||
	ok "$SC: no change pending"
expect_check
fake_stop

# A tombstone the server lists again starts from nothing, also when the
# server re-creates it under the same UIDVALIDITY with UIDs from 1.
for uv in 9 8; do
	fake_start --box INBOX:1 --box Sub:1,2,3 --uidvalidity Sub:8
	DIRECTION=both MIRROR=1 scenario "revive$uv"
	pass normal
	restart_with --box INBOX:1
	pass normal
	"$STOREDUMP" "$STORE" folders | grep -q "	Sub	" && ok "$SC: a tombstone" ||
		fail "$SC: Sub is gone from the store"
	restart_with --box INBOX:1 --box Sub:1,2,3,4,5 --uidvalidity Sub:$uv
	pass normal
	expect_uids "re-created with UIDVALIDITY $uv" "1 2 3 4 5 " Sub
	[ "$(nfiles "$MAIL/Sub")" = 5 ] && ok "$SC: 5 files in the mirror" ||
		fail "$SC: $(nfiles "$MAIL/Sub") files in the mirror's Sub, expected 5"
	expect_check
	fake_stop
done

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all fault scenarios passed"
