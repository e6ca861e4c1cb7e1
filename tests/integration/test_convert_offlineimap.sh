#!/bin/bash
# Moving from OfflineIMAP: `mailsyncctl convert ~/.offlineimaprc` writes a
# configuration that `mailsyncd --check-config` accepts, names on stderr
# each setting it could not translate (Python, hooks), and one that points
# at the private Dovecot syncs the folders OfflineIMAP would into the
# Maildir its localfolders named.  Messages are checked word for word.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_home_setup
mailfill "$MS_USER1" 60 >/dev/null || exit 1

cat > "$HOME/.offlineimaprc" <<EOF2
[general]
accounts = fixture
pythonfile = ~/.offlineimap.py

[Account fixture]
localrepository = local
remoterepository = remote
postsynchook = notmuch new

[Repository local]
type = Maildir
localfolders = $WORK/Mail

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = $MS_IMAPS_PORT
ssl = yes
sslcacertfile = $MS_TLS_CA
remoteuser = $MS_USER1
remotepassfile = $WORK/pass
folderfilter = lambda f: f != 'Archive'
EOF2
printf '%s\n' "$MS_PASS1" > "$WORK/pass"
chmod 600 "$WORK/pass"
"$MAILSYNCCTL" convert "$HOME/.offlineimaprc" > "$HOME/.config/mailsync/config.ini" 2> "$WORK/err"; rc=$?
R="$HOME/.offlineimaprc"
cat > "$WORK/want" <<EOF2
$R:3: [general] pythonfile: not translated
$R:8: [Account fixture] postsynchook: not translated
$R:10: Repository local: OfflineIMAP keeps INBOX in $WORK/Mail/INBOX and other folders as .-separated names; mailsync keeps INBOX at the top of maildir = $WORK/Mail and other folders in subdirectories
$R:22: folderfilter: Python, not translated (list the folders to sync with folders =)
mailsyncctl: convert: 1 account written, 4 notes above (settings not translated as they were)
EOF2
[ "$rc" = 0 ] && cmp -s "$WORK/want" "$WORK/err" && ok "converted, 4 notes word for word" ||
	{ fail "convert: exit $rc:"; diff "$WORK/want" "$WORK/err" >&2; }
"$MAILSYNCD" --check-config > "$WORK/out" 2>&1 && ok "--check-config: $(cat "$WORK/out")" ||
	fail "--check-config: $(cat "$WORK/out")"
"$MAILSYNCD" --once > "$WORK/out" 2> "$WORK/err"; rc=$?
[ "$rc" = 0 ] && ok "the converted config syncs: $(cat "$WORK/out")" ||
	fail "sync with the converted config: exit $rc: $(cat "$WORK/err")"
# folderfilter is only noted: every folder is synced, each message a file.
server="$(is_server_msgs | wc -l)"
mirror="$(find "$WORK/Mail" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)"
[ "$server" = 60 ] && [ "$mirror" = "$server" ] &&
	ok "the Maildir holds the server's $mirror messages" ||
	fail "Maildir: $mirror files, the server $server messages"

[ "$FAILS" = 0 ] || exit 1
echo "all passed"
