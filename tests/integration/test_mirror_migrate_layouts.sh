#!/bin/bash
# Migration from mbsync trees in each SubFolders style, and with its sync
# state outside the Maildirs: a real mbsync run (isync) fills a Maildir
# from the fixture Dovecot (INBOX, Archive, Lists/dev, Lists/dev/deep and
# INBOX's child INBOX/sub), then mailsync, pointed at that tree with the
# matching maildir_layout (and mbsync_state), adopts every file with its
# UID and flags: no body fetched (the protocol trace has no BODY fetch),
# nothing uploaded, no file renamed, rewritten or added.  Later changes
# flow both ways through the layout's directories: a reader's flag and
# new message in nested folders reach the server, a server message and
# flag reach the right directory.
#   SubFolders Maildir++  maildir_layout = maildir++ (.Lists.dev.deep, ..sub)
#                         state in each Maildir (SyncState *)
#   SubFolders Legacy     maildir_layout = legacy (Lists/.dev/.deep,
#                         INBOX/.sub), INBOX as INBOX/, the Channel's
#                         SyncState DIR/ (files named after the box)
#   SubFolders Verbatim   the global SyncState DIR/ (":t-far:INBOX_:t-near:
#                         INBOX"), as mbsync's default ~/.mbsync/ has them
# A Maildir++ mirror refuses a server folder with a dot in its name,
# naming it, and never makes the directory the dots would name.  A
# Maildir mbsync 1.4 named in modified UTF-7 is reported, not uploaded.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"
. "$MS_SOURCE_DIR/tests/integration/lib/mbsync.sh"

command -v mbsync >/dev/null || { ms_missing "mbsync (apt-get install isync)"; exit $?; }
mirror_setup
grep -v '^maildir = ' "$CFG" > "$WORK/cfg.base"

mailfill "$MS_USER1" 30 --folder INBOX --folder Archive --folder Lists/dev \
	--folder Lists/dev/deep --folder INBOX/sub >/dev/null || exit 1
dovecot_doveadm flags add -u "$MS_USER1" '\Seen' mailbox INBOX uid 1:4 || fail "flags"
dovecot_doveadm flags add -u "$MS_USER1" '\Flagged \Answered' mailbox Lists/dev/deep uid 1 || fail "flags"
dovecot_doveadm flags add -u "$MS_USER1" '$Forwarded' mailbox INBOX/sub uid 1 || fail "flags"

snapshot()
{
	(cd "$1" && find . -type f \( -path '*/cur/*' -o -path '*/new/*' \) -print0 |
		xargs -0 -r sha256sum | sed -E 's#/(cur|new)/#/#' | sort -k2)
}
trace_count() { grep -E ' imap .*C: ' "$WORK/err" | grep -cE "$1" || true; }

