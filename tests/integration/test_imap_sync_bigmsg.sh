#!/bin/bash
# A message over 20 MB syncs byte-exact with bounded memory: mailsyncd's
# peak RSS stays well under twice the message's size (the body streams
# from the literal into a spool file and the store, never whole in memory).
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

is_sync_setup both
CORPUS="$(ms_corpus_dir)" || { ms_missing "the mail corpus (MS_CORPUS)"; exit $?; }
BIG="$WORK/big.eml"
# Built from corpus parts: one message's header, then the text of many
# corpus messages as the body, CRLF throughout, until it passes 24 MB.
"$MS_PYTHON" - "$CORPUS" "$BIG" <<'PY'
import os, sys
corpus, out = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(d, n) for d, _, ns in os.walk(os.path.join(corpus, "messages"))
               for n in ns if n.endswith(".eml"))
head = open(files[0], "rb").read().split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
head = b"\n".join(l for l in head.split(b"\n")
                  if not l.lower().startswith((b"content-", b"mime-version")))
body, size, i = [], 0, 0
while size < 24 * 1024 * 1024:
    part = open(files[i % len(files)], "rb").read().replace(b"\r\n", b"\n")
    body.append(part)
    size += len(part)
    i += 1
data = head + b"\nSubject: big\n\n" + b"\n".join(body)
data = data.replace(b"\n", b"\r\n").replace(b"\0", b" ")
open(out, "wb").write(data)
PY
size="$(stat -c %s "$BIG")"
# peak_rss: runs mailsyncd --once, peak RSS in kB in $rss_kb, status in $rc.
peak_rss()
{
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v "$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err"
		rc=$?
		rss_kb="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/err")"
		return
	fi
	"$MAILSYNCD" -c "$CFG" --once >"$WORK/out" 2>"$WORK/err" &
	local pid=$! v
	rss_kb=0
	while kill -0 "$pid" 2>/dev/null; do
		v="$(sed -n 's/^VmHWM: *\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)"
		[ -n "$v" ] && rss_kb="$v"
		sleep 0.05
	done
	wait "$pid"
	rc=$?
}

# Baseline: the same pass over small messages only (a sanitizer build has a
# larger one); then the big message alone is what the second pass adds.
mailfill "$MS_USER1" 30 >/dev/null || exit 1
peak_rss
base_kb="$rss_kb"
[ "$rc" = 0 ] && ok "baseline pass: $(cat "$WORK/out"), peak RSS $((base_kb / 1024)) MB" ||
	fail "baseline: $(cat "$WORK/err")"
mailfill "$MS_USER1" 1 --folder INBOX --file "$BIG" >/dev/null || exit 1
mailfill "$MS_USER1" 6 >/dev/null || exit 1
peak_rss
[ "$rc" = 0 ] && ok "sync: $(cat "$WORK/out")" || fail "sync: $(cat "$WORK/err")"
is_compare "big message"
want="$(sha256sum < "$BIG" | cut -d' ' -f1)"
is_store_msgs | grep -q "$want" && ok "the $((size / 1048576)) MB message is in the store byte-exact" ||
	fail "big message hash $want not in the store"
limit_kb=$((size * 3 / 2 / 1024))
if [ -n "$rss_kb" ] && [ "$rss_kb" -gt 0 ] && [ $((rss_kb - base_kb)) -lt "$limit_kb" ]; then
	ok "peak RSS $((rss_kb / 1024)) MB (baseline $((base_kb / 1024)) MB) for a $((size / 1048576)) MB message: growth under 1.5x its size ($((limit_kb / 1024)) MB)"
else
	fail "peak RSS ${rss_kb:-?} kB, baseline $base_kb kB: growth over $limit_kb kB"
fi

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
