#!/bin/bash
# bench_imap_sync.sh - mailsyncd --once against mbsync (isync), side by side
# on the fixture Dovecot: initial sync, no-change resync, and an
# incremental pass (200 new, 500 flag changes, 100 expunges on the server).
# Prints wall time, CPU (user+sys) and peak RSS of each and the ratios.
# Figures, not a test: run by hand after building (not run by ctest).
#
#   MS_BENCH_N=18000 bash tests/bench/bench_imap_sync.sh [BUILD_DIR]
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
FOLDERS=(--folder INBOX --folder Sent --folder Archive --folder Lists/dev --folder 'Ünïcödé')
mailfill "$MS_USER1" "$N" "${FOLDERS[@]}" | tail -1

mkdir -p "$WORK/mbsync"
cat > "$WORK/mbsyncrc" <<EOC
IMAPAccount bench
Host localhost
Port $MS_IMAPS_PORT
User $MS_USER1
Pass "$MS_PASS1"
SSLType IMAPS
CertificateFile $MS_TLS_CA

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path $WORK/mbsync/
Inbox $WORK/mbsync/INBOX
SubFolders Verbatim

Channel bench
Far :bench-far:
Near :bench-near:
Patterns *
Create Near
Expunge Near
SyncState *
EOC

# run NAME CMD...: appends "NAME wall cpu rss_kb" to $WORK/results.
run()
{
	local name="$1" t
	shift
	if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/run.out" 2>"$WORK/run.err"; then
		echo "$name failed:" >&2
		tail -5 "$WORK/run.err" >&2
	fi
	read -r wall user sys rss < "$WORK/time"
	t="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
	printf '%s %s %s %s\n' "$name" "$wall" "$t" "$rss" >> "$WORK/results"
	printf '  %-28s wall %6ss  cpu %6ss  rss %7s kB  %s\n' "$name" "$wall" "$t" "$rss" \
		"$(head -1 "$WORK/run.out")"
}

: > "$WORK/results"
echo "initial sync of $N messages:"
run "mailsyncd initial" "$MAILSYNCD" -c "$CFG" --once
run "mbsync initial" mbsync -q -c "$WORK/mbsyncrc" -a
echo "no-change resync:"
run "mailsyncd no-change" "$MAILSYNCD" -c "$CFG" --once
run "mbsync no-change" mbsync -q -c "$WORK/mbsyncrc" -a
echo "incremental (200 new, 500 flag changes, 100 expunges on the server):"
mailfill "$MS_USER1" 200 "${FOLDERS[@]}" >/dev/null
mailmutate_flags "$MS_USER1" INBOX add 1:500 '\Flagged' >/dev/null
mailmutate_expunge "$MS_USER1" Sent 1:100 >/dev/null
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
