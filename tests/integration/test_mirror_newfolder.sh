#!/bin/bash
# A folder a reader creates in the Maildir mirror is created on the server:
# after the first sync, a reader makes two new Maildirs, "Projects/2026"
# (nested under a plain directory) and "Ünïcödé-new", and drops two corpus
# messages into each (one in new/, one in cur/ with ":2,S").  The scan
# makes each a store folder marked STORE_FOLDER_CREATE with its messages as
# pending APPENDs, and touches no file; Maildirs that cannot be folders
# (a name that does not map, one inside it, a directory without cur/new)
# are reported once and left alone.  Then the sync engine creates the
# folders on the server, appends the messages (byte for byte, \Seen on the
# cur/:2,S ones), the mirror adopts the server's copies (one file each),
# and the next pass has nothing to do.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

# newfolder_server_side: check the server's side too (the sync engine
# CREATEs reader-made folders and APPENDs their messages since f71225d).
# MS_NEWFOLDER_SERVER=0 checks only the scan's side (store folders,
# pending APPENDs, files left alone), for an engine without it.
newfolder_server_side()
{
	[ "${MS_NEWFOLDER_SERVER:-1}" = 1 ]
}

mirror_setup
mailfill "$MS_USER1" 10 >/dev/null || exit 1
mapfile -t cfiles < <(corpus_messages 6)
[ "${#cfiles[@]}" = 6 ] || { fail "not enough corpus messages"; exit 1; }
# What the server stores of a file: its bytes with CRLF line ends.
crlf_hash() { mail_sha "$1"; }

if is_sync; then ok "initial sync: $(cat "$WORK/out")"; else fail "initial sync: $(cat "$WORK/err")"; exit 1; fi
mirror_compare "initial"

# --- a reader makes folders ----------------------------------------------------------
P="$MAIL/Projects/2026"
U="$MAIL/Ünïcödé-new"
mkdir -p "$P"/{cur,new,tmp} "$U"/{cur,new}	# tmp/ is optional
cp "${cfiles[0]}" "$P/new/1700000001.M1P1.reader"
cp "${cfiles[1]}" "$P/cur/1700000002.M2P1.reader:2,S"
cp "${cfiles[2]}" "$U/new/1700000003.M3P1.reader"
cp "${cfiles[3]}" "$U/cur/1700000004.M4P1.reader:2,S"
# Not folders: a name that is not what the mirror would call any folder
# ("%zz" is no escape), a Maildir inside it, a directory without cur/new.
mkdir -p "$MAIL/bad%zz"/{cur,new,tmp} "$MAIL/bad%zz/child"/{cur,new,tmp} "$MAIL/plain"
cp "${cfiles[4]}" "$MAIL/bad%zz/new/1700000005.M5P1.reader"
cp "${cfiles[5]}" "$MAIL/bad%zz/child/new/1700000006.M6P1.reader"
cp "${cfiles[5]}" "$MAIL/plain/1700000006.M6P1.reader"
want_p="$(printf '%s\t-\n%s\t\\Seen\n' "$(crlf_hash "${cfiles[0]}")" "$(crlf_hash "${cfiles[1]}")" | sort)"
want_u="$(printf '%s\t-\n%s\t\\Seen\n' "$(crlf_hash "${cfiles[2]}")" "$(crlf_hash "${cfiles[3]}")" | sort)"

# --- the scan alone: store folders and pending APPENDs ------------------------------------
if "$MIRRORCHECK" "$STORE" t "$MAIL" scan > "$WORK/scan.out" 2>&1; then
	ok "scan: $(grep -v '^reported' "$WORK/scan.out")"
else
	fail "scan: $(cat "$WORK/scan.out")"
fi
grep -q 'created 2 appends 4$' "$WORK/scan.out" || fail "want 2 folders, 4 appends: $(cat "$WORK/scan.out")"
"$MIRRORCHECK" "$STORE" t "$MAIL" folders > "$WORK/folders.txt" || fail "ms_mirrorcheck folders"
for name in 'Projects/2026' 'Ünïcödé-new'; do
	line="$(awk -F'\t' -v n="$name" '$1 == n' "$WORK/folders.txt")"
	case "$line" in
	*$'\tdelim=/\tattrs=0x200\t'*) ok "store folder \"$name\": to be created (${line#*	})" ;;
	*) fail "store folder \"$name\": '$line'; folders: $(cut -f1,3 "$WORK/folders.txt" | tr '\n' ' ')" ;;
	esac
