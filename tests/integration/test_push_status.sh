#!/bin/bash
# How push watches an account, as `mailsyncctl status` shows it:
#  - against the fixture Dovecot (NOTIFY): "notify on every folder
#    (1 connection)" in status --json's "push" and under the account's row;
#  - against a server that greets as Courier-IMAP, offers IDLE but no
#    NOTIFY and whose IDLE reports nothing (it only polls): IDLE on INBOX
#    (1 connection), named as a server whose IDLE only polls.
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"
. "$MS_SOURCE_DIR/tests/integration/lib/dovecot.sh"
jq_py() { "$MS_PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# daemon_push CFG LOG WANT: runs the daemon on CFG until status --json's
# push holds WANT (at most 30 s); leaves it in $PUSH and the human status
# in $HUMAN; stops the daemon.
daemon_push()
{
	local cfg="$1" log="$2" want="$3" dpid i
	"$MAILSYNCD" -c "$cfg" 2>"$log" &
	dpid=$!
	ms_cleanup_add "ms_pid_stop $dpid mailsyncd"
	PUSH=""
	for ((i = 0; i < 300; i++)); do
		PUSH="$("$MAILSYNCCTL" -c "$cfg" --json status 2>/dev/null |
			jq_py 'd["accounts"][0]["push"]' 2>/dev/null)"
		[[ "$PUSH" == *"$want"* ]] && break
		sleep 0.1
	done
	HUMAN="$("$MAILSYNCCTL" -c "$cfg" status 2>&1)"
	kill -TERM "$dpid"; wait "$dpid"
	ms_cleanup_remove "ms_pid_stop $dpid mailsyncd"
	grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$log" &&
		fail "sanitizer report in $log"
}

# --- Dovecot: NOTIFY -----------------------------------------------------------------
dovecot_start || exit $?
cat > "$WORK/dovecot.ini" <<EOC
[general]
store = $WORK/dovecot.store
socket = $WORK/dovecot.sock

[account d]
protocol = imap
host = localhost
port = $MS_IMAPS_PORT
tls = implicit
ca_file = $MS_TLS_CA
user = $MS_USER1
password = $MS_PASS1
EOC
chmod 600 "$WORK/dovecot.ini"
daemon_push "$WORK/dovecot.ini" "$WORK/dovecot.log" "notify on every folder"
[ "$PUSH" = "notify on every folder (1 connection)" ] &&
	ok "Dovecot: status --json push: $PUSH" || fail "Dovecot: push '$PUSH'"
grep -qx '  d: push: notify on every folder (1 connection)' <<<"$HUMAN" &&
	ok "Dovecot: under the account's row: $(grep 'push:' <<<"$HUMAN")" ||
	fail "Dovecot: status output: $HUMAN"

# --- a Courier-IMAP whose IDLE only polls ----------------------------------------------
fake_start --box INBOX:1,2 --box Sent:1 --caps IDLE \
	--greeting "Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc." \
	--concurrent
scenario courier
printf 'idle = yes\nidle_folders = INBOX\n' >> "$CFG"
daemon_push "$CFG" "$WORK/courier.log" "only polls"
want="idle on INBOX (1 connection); the server's IDLE only polls (Courier-IMAP: new mail shows within about a minute)"
[ "$PUSH" = "$want" ] && ok "Courier: status --json push: $PUSH" ||
	fail "Courier: push '$PUSH' (log: $(grep -m3 push "$WORK/courier.log"))"
grep -qF "  t: push: $want" <<<"$HUMAN" && ok "Courier: named under the account's row" ||
	fail "Courier: status output: $HUMAN"
grep -q '^IDLE$' "$WORK/cmds" && ok "Courier: the push connection IDLEs" ||
	fail "Courier: no IDLE reached the server"
fake_stop

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
