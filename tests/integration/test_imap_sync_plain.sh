#!/bin/bash
# The fallbacks, against a Dovecot that advertises neither QRESYNC nor
# CONDSTORE nor LIST-STATUS nor COMPRESS (imap_capability overridden):
# discovery by LIST then STATUS per folder, change detection by the UID
# FETCH 1:n (FLAGS) diff, no modseqs.  Same checks as with everything on.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both
CAPS="IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS NAMESPACE CHILDREN UNSELECT SPECIAL-USE MOVE"
cat >> "$MS_DOVECOT_CONF" <<EOC
protocol imap {
  imap_capability = $CAPS
}
EOC
dovecot_restart >/dev/null || exit 1
mailfill "$MS_USER1" 300 >/dev/null || exit 1

if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace"; then
	ok "initial (plain IMAP): $(cat "$WORK/out")"
else
	fail "initial: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
fi
sent_cmds() { grep -oE ' C: A[0-9]+ [A-Z]+' "$WORK/trace" | awk '{ print $3 }'; }
sent_cmds | grep -qx STATUS && ok "STATUS per folder (no LIST-STATUS)" || fail "no STATUS sent"
grep -qE ' C: A[0-9]+ (ENABLE|COMPRESS)' "$WORK/trace" && fail "ENABLE/COMPRESS sent to a server without them"
is_compare "initial (plain)"

mailmutate_flags "$MS_USER1" INBOX add 1:10 '\Flagged' >/dev/null
mailmutate_expunge "$MS_USER1" Sent 3:7 >/dev/null
mapfile -t files < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -3)
mailmutate_add "$MS_USER1" Archive "${files[@]}" >/dev/null
"$STOREDUMP" "$STORE" flag t 'Lists/dev' 2 +'\Answered' || fail "hook"
"$STOREDUMP" "$STORE" delete t 'Ünïcödé' 4 || fail "hook"
if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace"; then
	ok "incremental (plain): $(cat "$WORK/out")"
else
	fail "incremental: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
fi
grep -q ' 3 new, ' "$WORK/out" || fail "want 3 new: $(cat "$WORK/out")"
grep -qE ' C: A[0-9]+ UID FETCH 1:[0-9]+ \(UID FLAGS\)' "$WORK/trace" &&
	ok "flag diff by UID FETCH 1:n (UID FLAGS)" || fail "no flag diff FETCH in the trace"
is_compare "incremental (plain)"
is_server_msgs --folder 'Lists/dev' | awk -F'\t' '$2 == 2' | grep -q 'Answered' || fail "local flag not pushed"
is_server_msgs --folder 'Ünïcödé' | awk -F'\t' '$2 == 4' | grep -q . && fail "local delete not pushed"

is_sync || fail "settle: $(cat "$WORK/err")"
"$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace" || fail "no-change pass"
# Without modseqs a flag change leaves STATUS as it was, so every folder is
# selected and diffed (and nothing changes).
n_sel="$(sent_cmds | grep -cx SELECT)"
[ "$n_sel" = 9 ] && grep -q ' 0 new, 0 changed, 0 deleted, ' "$WORK/out" &&
	ok "no-change pass diffs all 9 folders, changes nothing: $(cat "$WORK/out")" ||
	fail "no-change pass: $n_sel SELECTs: $(cat "$WORK/out")"
is_compare "no-change (plain)"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