# migrate STYLE LAYOUT INBOX STATE DEEP SUB NEWDIR: mbsync fills $WORK/mail-LAYOUT
# with SubFolders STYLE, INBOX at the root or as INBOX/ (INBOX = root |
# subfolder), its state in each Maildir or under a directory (STATE =
# maildir | channel | global); then the migration and the changes both
# ways.  DEEP and SUB: where the layout puts Lists/dev/deep and INBOX/sub;
# NEWDIR: where a reader makes the folder Projects/y<LAYOUT's length>.
migrate()
{
	local style="$1" layout="$2" inbox="$3" state="$4" deep="$5" sub="$6"
	local newdir="$7" newfolder="Projects/y${#2}"
	local rc="$WORK/rc-$layout" sdir="$WORK/state-$layout/" ib dump_opts
	local n_server n_adopted n_folders
	MAIL="$WORK/mail-$layout" STORE="$WORK/store-$layout" CFG="$WORK/cfg-$layout"
	mkdir -p "$MAIL" "$sdir"
	ib="$MAIL"
	[ "$inbox" = subfolder ] && ib="$MAIL/INBOX"
	mbsync_rc "$rc" "$MAIL" "$MS_IMAPS_PORT" "$MS_USER1" "$MS_PASS1" \
		"Create Both" "Expunge Both"
	sed -i -e "s|^Inbox .*|Inbox $ib|" -e "s|^SubFolders .*|SubFolders $style|" "$rc"
	# mbsync: "Setting Path is incompatible with 'SubFolders Maildir++'".
	[ "$style" = Maildir++ ] && sed -i '/^Path /d' "$rc"
	case "$state" in
	channel) sed -i "s|^SyncState \*|SyncState $sdir|" "$rc" ;;
	global) sed -i '/^SyncState/d' "$rc" && sed -i "1i SyncState $sdir" "$rc" ;;
	esac
	# Each run's reader flags a message of its own (below).
	dovecot_doveadm flags remove -u "$MS_USER1" '\Flagged' mailbox Lists/dev/deep uid 2:* || fail "flags"
	mbsync -q -c "$rc" -a >"$WORK/mbsync.out" 2>&1 ||
		fail "$layout: mbsync: $(tail -3 "$WORK/mbsync.out")"
	[ -d "$MAIL/$deep/cur" ] && [ -d "$MAIL/$sub/cur" ] ||
		fail "$layout: mbsync's tree is not as expected: $(cd "$MAIL" && find . -name cur | sort | tr '\n' ' ')"
	case "$state" in
	channel) [ -f "$sdir/Lists!dev!deep" ] ;;
	global) [ -f "$sdir/:t-far:Lists!dev!deep_:t-near:Lists!dev!deep" ] ;;
	*) [ -f "$MAIL/$deep/.mbsyncstate" ] ;;
	esac || fail "$layout: mbsync's state is not where expected: $(ls -a "$sdir" "$MAIL/$deep")"
	[ "$state" = maildir ] || [ -z "$(find "$MAIL" -name .mbsyncstate)" ] ||
		fail "$layout: a .mbsyncstate in the Maildirs"

	{ sed "s|^store = .*|store = $STORE|" "$WORK/cfg.base"
	  printf 'maildir = %s\nmaildir_inbox = %s\n' "$MAIL" "$inbox"
	  [ "$layout" = verbatim ] || printf 'maildir_layout = %s\n' "$layout"
	  [ "$state" = maildir ] || printf 'mbsync_state = %s\n' "$sdir"
	} > "$CFG"
	chmod 600 "$CFG"
	export MS_MAILDIR_LAYOUT="$layout" MS_MAILDIR_INBOX="$inbox"
	dump_opts="--mbsync --layout=$layout"
	[ "$inbox" = subfolder ] && dump_opts="$dump_opts --inbox-subfolder"
	snapshot "$MAIL" > "$WORK/before-$layout.txt"

	mirror_vsync "$layout: first sync over mbsync's tree"
	# Every folder with messages (the earlier runs' readers made some).
	n_folders="$(is_server_msgs | cut -f1 | sort -u | wc -l)"
	n_adopted="$(grep -c 'acct=t folder=.* adopted [0-9]* files of mbsync' "$WORK/err" || true)"
	[ "$n_adopted" = "$n_folders" ] && ok "$layout: every folder adopted ($n_adopted)" ||
		fail "$layout: $n_adopted folders adopted: $(grep -E "adopted|not used" "$WORK/err" | head -5)"
	[ "$(trace_count 'FETCH.*BODY')" = 0 ] && ok "$layout: no message downloaded" ||
		fail "$layout: $(trace_count 'FETCH.*BODY') FETCH BODY commands"
	[ "$(trace_count ' APPEND ')" = 0 ] && ok "$layout: no message uploaded" ||
		fail "$layout: $(trace_count ' APPEND ') APPEND commands"
	[ "$(trace_count ' STORE ')" = 0 ] && ok "$layout: no flag changed" ||
		fail "$layout: $(trace_count ' STORE ') STORE commands"
	snapshot "$MAIL" > "$WORK/after-$layout.txt"
	cmp -s "$WORK/before-$layout.txt" "$WORK/after-$layout.txt" &&
		ok "$layout: every file kept its name and bytes ($(wc -l < "$WORK/before-$layout.txt")), none added" ||
		{ fail "$layout: files changed:"; diff "$WORK/before-$layout.txt" "$WORK/after-$layout.txt" | head -5 >&2; }
	# shellcheck disable=SC2086
	MIRROR_CHECK=check-names mirror_compare "$layout: after the migration" $dump_opts
	is_compare "$layout: after the migration"

	# A reader flags a message in the deepest folder and writes one into
	# INBOX's child; the server gets a message in Lists/dev and a flag.
	local f letters n_flagged mid="<reader-$layout@migrate.test>"
	f="$(find "$MAIL/$deep/cur" "$MAIL/$deep/new" -type f ! -name '*:2,*F*' | sort | tail -1)"
	[ -n "$f" ] || fail "$layout: no unflagged file in $deep"
	letters="$(printf '%sF' "${f##*:2,}" | fold -w1 | sort | tr -d '\n')"
	mv "$f" "$MAIL/$deep/cur/$(basename "${f%:2,*}"):2,$letters"
	n_flagged="$(is_server_msgs --folder Lists/dev/deep | grep -c 'Flagged')"
	printf 'From: me@example.org\nTo: you@example.org\nSubject: written in %s\nMessage-ID: %s\n\nnew\n' \
		"$sub" "$mid" > "$MAIL/$sub/new/1700000001.M2P2.$layout"
	mkdir -p "$MAIL/$newdir/cur" "$MAIL/$newdir/new" "$MAIL/$newdir/tmp"
	printf 'From: me@example.org\nSubject: a new folder\nMessage-ID: <new-%s@migrate.test>\n\nnew folder\n' \
		"$layout" > "$MAIL/$newdir/new/1700000002.M3P3.$layout"
	mailfill "$MS_USER1" 1 --folder Lists/dev >/dev/null || fail "mailfill"
	dovecot_doveadm flags add -u "$MS_USER1" '\Flagged' mailbox Archive uid 2 || fail "flags"
	n_server="$(is_server_msgs | wc -l)"
	mirror_vsync "$layout: changes both ways"
	is_server_msgs --folder Lists/dev/deep | grep -c 'Flagged' | grep -qx "$((n_flagged + 1))" &&
		ok "$layout: the reader's flag in $deep reached the server" ||
		fail "$layout: flags of Lists/dev/deep: $(is_server_msgs --folder Lists/dev/deep | cut -f2,3)"
	[ -n "$(dovecot_doveadm search -u "$MS_USER1" mailbox INBOX/sub header message-id "$mid")" ] &&
		ok "$layout: the reader's message in $sub was uploaded to INBOX/sub" ||
		fail "$layout: no $mid in INBOX/sub"
	[ -n "$(dovecot_doveadm search -u "$MS_USER1" mailbox "$newfolder" header message-id "<new-$layout@migrate.test>")" ] &&
		ok "$layout: the reader's folder $newdir became $newfolder on the server, with its message" ||
		fail "$layout: no $newfolder with its message on the server"
	[ "$(is_server_msgs | wc -l)" = "$((n_server + 2))" ] &&
		ok "$layout: two messages more on the server, no duplicate" ||
		fail "$layout: $(is_server_msgs | wc -l) server messages, expected $((n_server + 2))"
	# shellcheck disable=SC2086
	MIRROR_CHECK=check-names mirror_compare "$layout: after changes both ways" $dump_opts
	is_compare "$layout: after changes both ways"
	[ -z "$(find "$MAIL" -path '*%49NBOX*')" ] || fail "$layout: INBOX's child mirrored twice"
}