done
grep -qE '^(Projects|bad.*|plain)'$'\t' "$WORK/folders.txt" && fail "a folder that is none: $(cat "$WORK/folders.txt")"
# ms_storedump changes: SEQ kind=N folder=ID ...; 3 is STORE_CHANGE_APPEND.
"$STOREDUMP" "$STORE" changes > "$WORK/changes.txt"
n_app="$(grep -c $'\tkind=3\t' "$WORK/changes.txt")"
[ "$n_app" = 4 ] && [ "$(wc -l < "$WORK/changes.txt")" = 4 ] && ok "4 pending APPENDs" ||
	fail "pending changes: $(cat "$WORK/changes.txt")"
for d in "bad%zz" "bad%zz/child" ; do
	grep -qF "reported: $MAIL/$d: " "$WORK/scan.out" && ok "reported: $(grep -F "reported: $MAIL/$d: " "$WORK/scan.out" | sed 's/.*: //')" ||
		fail "$d not reported: $(cat "$WORK/scan.out")"
done
# folder_files DIR: SHA256 TAB LETTERS of each message file, sorted.
folder_files()
{
	local f
	for f in "$1"/new/* "$1"/cur/*; do
		[ -f "$f" ] || continue
		printf '%s\t%s\n' "$(mail_sha "$f")" "$(basename "$f" | sed -n 's/.*:2,//p')"
	done | sort
}
# A reader's file with LF line ends stays as it is (the server holds its
# CRLF form); each file stays in its place with its letters.
want_files_p="$(printf '%s\t\n%s\tS\n' "$(crlf_hash "${cfiles[0]}")" "$(crlf_hash "${cfiles[1]}")" | sort)"
want_files_u="$(printf '%s\t\n%s\tS\n' "$(crlf_hash "${cfiles[2]}")" "$(crlf_hash "${cfiles[3]}")" | sort)"
check_reader_files()
{
	[ "$(folder_files "$P")" = "$want_files_p" ] && [ "$(folder_files "$U")" = "$want_files_u" ] &&
		[ "$(find "$P/new" -type f | wc -l)" = 1 ] && [ "$(find "$U/new" -type f | wc -l)" = 1 ] &&
		ok "$1: each reader's message is in its folder once, letters kept" ||
		fail "$1: files in the new folders: $(find "$P" "$U" -type f)"
}
check_reader_files "after the scan"
"$MIRRORCHECK" "$STORE" t "$MAIL" check > "$WORK/check.out" 2>&1 && ok "mirror_check accepts the new folders" ||
	fail "mirror_check: $(cat "$WORK/check.out")"
"$MIRRORCHECK" "$STORE" t "$MAIL" scan > "$WORK/scan.out" 2>&1 && grep -q 'created 0 appends 0$' "$WORK/scan.out" &&
	ok "a second scan records nothing" || fail "second scan: $(cat "$WORK/scan.out")"

# --- the sync ------------------------------------------------------------------------------------
if is_sync; then ok "sync: $(cat "$WORK/out")"; else fail "sync: $(cat "$WORK/err")"; fi
for d in "bad%zz" "bad%zz/child"; do
	[ "$(grep -cF "mirror $MAIL/$d: " "$WORK/err")" = 1 ] || fail "$d not reported once by the sync: $(grep -F "mirror $MAIL/$d" "$WORK/err")"
done
[ -f "$MAIL/bad%zz/new/1700000005.M5P1.reader" ] && [ -f "$MAIL/bad%zz/child/new/1700000006.M6P1.reader" ] &&
	[ -f "$MAIL/plain/1700000006.M6P1.reader" ] && ok "the non-folders are left alone" ||
	fail "a non-folder was touched"

if ! newfolder_server_side; then
	# The engine keeps folders it does not know with local messages:
	# they and their APPENDs stay pending, the files stay.
	[ "$(grep -c $'\tkind=3\t' < <("$STOREDUMP" "$STORE" changes))" = 4 ] && ok "APPENDs still pending" ||
		fail "APPENDs: $("$STOREDUMP" "$STORE" changes)"
	check_reader_files "after the sync"
	"$MIRRORCHECK" "$STORE" t "$MAIL" check > "$WORK/check.out" 2>&1 && ok "mirror_check after the sync" ||
		fail "mirror_check: $(cat "$WORK/check.out")"
	echo "server side not checked (newfolder_server_side is off)"
	[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
	exit 0
fi

# --- on the server ---------------------------------------------------------------------
# APPEND carries no flags: the reader's \Seen is pushed once the server's
# copy is adopted, which may take one more pass.
for ((i = 0; i < 2; i++)); do
	[ -z "$("$STOREDUMP" "$STORE" changes)" ] && break
	is_sync || fail "pass $((i + 2)): $(cat "$WORK/err")"
done
ok "$((i + 1)) pass(es) to push folders, messages and flags"
pending="$("$STOREDUMP" "$STORE" changes)"
[ -z "$pending" ] && ok "nothing pending" || fail "still pending: $pending"
got_p="$(is_server_msgs --folder 'Projects/2026' | awk -F'\t' -v OFS='\t' '{ print $4, $3 }' | sort)"
got_u="$(is_server_msgs --folder 'Ünïcödé-new' | awk -F'\t' -v OFS='\t' '{ print $4, $3 }' | sort)"
[ "$got_p" = "$want_p" ] && ok "Projects/2026 on the server: the 2 messages byte for byte, \\Seen on the cur/:2,S one" ||
	fail "Projects/2026 on the server: '$got_p', want '$want_p'"
[ "$got_u" = "$want_u" ] && ok "Ünïcödé-new on the server: the 2 messages byte for byte, \\Seen on the cur/:2,S one" ||
	fail "Ünïcödé-new on the server: '$got_u', want '$want_u'"
"$MIRRORCHECK" "$STORE" t "$MAIL" folders > "$WORK/folders.txt"
awk -F'\t' '$1 == "Projects/2026" || $1 == "Ünïcödé-new"' "$WORK/folders.txt" | grep -q 'attrs=0x200' &&
	fail "a created folder still has STORE_FOLDER_CREATE: $(cat "$WORK/folders.txt")"
# The non-folders' files are not in mirror_compare's view of the server;
# take them away before comparing.
rm -r "$MAIL/bad%zz" "$MAIL/plain"
mirror_compare "after the new folders"
for h in $(printf '%s\n%s\n' "$want_p" "$want_u" | cut -f1); do
	n="$(grep -c "$h" "$WORK/mirror.txt")"
	[ "$n" = 1 ] || fail "message $h has $n files in the mirror"
done
is_compare "after the new folders"

if is_sync; then ok "next pass: $(cat "$WORK/out")"; else fail "next pass: $(cat "$WORK/err")"; fi
grep -qE ' 0 new, 0 changed, 0 deleted' "$WORK/out" && ok "the next pass changes nothing" ||
	fail "the next pass: $(cat "$WORK/out")"
if grep -qE 'mirror (export|scan) .*=[1-9]' "$WORK/err"; then
	fail "the next pass's mirror did something: $(grep -E 'mirror (export|scan) ' "$WORK/err")"
fi
[ -z "$("$STOREDUMP" "$STORE" changes)" ] || fail "the next pass left changes: $("$STOREDUMP" "$STORE" changes)"
mirror_compare "after the next pass"

# --- the foreground mode: the watch sees a new folder, a pass creates it ----------------
# idle = no: push starts passes of its own, and this test counts the
# passes the mirror watch starts (test_push.sh has readers with push).
printf 'poll_interval = 1h\nidle = no\n' >> "$CFG"
mirror_daemon_start
if mirror_wait_passes 1 30; then
	D="$MAIL/Daemon-made"
	mkdir -p "$D"/{cur,new,tmp}
	cp "${cfiles[4]}" "$D/cur/1700000007.M7P1.reader:2,FS"
	if mirror_wait_passes 2 20; then
		grep -q 'acct=t mirror changed by a reader: syncing now' "$LOG" &&
			ok "the watch started a pass for the new folder" || fail "no pass started by the watch: $(tail -5 "$LOG")"
		got="$(is_server_msgs --folder 'Daemon-made' | awk -F'\t' '{ print $4 }')"
		[ "$got" = "$(crlf_hash "${cfiles[4]}")" ] && ok "Daemon-made on the server with its message" ||
			fail "Daemon-made on the server: '$got'"
		# The APPEND carried the file's letters: no later pass
		# has to push them.
		f="$(is_server_msgs --folder 'Daemon-made' | awk -F'\t' '{ print $3 }')"
		[ "$f" = '\Seen \Flagged' ] && ok "Daemon-made's message on the server: $f" ||
			fail "Daemon-made's flags: '$f'"
	fi
fi
mirror_daemon_stop
[ -z "$("$STOREDUMP" "$STORE" changes)" ] || fail "still pending: $("$STOREDUMP" "$STORE" changes)"
mirror_compare "after the daemon"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all new-folder checks passed"
