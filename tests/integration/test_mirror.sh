#!/bin/bash
# The Maildir mirror with the fixture Dovecot and `mailsyncd --once`: the
# initial sync writes the mirror (bytes as on the server, flags in the
# names, unread mail in new/, Ünïcödé and Lists/dev as nested directories);
# a reader's flag rename, deletion and new file reach the server; server
# flag changes and expunges rename and remove files; a deleted mirror is
# rebuilt from the store without fetching a body; mblaze and notmuch work
# on the mirror and their changes sync back.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
mailfill "$MS_USER1" 60 >/dev/null || exit 1
# "&" is modified UTF-7's escape ("R&-D" on the wire), nesting three deep.
CORPUS="$(ms_corpus_dir)"
mapfile -t cfiles < <(find "$CORPUS" -type f -name '*.eml' | sort | head -8)
mailmutate_create "$MS_USER1" 'R&D' >/dev/null
mailmutate_create "$MS_USER1" 'a/b/c' >/dev/null
mailmutate_add "$MS_USER1" 'R&D' "${cfiles[0]}" >/dev/null
mailmutate_add "$MS_USER1" 'a/b/c' "${cfiles[1]}" >/dev/null

# --- initial: the mirror appears ----------------------------------------------
if is_sync; then ok "initial sync: $(cat "$WORK/out")"; else fail "initial sync: $(cat "$WORK/err")"; fi
mirror_compare "initial" --strict-new
for d in cur new tmp 'Ünïcödé/cur' 'Lists/dev/cur' 'Lists/announce/new' 'Sent/cur' 'R&D/new' 'a/b/c/new'; do
	[ -d "$MAIL/$d" ] || fail "no directory $d in the mirror"
done
[ -e "$MAIL/Lists/cur" ] && fail "the \\Noselect parent Lists got a Maildir"
# new/ holds the messages without any flag (unread and not flagged,
# answered, ...); an unread \Flagged one is in cur/ with ":2,F".
n_new="$(find "$MAIL" -path '*/new/*' -type f | wc -l)"
n_noflag="$(is_server_msgs | awk -F'\t' '$3 == "-"' | wc -l)"
[ "$n_new" = "$n_noflag" ] && [ "$n_new" -gt 0 ] && ok "the $n_new messages without flags are in new/" ||
	fail "$n_new files in new/, the server has $n_noflag messages without flags"

# --- things in the tree that are not messages: left alone, reported ----------------------
echo "my notes" > "$MAIL/Lists/notes.txt"
echo "x" > "$MAIL/cur/.hidden"
mkdir "$MAIL/Sent/cur/adir"
if is_sync; then ok "sync with non-messages: $(cat "$WORK/out")"; else fail "sync with non-messages: $(cat "$WORK/err")"; fi
for p in Lists/notes.txt cur/.hidden Sent/cur/adir; do
	# Scan and export both list the folder: one report per run.
	[ "$(grep -cF "mirror $MAIL/$p: " "$WORK/err")" = 1 ] &&
		ok "reported once: $(grep -F "mirror $MAIL/$p: " "$WORK/err" | sed 's/.* mirror //')" ||
		fail "$p not reported exactly once: $(grep mirror "$WORK/err" | head -3)"
done
[ "$(cat "$MAIL/Lists/notes.txt")" = "my notes" ] && [ -f "$MAIL/cur/.hidden" ] && [ -d "$MAIL/Sent/cur/adir" ] ||
	fail "a non-message was touched"
"$STOREDUMP" "$STORE" changes | grep -q . && fail "non-messages became changes: $("$STOREDUMP" "$STORE" changes)"
rm -r "$MAIL/Lists/notes.txt" "$MAIL/cur/.hidden" "$MAIL/Sent/cur/adir"

