#!/bin/bash
# What a person sees of `mailsyncd --once`, against a real Dovecot behind a
# slow link (tests/bench/latproxy.py): a long first sync reports progress
# from the server's own counts (STATUS and its SIZE), as log lines when
# stderr is a file and as a line redrawn in place on a terminal, erased
# before the summary; a pass that changes nothing logs nothing; every line
# is stamped with its UTC offset, the summary of failures too; an error
# names its path once.  Content is checked, never timing.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both
mailfill "$MS_USER1" 300 >/dev/null || exit 1
MAIL="$WORK/Mail"
printf 'maildir = %s\n' "$MAIL" >> "$CFG"
STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{4}'

# A link with a 300 ms round trip: the first sync takes seconds.
is_slow_link 150

# --- not a terminal: plain progress lines in the log --------------------------------
# A line every second of the pass (MAILSYNC_PROGRESS_MS; 5 s by default).
MAILSYNC_PROGRESS_MS=1000 "$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" ||
	fail "first sync: $(cat "$WORK/err")"
grep -q '^t: 9 folders, 300 new, ' "$WORK/out" && ok "first sync: $(cat "$WORK/out")" ||
	fail "first sync summary: $(cat "$WORK/out")"
# "TIME info acct=t syncing INBOX: 8/9 folders, 300/300 messages, 1.1 MB of
# 1.1 MB, 199.2 kB/s, ETA 0s": the totals are the server's (STATUS and
# STATUS=SIZE, which Dovecot offers).
LINE="^$STAMP info acct=t syncing ([^:]+: )?[0-9]/9 folders, [0-9]+/300 messages, [0-9.]+ [kM]?B of [0-9.]+ [kM]?B, [0-9.]+ [kM]?B/s(, ETA [0-9]+(s|m[0-9]{2}s))?\$"
n="$(grep -cE "$LINE" "$WORK/err")"
[ "$n" -ge 1 ] && ok "$n progress lines, e.g. $(grep -E "$LINE" "$WORK/err" | tail -1)" ||
	fail "no progress line in the log: $(cat "$WORK/err")"
grep -E ' acct=t syncing ' "$WORK/err" | grep -qvE "$LINE" &&
	fail "a progress line of another form: $(grep -E ' acct=t syncing ' "$WORK/err" | grep -vE "$LINE" | head -1)"
grep -qE ' acct=t syncing .*, ETA [0-9]' "$WORK/err" && ok "an ETA once the rate is known" ||
	fail "no ETA: $(grep ' syncing ' "$WORK/err")"
grep -q $'\033' "$WORK/err" && fail "terminal control sequences in a log file"
grep -qvE "^$STAMP (info|warn|error|debug) " "$WORK/err" &&
	fail "a log line without its stamp: $(grep -vE "^$STAMP " "$WORK/err" | head -1)"

# --- quiet when nothing happens --------------------------------------------------------
"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" || fail "no-change sync: $(cat "$WORK/err")"
[ ! -s "$WORK/err" ] && ok "a pass that changes nothing logs nothing ($(cat "$WORK/out"))" ||
	fail "an unchanged pass logged: $(cat "$WORK/err")"
# A change is news: the export says what it wrote, and nothing else.
mailmutate_add "$MS_USER1" INBOX "$(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -1)" >/dev/null
"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" || fail "one new: $(cat "$WORK/err")"
sed -E "s/^$STAMP //" "$WORK/err" > "$WORK/err.text"
printf 'info acct=t mirror export written=1 renamed=0 removed=0 adopted=0 flags=0 deletes=0 moves=0 appends=0 created=0\n' > "$WORK/want"
cmp -s "$WORK/err.text" "$WORK/want" && ok "one new message: one log line, the export's" ||
	fail "one new message logged: $(cat "$WORK/err")"

# --- on a terminal: a line redrawn in place, erased before the summary ----------------
# script(1) gives mailsyncd a pseudo-terminal as stdout and stderr.
rm -rf "$STORE" "$MAIL"
script -qec "MAILSYNC_PROGRESS_MS=1000 '$MAILSYNCD' -c '$CFG' --once" /dev/null \
	< /dev/null > "$WORK/tty.out" 2>&1 || fail "first sync on a terminal: $(cat -v "$WORK/tty.out" | tail -3)"
tr -d '\r' < "$WORK/tty.out" > "$WORK/tty.txt"
ERASE=$'\033[1A\033[J'
# Each redraw: up one line, to its start, erase to the end of the screen.
n="$(grep -cF $'\033[1A' "$WORK/tty.txt")"
grep -qE '^(.\[1A.\[J)?t +[0-9]+% [0-9]/9 folders, [0-9]+/301 messages, .* of .*B/s' "$WORK/tty.txt" &&
	[ "$n" -ge 2 ] && ok "terminal: a progress line redrawn $n times" ||
	fail "terminal: no redrawn progress line: $(cat -v "$WORK/tty.out" | head -5)"
# The summary follows the last erase, and no progress is left on screen.
last="$(tail -1 "$WORK/tty.txt")"
[[ "$last" == "${ERASE}t: 9 folders, 301 new, "* ]] &&
	ok "terminal: the progress line erased, then the summary" ||
	fail "terminal: the last line is $(printf '%q' "$last")"

# --- errors: stamped, the path named once ------------------------------------------------
rm -rf "$MAIL"
echo 'not a directory' > "$MAIL"
"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err"; rc=$?
sed -E "s/^$STAMP //" "$WORK/err" > "$WORK/err.text"
cat > "$WORK/want" <<EOF
error acct=t mirror scan: open $MAIL: Not a directory
error acct=t mirror export: open $MAIL: Not a directory
error mailsyncd: t: mirror export: open $MAIL: Not a directory
EOF
[ "$rc" = 1 ] && cmp -s "$WORK/err.text" "$WORK/want" &&
	ok "a maildir that is a file: exit 1, three stamped lines, the path once in each" ||
	{ fail "a maildir that is a file: exit $rc:"; diff "$WORK/want" "$WORK/err.text" >&2; }
rm -f "$MAIL"

[ "$FAILS" = 0 ] || exit 1
