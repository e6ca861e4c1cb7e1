#!/bin/bash
# The sync engine against the scripted IMAP server
# (tests/data/sync/fake_imap_sync.py), for the faults of a review of the
# engine: a UIDVALIDITY reset whose re-fetch leaves a gap, folders missing
# from one LIST, two messages with one UID, the top of the UID range,
# sparse UID spaces, and LIST and APPENDUID/COPYUID a server gets wrong.
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"

# n_changes [KIND]: pending changes (of kind=KIND).
n_changes() { "$STOREDUMP" "$STORE" changes | awk -v k="${1:-}" 'k == "" || $2 == "kind=" k' | wc -l; }
# n_cmds CMD: how many CMD the server received since the log was emptied.
n_cmds() { grep -c "^$1\$" "$WORK/cmds"; }
# hash_is FOLDER UID SERVER_UID: the stored body of FOLDER UID is the
# fake server's generated body of SERVER_UID.
hash_is()
{
	local got want
	got="$("$STOREDUMP" "$STORE" msgs t "$1" | awk -F'\t' -v u="$2" '$2 == u { print $5 }')"
	want="$(echo "x $3" | "$MS_PYTHON" -B -c "$BODIES_PY" "$FAKE" | awk '{ print $3 }')"
	[ -n "$got" ] && [ "$got" = "$want" ]
}
# is_tombstone FOLDER: the store holds FOLDER as a tombstone
# (STORE_FOLDER_GONE).
is_tombstone()
{
	local a
	a="$("$STOREDUMP" "$STORE" folders | awk -F'\t' -v f="$1" '$2 == f { sub("attrs=", "", $8); print $8 }')"
	[ -n "$a" ] && (( a & 0x400 ))
}
# restart_with_box ARGS...: the fake server again with other mailboxes,
# the scenario's config pointed at it (same store and mirror).
restart_with_box() { fake_stop; fake_start "$@"; DIRECTION=both MIRROR=1 scenario "$SC"; }

# --- 1. UIDVALIDITY reset whose re-fetch leaves a gap ---------------------

