#!/bin/bash
# bench_roundtrip.sh - mailsyncd --once against mbsync (isync) over a link
# with a round trip: both talk to the fixture Dovecot through
# tests/bench/latproxy.py (MS_BENCH_DELAY ms each way, default 25), each
# with its own account filled with the same MS_BENCH_N messages (default
# 2400).  Phases:
#
#   initial      the first sync into an empty Maildir
#   no-change    nothing changed anywhere
#   server       changes on the server: 100 new, 300 flagged, 50 expunged
#   reader       a reader's edits in the Maildir: 300 unread messages
#                marked read, 50 deleted, 50 moved from INBOX to Archive
#                under new file names (as mutt does)
#   live         the same kind of edits again, with each client run as
#                its users run it: mailsyncd as the daemon (session kept,
#                mirror watched), mbsync started when the edits are done;
#                timed from the end of the edits until the server holds
#                them all (server_wait.py)
#
# MS_BENCH_VERBOSE=1 runs mailsyncd with -v; every run's stderr stays in
# the work directory (MS_KEEP_TMP=1 keeps it).
# Prints wall time, round trips (the proxy's count of the client speaking
# again after the server spoke), CPU (user+sys) and peak RSS of each client
# and the ratios, then whether each account's server holds the reader's
# edits after that one pass.  Figures, not a test: it never fails on a
# timing (not run by ctest).
#
#   bash tests/bench/bench_roundtrip.sh [BUILD_DIR]
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_SOURCE_DIR="${MS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
export MS_BUILD_DIR="${1:-${MS_BUILD_DIR:-$MS_SOURCE_DIR/build/release}}"
export MAILSYNCD="${MAILSYNCD:-$MS_BUILD_DIR/daemon/mailsyncd}"
export MS_CORPUS="${MS_CORPUS:-$MS_SOURCE_DIR/tests/corpus}"
N="${MS_BENCH_N:-2400}"
DELAY="${MS_BENCH_DELAY:-25}"
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"
command -v mbsync >/dev/null || { echo "mbsync (isync) is not installed" >&2; exit 77; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed" >&2; exit 77; }
[ -x "$MAILSYNCD" ] || { echo "no $MAILSYNCD (build first)" >&2; exit 1; }

is_sync_setup both
MIRROR="$WORK/mirror"
MBSYNC="$WORK/mbsync"
read -r PORT_MS PORT_MB <<< "$(ms_free_ports 2)"
sed -i "s/^port = .*/port = $PORT_MS/" "$CFG"
printf 'maildir = %s\n' "$MIRROR" >> "$CFG"
FOLDERS=(--folder INBOX --folder Sent --folder Archive --folder Lists/dev)
# The same messages, and so the same UIDs, in both accounts.
bench_mailfill "$MS_USER1" "$N" "${FOLDERS[@]}" || exit 1
mailfill "$MS_USER2" "$N" "${FOLDERS[@]}" >/dev/null

mkdir -p "$MBSYNC"
. "$MS_SOURCE_DIR/tests/integration/lib/mbsync.sh"
mbsync_rc "$WORK/mbsyncrc" "$MBSYNC" "$PORT_MB" "$MS_USER2" "$MS_PASS2" \
	"Create Both" "Expunge Both"

proxy_start() # PORT: a proxy in the background; sets PROXY_PID
{
	local i
	rm -f "$WORK/proxy.stats" "$WORK/proxy.out"
	"$MS_PYTHON" "$HERE/latproxy.py" --listen "$1" --target "$MS_IMAPS_PORT" \
		--delay "$DELAY" --stats "$WORK/proxy.stats" > "$WORK/proxy.out" 2>&1 &
	PROXY_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q '^PORT ' "$WORK/proxy.out" 2>/dev/null && break
		sleep 0.05
	done
}
# run PHASE CLIENT PORT CMD...: CMD through a fresh proxy on PORT; appends
# "PHASE CLIENT wall round_trips cpu rss_kb" to $WORK/results.
run()
{
	local phase="$1" client="$2" port="$3" pid rt cpu
	shift 3
	proxy_start "$port"
	pid=$PROXY_PID
	if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/run.out" 2>"$WORK/run.err"; then
		echo "  $client $phase failed:" >&2
		tail -3 "$WORK/run.err" >&2
	fi
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	cp "$WORK/run.err" "$WORK/$phase.$client.err"
	read -r wall user sys rss < "$WORK/time"
	cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
	rt="$("$MS_PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["round_trips"])' \
		"$WORK/proxy.stats" 2>/dev/null || echo '?')"
	printf '%s %s %s %s %s %s\n' "$phase" "$client" "$wall" "$rt" "$cpu" "$rss" >> "$WORK/results"
	printf '  %-9s %-9s wall %7ss  round trips %5s  cpu %6ss  rss %7s kB\n' \
		"$phase" "$client" "$wall" "$rt" "$cpu" "$rss"
}

