#!/bin/bash
# UIDVALIDITY change (folder recreated on the server, same messages, new
# UIDs): the store loses nothing and duplicates nothing, and a message
# that was in the old folder but is not in the new one is kept: pushed
# back with direction = both, kept pending (never sent) with pull.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both
mailfill "$MS_USER1" 120 >/dev/null || exit 1
is_sync || fail "initial: $(cat "$WORK/err")"
# A second store on the same mailbox, direction = pull.
sed -e "s|^store = .*|store = $WORK/store-pull|" -e 's/^direction = both/direction = pull/' \
	"$CFG" > "$WORK/pull.ini"
chmod 600 "$WORK/pull.ini"
"$MAILSYNCD" -c "$WORK/pull.ini" --once >/dev/null 2>"$WORK/err" || fail "pull initial: $(cat "$WORK/err")"

old_uv="$("$STOREDUMP" "$STORE" folders | awk -F'\t' '$2 == "Archive" { print $3 }')"
bodies_before="$(is_store_msgs | awk -F'\t' '$1 == "Archive" { print $5 }' | sort)"
# The message that will be gone from the recreated folder.
gone="$(is_store_msgs | awk -F'\t' '$1 == "Archive" && $2 == 3 { print $5 }')"
"$STOREDUMP" "$STORE" flag t Archive 5 +'\Flagged' || fail "hook"
mailmutate_expunge "$MS_USER1" Archive 3 >/dev/null
mailmutate_recreate "$MS_USER1" Archive >/dev/null || exit 1

if is_sync; then ok "after recreate: $(cat "$WORK/out")"; else fail "after recreate: $(cat "$WORK/err")"; fi
grep -q 'UIDVALIDITY changed' "$WORK/err" && ok "logged: $(grep -o 'UIDVALIDITY changed.*' "$WORK/err" | head -1)" ||
	fail "the UIDVALIDITY change was not logged"
new_uv="$("$STOREDUMP" "$STORE" folders | awk -F'\t' '$2 == "Archive" { print $3 }')"
[ "$new_uv" != "$old_uv" ] && ok "Archive: $old_uv -> $new_uv" || fail "Archive still $new_uv"
is_compare "after recreate (both)"
n_store="$(is_store_msgs | awk -F'\t' '$1 == "Archive"' | wc -l)"
n_uniq="$(is_store_msgs | awk -F'\t' '$1 == "Archive" { print $5 }' | sort -u | wc -l)"
[ "$n_store" = 20 ] && [ "$n_uniq" = 20 ] && ok "Archive: 20 records, 20 distinct bodies (the gone one appended back)" ||
	fail "Archive: $n_store records, $n_uniq distinct bodies, want 20"
bodies_after="$(is_store_msgs | awk -F'\t' '$1 == "Archive" { print $5 }' | sort)"
[ "$bodies_before" = "$bodies_after" ] && ok "same bodies as before the change" || fail "bodies differ"
is_server_msgs --folder Archive | grep -q "$gone" && ok "the message the new folder lacked is back on the server" ||
	fail "message $gone lost"
[ "$("$STOREDUMP" "$STORE" changes | wc -l)" = 0 ] || fail "changes left: $("$STOREDUMP" "$STORE" changes)"
# Old and new UIDs never mix: every UID is one the new folder has.
mailmutate_uids "$MS_USER1" Archive | sort -n > "$WORK/uids.server"
is_store_msgs | awk -F'\t' '$1 == "Archive" { print $2 }' | sort -n > "$WORK/uids.store"
cmp -s "$WORK/uids.server" "$WORK/uids.store" && ok "store UIDs are the new folder's" || fail "UIDs differ"

# --- pull: the gone message stays local as a pending APPEND, never sent ---------
# The pull store still has the old folder (20 messages, $gone among them).
# Expunge $gone again (the "both" pass appended it back as the last UID),
# then recreate: the pull store must keep $gone without sending it.
mailmutate_expunge "$MS_USER1" Archive "$(tail -1 "$WORK/uids.server")" >/dev/null
last_hash="$gone"
mailmutate_recreate "$MS_USER1" Archive >/dev/null || exit 1
n_server_before="$(mailmutate_uids "$MS_USER1" Archive | wc -l)"
"$MAILSYNCD" -c "$WORK/pull.ini" --once >"$WORK/out" 2>"$WORK/err" || fail "pull after recreate: $(cat "$WORK/err")"
n_server_after="$(mailmutate_uids "$MS_USER1" Archive | wc -l)"
[ "$n_server_before" = "$n_server_after" ] && ok "pull: the server is unchanged ($n_server_after)" || fail "pull changed the server"
n_pull="$("$STOREDUMP" "$WORK/store-pull" msgs t Archive | wc -l)"
[ "$n_pull" = "$n_server_after" ] && ok "pull: $n_pull records = server" || fail "pull: $n_pull records, server $n_server_after"
pend="$("$STOREDUMP" "$WORK/store-pull" changes)"
grep -q "$last_hash" <<<"$pend" && ok "pull: the message the server lost is kept (pending, not sent)" ||
	fail "pull: lost $last_hash; pending: $pend"
"$STOREDUMP" "$WORK/store-pull" check >/dev/null && ok "pull: store_check clean" || fail "pull: store_check"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
