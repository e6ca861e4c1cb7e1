#!/bin/bash
# Moving from fetchmail: `mailsyncctl convert ~/.fetchmailrc` writes a
# configuration that `mailsyncd --check-config` accepts, names on stderr
# each setting it could not translate (the MDA's rules, SMTP forwarding,
# a skip entry), and one whose polls point at the private Dovecot's POP3S
# (keep) and POP3 with STLS (no keep) downloads both mailboxes into the
# Maildirs: the one the mda named (mblaze's mdeliver), and the default
# for the one that went through procmail.  Content is compared with the
# server's; the mail fetchmail delivered before stays in its Maildir, as
# it was, and nothing of it reaches the server.  Messages are checked
# word for word.
. "$MS_SOURCE_DIR/tests/tools/pop3_common.sh"

is_home_setup
mailfill "$MS_USER1" 30 --folder INBOX --quiet >/dev/null || exit 1
mailfill "$MS_USER2" 12 --folder INBOX --quiet >/dev/null || exit 1
server_alice="$(p3_server_hashes)"
bob_dir="$(dovecot_maildir "$MS_USER2")"
server_bob="$(p3_crlf_hashes $(find "$bob_dir/cur" "$bob_dir/new" -type f))"

# What fetchmail's mdeliver delivered before: two messages, one read.
mkdir -p "$WORK/Mail/cur" "$WORK/Mail/new" "$WORK/Mail/tmp"
old=( $(find "$(ms_corpus_dir)/messages" -name '*.eml' | sort | head -2) )
tr -d '\r' < "${old[0]}" > "$WORK/Mail/cur/1700000000.1_1.host:2,S"
tr -d '\r' < "${old[1]}" > "$WORK/Mail/new/1700000000.2_1.host"
old_sums="$(cd "$WORK/Mail" && sha256sum cur/* new/*)"
old_hashes="$(p3_crlf_hashes "$WORK/Mail/cur/"* "$WORK/Mail/new/"*)"

R="$HOME/.fetchmailrc"
cat > "$R" <<EOF2
# fetchmail, as it ran from cron
set logfile ~/.fetchmail.log

poll localhost with proto pop3 service $MS_POP3S_PORT
    user "$MS_USER1" there with password "$MS_PASS1" is me here
    ssl sslcertfile "$MS_TLS_CA" sslcertck
    keep
    mda "mdeliver -c $WORK/Mail"

poll bob-box via localhost proto POP3 port $MS_POP3_PORT:
    user $MS_USER2, with pass '$MS_PASS2';
    sslcertfile "$MS_TLS_CA" no keep
    mda "/usr/bin/procmail -d %T"
    smtphost localhost

skip old.example.net proto pop3 user a pass b
EOF2
chmod 600 "$R"
"$MAILSYNCCTL" convert "$R" > "$HOME/.config/mailsync/config.ini" 2> "$WORK/err"; rc=$?
chmod 600 "$HOME/.config/mailsync/config.ini"	# it holds the passwords
cat > "$WORK/want" <<EOF2
$R: no set daemon: fetchmail polled when it was run; mailsyncd polls every poll_interval (5m unless set)
$R:2: set logfile: not translated (mailsyncd logs to standard error, the journal under systemd)
$R:5: password: written as password =, so the file must be private (chmod 600); password_cmd keeps it out of the file
$R:7: keep: the first pass downloads every message the server holds, also those fetchmail delivered already (mailsync does not read fetchmail's ~/.fetchids)
$R:11: password: written as password =, so the file must be private (chmod 600); password_cmd keeps it out of the file
$R:13: mda: not run; mailsync delivers into maildir = ~/Mail/bob-box (procmail's rules are not applied; new_mail_cmd runs a command after new mail arrived)
$R:14: smtphost: not translated (mailsync delivers into a Maildir and forwards nothing over SMTP)
$R:16: skip old.example.net: fetchmail polls it only when named on its command line: not converted (make it a poll entry to convert it)
mailsyncctl: convert: 2 accounts written, 8 notes above (settings not translated as they were)
EOF2
[ "$rc" = 0 ] && cmp -s "$WORK/want" "$WORK/err" && ok "converted, 8 notes word for word" ||
	{ fail "convert: exit $rc:"; diff "$WORK/want" "$WORK/err" >&2; }
grep -qxF "maildir = $WORK/Mail" "$HOME/.config/mailsync/config.ini" &&
	grep -qxF "keep = yes" "$HOME/.config/mailsync/config.ini" &&
	grep -qxF "keep = no" "$HOME/.config/mailsync/config.ini" &&
	grep -qxF "tls = starttls" "$HOME/.config/mailsync/config.ini" &&
	ok "mdeliver's Maildir, keep and no keep, STLS" ||
	fail "the result: $(cat "$HOME/.config/mailsync/config.ini")"

"$MAILSYNCD" --check-config > "$WORK/out" 2>&1 && ok "--check-config: $(cat "$WORK/out")" ||
	fail "--check-config: $(cat "$WORK/out")"
# Given the .fetchmailrc itself, mailsyncd names the converter.
out="$("$MAILSYNCD" -c "$R" --check-config 2>&1)"; rc=$?
[ "$rc" = 2 ] && [ "$out" = "$R: this is a fetchmail configuration (~/.fetchmailrc), not a mailsync one; convert it with: mailsyncctl convert $R > ~/.config/mailsync/config.ini" ] &&
	ok "mailsyncd given the .fetchmailrc points at convert" || fail "mailsyncd -c .fetchmailrc: exit $rc: $out"

"$MAILSYNCD" --once > "$WORK/out" 2> "$WORK/err"; rc=$?
[ "$rc" = 0 ] && ok "the converted config downloads: $(tr '\n' ' ' < "$WORK/out")" ||
	fail "--once with the converted config: exit $rc: $(cat "$WORK/err")"
MAIL="$WORK/Mail"
want="$(printf '%s\n%s\n' "$server_alice" "$old_hashes" | sort)"
[ "$(p3_mirror_hashes)" = "$want" ] && [ "$(p3_mirror_hashes | wc -l)" = 32 ] &&
	ok "alice's 30 messages in mdeliver's Maildir beside the 2 there, byte for byte" ||
	fail "alice's Maildir: $(p3_mirror_hashes | wc -l) files, not the server's 30 and the 2 old"
(cd "$WORK/Mail" && sha256sum -c --quiet <<< "$old_sums") &&
	ok "the files fetchmail delivered are untouched" || fail "the old files changed"
[ "$(p3_server_hashes)" = "$server_alice" ] && ok "keep: the server keeps alice's mail, and no more" ||
	fail "keep: alice's mailbox changed on the server"
MAIL="$HOME/Mail/bob-box"
[ "$(p3_mirror_hashes)" = "$server_bob" ] && [ "$(p3_mirror_hashes | wc -l)" = 12 ] &&
	ok "bob's 12 messages in ~/Mail/bob-box, byte for byte" ||
	fail "bob's Maildir: $(p3_mirror_hashes | wc -l) files, not the server's 12"
left="$(find "$bob_dir/cur" "$bob_dir/new" -type f | wc -l)"
[ "$left" = 0 ] && ok "no keep: bob's mailbox emptied once stored" ||
	fail "no keep: $left messages left on the server"

[ "$FAILS" = 0 ] || exit 1
echo "all passed"