both()
{
	run "$1" mailsyncd "$PORT_MS" "$MAILSYNCD" ${MS_BENCH_VERBOSE:+-v} -c "$CFG" --once
	run "$1" mbsync "$PORT_MB" mbsync -q -c "$WORK/mbsyncrc" -a
}

# edit ROOT KIND PLAN: the reader's edits in one client's Maildir tree.
# PLAN lines are "ACTION FOLDER UID" (read, delete, move); KIND says how
# the tree names folders and files (mailsync: INBOX is ROOT and names hold
# "-UID-"; mbsync: ROOT/INBOX and names hold ",U=" and mbsync's own UID,
# which its .mbsyncstate maps from the server's).
edit()
{
	"$MS_PYTHON" - "$@" <<'EOF'
import os, re, sys, time
root, kind, plan = sys.argv[1:4]
only_list = sys.argv[4:] == ["--list"]
def folder_dir(f):
    if kind == "mailsync" and f == "INBOX":
        return root
    return os.path.join(root, f)
near = {}
def near_uid(f, uid):
    # mbsync's ",U=" is its own (near) UID: .mbsyncstate maps far to near.
    if f not in near:
        near[f] = {}
        with open(os.path.join(folder_dir(f), ".mbsyncstate")) as st:
            for line in st:
                w = line.split()
                if len(w) >= 2 and w[0].isdigit() and w[1].isdigit():
                    near[f][int(w[0])] = int(w[1])
    return near[f].get(uid, 0)
# Each folder is listed once, so the edits run back to back as a
# reader's do (mutt renames a folder's files in one loop).
index = {}
uid_re = re.compile(r"^\d+-(\d+)-" if kind == "mailsync" else r",U=(\d+)(?:[,:]|$)")
def find(f, uid):
    if kind == "mbsync":
        uid = near_uid(f, uid)
    if f not in index:
        index[f] = {}
        for sub in ("cur", "new"):
            for name in os.listdir(os.path.join(folder_dir(f), sub)):
                m = uid_re.search(name)
                if m:
                    index[f][int(m.group(1))] = (sub, name)
    return index[f].get(uid, (None, None))
n = 0
for i, line in enumerate(open(plan)):
    action, f, uid = line.split()[:3]
    sub, name = find(f, int(uid))
    if only_list:
        if name is not None:
            print(i + 1)
        continue
    if name is None:
        print("no file for %s %s in %s" % (f, uid, root), file=sys.stderr)
        continue
    path = os.path.join(folder_dir(f), sub, name)
    base, _, letters = name.partition(":2,")
    if action == "read":
        letters = "".join(sorted(set(letters + "S")))
        os.rename(path, os.path.join(folder_dir(f), "cur", base + ":2," + letters))
    elif action == "delete":
        os.unlink(path)
    elif action == "move":
        # mutt: a copy under a new unique name in the destination, then
        # the source removed.
        n += 1
        new = "%d.M%dP%d.reader:2,%s" % (int(time.time()), n, os.getpid(), letters)
        with open(path, "rb") as src, open(os.path.join(folder_dir("Archive"), "tmp", new), "wb") as dst:
            dst.write(src.read())
        os.rename(os.path.join(folder_dir("Archive"), "tmp", new),
                  os.path.join(folder_dir("Archive"), "cur", new))
        os.unlink(path)
EOF
}

