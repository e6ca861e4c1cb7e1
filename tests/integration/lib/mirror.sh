# mirror.sh - shared helpers of tests/integration/test_mirror*.sh (sourced;
# not a test): the sync setup with a mirror, what the mirror holds, and the
# comparisons with the server and the store.  Needs MAILSYNCD, MS_BUILD_DIR,
# MS_SOURCE_DIR.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

MIRRORCHECK="$MS_BUILD_DIR/tests/ms_mirrorcheck"

# mirror_setup: is_sync_setup with the account's mirror in $MAIL.
mirror_setup()
{
	[ -x "$MIRRORCHECK" ] || { echo "missing $MIRRORCHECK (build tests)" >&2; exit 1; }
	is_sync_setup both
	MAIL="$WORK/mail"
	printf 'maildir = %s\n' "$MAIL" >> "$CFG"
}

# mirror_store_first: a --once of the account without its mirror, so that
# the store holds the server's mail and the next pass's export (after
# the pass, as a first sync's early exports are not) writes every file.
mirror_store_first()
{
	grep -v '^maildir = ' "$CFG" > "$WORK/store-only.ini"
	chmod 600 "$WORK/store-only.ini"
	"$MAILSYNCD" -c "$WORK/store-only.ini" --once >"$WORK/out" 2>"$WORK/err" ||
		{ fail "the store-only sync: $(tail -3 "$WORK/err")"; exit 1; }
}

MIRRORDUMP="$MS_SOURCE_DIR/tests/integration/lib/mirror_dump.py"

# mail_sha FILE: the SHA-256 of the bytes the server holds of a message
# file: its CRLF form (mirror files have LF line ends; a LF without CR is
# sent as CRLF).
mail_sha() { perl -pe 's/(?<!\r)\n/\r\n/' < "$1" | sha256sum | cut -d' ' -f1; }

# mirror_compare WHAT [MIRROR_DUMP-OPTION...]: the mirror shows the server's
# messages (folder, flags, bytes) and mirror_check finds store and mirror
# agree ($MIRROR_CHECK: "check", or "check-names" without content hashes;
# messages whose SHA-256 is in $MIRROR_EXCEPT are left out of the first).
mirror_compare()
{
	local what="$1"
	shift
	if ! "$MS_PYTHON" "$MIRRORDUMP" "$MAIL" "$@" > "$WORK/mirror.txt" 2> "$WORK/layout.txt"; then
		fail "$what: mirror layout: $(head -3 "$WORK/layout.txt")"
	fi
	is_server_msgs | awk -F'\t' -v OFS='\t' '{ print $1, $3, $4, $5 }' | LC_ALL=C sort > "$WORK/server4.txt"
	LC_ALL=C sort -o "$WORK/mirror.txt" "$WORK/mirror.txt"
	for sha in ${MIRROR_EXCEPT:-}; do
		sed -i "/\t$sha\t/d" "$WORK/mirror.txt" "$WORK/server4.txt"
	done
	if cmp -s "$WORK/mirror.txt" "$WORK/server4.txt" && [ -s "$WORK/server4.txt" ]; then
		ok "$what: mirror equals server ($(wc -l < "$WORK/server4.txt") files, bytes and flags)"
	else
		fail "$what: mirror differs from the server:"
		diff "$WORK/mirror.txt" "$WORK/server4.txt" | head -10 >&2
	fi
	if out="$("$MIRRORCHECK" "$STORE" t "$MAIL" "${MIRROR_CHECK:-check}" 2>&1)"; then
		ok "$what: mirror_check: $out"
	else
		fail "$what: mirror_check: $out"
	fi
}

# mirror_vsync WHAT: a --once pass with the protocol trace (-v): stdout in
# $WORK/out, the trace in $WORK/err; ok or fail, named WHAT.
mirror_vsync()
{
	if "$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/err"; then
		ok "$1: $(cat "$WORK/out")"
	else
		fail "$1: $(grep -v ' imap ' "$WORK/err" | tail -3)"
	fi
}

# reader_missing WHAT: a reader is not installed: skip (77), unless a check
# before already failed.
reader_missing()
{
	local rc
	ms_missing "$1"
	rc=$?
	[ "$FAILS" = 0 ] || exit 1
	exit "$rc"
}

# uid_of FILE: the UID in a name the mirror gave ("<uidvalidity>-<uid>-...").
uid_of() { basename "$1" | cut -d- -f2; }

# server_flags FOLDER UID: the server's flags of one message ("" if gone).
server_flags() { is_server_msgs --folder "$1" | awk -F'\t' -v u="$2" '$2 == u { print $3 }'; }


