#!/bin/bash
# Moving from mbsync: `mailsyncctl convert` turns a realistic ~/.mbsyncrc
# into a configuration that `mailsyncd --check-config` accepts, naming on
# stderr each setting it could not translate; one that points at the
# private Dovecot syncs the same mail mbsync would, into the Maildir the
# MaildirStore named; an .mbsyncrc given to mailsyncd as its config gets
# one line pointing at the converter; mailsyncctl's usage errors say what
# is wrong and list the commands.  Messages are checked word for word.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_home_setup
C() { "$MAILSYNCCTL" "$@"; }

# --- a realistic .mbsyncrc: converted, valid, every loss named --------------------
# The fixture's CertificateFile is the system bundle; the test CA stands in.
sed "s|^CertificateFile .*|CertificateFile $MS_TLS_CA|" \
	"$MS_SOURCE_DIR/tests/data/mbsync/mbsyncrc" > "$HOME/.mbsyncrc"
C convert > "$WORK/conv.ini" 2> "$WORK/conv.err"; rc=$?
[ "$rc" = 0 ] && ok "convert ~/.mbsyncrc (the default): exit 0" ||
	fail "convert: exit $rc: $(cat "$WORK/conv.err")"
chmod 600 "$WORK/conv.ini"	# it holds the old account's Pass
out="$("$MAILSYNCD" -c "$WORK/conv.ini" --check-config 2>&1)"; rc=$?
[ "$rc" = 0 ] && [ "$out" = "$WORK/conv.ini: OK, 3 accounts: work gmail old" ] &&
	ok "--check-config on the result: $out" || fail "--check-config: exit $rc: $out"
grep -qxF "$HOME/.mbsyncrc:12: SSLVersions: not translated (mailsync uses TLS 1.2 or later)" "$WORK/conv.err" &&
	grep -qxF "$HOME/.mbsyncrc:70: Tunnel: not translated (mailsync connects to host and port itself, over TLS)" "$WORK/conv.err" &&
	! grep -qF "SubFolders" "$WORK/conv.err" && ! grep -qF "SyncState" "$WORK/conv.err" &&
	ok "untranslated settings named with their lines ($(grep -c ': not translated' "$WORK/conv.err") of them)" ||
	{ fail "notes:"; cat "$WORK/conv.err" >&2; }
last="$(tail -1 "$WORK/conv.err")"
[ "$last" = "mailsyncctl: convert: 3 accounts written, 11 notes above (settings not translated as they were)" ] &&
	ok "a summary line: $last" || fail "summary: $last"
# mbsync's layouts are the mirror's: Inbox as Path/INBOX, SubFolders
# Maildir++ (whose folders are inside Inbox); SyncState * needs nothing.
grep -qxF "maildir_inbox = subfolder" "$WORK/conv.ini" &&
	grep -qxF "maildir = ~/Mail/gmail/INBOX" "$WORK/conv.ini" &&
	grep -qxF "maildir_layout = maildir++" "$WORK/conv.ini" &&
	! grep -q "^mbsync_state" "$WORK/conv.ini" &&
	ok "Inbox and SubFolders Maildir++ translated" ||
	fail "layout keys: $(grep maildir "$WORK/conv.ini")"

# --- given to mailsyncd as its config: one line that points at the converter ---------
out="$("$MAILSYNCD" -c "$HOME/.mbsyncrc" --check-config 2>&1)"; rc=$?
want="$HOME/.mbsyncrc: this is an mbsync configuration (~/.mbsyncrc), not a mailsync one; convert it with: mailsyncctl convert $HOME/.mbsyncrc > ~/.config/mailsync/config.ini"
[ "$rc" = 2 ] && [ "$out" = "$want" ] && ok "an .mbsyncrc as the config: exit 2, one line" ||
	fail "an .mbsyncrc as the config: exit $rc: $out"
"$MAILSYNCD" -c "$HOME/.mbsyncrc" --once > /dev/null 2> "$WORK/once.err"; rc=$?
[ "$rc" = 2 ] && [ "$(cat "$WORK/once.err")" = "$want" ] && ok "the same from --once" ||
	fail "--once with an .mbsyncrc: exit $rc: $(cat "$WORK/once.err")"

