#!/bin/bash
# POP3 accounts against the fixture Dovecot: POP3S and STLS, keep = yes
# (a second pass downloads nothing and deletes nothing), new mail between
# passes, keep = no (deleted on the server only once in the store), the
# mirror (new/, unread), local deletions and flags staying local, and
# delete_after_days with the stored dates moved back.
. "$MS_SOURCE_DIR/tests/tools/pop3_common.sh"
p3_setup
mailfill "$MS_USER1" 40 --folder INBOX --quiet >/dev/null || exit 1
server0="$(p3_server_hashes)"

# --- POP3S, keep = yes ------------------------------------------------------
p3_config keep implicit "$MS_POP3S_PORT" "keep = yes"
p3_sync || fail "first pass: $(cat "$WORK/err")"
grep -q "^p: 1 folder, 40 new" "$WORK/out" && ok "first pass: $(cat "$WORK/out")" ||
	fail "first pass summary: $(cat "$WORK/out") $(cat "$WORK/err")"
[ "$(p3_store_hashes)" = "$server0" ] && ok "store INBOX equals the server" ||
	fail "store INBOX differs from the server"
[ "$(p3_server_hashes)" = "$server0" ] && ok "keep = yes: the server keeps all" ||
	fail "keep = yes deleted on the server"
[ "$(ls "$MAIL/new" | wc -l)" = 40 ] && [ -z "$(ls "$MAIL/cur")" ] &&
	ok "mirror: 40 unread files in new/" || fail "mirror new/: $(ls "$MAIL/new" | wc -l)"
[ "$(p3_mirror_hashes)" = "$server0" ] && ok "mirror files are the messages" ||
	fail "mirror files differ from the server's messages"
[ "$("$STOREDUMP" "$STORE" pop3 p | wc -l)" = 40 ] && ok "40 POP3 records" ||
	fail "POP3 records: $("$STOREDUMP" "$STORE" pop3 p | wc -l)"
"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after the first pass"

p3_sync || fail "second pass: $(cat "$WORK/err")"
grep -q "^p: 1 folder, 0 new, 0 changed, 0 deleted" "$WORK/out" &&
	ok "no-change pass: $(cat "$WORK/out")" || fail "no-change pass: $(cat "$WORK/out")"
[ "$("$STOREDUMP" "$STORE" msgs p INBOX | wc -l)" = 40 ] || fail "records after the no-change pass"

# New mail between passes, two of them the same bytes (a message delivered
# twice is two messages on the server, and two in the store).
mailfill "$MS_USER1" 3 --folder INBOX --quiet >/dev/null || exit 1
twice="$(find "$(ms_corpus_dir)/messages" -name '*.eml' | sort | tail -1)"
mailmutate_add "$MS_USER1" INBOX "$twice" "$twice" >/dev/null || exit 1
p3_sync || fail "third pass: $(cat "$WORK/err")"
grep -q "^p: 1 folder, 5 new" "$WORK/out" && ok "new mail: $(cat "$WORK/out")" ||
	fail "new mail: $(cat "$WORK/out")"
server1="$(p3_server_hashes)"
[ "$(p3_store_hashes)" = "$server1" ] && ok "store equals the server (45, one body twice)" ||
	fail "store differs after new mail"
[ "$(p3_store_hashes | uniq -d | wc -l)" = 1 ] || fail "the message delivered twice is not stored twice"

# A reader deletes one message and flags another: local only.
victim="$(ls "$MAIL/new" | head -1)"
flagged="$(ls "$MAIL/new" | sed -n 2p)"
rm "$MAIL/new/$victim"
mv "$MAIL/new/$flagged" "$MAIL/cur/$flagged:2,FS"
p3_sync || fail "pass after local changes: $(cat "$WORK/err")"
[ "$("$STOREDUMP" "$STORE" msgs p INBOX | wc -l)" = 44 ] && ok "local deletion: 44 records" ||
	fail "local deletion: $("$STOREDUMP" "$STORE" msgs p INBOX | wc -l) records"
