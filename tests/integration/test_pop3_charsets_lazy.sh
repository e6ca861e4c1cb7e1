#!/bin/bash
# A POP3-only daemon loads no charset module it does not use: with nothing
# new to download, its pass converts no text, and no iconv module (glibc's
# gconv/*.so) is mapped into the process.  The same daemon with an IMAP
# account as well loads the common ones at start (its first pass
# summarises a folder in bulk), which also shows that the check below sees
# them when they are there.
. "$MS_SOURCE_DIR/tests/tools/pop3_common.sh"
p3_setup
mailfill "$MS_USER1" 3 --folder INBOX --quiet >/dev/null || exit 1
p3_config lazy implicit "$MS_POP3S_PORT" "keep = yes
poll_interval = 10m"
p3_sync || fail "the first download: exit $?: $(tail -3 "$WORK/err")"
grep -q '^p: 1 folder, 3 new' "$WORK/out" && ok "first download: 3 new" ||
	fail "first download: $(cat "$WORK/out")"

# gconv_modules PID: the charset modules mapped into PID, one a line.
gconv_modules()
{
	grep -oE '/gconv/[^/ ]+\.so' "/proc/$1/maps" 2>/dev/null | sort -u
}

# --- POP3 only: nothing new, no module ---------------------------------------
LOG="$WORK/pop3.log"
log_has() { grep -qE -- "$2" "$1" 2>/dev/null; }
"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "the POP3 pass" 30 log_has "$LOG" 'acct=p state=idle .* new=0 ' ||
	{ cat "$LOG" >&2; exit 1; }
mods="$(gconv_modules "$DPID")"
[ -z "$mods" ] && ok "POP3 only, nothing new: no charset module loaded" ||
	fail "POP3 only, nothing new: charset modules loaded: $(echo $mods)"
ms_pid_stop "$DPID" mailsyncd

# --- with an IMAP account: the common ones, at start --------------------------
is_account_section i "$MS_USER2" "$MS_PASS2" "poll_interval = 10m" >> "$CFG"
LOG="$WORK/imap.log"
"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
has_modules() { [ -n "$(gconv_modules "$DPID")" ]; }
wait_for "charset modules with an IMAP account" 30 has_modules &&
	ok "with an IMAP account: $(gconv_modules "$DPID" | wc -l) charset modules loaded at start" ||
	{ fail "with an IMAP account: no charset module loaded"; cat "$LOG" >&2; }
ms_pid_stop "$DPID" mailsyncd
p3_done
