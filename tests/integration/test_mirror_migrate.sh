#!/bin/bash
# Migration from mbsync: a real mbsync run (isync) fills a Maildir from the
# fixture Dovecot, INBOX as INBOX/ (its usual "Inbox ~/Mail/INBOX" layout),
# with its state in each Maildir (SyncState *); mailsync, pointed at that
# tree with maildir_inbox = subfolder, adopts every file with its UID and
# flags: no body fetched (the protocol trace has no BODY fetch), nothing
# uploaded, no file duplicated, renamed or rewritten, every flag kept; a
# flag a reader changed after mbsync's last run is pushed; later server
# changes arrive.  Without mbsync's state the files are matched by content
# after a download, the server's flags winning, still without a duplicate
# or an upload.  INBOX/ under maildir_inbox = root is refused, saying
# which setting fits.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"
. "$MS_SOURCE_DIR/tests/integration/lib/mbsync.sh"

command -v mbsync >/dev/null || { ms_missing "mbsync (apt-get install isync)"; exit $?; }
mirror_setup
export MS_MAILDIR_INBOX=subfolder	# for ms_mirrorcheck
cp "$CFG" "$WORK/cfg.base"
printf 'maildir_inbox = subfolder\n' >> "$CFG"

mailfill "$MS_USER1" 40 --folder INBOX --folder Archive --folder Lists/dev >/dev/null || exit 1
# mbsync's own UIDs then differ from the server's (its first INBOX
# message is the server's UID 2).
dovecot_doveadm expunge -u "$MS_USER1" mailbox INBOX uid 1 || fail "expunge"
dovecot_doveadm flags add -u "$MS_USER1" '\Seen' mailbox INBOX uid 2:6 || fail "flags"
dovecot_doveadm flags add -u "$MS_USER1" '\Flagged \Answered' mailbox INBOX uid 3 || fail "flags"
dovecot_doveadm flags add -u "$MS_USER1" '$Forwarded' mailbox Archive uid 1 || fail "flags"

# mbsync_run DIR: mbsync fills DIR from the server (INBOX as DIR/INBOX).
mbsync_run()
{
	mkdir -p "$1"
	mbsync_rc "$WORK/mbsyncrc" "$1" "$MS_IMAPS_PORT" "$MS_USER1" "$MS_PASS1" \
		"Create Both" "Expunge Both"
	mbsync -q -c "$WORK/mbsyncrc" -a >"$WORK/mbsync.out" 2>&1
}

# snapshot DIR: every message file of DIR: SHA-256, folder and name (not
# new/ or cur/: a reader, and the export, moves a flagged file out of
# new/), sorted.
snapshot()
{
	(cd "$1" && find . -type f \( -path '*/cur/*' -o -path '*/new/*' \) -print0 |
		xargs -0 -r sha256sum | sed -E 's#/(cur|new)/#/#' | sort -k2)
}

# mbsync_sha FILE: the SHA-256 of the server's bytes of a file mbsync
# wrote: its CRLF form without the X-TUID line mbsync adds to the header.
mbsync_sha() { sed '0,/^X-TUID: .\{12\}$/{/^X-TUID: .\{12\}$/d}' "$1" > "$WORK/tuid.tmp" && mail_sha "$WORK/tuid.tmp"; }

# migrate_compare WHAT: the mirror shows the server's messages (folder,
# flags, bytes without mbsync's X-TUID line), mirror_check finds every
# record's file where it belongs, and the store equals the server.
# The message mbsync uploaded is the exception: its file lacks the X-TUID
# line the server's copy got (the store has the server's bytes).
migrate_compare()
{
	MIRROR_CHECK=check-names MIRROR_EXCEPT="${local_sha:-}" \
		mirror_compare "$1" --inbox-subfolder --mbsync
	is_compare "$1"
}

# trace_count REGEX: the commands mailsyncd sent matching REGEX, in the -v
# trace ($WORK/err).
trace_count() { grep -E ' imap .*C: ' "$WORK/err" | grep -cE "$1" || true; }

# A message the user wrote into the Maildir: mbsync uploads it with an
# X-TUID line the file does not have, so the server's copy is not the
# file's CRLF form.
mkdir -p "$MAIL/INBOX/cur" "$MAIL/INBOX/new" "$MAIL/INBOX/tmp"
printf 'From: me@example.org\nTo: you@example.org\nSubject: written locally\nMessage-ID: <local@migrate.test>\n\nuploaded by mbsync\n' \
	> "$MAIL/INBOX/cur/1700000000.M1P1.local:2,S"