# --- a reader flags one message and deletes another -------------------------------
unread="$(find "$MAIL/new" -type f | sort | head -1)"
seen="$(find "$MAIL/cur" -type f -name '*:2,S' | sort | head -1)"
[ -n "$unread" ] && [ -n "$seen" ] || { fail "no unread or seen INBOX message to play with"; exit 1; }
uid_flag="$(uid_of "$unread")"
uid_del="$(uid_of "$seen")"
mv "$unread" "$MAIL/cur/$(basename "$unread"):2,FS"
rm "$seen"
if is_sync; then ok "push of reader changes: $(cat "$WORK/out")"; else fail "push: $(cat "$WORK/err")"; fi
f="$(server_flags INBOX "$uid_flag")"
[ "$f" = '\Seen \Flagged' ] && ok "INBOX $uid_flag on the server: $f" ||
	fail "INBOX $uid_flag on the server: '$f', want '\\Seen \\Flagged'"
[ -z "$(server_flags INBOX "$uid_del")" ] && ok "INBOX $uid_del deleted on the server" ||
	fail "INBOX $uid_del still on the server"
pending="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$pending" = 0 ] || fail "$pending changes still pending"
is_compare "after reader changes"
mirror_compare "after reader changes"

# --- server changes rename and remove files -----------------------------------------
mailmutate_flags "$MS_USER1" Archive add 1:3 '\Answered' >/dev/null
mailmutate_expunge "$MS_USER1" Archive 4:5 >/dev/null
if is_sync; then ok "server changes: $(cat "$WORK/out")"; else fail "server changes: $(cat "$WORK/err")"; fi
for u in 1 2 3; do
	ls "$MAIL/Archive/cur/" | grep -qE "^[0-9]+-$u-[0-9a-f]{8},.*:2,[A-Z]*R" ||
		fail "Archive $u: no file with R: $(ls "$MAIL/Archive/cur" "$MAIL/Archive/new" | grep -E "^[0-9]+-$u-")"
done
ls "$MAIL/Archive/cur" "$MAIL/Archive/new" | grep -qE '^[0-9]+-(4|5)-' &&
	fail "Archive 4/5 expunged on the server, files still there"
mirror_compare "after server changes"

# --- a reader drops a new message into a folder ---------------------------------------
newmsg="$(find "$CORPUS" -type f -name '*.eml' | sort | sed -n 7p)"
[ -n "$newmsg" ] || newmsg="$(find "$CORPUS" -type f | sort | sed -n 7p)"
cp "$newmsg" "$MAIL/Lists/dev/new/1700000000.M1P1.reader"
want_hash="$(perl -pe 's/(?<!\r)\n/\r\n/' < "$newmsg" | sha256sum | cut -d' ' -f1)"
if is_sync; then ok "append of a new file: $(cat "$WORK/out")"; else fail "append: $(cat "$WORK/err")"; fi
is_server_msgs --folder 'Lists/dev' | grep -q "$want_hash" && ok "the new file is on the server" ||
	fail "the new file is not on the server"
mirror_compare "after append"
n="$(grep -c "$want_hash" "$WORK/mirror.txt")"
[ "$n" = 1 ] && ok "the new message has one file in the mirror" || fail "the new message has $n files"

# --- the mirror deleted: rebuilt from the store, no body fetched -----------------------------
# One more pass first, so that the rebuild pass has nothing new to fetch.
is_sync || fail "pass before the rebuild: $(cat "$WORK/err")"
mirror_compare "settled"
rm -rf "$MAIL"
if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/trace"; then
	ok "rebuild: $(cat "$WORK/out")"
else
	fail "rebuild: $(grep -v ' imap ' "$WORK/trace" | tail -3)"
fi
grep -q ' C: A[0-9]* ' "$WORK/trace" || fail "the -v trace shows no command (is the trace on?)"
if grep -E ' C: A[0-9]+ UID FETCH ' "$WORK/trace" | grep -q 'BODY'; then
	fail "rebuild fetched bodies: $(grep -E ' C: A[0-9]+ UID FETCH .*BODY' "$WORK/trace" | head -2)"
else
	ok "rebuild fetched no body"
fi
mirror_compare "rebuilt"

