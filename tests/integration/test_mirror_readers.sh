#!/bin/bash
# The mirror's files have LF line ends, as readers expect: mblaze and
# notmuch read them (headers without a stray CR), `git am` applies a patch
# mail straight from the mirror; a message whose bytes would not survive
# LF (a bare CR) is written exactly as the server holds it; a reader's LF
# draft is uploaded in its CRLF form and keeps its name, and is the
# server's copy's file afterwards (no second file, nothing uploaded twice).
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

command -v mlist >/dev/null && command -v mshow >/dev/null &&
	command -v notmuch >/dev/null ||
	{ ms_missing "mblaze and notmuch (apt-get install mblaze notmuch)"; exit $?; }
mirror_setup

# A patch mail, as git format-patch writes it (LF; the server stores CRLF).
repo="$WORK/repo"
git init -q "$repo" && cd "$repo" || exit 1
git config user.name "Alice" && git config user.email "alice@example.org"
printf 'one\n' > file && git add file && git commit -qm "first"
base="$(git rev-parse HEAD)"
printf 'two\n' >> file && git commit -qam "second: a patch from the mirror"
git format-patch -q -1 --stdout > "$WORK/patch.eml" || fail "format-patch"
cd "$WORK" || exit 1
dovecot_doveadm save -u "$MS_USER1" -m INBOX < "$WORK/patch.eml" || fail "doveadm save patch"
# A message with a bare CR inside a line.
printf 'From: c@example.org\r\nSubject: bare cr\r\nMessage-ID: <cr@readers.test>\r\n\r\nbefore\rafter\r\n' |
	dovecot_doveadm save -u "$MS_USER1" -m INBOX || fail "doveadm save cr"
mailfill "$MS_USER1" 5 --folder INBOX >/dev/null || exit 1

if is_sync; then ok "initial sync: $(cat "$WORK/out")"; else fail "initial sync: $(cat "$WORK/err")"; fi
mirror_compare "initial"

# file_with SUBJECT: the mirror file whose Subject line starts so.
file_with() { grep -rlE "^Subject: (\[PATCH\] )?$1" "$MAIL/cur" "$MAIL/new" | head -1; }
cr_file="$(file_with "bare cr")"
patch_file="$(file_with "second: a patch")"

# Every file but the bare-CR one has LF line ends only.
n_crlf="$(find "$MAIL" -path '*/tmp' -prune -o -type f -name '[0-9]*' -print0 |
	xargs -0 grep -lc $'\r' | grep -vcxF "$cr_file")"
[ "$n_crlf" = 0 ] && ok "files have LF line ends" || fail "$n_crlf files hold a CR"

# The bare-CR message: exactly the server's bytes.
srv_cr="$(is_server_msgs --folder INBOX | awk -F'\t' '{ print $4 }' |
	grep -cx "$(sha256sum < "$cr_file" | cut -d' ' -f1)")"
[ -n "$cr_file" ] && [ "$srv_cr" = 1 ] && grep -q $'before\rafter\r$' "$cr_file" &&
	ok "the bare-CR message is byte-exact" ||
	fail "bare-CR message: '$cr_file' matches $srv_cr server messages"

# mblaze: every message listed, its Subject read without a CR.
n_inbox="$(is_server_msgs --folder INBOX | wc -l)"
[ "$(mlist "$MAIL" | wc -l)" = "$n_inbox" ] && ok "mlist lists the $n_inbox messages" ||
	fail "mlist lists $(mlist "$MAIL" | wc -l) of $n_inbox"
subj="$(mshow -q -h subject "$patch_file" | sed -n 's/^Subject: //p')"
[ "$subj" = "[PATCH] second: a patch from the mirror" ] && ok "mshow reads the patch's Subject" ||
	fail "mshow Subject: '$(printf '%q' "$subj")'"

# notmuch: indexes every file, finds the patch by its subject.
cat > "$WORK/notmuch-config" <<EOF
[database]
path=$MAIL
[new]
tags=new
[maildir]
synchronize_flags=false
EOF
export NOTMUCH_CONFIG="$WORK/notmuch-config"
notmuch new --quiet >"$WORK/notmuch.out" 2>&1 || fail "notmuch new: $(tail -3 "$WORK/notmuch.out")"
[ "$(notmuch count '*')" = "$n_inbox" ] && ok "notmuch indexed $n_inbox messages" ||
	fail "notmuch count: $(notmuch count '*') of $n_inbox"
[ "$(notmuch search --output=files 'subject:"a patch from the mirror"')" = "$patch_file" ] &&
	ok "notmuch finds the patch mail's file" ||
	fail "notmuch search: $(notmuch search --output=files 'subject:"a patch from the mirror"')"
unset NOTMUCH_CONFIG

# git am of the mail as the mirror holds it.
git -C "$repo" checkout -q "$base" 2>/dev/null
if git -C "$repo" am -q < "$patch_file" >"$WORK/am.out" 2>&1 &&
	[ "$(cat "$repo/file")" = "$(printf 'one\ntwo')" ]; then
	ok "git am applies the patch mail from the mirror"
else
	fail "git am: $(tail -3 "$WORK/am.out")"
fi

# A reader's LF draft (a postponed message, whose name the reader keeps).
draft="$MAIL/Drafts/cur/1700000000.M1P1.reader:2,D"
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: postponed\nMessage-ID: <draft@readers.test>\n\nnot sent yet\n' > "$draft"
cp "$draft" "$WORK/draft.orig"
if is_sync; then ok "sync after the draft: $(cat "$WORK/out")"; else fail "sync after the draft: $(cat "$WORK/err")"; fi
if is_sync; then ok "the sync after: $(cat "$WORK/out")"; else fail "the sync after: $(cat "$WORK/err")"; fi
cmp -s "$draft" "$WORK/draft.orig" && ok "the draft keeps its name and bytes" ||
	fail "the draft: $(ls "$MAIL/Drafts/cur" "$MAIL/Drafts/new")"
[ "$(is_server_msgs --folder Drafts | awk -F'\t' -v h="$(mail_sha "$draft")" '$4 == h' | cut -f3)" = '\Draft' ] &&
	ok "the server's Drafts holds its CRLF form, \\Draft" ||
	fail "server Drafts: $(is_server_msgs --folder Drafts)"
in_mirror Drafts 1 && ok "one file in Drafts" || fail "Drafts holds $(mirror_count Drafts) files"
# mirror_check: the record of the server's copy names the draft's file.
mirror_compare "after the draft"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
