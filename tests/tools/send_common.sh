# send_common.sh - shared helpers of tests/integration/test_send*.sh
# (sourced; not a test).  Needs MAILSYNCD, MAILSYNCCTL, MS_SOURCE_DIR.
# fail, ok, FAILS and wait_for come from imap_sync_common.sh.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"
. "$LIB/smtp.sh"

# send_setup: a work dir ($WORK) with a store ($STORE); Dovecot for the
# Sent copies.  The SMTP sink is started per case (send_sink).
send_setup()
{
	dovecot_start || exit $?
	WORK="$(ms_tmpdir_make ms-send)" || exit 1
	ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"
	STORE="$WORK/store"
	CFG="$WORK/mailsync.ini"
}

# send_sink [smtp_sink options]: a new case: an empty store, the sink
# (re)started with AUTH (smtpuser, smtp-pass-1) and the options, and $CFG
# for account "t" (alice on Dovecot, sending through the sink as
# smtpuser) with smtp_tls $SMTP_TLS (default: as the sink) and extra
# account lines from $CFG_EXTRA.
send_sink()
{
	[ -n "${MS_SMTP_PID:-}" ] && smtp_sink_stop
	rm -rf "$STORE"
	smtp_sink_start --auth "smtpuser:smtp-pass-1" "$@" || exit $?
	send_config
}

send_config()
{
	local tls="${SMTP_TLS:-$MS_SMTP_TLS}"
	cat > "$CFG" <<EOC
[general]
store = $STORE
socket = $WORK/ctl.sock

[account t]
protocol = imap
host = localhost
port = $MS_IMAPS_PORT
tls = implicit
ca_file = $MS_TLS_CA
user = $MS_USER1
password = $MS_PASS1
folders = INBOX
smtp_host = localhost
smtp_port = $MS_SMTP_PORT
smtp_tls = $tls
from = $MS_USER1@example.org
smtp_user = smtpuser
smtp_password_cmd = echo smtp-pass-1
${CFG_EXTRA:-}
EOC
	chmod 600 "$CFG"
}

# send_config_smtp FROM: $CFG for a send-only account "out" (protocol =
# smtp) that sends as FROM through the sink, as smtpuser.
send_config_smtp()
{
	cat > "$CFG" <<EOC
[general]
store = $STORE

[account out]
protocol = smtp
smtp_host = localhost
smtp_port = $MS_SMTP_PORT
smtp_tls = implicit
ca_file = $MS_TLS_CA
smtp_user = smtpuser
smtp_password_cmd = echo smtp-pass-1
from = $1
EOC
	chmod 600 "$CFG"
}

# send_msg ID [mailsyncctl send args...]: queues a message with
# Message-ID <ID@test> from alice; stdin unused.
send_msg()
{
	local id="$1"
	shift
	printf 'From: Alice <%s@example.org>\nTo: bob@example.net\nSubject: test %s\nMessage-ID: <%s@test>\n\nHello %s.\n.leading dot\n' \
		"$MS_USER1" "$id" "$id" "$id" | "$MAILSYNCCTL" -c "$CFG" send "$@"
}

# send_once: mailsyncd --once; stdout in $WORK/out, stderr in $WORK/err.
send_once()
{
	"$MAILSYNCD" -c "$CFG" --once "$@" >"$WORK/out" 2>"$WORK/err"
}

# sink_count: messages the sink stored.
sink_count()
{
	find "$MS_SMTP_DIR" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l
}

# sent_copies ID: copies of <ID@test> in alice's Sent folder.
sent_copies()
{
	dovecot_doveadm search -u "$MS_USER1" mailbox Sent header message-id "<$1@test>" 2>/dev/null |
		wc -l
}

# sent_flags ID: the flags of its copy in Sent.
sent_flags()
{
	dovecot_doveadm fetch -u "$MS_USER1" flags mailbox Sent header message-id "<$1@test>" 2>/dev/null
}

# outbox: the store's outbox, one entry per line (not while the daemon
# runs: the store is its alone).
outbox()
{
	"$MS_BUILD_DIR/tests/ms_storedump" "$STORE" outbox
}

send_finish()
{
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS failure(s)" >&2
		exit 1
	fi
	echo "all passed"
}

# daemon_start: the foreground daemon, its log in $WORK/daemon.log ($LOG,
# which wait_for shows on failure), its PID in $DAEMON_PID and $DPID
# (stopped by the exit trap too).
daemon_start()
{
	LOG="$WORK/daemon.log"
	"$MAILSYNCD" -v -c "$CFG" >"$WORK/daemon.out" 2>"$LOG" &
	DAEMON_PID=$!
	DPID=$DAEMON_PID
	ms_cleanup_add "ms_pid_stop $DAEMON_PID mailsyncd"
}

# daemon_stop [SIGNAL]: SIGTERM (default) or SIGKILL, and waits for it.
daemon_stop()
{
	kill "-${1:-TERM}" "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	ms_cleanup_remove "ms_pid_stop $DAEMON_PID mailsyncd"
	DAEMON_PID='' DPID=''
}

# outbox_state ID: the state column of <ID@test>'s entry.
outbox_state()
{
	outbox | awk -F'\t' -v m="<$1@test>" '$9 == m { print $3 }'
}

# sink_has N / copies_are ID N: for wait_for.
sink_has()
{
	[ "$(sink_count)" = "$1" ]
}

copies_are()
{
	[ "$(sent_copies "$1")" = "$2" ]
}
