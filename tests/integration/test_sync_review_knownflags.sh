#!/bin/bash
# A record stored above the UIDNEXT watermark (here bound by APPENDUID)
# is left out of the fetch of new messages.  Its flags must still be read
# in the pass that moves the watermark past it: that pass records the
# SELECT's HIGHESTMODSEQ, and with CONDSTORE but no QRESYNC (Gmail, for
# one) the later passes only ask CHANGEDSINCE that modseq, so a flag
# another client set on it before that SELECT would be missed for good.
MS_DOVECOT_IMAP_CONF='imap_capability = IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE ESEARCH LIST-STATUS SPECIAL-USE MOVE'
export MS_DOVECOT_IMAP_CONF
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both
mailfill "$MS_USER1" 5 >/dev/null || exit 1

is_sync || fail "initial pass: $(tail -3 "$WORK/err")"
printf 'From: l@example.org\r\nSubject: local\r\nMessage-ID: <local-knownflags@example.org>\r\n\r\nlocal\r\n' > "$WORK/local.eml"
"$STOREDUMP" "$STORE" append t INBOX "$WORK/local.eml" >/dev/null || fail "storedump append"
is_sync || fail "append pass: $(tail -3 "$WORK/err")"
grep -q ' 1 appended, ' "$WORK/out" && ok "appended: $(cat "$WORK/out")" ||
	fail "not appended: $(cat "$WORK/out")"

# The appended message's UID, as the store bound it (APPENDUID).
uid="$("$STOREDUMP" "$STORE" msgs t INBOX | awk -F'\t' 'END { print $2 }')"
[ -n "$uid" ] || { fail "no record for the appended message"; exit 1; }
server_uid="$(mailmutate_uids "$MS_USER1" INBOX | tail -1)"
[ "$uid" = "$server_uid" ] && ok "bound to UID $uid by APPENDUID" ||
	fail "store UID $uid, server UID $server_uid"

# Another client flags it before the next pass.
mailmutate_flags "$MS_USER1" INBOX add "$uid" '\Flagged' >/dev/null || fail "doveadm flags"

is_sync || fail "pass after the flag: $(tail -3 "$WORK/err")"
is_sync || fail "the pass after: $(tail -3 "$WORK/err")"
"$STOREDUMP" "$STORE" msgs t INBOX | awk -F'\t' -v u="$uid" '$2 == u { print $3 }' > "$WORK/flags"
grep -qF '\Flagged' "$WORK/flags" && ok "the server's \\Flagged on UID $uid reached the store" ||
	fail "UID $uid has flags '$(cat "$WORK/flags")' in the store, the server has \\Flagged"
is_compare "after the passes"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all checks passed"