# --- mblaze -------------------------------------------------------------------------------------
if command -v mlist >/dev/null && command -v mflag >/dev/null; then
	n_mlist="$(mlist "$MAIL" | wc -l)"
	n_inbox="$(is_server_msgs --folder INBOX | wc -l)"
	[ "$n_mlist" = "$n_inbox" ] && ok "mlist lists the $n_mlist INBOX messages" ||
		fail "mlist: $n_mlist messages, the server's INBOX has $n_inbox"
	# minc moves new/ to cur/ without flags: nothing to push for that.
	n_minc="$(minc "$MAIL" | wc -l)"
	[ "$n_minc" -gt 0 ] || fail "minc moved nothing from new/"
	target="$(mlist -s -f "$MAIL" | sort | head -1)"	# unseen, unflagged
	[ -n "$target" ] || { fail "mlist -s -f lists nothing"; target="$(mlist "$MAIL" | head -1)"; }
	uid_m="$(uid_of "$target")"
	mflag -F -S "$target" >/dev/null || fail "mflag -F -S $target"
	if is_sync; then ok "sync after minc and mflag: $(cat "$WORK/out")"; else fail "sync after mflag: $(cat "$WORK/err")"; fi
	grep -q ' 1 changed, ' "$WORK/out" || fail "want exactly 1 changed (minc changes nothing): $(cat "$WORK/out")"
	f="$(server_flags INBOX "$uid_m")"
	case " $f " in
	*' \Flagged '*) case " $f " in *' \Seen '*) ok "mflag -F -S of INBOX $uid_m reached the server: $f" ;;
		*) fail "INBOX $uid_m: '$f', want \\Seen too" ;; esac ;;
	*) fail "INBOX $uid_m: '$f', want \\Flagged \\Seen" ;;
	esac
	[ "$(mlist -F -S "$MAIL" | grep -cE "/[0-9]+-$uid_m-")" = 1 ] ||
		fail "mlist -F -S does not list INBOX $uid_m after the sync"
	mirror_compare "after mblaze"
else
	reader_missing "mblaze (mlist, mflag)"
fi

# --- notmuch ----------------------------------------------------------------------------------
if command -v notmuch >/dev/null; then
	export NOTMUCH_CONFIG="$WORK/notmuch-config"
	cat > "$NOTMUCH_CONFIG" <<EOF
[database]
path=$MAIL
[user]
name=Test
primary_email=alice@example.test
[new]
tags=inbox;unread;
ignore=.mailsync-mirror
[maildir]
synchronize_flags=true
EOF
	if notmuch new > "$WORK/notmuch.out" 2>&1; then
		ok "notmuch new: $(tr '\n' ' ' < "$WORK/notmuch.out")"
	else
		fail "notmuch new: $(cat "$WORK/notmuch.out")"
	fi
	n_nm="$(notmuch count --output=files '*')"
	n_all="$(wc -l < "$WORK/server4.txt")"
	[ "$n_nm" = "$n_all" ] && ok "notmuch indexed all $n_nm files" ||
		fail "notmuch indexed $n_nm files, the server has $n_all messages"
	# A synced message is found by its subject.
	file="$(find "$MAIL/Sent/cur" -type f | sort | head -1)"
	subj="$(grep -m1 -i '^Subject:' "$file" | sed 's/^[Ss]ubject: *//; s/\r$//' | tr -cd '[:alnum:] ' | awk '{ print $1, $2 }')"
	found="$(notmuch search --output=files "subject:\"$subj\"" | grep -c "^$MAIL/Sent/")"
	[ "$found" -ge 1 ] && ok "notmuch finds '$subj' in Sent" ||
		fail "notmuch search subject:\"$subj\" found nothing in Sent"
	# Tagging with synchronize_flags renames the file: it syncs back.
	uid_n="$(uid_of "$file")"
	id=""
	for m in $(notmuch search --output=messages 'path:Sent/**'); do
		notmuch search --output=files "$m" | grep -qxF "$file" && id="$m"
	done
	[ -n "$id" ] || fail "notmuch has no message for $file"
	notmuch tag +flagged -- "$id" || fail "notmuch tag +flagged $id"
	ls "$MAIL/Sent/cur" | grep -qE "^[0-9]+-$uid_n-.*:2,[A-Z]*F" ||
		fail "notmuch did not rename Sent $uid_n's file for +flagged"
	if is_sync; then ok "sync after notmuch tag: $(cat "$WORK/out")"; else fail "sync after notmuch tag: $(cat "$WORK/err")"; fi
	case " $(server_flags Sent "$uid_n") " in
	*' \Flagged '*) ok "notmuch's +flagged on Sent $uid_n reached the server" ;;
	*) fail "Sent $uid_n on the server: '$(server_flags Sent "$uid_n")', want \\Flagged" ;;
	esac
	mirror_compare "after notmuch"
	notmuch new > "$WORK/notmuch.out" 2>&1 || fail "notmuch new after sync: $(cat "$WORK/notmuch.out")"
