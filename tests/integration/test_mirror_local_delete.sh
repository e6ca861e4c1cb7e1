#!/bin/bash
# local_delete: what a reader's deletion does on the server.  trash (the
# default): the message leaves INBOX for Trash (marked \Trash on the
# fixture Dovecot), also when Trash is not synced; flag: it stays in
# INBOX, \Deleted, and the mirror shows it no more; expunge: it is gone
# from the server; a server without a Trash folder: flag, with an error
# in the log, never an expunge.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

# on_server FOLDER SHA: the flags of the server's copies of SHA in FOLDER,
# one line each ("" when none).
on_server() { is_server_msgs --folder "$1" | awk -F'\t' -v h="$2" '$4 == h { print $3 }'; }

# delete_one MODE [FOLDERS]: a fresh store and mirror with local_delete =
# MODE (on the one server), synced; one INBOX file removed by a reader and
# synced; sets $sha.
mirror_setup
cp "$CFG" "$WORK/cfg.template"
n_run=0
delete_one()
{
	n_run=$((n_run + 1))
	STORE="$WORK/store$n_run"
	MAIL="$WORK/mail$n_run"
	sed -e "s|^store = .*|store = $STORE|" -e "s|^maildir = .*|maildir = $MAIL|" \
		"$WORK/cfg.template" > "$CFG"
	printf 'local_delete = %s\n' "$1" >> "$CFG"
	[ -n "${2:-}" ] && printf 'folders = %s\n' "$2" >> "$CFG"
	mailfill "$MS_USER1" 3 --folder INBOX >/dev/null || exit 1
	is_sync || fail "$1: initial sync: $(cat "$WORK/err")"
	local f
	# The newest message: one this run's fill added.
	f="$(find "$MAIL/new" "$MAIL/cur" -type f | while read -r f; do
		printf '%s\t%s\n' "$(uid_of "$f")" "$f"; done | sort -n | tail -1 | cut -f2)"
	sha="$(mail_sha "$f")"
	rm "$f"
	is_sync || fail "$1: sync after the deletion: $(cat "$WORK/err")"
}

delete_one trash
[ -z "$(on_server INBOX "$sha")" ] && [ "$(on_server Trash "$sha")" != "" ] &&
	ok "trash: the message moved from INBOX to Trash" ||
	fail "trash: INBOX '$(on_server INBOX "$sha")', Trash '$(on_server Trash "$sha")'"
[ "$(mirror_count Trash)" = 1 ] && ok "trash: its file is in the mirror's Trash" ||
	fail "trash: the mirror's Trash holds $(mirror_count Trash) files"
mirror_compare "trash"

delete_one trash '* !Trash'
[ -z "$(on_server INBOX "$sha")" ] && [ "$(on_server Trash "$sha")" != "" ] &&
	ok "trash, Trash not synced: moved there all the same" ||
	fail "trash !Trash: INBOX '$(on_server INBOX "$sha")', Trash '$(on_server Trash "$sha")'"
MS_LOCAL_DELETE=trash "$MIRRORCHECK" "$STORE" t "$MAIL" check '*' '!Trash' >"$WORK/check.out" 2>&1 &&
	ok "trash, not synced: mirror_check agrees" || fail "trash, not synced: mirror_check: $(cat "$WORK/check.out")"

delete_one flag
on_server INBOX "$sha" | grep -q '\\Deleted' && [ -z "$(on_server Trash "$sha")" ] &&
	ok "flag: the message stays in INBOX, \\Deleted" ||
	fail "flag: INBOX '$(on_server INBOX "$sha")', Trash '$(on_server Trash "$sha")'"
is_sync || fail "flag: another sync: $(cat "$WORK/err")"
n="$(find "$MAIL/new" "$MAIL/cur" -type f | while read -r f; do mail_sha "$f"; done | grep -cx "$sha")"
[ "$n" = 0 ] && ok "flag: the mirror does not show it again" || fail "flag: $n files of it in the mirror"
MS_LOCAL_DELETE=flag "$MIRRORCHECK" "$STORE" t "$MAIL" check >"$WORK/check.out" 2>&1 &&
	ok "flag: mirror_check agrees" || fail "flag: mirror_check: $(cat "$WORK/check.out")"

delete_one expunge
[ -z "$(on_server INBOX "$sha")" ] && [ -z "$(on_server Trash "$sha")" ] &&
	ok "expunge: the message is gone from the server" ||
	fail "expunge: INBOX '$(on_server INBOX "$sha")', Trash '$(on_server Trash "$sha")'"
mirror_compare "expunge"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
