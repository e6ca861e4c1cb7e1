#!/bin/bash
# The IMAP sync engine against a real Dovecot, driven through
# `mailsyncd --once` as a user runs it: initial sync (byte-exact, flags,
# a non-ASCII and a nested folder), server-side changes (new, flags,
# expunge), local changes through the test hook (flags, delete, append),
# a flag changed on both sides, and a no-change pass that selects nothing.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both
mailfill "$MS_USER1" 300 >/dev/null || exit 1
# mailfill: INBOX, Sent, Archive, Lists/dev, Lists/announce, Ünïcödé; Dovecot
# also has Drafts, Trash and Junk: 9 selectable folders.

# --- initial ---------------------------------------------------------------
if is_sync; then ok "initial sync: $(cat "$WORK/out")"; else fail "initial sync: $(cat "$WORK/err")"; fi
grep -q '^t: 9 folders, 300 new, 0 changed, 0 deleted, ' "$WORK/out" ||
	fail "initial summary: $(cat "$WORK/out")"
is_compare "initial"
for f in 'Ünïcödé' 'Lists/dev' INBOX Sent Archive 'Lists/announce'; do
	n="$(is_store_msgs | awk -F'\t' -v f="$f" '$1 == f' | wc -l)"
	[ "$n" -eq 50 ] && ok "folder $f: 50 messages" || fail "folder $f: $n messages, want 50"
done
"$STOREDUMP" "$STORE" folders | grep -q $'^t\tLists\t' && fail "the \\Noselect parent Lists became a folder"

# --- no change: no folder selected ---------------------------------------------
"$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace" || fail "no-change sync: $(tail -3 "$WORK/trace")"
if grep -E 'SELECT|EXAMINE' "$WORK/trace" | grep -v '^#' | grep -q .; then
	fail "no-change pass selected a folder: $(grep -E 'SELECT|EXAMINE' "$WORK/trace" | head -3)"
else
	ok "no-change pass selects no folder: $(cat "$WORK/out")"
fi
grep -q 'LIST' "$WORK/trace" || fail "the -v trace shows no LIST (is the trace on?)"
grep -q '^t: 9 folders, 0 new, 0 changed, 0 deleted, ' "$WORK/out" ||
	fail "no-change summary: $(cat "$WORK/out")"

# --- server-side changes --------------------------------------------------------
CORPUS="$(ms_corpus_dir)"
mapfile -t files < <(find "$CORPUS" -type f -name '*.eml' | sort | head -5)
[ "${#files[@]}" -ge 3 ] || mapfile -t files < <(find "$CORPUS" -type f | sort | head -5)
mailmutate_add "$MS_USER1" INBOX "${files[@]:0:3}" >/dev/null
mailmutate_flags "$MS_USER1" Sent add 1:5 '\Flagged' >/dev/null
mailmutate_flags "$MS_USER1" Archive remove 1:50 '\Seen' >/dev/null
mailmutate_expunge "$MS_USER1" 'Lists/dev' 10:14 >/dev/null
if is_sync; then ok "incremental: $(cat "$WORK/out")"; else fail "incremental: $(cat "$WORK/err")"; fi
grep -q '^t: 9 folders, 3 new, ' "$WORK/out" || fail "incremental: want 3 new: $(cat "$WORK/out")"
grep -q ' 5 deleted, ' "$WORK/out" || fail "incremental: want 5 deleted: $(cat "$WORK/out")"
is_compare "incremental"

# --- local changes reach the server -----------------------------------------------
"$STOREDUMP" "$STORE" flag t INBOX 2 +'\Flagged' +'$Junk' || fail "hook: flag"
"$STOREDUMP" "$STORE" flag t Sent 1 -'\Flagged' || fail "hook: flag"
"$STOREDUMP" "$STORE" delete t 'Ünïcödé' 3 || fail "hook: delete"
"$STOREDUMP" "$STORE" append t Archive "${files[3]:-${files[0]}}" || fail "hook: append"
if is_sync; then ok "push: $(cat "$WORK/out")"; else fail "push: $(cat "$WORK/err")"; fi
is_server_msgs --folder INBOX | awk -F'\t' '$2 == 2' | grep -q $'\t\\\\Flagged \\$Junk\t\|\t\\\\Seen \\\\Flagged \\$Junk\t' ||
	fail "INBOX 2 on the server lacks \\Flagged \$Junk: $(is_server_msgs --folder INBOX | awk -F'\t' '$2 == 2')"
is_server_msgs --folder Sent | awk -F'\t' '$2 == 1' | grep -q 'Flagged' &&
	fail "Sent 1 still \\Flagged on the server"
is_server_msgs --folder 'Ünïcödé' | awk -F'\t' '$2 == 3' | grep -q . &&
	fail "Ünïcödé 3 still on the server"
# IMAP wants CRLF: the message goes out (and is stored) with CRLF line ends.
want_hash="$(perl -pe 's/(?<!\r)\n/\r\n/' < "${files[3]:-${files[0]}}" | sha256sum | cut -d' ' -f1)"
is_server_msgs --folder Archive | grep -q "$want_hash" || fail "appended message not on the server"
pending="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$pending" = 0 ] && ok "no pending change left" || fail "$pending changes still pending"
is_compare "after push"
"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" || fail "pass after push: $(cat "$WORK/err")"
is_compare "pass after push"

# --- a flag changed on both sides ------------------------------------------------
# Local: +\Flagged on INBOX 4; server: +\Answered on INBOX 4 and -\Seen on 5
# while local sets \Seen on 5 (the last agreed state had \Seen? see below).
"$STOREDUMP" "$STORE" flag t INBOX 4 +'\Flagged' || fail "hook: flag"
mailmutate_flags "$MS_USER1" INBOX add 4 '\Answered' >/dev/null
mailmutate_flags "$MS_USER1" INBOX add 6 '\Draft' >/dev/null
"$STOREDUMP" "$STORE" flag t INBOX 6 +'\Draft' || fail "hook: flag"
if is_sync; then ok "merge: $(cat "$WORK/out")"; else fail "merge: $(cat "$WORK/err")"; fi
line="$(is_server_msgs --folder INBOX | awk -F'\t' '$2 == 4')"
[[ "$line" == *'\Answered'* && "$line" == *'\Flagged'* ]] &&
	ok "both sides' changes kept: $(cut -f3 <<<"$line")" || fail "merge lost a side: $line"
line="$(is_server_msgs --folder INBOX | awk -F'\t' '$2 == 6')"
[[ "$line" == *'\Draft'* ]] && ok "same change on both sides: kept once" || fail "INBOX 6: $line"
is_compare "after merge"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