else
	reader_missing "notmuch"
fi

# --- a reader moves a message to another folder ---------------------------------------------------
# Recognised by content as a MOVE (no APPEND of the bytes, no DELETE) and
# pushed as UID MOVE: the server's copy gets a new UID in Archive (COPYUID),
# the store records it with the same body, and the reader's file is adopted,
# not written again or downloaded.
moved="$(find "$MAIL/Sent/cur" -type f | sort | tail -1)"
uid_mv="$(uid_of "$moved")"
sha_mv="$(mail_sha "$moved")"
n_arch_before="$(is_server_msgs --folder Archive | wc -l)"
mv "$moved" "$MAIL/Archive/cur/"
# body_fetches: UID FETCH commands for bodies in the -v trace of a pass.
body_fetches() { grep -cE ' C: A[0-9]+ UID FETCH .*BODY\.PEEK\[\]' "$WORK/err"; }
if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/err"; then
	ok "sync after a move: $(cat "$WORK/out")"
else
	fail "sync after a move: $(grep -v ' imap ' "$WORK/err" | tail -3)"
fi
[ "$(body_fetches)" = 0 ] || fail "the move pass fetched bodies: $(grep -E 'UID FETCH .*BODY' "$WORK/err" | head -3)"
grep -q ' 0 new, .* 1 moved, ' "$WORK/out" && ok "the move was pushed, nothing downloaded" ||
	fail "after a move, want 0 new and 1 moved: $(cat "$WORK/out")"
[ -z "$("$STOREDUMP" "$STORE" changes)" ] || fail "changes still pending after the move: $("$STOREDUMP" "$STORE" changes)"
[ -z "$(server_flags Sent "$uid_mv")" ] && ok "Sent $uid_mv is gone from the server" ||
	fail "Sent $uid_mv is still on the server after the move"
n_arch="$(is_server_msgs --folder Archive | awk -F'\t' -v h="$sha_mv" '$4 == h' | wc -l)"
[ "$n_arch" = 1 ] && [ "$(is_server_msgs --folder Archive | wc -l)" = $((n_arch_before + 1)) ] &&
	ok "Archive on the server holds the moved message once" ||
	fail "Archive holds $n_arch copies of the moved message ($n_arch_before messages before)"
is_compare "after a move"
mirror_compare "after a move"
if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/err"; then
	ok "sync after the move: $(cat "$WORK/out")"
else
	fail "sync after the move: $(grep -v ' imap ' "$WORK/err" | tail -3)"
fi
# Archive's UIDNEXT moved past the copy, so Archive is selected; the copy
# is stored already (COPYUID) and is not downloaded.
grep -qE ' C: A[0-9]+ SELECT Archive' "$WORK/err" || fail "the pass after the move did not select Archive"
[ "$(body_fetches)" = 0 ] && ok "the moved message is not downloaded again" ||
	fail "the pass after the move fetched bodies: $(grep -E 'UID FETCH .*BODY' "$WORK/err" | head -3)"
grep -q ' 0 new, 0 changed, 0 deleted, 0 appended, 0 moved, ' "$WORK/out" &&
	ok "the pass after the move changes nothing" || fail "the pass after the move: $(cat "$WORK/out")"
mirror_compare "after the move, again"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all mirror checks passed"
