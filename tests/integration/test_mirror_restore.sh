#!/bin/bash
# A message expunged on the server loses its file in the mirror.  The same
# file restored from a backup afterwards (its old name, its bytes) is a
# reader's new message: appended to the server folder and kept, never
# removed as a leftover of the expunged message.  A file whose bytes a
# reader changed before the export came is not removed either.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
mailfill "$MS_USER1" 30 >/dev/null || exit 1

msync()
{
	if is_sync; then
		ok "$1: $(cat "$WORK/out")"
	else
		fail "$1: $(tail -3 "$WORK/err")"
	fi
}
# copies FOLDER SHA: how often the server's FOLDER holds these bytes.
copies() { is_server_msgs --folder "$1" | awk -F'\t' -v h="$2" '$4 == h' | wc -l; }
# files SHA: how many files of the mirror hold these bytes.
files()
{
	find "$MAIL" -path '*/tmp' -prune -o -type f -name '[0-9]*' -print0 |
		while IFS= read -r -d '' f; do mail_sha "$f"; done | grep -cx "$1"
}

# kept WHAT SHA: the server's INBOX holds these bytes once, and one file.
kept()
{
	local n
	n="$(copies INBOX "$2")"
	[ "$n" = 1 ] && ok "$1: on the server" || fail "$1: INBOX holds $n copies"
	n="$(files "$2")"
	[ "$n" = 1 ] && ok "$1: its file is kept" || fail "$1: $n files hold it"
}

msync "initial sync"
mirror_compare "initial"
mapfile -t inbox < <(find "$MAIL/cur" "$MAIL/new" -type f | sort)
gone="${inbox[1]}" changed="${inbox[2]}"
[ -n "$gone" ] && [ -n "$changed" ] || { fail "not enough messages"; exit 1; }
cp -p "$gone" "$WORK/backup"
sha="$(mail_sha "$gone")"

# Expunged on the server: the file goes at the next pass.
mailmutate_expunge "$MS_USER1" INBOX "$(uid_of "$gone")" >/dev/null
msync "sync after the server's expunge"
[ -e "$gone" ] && fail "the expunged message's file is still there" ||
	ok "the expunged message's file is removed"
mirror_compare "after the expunge"

# Restored from the backup: uploaded, and its file stays (adopted; its
# letters, which an APPEND does not carry, follow at the next pass).
cp -p "$WORK/backup" "$gone"
msync "sync after the restore"
msync "the pass after the restore"
kept "the restored message" "$sha"
mirror_compare "after the restore"

# Expunged on the server while a reader writes other bytes into its file:
# those bytes are not the store's, so the file is a new message.
printf 'Subject: rewritten\r\n\r\nby a reader\r\n' > "$WORK/new.eml"
new_sha="$(sha256sum < "$WORK/new.eml" | cut -d' ' -f1)"
mailmutate_expunge "$MS_USER1" INBOX "$(uid_of "$changed")" >/dev/null
cat "$WORK/new.eml" > "$changed"
msync "sync after an expunge of a changed file"
msync "the pass after: the upload"
msync "the pass after: its letters"
kept "the reader's bytes" "$new_sha"
mirror_compare "after the changed file"
is_compare "store and server"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all restore checks passed"