# The mbsync file already where the hint would write: "convert F > F" would
# have the shell empty it first, so the hint names another file.
cp "$HOME/.mbsyncrc" "$HOME/.config/mailsync/config.ini"
same="$HOME/.config/mailsync/config.ini"
out="$("$MAILSYNCD" -c "$same" --check-config 2>&1)"; rc=$?
want="$same: this is an mbsync configuration (~/.mbsyncrc), not a mailsync one; convert it with: mailsyncctl convert $same > $same.new && mv $same.new $same (not straight into $same: the shell would empty it before convert reads it)"
[ "$rc" = 2 ] && [ "$out" = "$want" ] && ok "an .mbsyncrc at the config's place: the hint writes elsewhere first" ||
	fail "an .mbsyncrc at the config's place: exit $rc: $out"
(cd "$HOME/.config/mailsync" && "$MAILSYNCD" -c config.ini --check-config 2>&1) | grep -qF "> config.ini.new && mv config.ini.new config.ini" &&
	ok "the same through a relative path" || fail "a relative path to it: the hint would empty it"
rm "$same"

# --- not an mbsync file ---------------------------------------------------------------
printf '[account x]\nhost = h\n' > "$WORK/not.rc"
out="$(C convert "$WORK/not.rc" 2>&1)"; rc=$?
[ "$rc" = 1 ] && [ "$out" = "mailsyncctl: convert: $WORK/not.rc does not look like an mbsync configuration (~/.mbsyncrc: its first setting is an mbsync keyword such as IMAPAccount), an OfflineIMAP one (~/.offlineimaprc: its first section is [general], [Account NAME] or [Repository NAME]) or a fetchmail one (~/.fetchmailrc: it starts with poll, defaults or set)" ] &&
	ok "convert of an INI file: exit 1, says why" || fail "convert of an INI file: exit $rc: $out"
out="$(C convert "$WORK/none.rc" 2>&1)"; rc=$?
[ "$rc" = 1 ] && [ "$out" = "mailsyncctl: convert: cannot read $WORK/none.rc: No such file or directory" ] &&
	ok "convert of a missing file: exit 1, says why" || fail "convert of a missing file: exit $rc: $out"

# --- a live one: the converted config syncs what mbsync would ---------------------------
mailfill "$MS_USER1" 60 >/dev/null || exit 1
cat > "$WORK/live.rc" <<EOF
IMAPAccount fixture
Host localhost
Port $MS_IMAPS_PORT
User $MS_USER1
PassCmd "cat $WORK/pass"
SSLType IMAPS
CertificateFile $MS_TLS_CA

IMAPStore fixture-remote
Account fixture

MaildirStore fixture-local
SubFolders Verbatim
Path $WORK/Mail/
Inbox $WORK/Mail/INBOX

Channel fixture
Far :fixture-remote:
Near :fixture-local:
Patterns * !Archive
Create Both
SyncState *
EOF
printf '%s\n' "$MS_PASS1" > "$WORK/pass"
chmod 600 "$WORK/pass"
C convert "$WORK/live.rc" > "$HOME/.config/mailsync/config.ini" 2> "$WORK/live.err" ||
	fail "convert live.rc: $(cat "$WORK/live.err")"
"$MAILSYNCD" --once > "$WORK/out" 2> "$WORK/err"; rc=$?
[ "$rc" = 0 ] && ok "the converted config syncs: $(cat "$WORK/out")" ||
	fail "sync with the converted config: exit $rc: $(cat "$WORK/err")"
# mailfill's folders but Archive (excluded), each of its messages a file.
server="$(is_server_msgs | awk -F'\t' '$1 != "Archive"' | wc -l)"
mirror="$(find "$WORK/Mail" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)"
[ "$server" -gt 0 ] && [ "$mirror" = "$server" ] && [ ! -e "$WORK/Mail/Archive" ] &&
	ok "the Maildir holds the $mirror messages of the wanted folders, Archive left out" ||
	fail "Maildir: $mirror files, server $server wanted messages; Archive: $(ls "$WORK/Mail" | tr '\n' ' ')"

# --- mailsyncctl usage: an unknown command says so and lists the commands -------------
out="$(C frobnicate 2>&1)"; rc=$?
[ "$rc" = 2 ] && [[ "$out" == "mailsyncctl: unknown command 'frobnicate'; commands: status accounts "*" convert version (try 'mailsyncctl --help')" ]] &&
	ok "unknown command: exit 2: $out" || fail "unknown command: exit $rc: $out"

[ "$FAILS" = 0 ] || exit 1
