#!/bin/bash
# neomutt, run headless in tmux on the Maildir mirror: open INBOX, read a
# message, flag one, delete one, quit; after the next `mailsyncd --once`
# the server has the read one \Seen, the flagged one \Flagged and the
# deleted one gone, and store, mirror and server agree.
# ctest: run_serial
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

command -v neomutt >/dev/null && command -v tmux >/dev/null ||
	{ ms_missing "neomutt and tmux"; exit $?; }
mirror_setup
mailfill "$MS_USER1" 30 --folder INBOX >/dev/null || exit 1
# No PGP: neomutt would run gpg on opening such a message (slow, and it may
# ask for a passphrase), which is not what this test is about.
dovecot_doveadm expunge -u "$MS_USER1" mailbox INBOX text application/pgp ||
	{ fail "doveadm could not expunge the PGP messages"; exit 1; }
# Every INBOX message unread and unflagged, so each action shows.
mailmutate_flags "$MS_USER1" INBOX remove 1:* '\Seen' '\Flagged' '\Answered' >/dev/null
if is_sync; then ok "initial sync: $(cat "$WORK/out")"; else fail "initial sync: $(cat "$WORK/err")"; fi
mirror_compare "initial" --strict-new

# Before: UID -> flags of every INBOX file.
snapshot()
{
	find "$MAIL/cur" "$MAIL/new" -type f -printf '%f\n' |
		awk -F'[-:]' '{ f = ""; if (index($0, ":2,")) { f = substr($0, index($0, ":2,") + 3) }; print $2, (f == "" ? "-" : f) }' |
		LC_ALL=C sort
}
snapshot > "$WORK/before"

mkdir -p "$WORK/home"
cat > "$WORK/muttrc" <<EOF
set mbox_type = Maildir
set folder = "$MAIL"
set spoolfile = "$MAIL"
set sort = date-sent
set resolve = no
set mark_old = no
set move = no
set delete = yes
set quit = yes
set confirmappend = no
set wait_key = no
set crypt_use_gpgme = no
set crypt_verify_sig = no
set header_cache = ""
set message_cachedir = ""
EOF
TMUX_SOCK="ms-mirror-$$"
tmx() { tmux -L "$TMUX_SOCK" "$@"; }
ms_cleanup_add "tmux -L '$TMUX_SOCK' kill-server 2>/dev/null"
HOME="$WORK/home" tmx new-session -d -x 160 -y 40 \
	"neomutt -n -F '$WORK/muttrc' -f '$MAIL' 2>'$WORK/neomutt.err'"

# wait_screen PATTERN: until the screen shows PATTERN (30 s at most: a
# loaded machine starts neomutt slowly).
wait_screen()
{
	local i
	for i in $(seq 1 300); do
		tmx capture-pane -p 2>/dev/null | grep -q -- "$1" && return 0
		sleep 0.1
	done
	fail "neomutt screen never showed '$1':"
	tmx capture-pane -p 2>/dev/null | head -12 >&2
	return 1
}

# The index shows "1 ... 30" message lines; the pager shows the headers.
wait_screen 'q:Quit' || exit 1
# neomutt may draw the index before it reads keys (curses flushes what
# came early): Enter again while the index is still what shows.
for i in $(seq 1 150); do
	screen="$(tmx capture-pane -p 2>/dev/null)"
	grep -q 'Subject:' <<< "$screen" && break
	[ $((i % 10)) = 1 ] && grep -q 'u:Undel' <<< "$screen" && tmx send-keys Enter
	sleep 0.2
done
wait_screen 'Subject:' || exit 1
tmx send-keys q
wait_screen 'q:Quit'
tmx send-keys j F j d
sleep 0.5
tmx send-keys q
for i in $(seq 1 100); do
	tmx has-session 2>/dev/null || break
	sleep 0.1
done
tmx has-session 2>/dev/null && fail "neomutt did not quit" && tmx capture-pane -p | head -5 >&2
snapshot > "$WORK/after"

# What neomutt did, from the file names: one file gained S, one F, one went.
read_uid="$(LC_ALL=C join "$WORK/before" "$WORK/after" | awk '$2 == "-" && $3 == "S" { print $1 }')"
flag_uid="$(LC_ALL=C join "$WORK/before" "$WORK/after" | awk '$2 == "-" && $3 == "F" { print $1 }')"
gone_uid="$(LC_ALL=C join -v1 "$WORK/before" "$WORK/after" | awk '{ print $1 }')"
if [ "$(echo "$read_uid" | wc -w)" = 1 ] && [ "$(echo "$flag_uid" | wc -w)" = 1 ] &&
   [ "$(echo "$gone_uid" | wc -w)" = 1 ]; then
	ok "neomutt read UID $read_uid, flagged UID $flag_uid, deleted UID $gone_uid"
else
	fail "neomutt's changes are not what was typed: read '$read_uid' flagged '$flag_uid' gone '$gone_uid'"
	diff "$WORK/before" "$WORK/after" | head -8 >&2
	exit 1
fi

if is_sync; then ok "sync after neomutt: $(cat "$WORK/out")"; else fail "sync after neomutt: $(cat "$WORK/err")"; fi
f="$(server_flags INBOX "$read_uid")"
[ "$f" = '\Seen' ] && ok "INBOX $read_uid on the server: $f" || fail "INBOX $read_uid on the server: '$f', want \\Seen"
f="$(server_flags INBOX "$flag_uid")"
[ "$f" = '\Flagged' ] && ok "INBOX $flag_uid on the server: $f" || fail "INBOX $flag_uid on the server: '$f', want \\Flagged"
[ -z "$(server_flags INBOX "$gone_uid")" ] && ok "INBOX $gone_uid deleted on the server" ||
	fail "INBOX $gone_uid still on the server"
pending="$("$STOREDUMP" "$STORE" changes | wc -l)"
[ "$pending" = 0 ] || fail "$pending changes still pending"
is_compare "after neomutt"
mirror_compare "after neomutt"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all neomutt checks passed"
