#!/bin/bash
# bench_imap_sync.sh - mailsyncd --once against mbsync (isync), side by side
# on the fixture Dovecot: initial sync, no-change resync, and an
# incremental pass (200 new, 500 flag changes, 100 expunges on the server).
# Both write a Maildir tree (mailsyncd its store plus the mirror), so like
# is compared with like; at the end both trees must hold the same messages
# (bytes) with the same flags in the same folders.
# Prints wall time, CPU (user+sys) and peak RSS of each and the ratios.
# Figures, not a test: run by hand after building (not run by ctest).
#
#   MS_BENCH_N=18000 bash tests/bench/bench_imap_sync.sh [BUILD_DIR]
#
# MS_BENCH_FOLDERS: the server folders filled, space-separated (default
# INBOX Sent Archive Lists/dev Ünïcödé); MS_BENCH_MAX_SIZE: fill with only
# the corpus files of at most that many bytes (default: all).  The large
# folder case is one folder of small messages:
#   MS_BENCH_N=100000 MS_BENCH_FOLDERS=INBOX MS_BENCH_MAX_SIZE=262144 \
#     MS_TEST_TMP=/dev/shm bash tests/bench/bench_imap_sync.sh build/release
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_SOURCE_DIR="${MS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
export MS_BUILD_DIR="${1:-${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}}"
export MAILSYNCD="${MAILSYNCD:-$MS_BUILD_DIR/daemon/mailsyncd}"
N="${MS_BENCH_N:-18000}"
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"
command -v mbsync >/dev/null || { echo "mbsync (isync) is not installed" >&2; exit 77; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed" >&2; exit 77; }

is_sync_setup both
printf 'maildir = %s\n' "$WORK/mirror" >> "$CFG"
FOLDERS=()
for f in ${MS_BENCH_FOLDERS:-INBOX Sent Archive Lists/dev Ünïcödé}; do
	FOLDERS+=(--folder "$f")
done
FILES=()
if [ -n "${MS_BENCH_MAX_SIZE:-}" ]; then
	corpus="$(ms_corpus_dir)" || exit 1
	while IFS=$'\t' read -r rel size _; do
		case "$rel" in messages/*) ;; *) continue ;; esac
		[ "$size" -le "$MS_BENCH_MAX_SIZE" ] && FILES+=(--file "$rel")
	done < "$corpus/index.tsv"
fi
bench_mailfill "$MS_USER1" "$N" "${FOLDERS[@]}" "${FILES[@]}" || exit 1

mkdir -p "$WORK/mbsync"
. "$MS_SOURCE_DIR/tests/integration/lib/mbsync.sh"
mbsync_rc "$WORK/mbsyncrc" "$WORK/mbsync" "$MS_IMAPS_PORT" "$MS_USER1" "$MS_PASS1" \
	"Create Near" "Expunge Near"

# Peak RSS is GNU time's %M (the process's VmHWM: anonymous plus mapped
# file pages).  With MS_BENCH_RSS_DETAIL=1 (the default) tests/bench/
# rss_watch.py also polls the process's /proc/PID/status every 5 ms and
# the line after each run shows the largest anonymous and file-backed
# (shared libraries, mapped store pages) parts seen, and the tmpfs part
# (mapped store pages when the store is on tmpfs, MS_TEST_TMP=/dev/shm);
# 0 turns that off.
RSS_DETAIL="${MS_BENCH_RSS_DETAIL:-1}"

# run NAME CMD...: appends "NAME wall cpu rss_kb" to $WORK/results.
run()
{
	local name="$1" t watch=()
	shift
	[ "$RSS_DETAIL" = 1 ] && watch=("$MS_PYTHON" "$HERE/rss_watch.py" "$WORK/rss")
	if ! "${watch[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/run.out" 2>"$WORK/run.err"; then
		echo "$name failed:" >&2
		tail -5 "$WORK/run.err" >&2
	fi
	read -r wall user sys rss < "$WORK/time"
	t="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
	printf '%s %s %s %s\n' "$name" "$wall" "$t" "$rss" >> "$WORK/results"
	printf '  %-28s wall %6ss  cpu %6ss  rss %7s kB  %s\n' "$name" "$wall" "$t" "$rss" \
		"$(head -1 "$WORK/run.out")"
	if [ "$RSS_DETAIL" = 1 ] && read -r anon file _ shmem < "$WORK/rss"; then
		printf '  %-28s largest parts seen: anonymous %s kB, file-backed %s kB, tmpfs %s kB\n' \
			"" "$anon" "$file" "${shmem:-?}"
	fi
}

: > "$WORK/results"
echo "initial sync of $N messages:"
run "mailsyncd initial" "$MAILSYNCD" -c "$CFG" --once
run "mbsync initial" mbsync -q -c "$WORK/mbsyncrc" -a
cp "$WORK/run.err" "$WORK/mbsync-initial.err"
# Three rounds: one pass takes tens of milliseconds, so one run says
# little on a busy machine; the ratios use the last round.
echo "no-change resync (3 rounds):"
for round in 1 2 3; do
	run "mailsyncd no-change" "$MAILSYNCD" -c "$CFG" --once
	run "mbsync no-change" mbsync -q -c "$WORK/mbsyncrc" -a
done
echo "incremental (200 new, 500 flag changes, 100 expunges in ${FOLDERS[-1]} on the server):"
mailfill "$MS_USER1" 200 "${FOLDERS[@]}" "${FILES[@]}" >/dev/null
mailmutate_flags "$MS_USER1" INBOX add 1:500 '\Flagged' >/dev/null
mailmutate_expunge "$MS_USER1" "${FOLDERS[-1]}" 1:100 >/dev/null
run "mailsyncd incremental" "$MAILSYNCD" -c "$CFG" --once
run "mbsync incremental" mbsync -q -c "$WORK/mbsyncrc" -a

echo "ratios (mbsync / mailsyncd; above 1 means mailsyncd is better):"
for phase in initial no-change incremental; do
	awk -v p="$phase" '
		$1 == "mailsyncd" && $2 == p { mw = $3; mc = $4; mr = $5 }
		$1 == "mbsync" && $2 == p { bw = $3; bc = $4; br = $5 }
		function r(a, b) { return b > 0 ? sprintf("%.1fx", a / b) : "n/a (0)" }
		END { printf "  %-12s wall %s  cpu %s  rss %s\n", p, r(bw, mw), r(bc, mc), r(br, mr) }
	' "$WORK/results"
done
n_store="$("$STOREDUMP" "$STORE" msgs t | wc -l)"
n_mbsync="$(find "$WORK/mbsync" -path '*/cur/*' -type f -o -path '*/new/*' -type f | wc -l)"
echo "messages: mailsyncd store $n_store, mbsync Maildir $n_mbsync"
# Disk: what each client keeps (du counts the blocks used, LMDB's free
# pages included).
kb_store="$(du -sk "$STORE" | cut -f1)"
kb_mirror="$(du -sk "$WORK/mirror" | cut -f1)"
kb_mbsync="$(du -sk "$WORK/mbsync" | cut -f1)"
awk -v s="$kb_store" -v m="$kb_mirror" -v b="$kb_mbsync" 'BEGIN {
	printf "disk: mailsyncd store %.0f MB + mirror %.0f MB = %.0f MB; mbsync %.0f MB (%.2fx; target at most 1.5x)\n",
		s / 1024, m / 1024, (s + m) / 1024, b / 1024, (b > 0 ? (s + m) / b : 0) }'

# Both trees as FOLDER TAB FLAGS TAB SHA256, sorted: the hash is of the
# bytes with CRLF read as LF (mbsync stores LF line ends) and without the
# X-TUID header mbsync adds, mbsync's folder names are decoded from
# modified UTF-7 and its INBOX/ is INBOX.
tree_dump()
{
	"$MS_PYTHON" - "$1" "$2" "$LIB" <<'EOF'
import hashlib, os, re, sys
root, kind, lib = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, lib)
import mutf7
for dirpath, dirnames, files in os.walk(root):
    dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("cur", "new", "tmp")]
    if not os.path.isdir(os.path.join(dirpath, "cur")):
        continue
    rel = os.path.relpath(dirpath, root)
    folder = "INBOX" if rel == "." else rel
    if kind == "mbsync":
        folder = mutf7.decode(folder)
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(dirpath, sub)):
            letters = name.split(":2,", 1)[1] if ":2," in name else ""
            with open(os.path.join(dirpath, sub, name), "rb") as f:
                data = f.read().replace(b"\r\n", b"\n")
            if kind == "mbsync":
                data = re.sub(rb"^X-TUID: [^\n]*\n", b"", data, count=1, flags=re.M)
            h = hashlib.sha256(data).hexdigest()
            print("%s\t%s\t%s" % (folder, "".join(sorted(c for c in letters if c.isupper())), h))
EOF
}
tree_dump "$WORK/mirror" mailsync | LC_ALL=C sort > "$WORK/tree.mailsync"
tree_dump "$WORK/mbsync" mbsync | LC_ALL=C sort > "$WORK/tree.mbsync"
n_both="$(LC_ALL=C comm -12 "$WORK/tree.mailsync" "$WORK/tree.mbsync" | wc -l)"
n_ms="$(LC_ALL=C comm -23 "$WORK/tree.mailsync" "$WORK/tree.mbsync" | wc -l)"
n_mb="$(LC_ALL=C comm -13 "$WORK/tree.mailsync" "$WORK/tree.mbsync" | wc -l)"
echo "trees: $n_both messages in both with the same bytes, flags and folder;" 	"$n_ms only in the mailsyncd mirror, $n_mb only in mbsync's tree"
if [ "$n_ms" != 0 ] || [ "$n_mb" != 0 ]; then
	# mbsync skips messages whose header does not end in an empty line
	# ("incomplete header"), and rewrites bytes of binary non-messages.
	echo "  mbsync warned: $(grep -c 'incomplete header' "$WORK/mbsync-initial.err") x incomplete header, skipped"
	echo "  first differences (< mailsyncd mirror, > mbsync):"
	diff "$WORK/tree.mailsync" "$WORK/tree.mbsync" | grep '^[<>]' | head -6 | sed 's/^/    /'
fi