migrate Maildir++ maildir++ root maildir .Lists.dev.deep ..sub .Projects.y9
migrate Legacy legacy subfolder channel Lists/.dev/.deep INBOX/.sub Projects/.y6
migrate Verbatim verbatim subfolder global Lists/dev/deep INBOX/sub Projects/y8

# --- mbsync 1.4 names Maildirs in modified UTF-7 (&AMQ-rger), the mirror ------
# in UTF-8: the old Maildir is reported and left alone, never created on
# the server as a folder of that name with its messages uploaded.
MAIL="$WORK/mail-verbatim" STORE="$WORK/store-verbatim" CFG="$WORK/cfg-verbatim"
export MS_MAILDIR_LAYOUT=verbatim MS_MAILDIR_INBOX=subfolder
mailfill "$MS_USER1" 1 --folder "Ärger" >/dev/null || fail "mailfill Ärger"
mkdir -p "$MAIL/&AMQ-rger/cur" "$MAIL/&AMQ-rger/new" "$MAIL/&AMQ-rger/tmp"
cp "$(find "$(dovecot_maildir "$MS_USER1")" -path '*rger*' \( -path '*/cur/*' -o -path '*/new/*' \) -type f | head -1)" \
	"$MAIL/&AMQ-rger/cur/1700000003.M4P4.old,U=1:2,S" || fail "no message in Ärger"
