#!/bin/bash
# CONDSTORE without UIDPLUS (Dovecot with its capabilities cut down): what
# the reader deletes stays on the server marked \Deleted (no UID EXPUNGE,
# and a plain EXPUNGE would take other clients' marked messages too), and
# the store forgets it.  The server's message count then includes those
# messages and the store's does not: every pass that selected the folder
# took that for an expunge CHANGEDSINCE does not tell and diffed all its
# UIDs (UID FETCH 1:n (UID)).  One UID SEARCH DELETED counts them instead;
# a real expunge is still found by the diff.
MS_DOVECOT_IMAP_CONF='imap_capability = IMAP4rev1 SASL-IR LITERAL+ ID ENABLE UNSELECT CHILDREN NAMESPACE LIST-EXTENDED CONDSTORE ESEARCH SPECIAL-USE'
export MS_DOVECOT_IMAP_CONF
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both "local_delete = expunge"
mailfill "$MS_USER1" 20 --folder INBOX >/dev/null || exit 1
mapfile -t files < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | tail -2)

# tsync WHAT: a traced pass; its client commands in $WORK/trace.
tsync()
{
	"$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace" ||
		fail "$1: exit $?: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
}
uid_diffs() { grep -cE ' C: A[0-9]+ UID FETCH 1:[0-9]+ \(UID\)$' "$WORK/trace"; }
searches() { grep -cE ' C: A[0-9]+ UID SEARCH DELETED$' "$WORK/trace"; }
stored() { "$STOREDUMP" "$STORE" msgs t INBOX | wc -l; }

tsync "initial"
grep -q 'CONDSTORE' "$WORK/trace" && ! grep -qE 'CAPABILITY.* UIDPLUS' "$WORK/trace" &&
	ok "the server offers CONDSTORE, not UIDPLUS" || fail "capabilities: $(grep -m1 CAPABILITY "$WORK/trace")"
tsync "settle"
[ "$(stored)" = 20 ] && ok "20 messages stored" || fail "$(stored) messages stored"

# The reader deletes two: marked \Deleted on the server, forgotten here.
for u in 3 7; do "$STOREDUMP" "$STORE" delete t INBOX "$u" || fail "delete $u"; done
tsync "push"
grep -qE ' C: A[0-9]+ UID STORE 3,7 .*Deleted' "$WORK/trace" &&
	! grep -qE ' C: A[0-9]+ (UID )?EXPUNGE' "$WORK/trace" &&
	ok "marked \\Deleted, never expunged" || fail "push: $(grep -E ' C: A[0-9]+ UID (STORE|EXPUNGE)' "$WORK/trace")"

# The pass after the push selects the folder (its HIGHESTMODSEQ moved):
# 18 stored, 20 on the server, 2 of them marked and forgotten.
tsync "after the push"
[ "$(uid_diffs)" = 0 ] && [ "$(searches)" = 1 ] &&
	ok "after the push: the marked messages counted, no UID diff" ||
	fail "after the push: $(uid_diffs) UID diff(s), $(searches) search(es)"
[ "$(stored)" = 18 ] && ok "18 stored" || fail "$(stored) stored"

# New mail: the folder is selected again; still no UID diff.
mailmutate_add "$MS_USER1" INBOX "${files[0]}" >/dev/null || fail "mailmutate_add"
tsync "new mail"
[ "$(uid_diffs)" = 0 ] && ok "new mail: no UID diff" || fail "new mail: $(uid_diffs) UID diff(s)"
grep -q ' 1 new, ' "$WORK/out" && [ "$(stored)" = 19 ] && ok "new mail: $(cat "$WORK/out")" ||
	fail "new mail: $(cat "$WORK/out"), $(stored) stored"

# Nothing changed: the folder is not even selected.
tsync "no change"
[ "$(uid_diffs)" = 0 ] && ! grep -qE ' C: A[0-9]+ SELECT' "$WORK/trace" &&
	ok "no change: nothing selected, no diff" || fail "no change: $(uid_diffs) UID diff(s)"

# Another client expunges a stored message: the counts disagree beyond
# the marked ones, and the diff finds it.
mailmutate_expunge "$MS_USER1" INBOX 10 >/dev/null || fail "mailmutate_expunge"
mailmutate_add "$MS_USER1" INBOX "${files[1]}" >/dev/null || fail "mailmutate_add"
tsync "expunge"
[ "$(uid_diffs)" = 1 ] && grep -q ' 1 deleted, ' "$WORK/out" &&
	ok "a real expunge: diffed, $(cat "$WORK/out")" ||
	fail "expunge: $(uid_diffs) UID diff(s): $(cat "$WORK/out")"
"$STOREDUMP" "$STORE" msgs t INBOX | awk -F'\t' '$2 == 10 || $2 == 3 || $2 == 7' | grep -q . &&
	fail "UID 3, 7 or 10 still stored" || ok "UIDs 3, 7 and 10 gone from the store"
[ "$(stored)" = 19 ] && ok "19 stored" || fail "$(stored) stored"
tsync "settled again"
[ "$(uid_diffs)" = 0 ] && ok "then no diff again" || fail "settled: $(uid_diffs) UID diff(s)"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