: > "$WORK/results"
echo "through latproxy.py, ${DELAY} ms each way; $N messages in each account:"
both initial
both no-change
# New messages through doveadm: mailfill writes into the Maildir behind
# Dovecot's back, which is only safe before the first access.
mapfile -t NEWMSGS < <(corpus_messages 100)
for u in "$MS_USER1" "$MS_USER2"; do
	for ((i = 0; i < 4; i++)); do
		mailmutate_add "$u" "${FOLDERS[$((2 * i + 1))]}" "${NEWMSGS[@]:$((25 * i)):25}" >/dev/null
	done
	mailmutate_flags "$u" Sent add 1:300 '\Flagged' >/dev/null
	mailmutate_expunge "$u" Lists/dev 1:50 >/dev/null
done
both server

# The reader's edits, planned from the first account's server state: 300
# unread messages read, 50 read INBOX ones deleted and 50 more moved.  The
# second account holds the same messages, not necessarily under the same
# UIDs: a message is named by its folder, its content (sha256) and which of
# the folder's messages with that content it is, in UID order.
dump_server() # USER PASS: the account's messages, folder uid flags sha size
{
	"$MS_PYTHON" "$SERVERDUMP" --port "$MS_IMAPS_PORT" --ca "$MS_TLS_CA" \
		--user "$1" --password "$2" | sort -t "$(printf '\t')" -k1,1 -k2,2n
}
# keyed: "folder sha n<TAB>uid<TAB>flags" from a dump.
keyed() { awk -F'\t' -v OFS='\t' '{ k = $1 " " $4; print k " " ++n[k], $2, $3 }' "$1"; }
# plan_uids KEYED PLAN: the plan as "ACTION FOLDER UID SHA" for that account.
plan_uids()
{
	awk -F'\t' 'FILENAME == ARGV[1] { uid[$1] = $2; next }
		{ split($2, k, " "); print $1, k[1], uid[$2], k[2] }' "$1" "$2"
}
# make_plan TAG: $WORK/before.TAG.{1,2} (the servers now) and
# $WORK/plan.TAG.{1,2} (the edits, per account).
make_plan()
{
	local t="$1" f
	dump_server "$MS_USER1" "$MS_PASS1" > "$WORK/before.$t.1"
	dump_server "$MS_USER2" "$MS_PASS2" > "$WORK/before.$t.2"
	keyed "$WORK/before.$t.1" > "$WORK/keyed.$t.1"
	keyed "$WORK/before.$t.2" > "$WORK/keyed.$t.2"
	awk -F'\t' '{ split($1, k, " ") }
		(k[1] == "INBOX" || k[1] == "Sent" || k[1] == "Archive") && $3 !~ /Seen/ && nr < 300 { print "read\t" $1; nr++; next }
		k[1] == "INBOX" && $3 ~ /Seen/ && nd < 50 { print "delete\t" $1; nd++; next }
		k[1] == "INBOX" && $3 ~ /Seen/ && nm < 50 { print "move\t" $1; nm++ }' \
		"$WORK/keyed.$t.1" > "$WORK/plan.$t"
	plan_uids "$WORK/keyed.$t.1" "$WORK/plan.$t" > "$WORK/plan.$t.1"
	plan_uids "$WORK/keyed.$t.2" "$WORK/plan.$t" > "$WORK/plan.$t.2"
	# Only messages both trees hold (mbsync skips those whose header
	# does not end in an empty line).
	edit "$MBSYNC" mbsync "$WORK/plan.$t.2" --list > "$WORK/plan.$t.has"
	for f in "plan.$t" "plan.$t.1" "plan.$t.2"; do
		awk 'FILENAME == ARGV[1] { keep[$1] = 1; next } FNR in keep' \
			"$WORK/plan.$t.has" "$WORK/$f" > "$WORK/$f.tmp" &&
			mv "$WORK/$f.tmp" "$WORK/$f"
	done
}

