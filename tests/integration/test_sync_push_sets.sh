#!/bin/bash
# A reader's edits in the Maildir mirror reach the server in a handful of
# commands, not one per change (sync_push.c): 300 messages flagged and 20
# flagged ones marked unread are two UID STOREs (one per distinct change), 30 deletions
# one \Deleted UID STORE and one UID EXPUNGE, 20 moves into Archive under
# new file names one UID MOVE, and a reader's new draft one APPEND that
# carries its flags (\Draft \Seen) and its Date header.  The -v trace of
# the pass is counted; the server is read from outside (imap_server_dump.py
# and mailclient.py) afterwards.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
# Deletions as \Deleted and UID EXPUNGE (local_delete = trash would move
# them to Trash in one UID MOVE).
printf 'local_delete = expunge\n' >> "$CFG"
mailfill "$MS_USER1" 600 --folder INBOX >/dev/null || exit 1
mailfill "$MS_USER1" 10 --folder Archive >/dev/null || exit 1

# cmds PATTERN: client lines of the pass's trace matching PATTERN.
cmds() { grep -cE " C: A[0-9]+ $1" "$WORK/err"; }
imap()
{
	"$MS_PYTHON" "$LIB/mailclient.py" "$1" --port "$MS_IMAPS_PORT" \
		--tls implicit --ca "$MS_TLS_CA" --user "$MS_USER1" \
		--password "$MS_PASS1" "${@:2}"
}

mirror_vsync "initial sync"
mirror_compare "initial"

# The reader's edits, as mutt makes them: letters renamed, files removed,
# moves as new files under new names in the destination.
mapfile -t all < <(find "$MAIL/cur" "$MAIL/new" -type f | sort)
mapfile -t unflagged < <(printf '%s\n' "${all[@]}" | grep -v ':2,.*F' | head -300)
mapfile -t seen < <(printf '%s\n' "${all[@]}" | grep ':2,.*F.*S' | head -20)
mapfile -t rest < <(printf '%s\n' "${all[@]}" | grep -v ':2,.*S' | grep ':2,.*F' | head -50)
[ "${#unflagged[@]}/${#seen[@]}/${#rest[@]}" = 300/20/50 ] ||
	{ fail "the fill has ${#unflagged[@]}/${#seen[@]}/${#rest[@]} files to edit, want 300/20/50"; exit 1; }
declare -A want_flagged want_unseen want_gone want_moved
for f in "${unflagged[@]}"; do
	want_flagged["$(uid_of "$f")"]=1
	b="$(basename "$f")" info=""
	case "$b" in *:2,*) info="${b##*:2,}" ;; esac
	letters="$(printf '%s\n' F $(echo "$info" | fold -w1) | sort | tr -d '\n')"
	mv "$f" "$MAIL/cur/${b%%:2,*}:2,$letters"
