#!/bin/bash
# The fallbacks, against a Dovecot whose advertised capabilities are cut
# down (imap_capability overridden), no LIST-STATUS and no COMPRESS in
# either variant:
#   plain:     no QRESYNC, no CONDSTORE: LIST then STATUS per folder, the
#              UID FETCH 1:n (FLAGS) diff on every folder every pass
#   condstore: CONDSTORE without QRESYNC: UID FETCH (CHANGEDSINCE m),
#              UIDs diffed only when the message counts disagree
# Same content checks as with everything on.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

# Deletions are expunged (what the counts below expect).
is_sync_setup both "local_delete = expunge"
BASE_CAPS="IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS NAMESPACE CHILDREN UNSELECT SPECIAL-USE MOVE"
cp "$MS_DOVECOT_CONF" "$WORK/dovecot.conf.orig"
mapfile -t files < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -3)
sent_cmds() { grep -oE ' C: A[0-9]+ [A-Z]+' "$WORK/trace" | awk '{ print $3 }'; }
vsync()
{
	"$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace"
}

variant()
{
	local name="$1" caps="$2" user_fill="$3" o="$4"
	cp "$WORK/dovecot.conf.orig" "$MS_DOVECOT_CONF"
	cat >> "$MS_DOVECOT_CONF" <<EOC
protocol imap {
  imap_capability = $caps
}
EOC
	dovecot_restart >/dev/null || exit 1
	rm -rf "$STORE"
	[ -n "$user_fill" ] && { mailfill "$MS_USER1" 300 >/dev/null || exit 1; }

	vsync && ok "$name: initial: $(cat "$WORK/out")" ||
		fail "$name: initial: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
	sent_cmds | grep -qx STATUS && ok "$name: STATUS per folder (no LIST-STATUS)" ||
		fail "$name: no STATUS sent"
	grep -qE ' C: A[0-9]+ COMPRESS' "$WORK/trace" && fail "$name: COMPRESS sent"
	grep -qE ' C: A[0-9]+ ENABLE QRESYNC' "$WORK/trace" && fail "$name: ENABLE QRESYNC sent"
	is_compare "$name: initial"
	# Settle (first pass wrote the modseqs), then change both sides.
	vsync || fail "$name: settle"
	# UIDs offset by o, so the second variant changes other messages.
	mailmutate_flags "$MS_USER1" INBOX add $((o + 1)):$((o + 10)) '\Flagged' >/dev/null
	mailmutate_flags "$MS_USER1" Archive remove $((o + 1)):$((o + 20)) '\Seen' >/dev/null
	mailmutate_expunge "$MS_USER1" Sent $((o + 3)):$((o + 7)) >/dev/null
	mailmutate_add "$MS_USER1" Archive "${files[@]}" >/dev/null
	"$STOREDUMP" "$STORE" flag t 'Lists/dev' $((o + 2)) +'\Answered' || fail "hook"
	"$STOREDUMP" "$STORE" delete t 'Ünïcödé' $((o + 4)) || fail "hook"
	vsync && ok "$name: incremental: $(cat "$WORK/out")" ||
		fail "$name: incremental: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
	grep -qE ' 3 new, [1-9][0-9]* changed, 6 deleted' "$WORK/out" ||
		fail "$name: want 3 new, some changed, 6 deleted: $(cat "$WORK/out")"
	is_compare "$name: incremental"
	is_server_msgs --folder 'Lists/dev' | awk -F'\t' -v u=$((o + 2)) '$2 == u' | grep -q 'Answered' ||
		fail "$name: local flag not pushed"
	is_server_msgs --folder 'Ünïcödé' | awk -F'\t' -v u=$((o + 4)) '$2 == u' | grep -q . &&
		fail "$name: local delete not pushed"
	vsync || fail "$name: settle"
	vsync || fail "$name: no-change pass"
	echo "$(sent_cmds | tr '\n' ' ')" > "$WORK/cmds.$name"
	is_compare "$name: no-change"
}

# --- no modseqs ------------------------------------------------------------------
variant plain "$BASE_CAPS" fill 0
grep -qE ' C: A[0-9]+ UID FETCH 1:[0-9]+ \(UID FLAGS\)' "$WORK/trace" &&
	ok "plain: flag diff by UID FETCH 1:n (UID FLAGS)" || fail "plain: no flag diff FETCH"
# Without modseqs a flag change leaves STATUS as it was, so every folder is
# selected and diffed (and nothing changes).
n_sel="$(sent_cmds | grep -cx SELECT)"
[ "$n_sel" = 9 ] && grep -q ' 0 new, 0 changed, 0 deleted, ' "$WORK/out" &&
	ok "plain: no-change pass diffs all 9 folders, changes nothing: $(cat "$WORK/out")" ||
	fail "plain: no-change pass: $n_sel SELECTs: $(cat "$WORK/out")"

# --- CONDSTORE without QRESYNC ------------------------------------------------------
variant condstore "$BASE_CAPS CONDSTORE" "" 20
n_sel="$(sent_cmds | grep -cx SELECT)"
[ "$n_sel" = 0 ] && ok "condstore: no-change pass selects nothing: $(cat "$WORK/out")" ||
	fail "condstore: no-change pass: $n_sel SELECTs"
# The incremental pass of this variant, replayed for its trace: CHANGEDSINCE.
mailmutate_flags "$MS_USER1" INBOX add 11:12 '\Flagged' >/dev/null
mailmutate_expunge "$MS_USER1" INBOX 13 >/dev/null
vsync && ok "condstore: flags + expunge: $(cat "$WORK/out")" || fail "condstore: pass"
grep -qE ' C: A[0-9]+ UID FETCH 1:[0-9]+ \(UID FLAGS MODSEQ\) \(CHANGEDSINCE [0-9]+\)' "$WORK/trace" &&
	ok "condstore: UID FETCH ... (CHANGEDSINCE m)" || fail "condstore: no CHANGEDSINCE in the trace"
grep -qE ' C: A[0-9]+ UID FETCH 1:[0-9]+ \(UID\)$' "$WORK/trace" &&
	ok "condstore: an expunge made the counts differ: UIDs diffed" || fail "condstore: no UID diff after an expunge"
grep -q ' 1 deleted, ' "$WORK/out" || fail "condstore: want 1 deleted: $(cat "$WORK/out")"
is_compare "condstore: flags + expunge"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