# Did each account's server get the reader's edits in that one pass?
check_edits() # USER PASS NAME BEFORE PLAN
{
	local out="$WORK/after.$3" bad
	dump_server "$1" "$2" > "$out"
	bad="$(awk -F'\t' '
		FILENAME == ARGV[1] { was[$1 " " $4]++; next }
		FILENAME == ARGV[2] { flags[$1 " " $2] = $3; is[$1 " " $2] = 1; n[$1 " " $4]++; next }
		{ split($0, a, " "); k = a[2] " " a[3] }
		a[1] == "read" && flags[k] !~ /Seen/ { bad++ }
		a[1] == "delete" && (k in is) { bad++ }
		a[1] == "move" { moves++; if (k in is) bad++ }
		END {
			# mbsync uploads its own copy (LF line ends made CRLF
			# again, maybe an X-TUID header): moves are counted,
			# not matched by content.
			for (m in n) if (m ~ /^Archive /) na += n[m]
			for (m in was) if (m ~ /^Archive /) nb += was[m]
			if (na - nb < moves) bad += moves - (na - nb)
			print bad + 0
		}' \
		"$4" "$out" "$5")"
	printf '  %-9s %s of %s edits missing on the server\n' "$3" "$bad" "$(wc -l < "$5")"
}

make_plan reader
edit "$MIRROR" mailsync "$WORK/plan.reader.1"
edit "$MBSYNC" mbsync "$WORK/plan.reader.2"
both reader
echo "  after the reader pass:"
check_edits "$MS_USER1" "$MS_PASS1" mailsyncd "$WORK/before.reader.1" "$WORK/plan.reader.1"
check_edits "$MS_USER2" "$MS_PASS2" mbsync "$WORK/before.reader.2" "$WORK/plan.reader.2"

# live: the same kind of edits (300 read, 50 deleted, 50 moved) while
# each client runs the way its users run it between edits: mailsyncd as
# the daemon, its session kept logged in and the mirror watched; mbsync
# started as soon as the edits are done (a reader's hook at best; cron is
# later).  Timed from the end of the edits to the server holding all of
# them (server_wait.py polls STATUS straight to the server every 10 ms);
# round trips and CPU are those of that stretch only.
#
# want_counts BEFORE PLAN: "FOLDER:MESSAGES:UNSEEN" for INBOX, Sent and
# Archive once the plan is on the server.
want_counts()
{
	awk -F'\t' 'FILENAME == ARGV[1] { n[$1]++; if ($3 !~ /Seen/) u[$1]++; next }
		{ split($0, a, " ") }
		a[1] == "read" { u[a[2]]-- }
		a[1] == "delete" { n[a[2]]-- }
		a[1] == "move" { n[a[2]]--; n["Archive"]++ }
		END { for (f in n) if (f == "INBOX" || f == "Sent" || f == "Archive")
			printf "%s:%d:%d\n", f, n[f], u[f] + 0 }' "$1" "$2"
}
# proc_cpu PID: user+sys seconds so far.
proc_cpu()
{
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}
proxy_trips() # the proxy's round trips so far
{
	local i
	rm -f "$WORK/proxy.stats"
	kill -USR1 "$PROXY_PID"
	for ((i = 0; i < 100; i++)); do
		[ -s "$WORK/proxy.stats" ] && break
		sleep 0.02
	done
	"$MS_PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["round_trips"])' \
		"$WORK/proxy.stats" 2>/dev/null || echo 0
}
monotonic() { "$MS_PYTHON" -c 'import time; print("%.6f" % time.monotonic())'; }
server_wait() # USER PASS SINCE WANT...
{
	local u="$1" p="$2" since="$3"
	shift 3
	"$MS_PYTHON" "$HERE/server_wait.py" --port "$MS_IMAPS_PORT" --ca "$MS_TLS_CA" \
		--user "$u" --password "$p" --since "$since" --timeout 120 "$@"
}
live_result() # CLIENT WALL TRIPS CPU
{
	printf 'live %s %s %s %s -\n' "$1" "$2" "$3" "$4" >> "$WORK/results"
	printf '  %-9s %-9s wall %7ss  round trips %5s  cpu %6ss\n' live "$1" "$2" "$3" "$4"
}