# The new UIDVALIDITY's fetch misses UID 2 (a FETCH without UID): the
# parked copy of UID 2 must not be appended, the server still has it.
# The same when UIDNEXT goes backwards (a lagging replica).  The messages
# have no Message-ID: only their content re-matches them.
export FAKE_IMAP_NO_MSGID=1
for sc in uvgap:newuv+nouid:newuv uvback:uidnextback+nouid:normal; do
	IFS=: read -r name fault after <<< "$sc"
	fake_start --box INBOX:1,2,3
	DIRECTION=both scenario "$name"
	pass normal
	: > "$WORK/cmds"
	pass "$fault"
	grep -qE 'UIDVALIDITY changed|UIDNEXT went backwards' "$WORK/$SC.err" &&
		ok "$SC: the reset is logged" || fail "$SC: no reset: $(tail -3 "$WORK/$SC.err")"
	[ "$(n_cmds APPEND)" = 0 ] && ok "$SC: nothing appended after a re-fetch with a gap" ||
		fail "$SC: $(n_cmds APPEND) APPENDs of parked messages the server has"
	[ "$(n_changes 3)" = 1 ] && ok "$SC: the one not re-matched stays parked" ||
		fail "$SC: $(n_changes 3) parked APPENDs, expected 1"
	pass "$after"
	[ "$(n_cmds APPEND)" = 0 ] && ok "$SC: nothing appended after the complete re-fetch" ||
		fail "$SC: $(n_cmds APPEND) APPENDs"
	expect_uids "the folder is whole" "1 2 3 "
	[ "$(n_changes)" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $(n_changes) changes pending"
	expect_bodies
	expect_check
	fake_stop
done
unset FAKE_IMAP_NO_MSGID

# --- 2. a folder missing from one LIST ------------------------------------

# sub_start SC [flag]: INBOX and Sub on the fake server, a mirror
# scenario synced once; with "flag", a pending flag change on Sub 1.
sub_start()
{
	fake_start --box INBOX:1 --box Sub:1,2
	DIRECTION=both MIRROR=1 scenario "$1"
	pass normal
	[ -z "${2:-}" ] || "$STOREDUMP" "$STORE" flag t Sub 1 +\\Flagged >/dev/null ||
		fail "$SC: storedump flag"
}

# LIST leaves Sub out, STATUS shows it exists: nothing of it is dropped.
sub_start listmiss flag
pass listmiss
pass listmiss
is_tombstone Sub && fail "$SC: Sub made a tombstone" || ok "$SC: Sub is no tombstone"
expect_uids "Sub keeps its records" "1 2 " Sub
[ "$(n_changes 1)" = 1 ] && ok "$SC: the pending flag change is kept" ||
	fail "$SC: $(n_changes 1) pending flag changes, expected 1"
[ "$(find "$MAIL/Sub/cur" "$MAIL/Sub/new" -type f | wc -l)" = 2 ] &&
	ok "$SC: the mirror keeps Sub's files" || fail "$SC: Sub's files removed"
: > "$WORK/cmds"
pass normal
[ "$(n_cmds 'UID STORE')" = 1 ] && ok "$SC: the flag is pushed once Sub is listed" ||
	fail "$SC: $(n_cmds 'UID STORE') UID STOREs"
[ "$(n_changes)" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $(n_changes) changes pending"
expect_check
fake_stop

# Sub really gone, STATUS answers NO [NONEXISTENT]: a tombstone at once,
# and the pending change it drops is logged.
sub_start gonesure flag
restart_with_box --box INBOX:1
pass normal
is_tombstone Sub && ok "$SC: NONEXISTENT: Sub is a tombstone" || fail "$SC: Sub is no tombstone"
grep -q 'folder=Sub .*dropped.* 1 flag change' "$WORK/$SC.err" && ok "$SC: the dropped change is logged" ||
	fail "$SC: the dropped change is not logged: $(grep Sub "$WORK/$SC.err")"
pass normal
expect_check
fake_stop

# STATUS answers a plain NO: the folder goes after the second pass that
# does not list it.
sub_start gonetwice
restart_with_box --box INBOX:1
pass statusno
is_tombstone Sub && fail "$SC: a tombstone after one pass" || ok "$SC: kept after one pass"
expect_uids "Sub keeps its records" "1 2 " Sub
pass statusno
is_tombstone Sub && ok "$SC: a tombstone after the second pass" || fail "$SC: Sub is no tombstone"
pass normal
expect_check
fake_stop

# --- 7. two messages with one UID -----------------------------------------

fake_start --box INBOX:1,2,3
scenario dupuid
pass dupuid
[ "$RC" = 1 ] && ok "$SC: the pass reports a failure" || fail "$SC: exit $RC"
grep -q 'folder=INBOX uid=2 .*server fault' "$WORK/$SC.err" && ok "$SC: the server's fault is logged" ||
	fail "$SC: not logged: $(tail -3 "$WORK/$SC.err")"
grep -q '1 folder failed' "$WORK/$SC.err" && ok "$SC: as a folder error" ||
	fail "$SC: no folder error: $(tail -1 "$WORK/$SC.err")"
expect_uids "what was stored is kept" "1 2 3 "
expect_uidnext_le "the watermark stops before the ambiguity" 2
hash_is INBOX 2 2 && ok "$SC: UID 2 is the first message" || fail "$SC: UID 2 replaced"
pass normal
[ "$RC" = 0 ] && ok "$SC: a correct pass succeeds" || fail "$SC: exit $RC"
expect_uids "the next pass completes" "1 2 3 "
[ "$(uidnext)" = 4 ] && ok "$SC: uidnext 4" || fail "$SC: uidnext $(uidnext)"
expect_bodies
expect_check
fake_stop

# --- 8. the top of the UID range ------------------------------------------

fake_start --box INBOX:1,4294967295 --uidnext INBOX:4294967295 --box Sub:1
scenario uidtop
pass normal
[ "$RC" = 0 ] && ok "$SC: UID 4294967295 stored" || fail "$SC: exit $RC: $(tail -2 "$WORK/$SC.err")"
expect_uids "both messages" "1 4294967295 "
[ "$(uidnext)" = 4294967295 ] && ok "$SC: the watermark stays at the top" ||
	fail "$SC: uidnext $(uidnext)"
for i in 1 2; do
	pass normal
	[ "$RC" = 0 ] && ok "$SC: later pass $i succeeds" ||
		fail "$SC: later pass $i: exit $RC: $(tail -2 "$WORK/$SC.err")"
done
expect_uids "the messages stay" "1 4294967295 "
expect_bodies
expect_check

# STATUS or SELECT with UIDNEXT 4294967296 for Sub: that folder fails,
# INBOX syncs.
for SC in statusbig selectbig; do
	scenario "$SC"
	pass "$SC"
	grep -q '^t: ' "$WORK/$SC.out" && ok "$SC: the account does not fail" ||
		fail "$SC: the account failed: $(tail -2 "$WORK/$SC.err")"
	grep -q '1 folder failed' "$WORK/$SC.err" && ok "$SC: one folder error" ||
		fail "$SC: no folder error: $(tail -2 "$WORK/$SC.err")"
	grep -q 'folder=Sub .*4294967296' "$WORK/$SC.err" && ok "$SC: the fault is named" ||
		fail "$SC: the fault is not named"
	expect_uids "INBOX is synced" "1 4294967295 "
	expect_uids "Sub is not" "" Sub
done
fake_stop

# --- 9. sparse UID spaces --------------------------------------------------

# UIDNEXT near the top and four messages: a few commands, not millions.
fake_start --box INBOX:1,2,3,4000000000 --uidnext INBOX:4294967290
scenario sparse
: > "$WORK/cmds"
PASS_TIMEOUT=20 pass normal
[ "$RC" = 0 ] && ok "$SC: the pass ends" || fail "$SC: exit $RC"
expect_uids "every message" "1 2 3 4000000000 "
n="$(n_cmds 'UID FETCH')"
[ "$n" -le 4 ] && ok "$SC: $n UID FETCH commands" || fail "$SC: $n UID FETCH commands"
[ "$(uidnext)" = 4294967290 ] && ok "$SC: uidnext 4294967290" || fail "$SC: uidnext $(uidnext)"
expect_bodies
expect_check
fake_stop

# 1,000 messages spread over 10 million UIDs: ranges of existing UIDs.
fake_start --box INBOX:$(seq -s, 1 10000 9990001)
scenario sparsemany
: > "$WORK/cmds"
PASS_TIMEOUT=30 pass normal
[ "$RC" = 0 ] && ok "$SC: the pass ends" || fail "$SC: exit $RC"
[ "$(uids | wc -w)" = 1000 ] && ok "$SC: 1000 stored" || fail "$SC: $(uids | wc -w) stored"
n="$(n_cmds 'UID FETCH')"
[ "$n" -le 12 ] && ok "$SC: $n UID FETCH commands" || fail "$SC: $n UID FETCH commands"
[ "$(awk '$1 == "BODY"' "$WORK/cmds" | wc -l)" = 1000 ] && ok "$SC: each body once" ||
	fail "$SC: $(awk '$1 == "BODY"' "$WORK/cmds" | wc -l) bodies sent"
expect_bodies
expect_check
fake_stop

# A dense folder: no search, the ranges as before.
fake_start --box INBOX:$(seq -s, 1 1000)
scenario dense
: > "$WORK/cmds"
pass normal
expect_uidnext_le "all fetched" 1001
[ "$(uids | wc -w)" = 1000 ] && ok "$SC: 1000 stored" || fail "$SC: $(uids | wc -w) stored"
[ "$(n_cmds 'UID SEARCH')" = 0 ] && ok "$SC: no UID SEARCH" || fail "$SC: a UID SEARCH"
fake_stop

# --- 11. LIST and APPENDUID/COPYUID a server gets wrong ---------------------

fake_start --box INBOX:1,2 --box Sub:1,2
scenario listdup
pass listdup
grep -q '^t: 2 folders' "$WORK/$SC.out" && ok "$SC: duplicate names merged" ||
	fail "$SC: $(cat "$WORK/$SC.out")"
expect_uids "Sub synced" "1 2 " Sub

scenario listflood
pass listflood
grep -q 'mailsyncd: t: .*more than [0-9]* folders' "$WORK/$SC.err" &&
	ok "$SC: a clear account error" || fail "$SC: no account error: $(tail -2 "$WORK/$SC.err")"

# APPENDUID naming UID 1, which the store holds: not overwritten; the
# appended message is fetched under its real UID.
DIRECTION=both scenario appenduiddup
pass normal
printf 'From: l@example.org\r\nSubject: local\r\n\r\nlocal\r\n' > "$WORK/local.eml"
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local.eml" >/dev/null || fail "$SC: storedump append"
pass appenduiddup
grep -q 'folder=INBOX .*APPENDUID.*server fault' "$WORK/$SC.err" && ok "$SC: logged" ||
	fail "$SC: not logged: $(tail -3 "$WORK/$SC.err")"
hash_is INBOX 1 1 && ok "$SC: UID 1 keeps its message" || fail "$SC: UID 1 overwritten"
pass normal
expect_uids "the appended message is fetched" "1 2 3 "
hash_is INBOX 1 1 && ok "$SC: UID 1 still its message" || fail "$SC: UID 1 overwritten"
[ "$(n_changes)" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $(n_changes) changes pending"
expect_check
fake_stop

# COPYUID of a move naming Sub's UID 1, which the store holds.
fake_start --caps UIDPLUS --box INBOX:1,2,3 --box Sub:1 --uidvalidity Sub:8
DIRECTION=both MIRROR=1 scenario copyuiddup
pass normal
f="$(find "$MAIL/cur" "$MAIL/new" -maxdepth 1 -type f -name '*-2-*' | head -1)"
[ -n "$f" ] && mv "$f" "$MAIL/Sub/cur/" || fail "$SC: no mirror file for INBOX 2"
pass copyuiddup
grep -q 'COPYUID.*server fault' "$WORK/$SC.err" && ok "$SC: logged" ||
	fail "$SC: not logged: $(tail -3 "$WORK/$SC.err")"
hash_is Sub 1 1 && ok "$SC: Sub UID 1 keeps its message" || fail "$SC: Sub UID 1 overwritten"
pass normal
expect_uids "the copy is fetched" "1 2 " Sub
hash_is Sub 1 1 && ok "$SC: Sub UID 1 still its message" || fail "$SC: Sub UID 1 overwritten"
hash_is Sub 2 2 && ok "$SC: Sub UID 2 is the moved message" || fail "$SC: Sub UID 2 wrong"
expect_uids "gone from INBOX" "1 3 " INBOX
[ "$(n_changes)" = 0 ] && ok "$SC: nothing pending" || fail "$SC: $(n_changes) changes pending"
expect_check
fake_stop

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all review scenarios passed"
