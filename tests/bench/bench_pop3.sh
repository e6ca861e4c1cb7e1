#!/bin/bash
# bench_pop3.sh - mailsyncd --once against mpop and fetchmail, side by side
# on the fixture Dovecot's POP3S: a first download of N corpus messages
# (keep = yes, so every client finds the same maildrop), then a run with
# nothing new.  Each client writes a Maildir: mailsyncd its store plus the
# mirror, mpop its own Maildir delivery, fetchmail through procmail as its
# MDA.  A raw download (openssl s_client pipelining RETR 1..N, bodies
# discarded) is the floor.  At the end the three Maildirs must hold the same
# N messages.
# Prints wall time, CPU (user+sys, children included) and peak RSS of each
# and the ratios.  Figures, not a test: run by hand after building (not run
# by ctest).
#
#   MS_BENCH_N=5000 bash tests/bench/bench_pop3.sh [BUILD_DIR]
# (the corpus: MS_CORPUS, else ../shared/corpus beside the checkout;
# MS_TEST_TMP=/dev/shm keeps every file on tmpfs: the clients' own cost,
# without the disk's; MS_BENCH_FETCHMAIL=0 leaves fetchmail out, about
# 30 s of a 5,000-message run, for quick before/after rounds;
# MS_BENCH_DELAY=MS puts tests/bench/latproxy.py between every client and
# the server, MS each way: a link with a round trip of twice that).  The load
# average is printed at the start and the end: on a shared machine the
# wall times mean little without it.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MS_SOURCE_DIR="${MS_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
export MS_BUILD_DIR="${1:-${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}}"
export MAILSYNCD="${MAILSYNCD:-$MS_BUILD_DIR/daemon/mailsyncd}"
N="${MS_BENCH_N:-5000}"
WANT_FETCHMAIL="${MS_BENCH_FETCHMAIL:-1}"
. "$MS_SOURCE_DIR/tests/tools/pop3_common.sh"
tools="mpop openssl"
[ "$WANT_FETCHMAIL" = 1 ] && tools="$tools fetchmail procmail"
for tool in $tools; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed (scripts/deps.sh --all)" >&2; exit 77; }
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed" >&2; exit 77; }

p3_setup
bench_mailfill "$MS_USER1" "$N" --folder INBOX || exit 1
PORT="$MS_POP3S_PORT"
if [ -n "${MS_BENCH_DELAY:-}" ]; then
	"$MS_PYTHON" "$HERE/latproxy.py" --listen 0 --target "$MS_POP3S_PORT" \
		--delay "$MS_BENCH_DELAY" > "$WORK/proxy.out" 2>&1 &
	PROXY_PID=$!
	ms_cleanup_add "ms_pid_stop $PROXY_PID latproxy"
	proxy_up() { grep -qs '^PORT ' "$WORK/proxy.out"; }
	wait_for "latproxy listening" 10 proxy_up || exit 1
	PORT="$(awk '/^PORT /{ print $2 }' "$WORK/proxy.out")"
	echo "every client through latproxy: ${MS_BENCH_DELAY} ms each way"
fi
p3_config bench implicit "$PORT" "keep = yes"
echo "maildrop: $N messages, $(du -sm "$(dovecot_maildir "$MS_USER1")" | cut -f1) MB"

mkdir -p "$WORK/mpop/cur" "$WORK/mpop/new" "$WORK/mpop/tmp"
cat > "$WORK/mpoprc" <<EOC
account bench
host localhost
port $PORT
tls on
tls_starttls off
tls_trust_file $MS_TLS_CA
auth plain
user $MS_USER1
password $MS_PASS1
keep on
only_new on
uidls_file $WORK/mpop.uidls
delivery maildir $WORK/mpop
EOC
chmod 600 "$WORK/mpoprc"

mkdir -p "$WORK/fetchmail/cur" "$WORK/fetchmail/new" "$WORK/fetchmail/tmp"
printf ':0\n%s/fetchmail/\n' "$WORK" > "$WORK/procmailrc"
cat > "$WORK/fetchmailrc" <<EOC
set no syslog
poll localhost protocol pop3 port $PORT uidl
  user "$MS_USER1" password "$MS_PASS1"
  ssl sslcertck sslcertfile "$MS_TLS_CA"
  keep no rewrite
  mda "/usr/bin/procmail -m $WORK/procmailrc"
EOC
chmod 600 "$WORK/fetchmailrc"

# The raw download: the whole session pipelined from a file.
{
	printf 'USER %s\r\nPASS %s\r\n' "$MS_USER1" "$MS_PASS1"
	for ((i = 1; i <= N; i++)); do printf 'RETR %d\r\n' "$i"; done
	printf 'QUIT\r\n'
} > "$WORK/raw.cmds"

# Warm-up (not measured): Dovecot's first POP3 session of a fresh maildrop
# reads every message to size it; no client should pay that here.
printf 'USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL\r\nQUIT\r\n' "$MS_USER1" "$MS_PASS1" |
	openssl s_client -quiet -CAfile "$MS_TLS_CA" -connect "localhost:$MS_POP3S_PORT" \
	-servername localhost >/dev/null 2>&1

RSS_DETAIL="${MS_BENCH_RSS_DETAIL:-1}"