# A message whose header does not end (no empty line): mbsync skips it
# ("incomplete header") and records nothing of it.
printf 'From: c@example.org\r\nSubject: header only\r\nMessage-ID: <hdr@migrate.test>\r\n' |
	dovecot_doveadm save -u "$MS_USER1" -m INBOX || fail "doveadm save"
local_sha="$(mail_sha "$MAIL/INBOX/cur/1700000000.M1P1.local:2,S")"
mbsync_run "$MAIL" || fail "mbsync: $(tail -3 "$WORK/mbsync.out")"
local_uid="$(dovecot_doveadm search -u "$MS_USER1" mailbox INBOX header message-id local@migrate.test | awk '{ print $2 }')"
local_sha="$local_sha $(is_server_msgs --folder INBOX | awk -F'\t' -v u="$local_uid" '$2 == u { print $4 }')"
n_server="$(is_server_msgs | wc -l)"
n_files="$(snapshot "$MAIL" | wc -l)"
[ "$n_files" = "$((n_server - 1))" ] && [ "$n_server" -ge 40 ] &&
	ok "mbsync filled the Maildir: $n_files files (it skipped the header-only message)" ||
	fail "mbsync: $n_files files for $n_server messages: $(cat "$WORK/mbsync.out")"
[ -f "$MAIL/INBOX/.mbsyncstate" ] && [ ! -e "$MAIL/cur" ] ||
	fail "not mbsync's layout: $(ls -a "$MAIL" "$MAIL/INBOX")"

# A reader marks an unread message read after mbsync's last run (mbsync
# names it "...,U=N:2," in new/).
unread="$(find "$MAIL/INBOX/new" -type f -name '*:2,' | sort | head -1)"
unread_sha="$(mbsync_sha "$unread")"
name="${unread##*/}"
mv "$unread" "$MAIL/INBOX/cur/${name%:2,}:2,S" || fail "no unread message: $(ls "$MAIL/INBOX/new")"
snapshot "$MAIL" > "$WORK/before.txt"
cp -a "$MAIL" "$WORK/mail.orig"

# --- maildir_inbox = root over mbsync's INBOX/: refused, saying why -------------
sed 's/^maildir_inbox = .*/maildir_inbox = root/' "$CFG" > "$WORK/cfg.root"
chmod 600 "$WORK/cfg.root"
if "$MAILSYNCD" -c "$WORK/cfg.root" --once >"$WORK/out" 2>"$WORK/err"; then
	fail "maildir_inbox = root over INBOX/: exit 0"
fi
grep -qF "holds INBOX as the Maildir INBOX/ (mbsync's layout), but maildir_inbox = root makes the top directory INBOX: set maildir_inbox = subfolder" "$WORK/err" &&
	ok "maildir_inbox = root over INBOX/: refused, says to set subfolder" ||
	fail "maildir_inbox = root over INBOX/: $(grep -v ' imap ' "$WORK/err" | tail -3)"
no_sanitizer_report "$WORK/err"
[ ! -e "$MAIL/cur" ] && [ ! -e "$MAIL/.mailsync-mirror" ] &&
	ok "nothing made in mbsync's tree: no INBOX at the top, no marker" ||
	fail "made in mbsync's tree: $(ls -a "$MAIL")"
diff -r "$MAIL" "$WORK/mail.orig" >/dev/null && ok "mbsync's tree is as it was" ||
	fail "mbsync's tree changed: $(diff -r "$MAIL" "$WORK/mail.orig" | head -3)"

# --- the migration ----------------------------------------------------------------
mirror_vsync "first sync over mbsync's Maildir"
grep -q 'acct=t folder=INBOX adopted [0-9]* files of mbsync' "$WORK/err" &&
	ok "$(grep -o 'folder=INBOX adopted.*' "$WORK/err")" || fail "no adoption logged"
n_body="$(trace_count 'FETCH.*BODY')"
n_append="$(trace_count ' APPEND ')"
grep -q 'folder=INBOX 2 messages of the adopted Maildir are fetched' "$WORK/err" && [ "$n_body" = 1 ] &&
	ok "no message downloaded but the one mbsync uploaded with its X-TUID line and the one it skipped (one UID FETCH)" ||
	fail "$n_body FETCH BODY commands; $(grep -o 'folder=INBOX .* fetched.*' "$WORK/err")"