# mirror_daemon_start: mailsyncd's foreground mode on $CFG in the
# background, its log in $LOG ($WORK/daemon.log), its pid in $DPID.
mirror_daemon_start()
{
	LOG="$WORK/daemon.log"
	"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
	DPID=$!
	ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
}

# mirror_wait_passes N SECONDS: until the daemon ended N passes, at most
# SECONDS; a failure otherwise.
mirror_wait_passes()
{
	local i n
	for ((i = 0; i < $2 * 10; i++)); do
		n="$(grep -cE 'acct=t state=idle ' "$LOG" 2>/dev/null || true)"
		[ "$n" -ge "$1" ] && return 0
		ms_pid_alive "$DPID" || { fail "mailsyncd died: $(tail -5 "$LOG")"; return 1; }
		sleep 0.1
	done
	fail "no pass $1 within $2 s: $(tail -5 "$LOG")"
	return 1
}

# mirror_daemon_sigterm: SIGTERM to $DPID, then a wait of up to 10 s for
# it to exit: TERM_MS is how long it took, TERM_RC its exit status.
# Returns 1 (TERM_RC empty) when it is still running.
mirror_daemon_sigterm()
{
	local t0 i
	t0="$(date +%s%N)"
	kill -TERM "$DPID"
	for ((i = 0; i < 500; i++)); do ms_pid_alive "$DPID" || break; sleep 0.02; done
	TERM_MS="$(( ($(date +%s%N) - t0) / 1000000 ))"
	TERM_RC=''
	ms_pid_alive "$DPID" && return 1
	wait "$DPID"
	TERM_RC=$?
	ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
	return 0
}

# mirror_daemon_stop: SIGTERM; the daemon must exit 0 within 10 s.
mirror_daemon_stop()
{
	local i rc
	kill -TERM "$DPID"
	for ((i = 0; i < 50; i++)); do ms_pid_alive "$DPID" || break; sleep 0.2; done
	if ms_pid_alive "$DPID"; then
		fail "mailsyncd still running 10 s after SIGTERM"
		return 1
	fi
	wait "$DPID"
	rc=$?
	[ "$rc" = 0 ] || fail "mailsyncd: exit $rc after SIGTERM"
}

# corpus_messages N: the first N corpus messages (sorted paths) that are no
# mbox excerpts ("From " line first), which an IMAP server would not store
# as they are; one path a line.
corpus_messages()
{
	local f
	for f in $(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort); do
		head -c 5 "$f" | grep -q '^From ' || printf '%s\n' "$f"
	done | head -"$1"
}

# mirror_count FOLDER: the files in the mirror's FOLDER (new/ and cur/;
# INBOX is the root).
mirror_count()
{
	local d="$MAIL"
	[ "$1" = INBOX ] || d="$MAIL/$1"
	find "$d/new" "$d/cur" -maxdepth 1 -type f 2>/dev/null | wc -l
}

# in_mirror FOLDER N: the mirror's FOLDER holds N files.
in_mirror() { [ "$(mirror_count "$1")" = "$2" ]; }

# new_passes: passes of account t in $LOG that stored a message so far;
# a file is in the mirror before its pass ends, so a test that stops the
# daemon waits for this to grow first (else the stop leaves the file's
# record for the next start).
new_passes() { grep -cE 'acct=t state=idle .* new=[1-9]' "$LOG" 2>/dev/null || true; }

# no_sanitizer_report LOG...: ok, or a failure quoting what ASan, LSan or
# UBSan wrote into a daemon's log (they report at exit too).
no_sanitizer_report()
{
	if grep -hE 'AddressSanitizer|LeakSanitizer|runtime error' "$@"; then
		fail "sanitizer report in $*"
	else
		ok "no sanitizer report in the daemon's log"
	fi
}

# mirror_end_exactly_once WHAT: stops the daemon in $DPID, then the
# mirror equals the server (new messages in new/), no (folder, uid) is
# twice in the store and no sanitizer spoke; exits with the result.
mirror_end_exactly_once()
{
	local dups
	is_daemon_term 10
	mirror_compare "$1" --strict-new
	dups="$("$STOREDUMP" "$STORE" msgs t | awk -F'\t' '{ print $1, $2 }' | sort | uniq -d | wc -l)"
	[ "$dups" = 0 ] && ok "no (folder, uid) twice in the store" || fail "$dups duplicate store records"
	no_sanitizer_report "$LOG"
	[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
	echo "all passed"
	exit 0
}