mirror_vsync "a Maildir named in modified UTF-7"
grep -qF "&AMQ-rger: Maildir named in IMAP's modified UTF-7 (as mbsync 1.4 names them) of folder \"Ärger\"" "$WORK/err" &&
	ok "the modified UTF-7 Maildir is named, left alone" ||
	fail "no report of &AMQ-rger: $(grep -F 'rger' "$WORK/err" | grep -v ' imap ' | head -3)"
[ "$(trace_count ' APPEND ')" = 0 ] && [ "$(trace_count ' CREATE ')" = 0 ] &&
	ok "nothing created or uploaded for it" ||
	fail "$(trace_count ' CREATE ') CREATE, $(trace_count ' APPEND ') APPEND"
[ -d "$MAIL/Ärger/cur" ] && ok "Ärger mirrored under its UTF-8 name" ||
	fail "no Ärger/: $(ls "$MAIL")"

# --- a new mirror in each layout: the export writes mbsync's tree ---------------
for layout in maildir++ legacy; do
	MAIL="$WORK/new-$layout" STORE="$WORK/newstore-$layout" CFG="$WORK/cfg-new-$layout"
	{ sed "s|^store = .*|store = $STORE|" "$WORK/cfg.base"
	  printf 'maildir = %s\nmaildir_layout = %s\n' "$MAIL" "$layout"
	} > "$CFG"
	chmod 600 "$CFG"
	export MS_MAILDIR_LAYOUT="$layout" MS_MAILDIR_INBOX=root
	mirror_vsync "$layout: a first sync into an empty mirror"
	mirror_compare "$layout: a new mirror" --layout="$layout"
	[ -d "$MAIL/$( [ $layout = legacy ] && echo Lists/.dev/.deep || echo .Lists.dev.deep)/cur" ] &&
		ok "$layout: Lists/dev/deep where mbsync has it" ||
		fail "$layout: $(cd "$MAIL" && find . -name cur | sort | tr '\n' ' ')"
done

# --- Maildir++ cannot hold a dot in a name: refused, named, not merged --------
MAIL="$WORK/mail-maildir++" STORE="$WORK/store-maildir++" CFG="$WORK/cfg-maildir++"
export MS_MAILDIR_LAYOUT=maildir++ MS_MAILDIR_INBOX=root
mailfill "$MS_USER1" 1 --folder v1.2 >/dev/null || fail "mailfill v1.2"
mirror_vsync "maildir++: a server folder with a dot"
grep -q "v1.2 (server folder): \"v1.2\" holds a '.', which maildir_layout = maildir++ uses between levels" "$WORK/err" &&
	ok "maildir++: the folder with a dot is named as not mirrored" ||
	fail "maildir++: no error naming v1.2: $(grep -i 'v1.2' "$WORK/err" | grep -v ' imap ' | head -3)"
[ ! -e "$MAIL/.v1.2" ] && [ ! -e "$MAIL/.v1" ] && ok "maildir++: no directory for it" ||
	fail "maildir++: $(ls -a "$MAIL")"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
