#!/bin/bash
# A mirror's directories are made once: a pass over a mirror that exists
# (here one that writes new files, renames for flags and removes
# expunged ones in every folder) makes no directory in it and tries to
# make none (strace: no mkdir or mkdirat of a path in the mirror, so no
# failing one either;
# before, each export tried every path component and every new/ cur/
# tmp/ again, ~770 failing calls per export at 100,000 messages).  A
# folder's tmp/ a reader removed, and a folder's whole Maildir removed,
# are made again by the next pass, with the folder's files.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

command -v strace >/dev/null || { echo "strace not installed" >&2; exit 77; }
mirror_setup
mailfill "$MS_USER1" 60 >/dev/null || exit 1
mirror_vsync "initial sync"
mirror_compare "initial"

# Changes in every folder the fill wrote: each export writes, renames
# and removes files.
while IFS= read -r f; do
	mailmutate_flags "$MS_USER1" "$f" add 1:2 '\Flagged' >/dev/null &&
	mailmutate_expunge "$MS_USER1" "$f" 3 >/dev/null ||
		fail "changing $f on the server"
done < <(cut -f1 "$MS_MAILFILL_MANIFEST" | sort -u)
mailfill "$MS_USER1" 12 >/dev/null || fail "new mail on the server"

# (LeakSanitizer cannot run under ptrace: off for this pass.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -y -e trace=mkdir,mkdirat,rename,renameat,renameat2 -o "$WORK/strace.txt" \
	"$MAILSYNCD" -v -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" ||
	fail "pass under strace: $(grep -v ' imap ' "$WORK/err" | tail -3)"
line="$(grep -E 'acct=t mirror export written=' "$WORK/err" | tail -1)"
written="$(sed -nE 's/.* written=([0-9]+).*/\1/p' <<<"$line")"
renamed="$(sed -nE 's/.* renamed=([0-9]+).*/\1/p' <<<"$line")"
[ "${written:-0}" -gt 0 ] && [ "${renamed:-0}" -gt 0 ] &&
	ok "the pass exported: $line" || fail "the pass exported nothing: '$line'"
# mkdir("PATH", ...) or mkdirat(FD<PATH>, ...) with PATH in the mirror
# (the store's own directory is looked at once per process, not here).
in_mirror_calls() { grep -E 'mkdir(at)?\(' "$WORK/strace.txt" | grep -F "$MAIL"; }
n="$(in_mirror_calls | wc -l)"
[ "$(grep -cE 'rename(at2?)?\(' "$WORK/strace.txt")" -gt 0 ] ||
	fail "strace saw none of the export's renames: is it tracing?"
[ "$n" = 0 ] && ok "no mkdir or mkdirat in the mirror in a pass over it" ||
	fail "$n mkdir/mkdirat calls in the mirror: $(in_mirror_calls | head -3)"
mirror_compare "after the changes"

# What is gone is made again: a folder's tmp/, a whole folder's Maildir.
rm -r "$MAIL/Sent/tmp" "$MAIL/Archive"
mirror_vsync "after tmp/ and a Maildir were removed"
[ -d "$MAIL/Sent/tmp" ] && ok "Sent/tmp made again" || fail "Sent/tmp is missing"
[ -d "$MAIL/Archive/cur" ] && [ -d "$MAIL/Archive/new" ] && [ -d "$MAIL/Archive/tmp" ] &&
	ok "Archive's Maildir made again" || fail "Archive's Maildir is missing"
mirror_compare "after the rebuild"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all mirror mkdir checks passed"