[ "$(p3_server_count)" = 45 ] && ok "local deletion stays local (server has 45)" ||
	fail "server count after a local deletion: $(p3_server_count)"
grep -q "^p: 1 folder, 0 new" "$WORK/out" && ok "the deleted message is not downloaded again" ||
	fail "after a local deletion: $(cat "$WORK/out")"
[ -z "$("$STOREDUMP" "$STORE" changes)" ] && ok "no change left pending" ||
	fail "pending changes: $("$STOREDUMP" "$STORE" changes)"
"$STOREDUMP" "$STORE" msgs p INBOX | grep -qF $'\\Seen \\Flagged\t\\Seen \\Flagged' &&
	ok "a reader's flags are kept locally" || fail "flags: $("$STOREDUMP" "$STORE" msgs p INBOX | grep -v $'\t-\t-\t' )"
"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after local changes"

# --- delete_after_days: records made 10 days old ---------------------------
p3_config keep implicit "$MS_POP3S_PORT" "keep = yes
delete_after_days = 30"
p3_sync || fail "30 days: $(cat "$WORK/err")"
[ "$(p3_server_count)" = 45 ] && ok "delete_after_days = 30: nothing old enough" ||
	fail "30 days deleted: server has $(p3_server_count)"
"$STOREDUMP" "$STORE" pop3age p 31 || fail "pop3age"
mailfill "$MS_USER1" 2 --folder INBOX --quiet >/dev/null || exit 1
p3_sync || fail "after ageing: $(cat "$WORK/err")"
grep -q "^p: 1 folder, 2 new, [0-9]* changed, 45 deleted" "$WORK/out" &&
	ok "aged records deleted on the server: $(cat "$WORK/out")" ||
	fail "after ageing: $(cat "$WORK/out")"
[ "$(p3_server_count)" = 2 ] && ok "the server keeps the 2 young ones" ||
	fail "server count after ageing: $(p3_server_count)"
[ "$("$STOREDUMP" "$STORE" msgs p INBOX | wc -l)" = 46 ] && ok "the store keeps all 46" ||
	fail "store after ageing: $("$STOREDUMP" "$STORE" msgs p INBOX | wc -l)"
[ "$("$STOREDUMP" "$STORE" pop3 p | wc -l)" = 2 ] && ok "records of deleted messages dropped" ||
	fail "POP3 records after deletion: $("$STOREDUMP" "$STORE" pop3 p)"
"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after deletions"

# --- STLS, keep = no -----------------------------------------------------------
mailfill "$MS_USER1" 10 --folder INBOX --quiet >/dev/null || exit 1
server2="$(p3_server_hashes)"
p3_config nokeep starttls "$MS_POP3_PORT" "keep = no"
p3_sync || fail "STLS keep = no: $(cat "$WORK/err")"
grep -q "^p: 1 folder, 12 new, 0 changed, 12 deleted" "$WORK/out" &&
	ok "STLS, keep = no: $(cat "$WORK/out")" || fail "keep = no: $(cat "$WORK/out") $(cat "$WORK/err")"
[ "$(p3_store_hashes)" = "$server2" ] && ok "every deleted message is in the store" ||
	fail "store differs from what the server had"
[ "$(p3_server_count)" = 0 ] && ok "the server is empty" || fail "server has $(p3_server_count)"
[ "$("$STOREDUMP" "$STORE" pop3 p | wc -l)" = 0 ] && ok "no POP3 record left" ||
	fail "POP3 records: $("$STOREDUMP" "$STORE" pop3 p)"
p3_sync || fail "empty server: $(cat "$WORK/err")"
grep -q "^p: 1 folder, 0 new" "$WORK/out" && ok "empty server: $(cat "$WORK/out")" ||
	fail "empty server: $(cat "$WORK/out")"
"$STOREDUMP" "$STORE" check >/dev/null || fail "store_check after keep = no"
grep -qi "pop3.*STLS\|STLS" "$MS_DOVECOT_LOG" 2>/dev/null || true
p3_done