make_plan live
mapfile -t WANT1 < <(want_counts "$WORK/before.live.1" "$WORK/plan.live.1")
mapfile -t WANT2 < <(want_counts "$WORK/before.live.2" "$WORK/plan.live.2")

proxy_start "$PORT_MS"
"$MAILSYNCD" ${MS_BENCH_VERBOSE:+-v} -c "$CFG" 2> "$WORK/live.mailsyncd.err" &
DPID=$!
# Started: its first pass is over once the link has been quiet a while.
trips0=0
for ((i = 0; i < 120; i++)); do
	sleep 0.5
	t="$(proxy_trips)"
	[ "$t" -gt 0 ] && [ "$t" = "$trips0" ] && break
	trips0="$t"
done
cpu0="$(proc_cpu "$DPID")"
edit "$MIRROR" mailsync "$WORK/plan.live.1"
since="$(monotonic)"
if wall="$(server_wait "$MS_USER1" "$MS_PASS1" "$since" "${WANT1[@]}")"; then
	live_result mailsyncd "$wall" "$(( $(proxy_trips) - trips0 ))" \
		"$(awk -v a="$(proc_cpu "$DPID")" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }')"
else
	echo "  mailsyncd live: the server never held the edits" >&2
fi
kill -TERM "$DPID"
wait "$DPID"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null

proxy_start "$PORT_MB"
edit "$MBSYNC" mbsync "$WORK/plan.live.2"
since="$(monotonic)"
server_wait "$MS_USER2" "$MS_PASS2" "$since" "${WANT2[@]}" > "$WORK/live.wait" &
WPID=$!
/usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
	mbsync -q -c "$WORK/mbsyncrc" -a > /dev/null 2> "$WORK/live.mbsync.err"
trips="$(proxy_trips)"
if wait "$WPID"; then
	read -r _ user sys _ < "$WORK/time"
	live_result mbsync "$(cat "$WORK/live.wait")" "$trips" \
		"$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
else
	echo "  mbsync live: the server never held the edits" >&2
fi
kill -TERM "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null

echo "ratios (mbsync / mailsyncd; above 1 means mailsyncd is better):"
for phase in initial no-change server reader live; do
	awk -v p="$phase" '
		$1 == p && $2 == "mailsyncd" { mw = $3; mt = $4; mc = $5; mr = $6 }
		$1 == p && $2 == "mbsync" { bw = $3; bt = $4; bc = $5; br = $6 }
		function r(a, b) { return b > 0 ? sprintf("%.1fx", a / b) : "n/a" }
		END { printf "  %-9s wall %6s  round trips %6s  cpu %6s  rss %6s\n", p,
			r(bw, mw), r(bt, mt), r(bc, mc), r(br, mr) }
	' "$WORK/results"
done

echo "after the live edits:"
check_edits "$MS_USER1" "$MS_PASS1" mailsyncd "$WORK/before.live.1" "$WORK/plan.live.1"
check_edits "$MS_USER2" "$MS_PASS2" mbsync "$WORK/before.live.2" "$WORK/plan.live.2"
exit 0