done
for f in "${seen[@]}"; do
	want_unseen["$(uid_of "$f")"]=1
	b="$(basename "$f")"
	mv "$f" "$MAIL/cur/${b%%:2,*}:2,$(echo "${b##*:2,}" | tr -d S)"
done
for f in "${rest[@]:0:30}"; do
	want_gone["$(uid_of "$f")"]=1
	rm "$f"
done
n=0
for f in "${rest[@]:30:20}"; do
	want_moved["$(uid_of "$f")"]="$(mail_sha "$f")"
	n=$((n + 1))
	mv "$f" "$MAIL/Archive/cur/1767000000.M$n.reader:2,"
done
draft="$MAIL/Drafts/cur/1767000000.M99.reader:2,DS"
printf 'From: me@example.org\r\nTo: you@example.org\r\nSubject: a draft\r\nDate: Tue, 01 Sep 2020 10:20:30 +0000\r\nMessage-ID: <draft-99@example.org>\r\n\r\nnot sent yet\r\n' > "$WORK/draft.orig"
cp "$WORK/draft.orig" "$draft"

mirror_vsync "the reader's edits"
# The trace cuts lines at 512 bytes: the long set of the +\Flagged one
# hides its end, so it is the UID STORE that is neither of the others.
n="$(grep -E ' C: A[0-9]+ UID STORE ' "$WORK/err" | grep -vcE 'FLAGS\.SILENT \(\\(Seen|Deleted)\)')"
[ "$n" = 1 ] && ok "300 messages flagged in one UID STORE" || fail "$n UID STOREs of \\Flagged, expected 1"
n="$(cmds 'UID STORE [0-9:,]+ (\(UNCHANGEDSINCE [0-9]+\) )?-FLAGS\.SILENT \(\\Seen\)')"
[ "$n" = 1 ] && ok "20 messages marked unread in one UID STORE" || fail "$n UID STOREs of -\\Seen, expected 1"
n="$(cmds 'UID STORE [0-9:,]+ \+FLAGS\.SILENT \(\\Deleted\)')"
[ "$n" = 1 ] && ok "30 deletions in one \\Deleted UID STORE" || fail "$n UID STOREs of \\Deleted, expected 1"
[ "$(cmds 'UID STORE ')" = 3 ] && ok "3 UID STOREs in all" || fail "$(cmds 'UID STORE ') UID STOREs, expected 3"
[ "$(cmds 'UID EXPUNGE [0-9:,]+')" = 1 ] && ok "one UID EXPUNGE" || fail "$(cmds 'UID EXPUNGE ') UID EXPUNGEs, expected 1"
[ "$(cmds 'EXPUNGE')" = 0 ] || fail "a plain EXPUNGE was sent"
[ "$(cmds 'UID MOVE [0-9:,]+ Archive')" = 1 ] && ok "20 moves in one UID MOVE" || fail "$(cmds 'UID MOVE ') UID MOVEs, expected 1"
grep -qE ' C: A[0-9]+ APPEND Drafts \(\\Seen \\Draft\) "01-Sep-2020 10:20:30 \+0000" \{[0-9]+\+?\}' "$WORK/err" &&
	ok "the draft is appended with its flags and date" ||
	fail "APPEND: $(grep -E ' C: A[0-9]+ APPEND' "$WORK/err" | head -2)"
grep -q ' 0 new, ' "$WORK/out" || fail "the pass downloaded messages: $(cat "$WORK/out")"
[ -z "$("$STOREDUMP" "$STORE" changes)" ] && ok "nothing pending" ||
	fail "changes left: $("$STOREDUMP" "$STORE" changes | head -5)"

# The server, read from outside.
is_server_msgs > "$WORK/server.txt"
bad=0
for uid in "${!want_flagged[@]}"; do
	awk -F'\t' -v u="$uid" '$1 == "INBOX" && $2 == u && $3 ~ /\\Flagged/ { f = 1 } END { exit !f }' "$WORK/server.txt" || bad=$((bad + 1))
done
[ "$bad" = 0 ] && ok "the server has the 300 flagged" || fail "$bad of 300 not flagged on the server"
bad=0
for uid in "${!want_unseen[@]}"; do
	awk -F'\t' -v u="$uid" '$1 == "INBOX" && $2 == u && $3 !~ /\\Seen/ { f = 1 } END { exit !f }' "$WORK/server.txt" || bad=$((bad + 1))
done
[ "$bad" = 0 ] && ok "the server has the 20 unread" || fail "$bad of 20 still \\Seen on the server"
bad=0
for uid in "${!want_gone[@]}" "${!want_moved[@]}"; do
	awk -F'\t' -v u="$uid" '$1 == "INBOX" && $2 == u { f = 1 } END { exit !f }' "$WORK/server.txt" && bad=$((bad + 1))
done
[ "$bad" = 0 ] && ok "the 30 deleted and 20 moved are gone from INBOX" || fail "$bad still in INBOX"
bad=0
for uid in "${!want_moved[@]}"; do
	n="$(awk -F'\t' -v h="${want_moved[$uid]}" '$1 == "Archive" && $4 == h' "$WORK/server.txt" | wc -l)"
	[ "$n" = 1 ] || bad=$((bad + 1))
done
[ "$bad" = 0 ] && ok "each moved message is in Archive once" || fail "$bad moved messages not in Archive once"
uid="$(awk -F'\t' '$1 == "Drafts" { print $2 }' "$WORK/server.txt" | head -1)"
flags="$(imap fetch --folder Drafts --uid "${uid:-0}" --out "$WORK/draft.eml" 2>&1)"
[ "$flags" = '\Draft \Seen' ] && ok "the draft is \\Draft \\Seen on the server" ||
	fail "the draft's flags on the server: '$flags'"
cmp -s "$WORK/draft.eml" "$WORK/draft.orig" && ok "the draft's bytes" || fail "the draft differs on the server"

# One more pass: nothing left to push, store and mirror equal the server.
mirror_vsync "no change"
[ "$(cmds '(UID STORE|UID MOVE|UID EXPUNGE|APPEND) ')" = 0 ] && ok "nothing pushed again" ||
	fail "pushed again: $(grep -E ' C: A[0-9]+ (UID STORE|UID MOVE|UID EXPUNGE|APPEND) ' "$WORK/err" | head -3)"
is_compare "after the edits"
mirror_compare "after the edits"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all push set checks passed"
