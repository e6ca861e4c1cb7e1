#!/bin/bash
# A Maildir a reader makes whose folder the account's "folders =" patterns
# exclude is no folder: the scan reports it ("not synced: folders =
# excludes it") and leaves it alone, with no store folder and no pending
# APPEND, so the engine never logs "not matched by folders =" and nothing
# waits forever.  A wanted Maildir made next to it is created on the server
# with its message, as usual.  Real Dovecot (lib/mirror.sh).
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
printf 'folders = * !Private*\n' >> "$CFG"
mailfill "$MS_USER1" 3 >/dev/null || exit 1
mapfile -t cfiles < <(corpus_messages 2)
[ "${#cfiles[@]}" = 2 ] || { fail "not enough corpus messages"; exit 1; }

if is_sync; then ok "initial sync: $(cat "$WORK/out")"; else fail "initial sync: $(cat "$WORK/err")"; exit 1; fi

mkdir -p "$MAIL/Private"/{cur,new,tmp} "$MAIL/Work"/{cur,new,tmp}
cp "${cfiles[0]}" "$MAIL/Private/new/1700000001.M1P1.reader"
cp "${cfiles[1]}" "$MAIL/Work/new/1700000002.M2P1.reader"

for pass in 1 2; do
	if is_sync; then ok "pass $pass: $(cat "$WORK/out")"
	else fail "pass $pass: $(cat "$WORK/err")"; fi
	grep -qF "$MAIL/Private: not synced: folders = excludes it" "$WORK/err" &&
		ok "pass $pass: Private reported" ||
		fail "pass $pass: Private not reported: $(grep -i private "$WORK/err")"
	grep -q "not matched by folders =" "$WORK/err" &&
		fail "pass $pass: the engine saw a folder it may not create: $(grep 'not matched' "$WORK/err")"
	"$STOREDUMP" "$STORE" folders | cut -f2 | grep -qx 'Private' &&
		fail "pass $pass: Private is a store folder"
	"$STOREDUMP" "$STORE" changes > "$WORK/changes.txt"
	[ -s "$WORK/changes.txt" ] &&
		fail "pass $pass: changes pending: $(cat "$WORK/changes.txt")" ||
		ok "pass $pass: no change pending"
done
is_server_msgs > "$WORK/server.txt" || fail "server dump"
[ "$(cut -f1 "$WORK/server.txt" | grep -cx 'Work')" = 1 ] &&
	ok "Work created on the server with its message" ||
	fail "Work on the server: $(cut -f1 "$WORK/server.txt" | sort | uniq -c | tr '\n' ' ')"
cut -f1 "$WORK/server.txt" | grep -q '^Private' &&
	fail "Private is on the server"
[ -f "$MAIL/Private/new/1700000001.M1P1.reader" ] &&
	ok "the reader's file in Private is left alone" ||
	fail "the reader's file in Private is gone"
"$MIRRORCHECK" "$STORE" t "$MAIL" check '*' '!Private*' > "$WORK/check.out" 2>&1 &&
	ok "mirror_check: $(cat "$WORK/check.out")" ||
	fail "mirror_check: $(cat "$WORK/check.out")"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all folders = exclusion checks passed"