[ "$n_append" = 0 ] && ok "no message uploaded" || fail "$n_append APPEND commands"
grep -q ' 1 new, ' "$WORK/out" && ok "the summary says 1 new message (the one mbsync skipped)" ||
	fail "summary: $(cat "$WORK/out")"
is_server_msgs --folder INBOX | awk -F'\t' -v h="$unread_sha" '$4 == h { print $3 }' |
	grep -qx '\\Seen' &&
	ok "the reader's flag change after mbsync's last run was pushed" ||
	fail "the reader's \\Seen: $(is_server_msgs --folder INBOX | grep "$unread_sha")"
migrate_compare "after the migration"
snapshot "$MAIL" > "$WORK/after.txt"
# Every file kept its name and bytes; one more: the message mbsync skipped.
sort -o "$WORK/before.s" "$WORK/before.txt" && sort -o "$WORK/after.s" "$WORK/after.txt"
if [ -z "$(comm -23 "$WORK/before.s" "$WORK/after.s")" ] &&
	[ "$(comm -13 "$WORK/before.s" "$WORK/after.s" | wc -l)" = 1 ]; then
	ok "every file kept its name and bytes ($(wc -l < "$WORK/before.txt")), one file added"
else
	fail "files changed:"
	diff "$WORK/before.txt" "$WORK/after.txt" | head -5 >&2
fi
cmp -s "$MAIL/INBOX/.mbsyncstate" "$WORK/mail.orig/INBOX/.mbsyncstate" &&
	ok "mbsync's state is left as it was" || fail "mbsync's state changed"

# --- later server changes arrive ----------------------------------------------------
mailfill "$MS_USER1" 2 --folder INBOX >/dev/null || exit 1
fuid="$(is_server_msgs --folder Archive | awk -F'\t' '$3 !~ /Flagged/ { print $2; exit }')"
dovecot_doveadm flags add -u "$MS_USER1" '\Flagged' mailbox Archive uid "$fuid" || fail "flags"
mirror_vsync "sync after server changes"
n_body="$(trace_count 'FETCH.*BODY')"
[ "$n_body" -ge 1 ] && grep -q ' 2 new, ' "$WORK/out" &&
	ok "the 2 new messages were fetched" || fail "new messages: $(cat "$WORK/out")"
migrate_compare "after server changes"

# --- without mbsync's state: matched by content, the server's flags win ----------
MAIL2="$WORK/mail2"
mbsync_run "$MAIL2" || fail "mbsync (2): $(tail -3 "$WORK/mbsync.out")"
find "$MAIL2" \( -name .mbsyncstate -o -name .uidvalidity \) -delete
# Without the state, the file of the message mbsync uploaded matches no
# server message (mbsync added an X-TUID line to the server's copy): it
# would be a new message.  Not part of this check.
grep -rl '^Message-ID: <local@migrate.test>' "$MAIL2" | xargs -r rm --
# A flag changed on the server after mbsync's run: the files' are older.
dovecot_doveadm flags remove -u "$MS_USER1" '\Seen' mailbox INBOX uid 2 || fail "flags"
sed -e "s|^store = .*|store = $WORK/store2|" -e "s|^maildir = .*|maildir = $MAIL2|" \
	"$CFG" > "$WORK/cfg2"
chmod 600 "$WORK/cfg2"
STORE="$WORK/store2" MAIL="$MAIL2" CFG="$WORK/cfg2"
mirror_vsync "first sync over a Maildir without mbsync's state"
n_append="$(trace_count ' APPEND ')"
[ "$n_append" = 0 ] && ok "without state: no message uploaded" ||
	fail "without state: $n_append APPEND commands"
migrate_compare "without state"
[ "$(snapshot "$MAIL2" | wc -l)" = "$(is_server_msgs | wc -l)" ] &&
	ok "without state: no file duplicated" || fail "without state: files $(snapshot "$MAIL2" | wc -l)"
# The files were matched, not left over as a reader's new messages.
mirror_vsync "without state: the sync after"
[ "$(trace_count ' APPEND ')" = 0 ] && grep -q ' 0 appended, ' "$WORK/out" &&
	ok "without state: nothing uploaded by the sync after" ||
	fail "without state: the sync after: $(cat "$WORK/out")"
migrate_compare "without state, after"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
