#!/bin/bash
# A server whose personal namespace has a prefix (Courier/Cyrus style; here
# Dovecot with "prefix = INBOX/"): folders are "INBOX/Sent", "INBOX/Lists/dev"
# on the wire.  The sync learns the prefix from NAMESPACE and keeps it in
# the store; the mirror strips it ("Sent/", "Lists/dev/"), INBOX stays the
# mirror's root, and nothing appears under an "INBOX" directory.
MS_DOVECOT_NS_CONF='prefix = INBOX/'
export MS_DOVECOT_NS_CONF
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
# mailfill writes Dovecot's files directly under names without the prefix;
# doveadm speaks the namespace.
mapfile -t cfiles < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -12)
mailmutate_create "$MS_USER1" INBOX/Sent >/dev/null &&
mailmutate_create "$MS_USER1" INBOX/Lists/dev >/dev/null &&
mailmutate_add "$MS_USER1" INBOX "${cfiles[@]:0:4}" >/dev/null &&
mailmutate_add "$MS_USER1" INBOX/Sent "${cfiles[@]:4:4}" >/dev/null &&
mailmutate_add "$MS_USER1" INBOX/Lists/dev "${cfiles[@]:8:4}" >/dev/null ||
	{ fail "filling the prefixed namespace"; exit 1; }

if is_sync; then ok "initial sync: $(cat "$WORK/out")"; else fail "initial sync: $(cat "$WORK/err")"; fi
is_server_msgs | cut -f1 | sort | uniq -c | awk '{ print $2 "\t" $1 }' > "$WORK/server_counts"
grep -q '^INBOX/Sent	' "$WORK/server_counts" ||
	{ fail "the fixture did not put Sent under INBOX/: $(tr '\n' ' ' < "$WORK/server_counts")"; exit 1; }
# Each server folder's messages are in the directory of its name without
# the prefix.
while IFS=$'\t' read -r folder n; do
	if [ "$folder" = INBOX ]; then dir="$MAIL"; else dir="$MAIL/${folder#INBOX/}"; fi
	got="$(find "$dir/cur" "$dir/new" -maxdepth 1 -type f 2>/dev/null | wc -l)"
	[ "$got" = "$n" ] && ok "$folder: $n files in ${dir#"$WORK"/}" ||
		fail "$folder: $got files in ${dir#"$WORK"/}, the server has $n"
done < "$WORK/server_counts"
[ -e "$MAIL/INBOX" ] && fail "the mirror has an INBOX directory: $(find "$MAIL/INBOX" | head -3)"
find "$MAIL" -name '%*' | grep -q . && fail "escaped names in the mirror: $(find "$MAIL" -name '%*' | head -3)"
"$MIRRORCHECK" "$STORE" t "$MAIL" >/dev/null 2>&1 && ok "mirror_check: store and mirror agree" ||
	fail "mirror_check: $("$MIRRORCHECK" "$STORE" t "$MAIL" 2>&1 | head -3)"

# A reader's flag change in a prefixed folder reaches the server.
f="$(find "$MAIL/Sent/new" -type f | sort | head -1)"
if [ -n "$f" ]; then
	uid="$(uid_of "$f")"
	mv "$f" "$MAIL/Sent/cur/$(basename "$f"):2,F"
	if is_sync; then ok "sync after a flag: $(cat "$WORK/out")"; else fail "sync after a flag: $(cat "$WORK/err")"; fi
	[ "$(server_flags INBOX/Sent "$uid")" = '\Flagged' ] && ok "INBOX/Sent $uid flagged on the server" ||
		fail "INBOX/Sent $uid on the server: '$(server_flags INBOX/Sent "$uid")'"
else
	fail "no unread message in Sent to flag"
fi

# A folder a reader creates is created inside the namespace.
mkdir -p "$MAIL/Projects/cur" "$MAIL/Projects/new" "$MAIL/Projects/tmp"
cp "${cfiles[0]}" "$MAIL/Projects/new/reader-1.eml"
if is_sync; then ok "sync after a new folder: $(cat "$WORK/out")"; else fail "sync after a new folder: $(cat "$WORK/err")"; fi
# (A bare-LF file is sent in its CRLF form, and kept as it is.)
sha_new="$(mail_sha "$(find "$MAIL/Projects/cur" "$MAIL/Projects/new" -type f | head -1)")"
is_server_msgs --folder INBOX/Projects | awk -F'\t' -v h="$sha_new" '$4 == h' | wc -l | grep -qx 1 &&
	ok "the reader's folder is INBOX/Projects on the server, with its message" ||
	fail "INBOX/Projects on the server: $(is_server_msgs --folder INBOX/Projects | head -3)"
is_server_msgs | cut -f1 | grep -qx Projects && fail "a folder Projects outside the namespace was created"

# The store keeps the prefix: a rebuild (mirror deleted) uses it before any
# network (the server is stopped).
rm -rf "$MAIL"
dovecot_stop
is_sync
[ -d "$MAIL/Sent/cur" ] && [ ! -e "$MAIL/INBOX" ] && ok "rebuilt offline with the prefix stripped" ||
	fail "offline rebuild: $(find "$MAIL" -maxdepth 2 -type d | head -5)"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all namespace checks passed"
