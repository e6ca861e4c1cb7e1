#!/bin/bash
# Readers hand mail to `mailsyncctl send` as their sendmail: git
# send-email (--sendmail-cmd, which passes -i and the recipients) and
# neomutt in tmux (sendmail = "mailsyncctl send", a draft sent with y).
# Each message is queued, delivered by mailsyncd --once with its Bcc
# removed, and filed once in Sent.
# ctest: run_serial
. "$MS_SOURCE_DIR/tests/tools/send_common.sh"

git send-email --help >/dev/null 2>&1 || git send-email -h 2>&1 | grep -q 'sendmail-cmd' ||
	{ ms_missing "git send-email (apt-get install git-email)"; exit $?; }
command -v neomutt >/dev/null && command -v tmux >/dev/null ||
	{ ms_missing "neomutt and tmux"; exit $?; }
send_setup
send_sink --tls implicit
SENDMAIL="$MAILSYNCCTL -c $CFG send"

# --- git send-email ----------------------------------------------------------------
repo="$WORK/repo"
git init -q "$repo" && cd "$repo" || exit 1
git config user.name "Alice" && git config user.email "$MS_USER1@example.org"
echo one > file && git add file && git commit -qm "first" &&
	echo two >> file && git commit -qam "second: a patch to send"
git format-patch -q -1 -o "$WORK/patches" || fail "format-patch"
cd "$WORK" || exit 1
HOME="$WORK" git -C "$repo" send-email --sendmail-cmd="$SENDMAIL" --confirm=never \
	--suppress-cc=all --to bob@example.net --bcc hidden@example.net \
	--from "Alice <$MS_USER1@example.org>" "$WORK"/patches/*.patch \
	>"$WORK/gse.out" 2>&1 && ok "git send-email queued: $(grep -m1 'OK\|Result' "$WORK/gse.out")" ||
	fail "git send-email: $(tail -5 "$WORK/gse.out")"
mid="$(grep -m1 -i '^Message-ID:' "$WORK/gse.out" | sed 's/^[^<]*<\([^>]*\)>.*/\1/')"
send_once; rc=$?
m="$MS_SMTP_DIR/001"
[ "$rc" = 0 ] && [ "$(sink_count)" = 1 ] &&
	tr -d ' \n' < "$m.json" | grep -q '"rcpt_tos":\["bob@example.net","hidden@example.net"\]' &&
	! grep -qi '^bcc:' "$m.eml" && grep -q 'second: a patch to send' "$m.eml" &&
	ok "git send-email: delivered to To and Bcc, Bcc header removed" ||
	fail "git send-email delivery: $rc: $(cat "$m.json" 2>/dev/null) $(cat "$WORK/err")"
[ -n "$mid" ] && [ "$(dovecot_doveadm search -u "$MS_USER1" mailbox Sent header message-id "<$mid>" | wc -l)" = 1 ] &&
	ok "its Sent copy filed (<$mid>)" || fail "git send-email Sent copy of '<$mid>'"

# --- neomutt in tmux ------------------------------------------------------------------
mkdir -p "$WORK/home"
cat > "$WORK/muttrc" <<EOC
set sendmail = "$SENDMAIL"
set use_from = yes
set from = "Alice <$MS_USER1@example.org>"
set realname = "Alice"
set record = ""
set copy = no
set editor = "true"
set edit_headers = no
set askcc = no
set askbcc = no
set fast_reply = yes
set crypt_autosign = no
set crypt_use_gpgme = no
set header_cache = ""
set mbox_type = Maildir
set folder = "$WORK/home/Mail"
set spoolfile = "$WORK/home/Mail"
set wait_key = no
EOC
mkdir -p "$WORK/home/Mail/cur" "$WORK/home/Mail/new" "$WORK/home/Mail/tmp"
printf 'To: carol@example.net\nBcc: dave@example.net\nSubject: from neomutt\nMessage-ID: <nm1@test>\n\nWritten in neomutt.\n' > "$WORK/draft"
TMUX_SOCK="ms-send-$$"
tmx() { tmux -L "$TMUX_SOCK" "$@"; }
ms_cleanup_add "tmux -L '$TMUX_SOCK' kill-server 2>/dev/null"
HOME="$WORK/home" tmx new-session -d -x 160 -y 40 \
	"neomutt -n -F '$WORK/muttrc' -H '$WORK/draft' 2>'$WORK/neomutt.err'"
for i in $(seq 1 300); do
	tmx capture-pane -p 2>/dev/null | grep -q 'y:Send' && break
	sleep 0.1
done
tmx capture-pane -p 2>/dev/null | grep -q 'y:Send' || fail "neomutt compose screen: $(tmx capture-pane -p | head -5)"
tmx send-keys y
for i in $(seq 1 100); do
	tmx has-session 2>/dev/null || break
	sleep 0.1
done
tmx has-session 2>/dev/null && fail "neomutt did not finish: $(tmx capture-pane -p | tail -3)"
send_once; rc=$?
m="$MS_SMTP_DIR/002"
[ "$rc" = 0 ] && [ "$(sink_count)" = 2 ] &&
	tr -d ' \n' < "$m.json" | grep -q '"rcpt_tos":\["carol@example.net","dave@example.net"\]' &&
	! grep -qi '^bcc:' "$m.eml" && grep -q 'Written in neomutt' "$m.eml" &&
	[ "$(sent_copies nm1)" = 1 ] &&
	ok "neomutt: delivered to To and Bcc, Bcc removed, one Sent copy" ||
	fail "neomutt delivery: $rc: $(cat "$m.json" 2>/dev/null) $(cat "$WORK/err" "$WORK/neomutt.err")"

send_finish