# run NAME CMD...: appends "NAME wall cpu rss_kb" to $WORK/results.
run()
{
	local name="$1" t watch=()
	shift
	[ "$RSS_DETAIL" = 1 ] && watch=("$MS_PYTHON" "$HERE/rss_watch.py" "$WORK/rss")
	local rc=0
	"${watch[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" \
		<"${RUN_STDIN:-/dev/null}" >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
	# fetchmail exits 1 when there was no new mail.
	if [ "$rc" != 0 ] && ! { [ "$1" = fetchmail ] && [ "$rc" = 1 ]; }; then
		echo "$name failed (exit $rc):" >&2
		tail -5 "$WORK/run.err" >&2
	fi
	# The last line: GNU time first says so when the status was not 0
	# (fetchmail exits 1 when there was no mail).
	read -r wall user sys rss < <(tail -1 "$WORK/time")
	t="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
	printf '%s %s %s %s\n' "$name" "$wall" "$t" "$rss" >> "$WORK/results"
	printf '  %-24s wall %6ss  cpu %6ss  rss %7s kB  %s\n' "$name" "$wall" "$t" "$rss" \
		"$(head -1 "$WORK/run.out" | cut -c1-60)"
	if [ "$RSS_DETAIL" = 1 ] && read -r anon file _ < "$WORK/rss"; then
		printf '  %-24s largest parts seen: anonymous %s kB, file-backed %s kB\n' \
			"" "$anon" "$file"
	fi
}

: > "$WORK/results"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "first download of $N messages over POP3S:"
RUN_STDIN="$WORK/raw.cmds" run "raw first" openssl s_client -quiet -CAfile "$MS_TLS_CA" \
	-verify_return_error -connect "localhost:$PORT" -servername localhost
raw_bytes="$(wc -c < "$WORK/run.out")"
run "mailsyncd first" "$MAILSYNCD" -c "$CFG" --once
run "mpop first" mpop -C "$WORK/mpoprc" -a
[ "$WANT_FETCHMAIL" = 1 ] &&
	run "fetchmail first" fetchmail -f "$WORK/fetchmailrc" -i "$WORK/fetchids" \
		--pidfile "$WORK/fetchmail.pid"
echo "no-change run:"
run "mailsyncd no-change" "$MAILSYNCD" -c "$CFG" --once
run "mpop no-change" mpop -C "$WORK/mpoprc" -a
[ "$WANT_FETCHMAIL" = 1 ] &&
	run "fetchmail no-change" fetchmail -f "$WORK/fetchmailrc" -i "$WORK/fetchids" \
		--pidfile "$WORK/fetchmail.pid"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "ratios (peer / mailsyncd; above 1 means mailsyncd is better):"
peers="mpop"
[ "$WANT_FETCHMAIL" = 1 ] && peers="$peers fetchmail"
for phase in first no-change; do
	for peer in $peers; do
		awk -v p="$phase" -v peer="$peer" '
			$1 == "mailsyncd" && $2 == p { mw = $3; mc = $4; mr = $5 }
			$1 == peer && $2 == p { bw = $3; bc = $4; br = $5 }
			function r(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "n/a (0)" }
			END { printf "  %-10s %-10s wall %s  cpu %s  rss %s\n", p, peer, r(bw, mw), r(bc, mc), r(br, mr) }
		' "$WORK/results"
	done
done
awk '
	$1 == "mailsyncd" && $2 == "first" { mw = $3 }
	$1 == "raw" && $2 == "first" { rw = $3 }
	END { if (rw > 0) printf "  mailsyncd first / raw download wall: %.2fx (target: within 1.2x)\n", mw / rw }
' "$WORK/results"
echo "raw download received $((raw_bytes / 1048576)) MB"


# The three Maildirs: the same messages (bytes with CRLF read as LF, less
# the Received header mpop and fetchmail add to the header, whose folded
# lines start with a tab: a message's own first line may start with a
# space; and less a message's final line end: for a message without one,
# mailsyncd stores the server's bytes (the size LIST gives), where mpop and
# fetchmail keep the line end POP3 added before its final dot).
maildir_dump()
{
	"$MS_PYTHON" - "$1" <<'EOF'
import hashlib, os, re, sys
root = sys.argv[1]
added = re.compile(rb"^Received: from localhost [^\n]*\n(?:\t[^\n]*\n)*?"
                   rb"\t[^\n]*\((?:mpop|fetchmail)[^\n]*\n(?:\t[^\n]*\n)*", re.M)
for sub in ("cur", "new"):
    for name in os.listdir(os.path.join(root, sub)):
        with open(os.path.join(root, sub, name), "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        if data.endswith(b"\n"):
            data = data[:-1]
        head, sep, body = data.partition(b"\n\n")
        head = added.sub(b"", head + b"\n", count=1)[:-1]
        print(hashlib.sha256(head + sep + body).hexdigest())
EOF
}
maildir_dump "$MAIL" | LC_ALL=C sort > "$WORK/md.mailsync"
counts=""
for peer in $peers; do
	maildir_dump "$WORK/$peer" | LC_ALL=C sort > "$WORK/md.$peer"
	counts="$counts, $peer $(wc -l < "$WORK/md.$peer")"
done
echo "messages: mailsyncd store $("$STOREDUMP" "$STORE" msgs p INBOX | wc -l), mirror $(wc -l < "$WORK/md.mailsync")$counts"
for peer in $peers; do
	echo "  $peer: $(LC_ALL=C comm -12 "$WORK/md.mailsync" "$WORK/md.$peer" | wc -l) the same as the mirror's," \
		"$(LC_ALL=C comm -23 "$WORK/md.mailsync" "$WORK/md.$peer" | wc -l) only in the mirror," \
		"$(LC_ALL=C comm -13 "$WORK/md.mailsync" "$WORK/md.$peer" | wc -l) only in $peer's"
done
