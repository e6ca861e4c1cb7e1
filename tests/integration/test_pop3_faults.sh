#!/bin/bash
# POP3 against a scripted, misbehaving server (tests/data/pop3/fake_pop3.py):
# a connection reset or closed mid-RETR, -ERR on RETR and on DELE, lines
# starting with a dot, a lone "." the server did not stuff, a message over
# 20 MB (streamed: bounded memory), a server that stalls (bounded by
# timeout), duplicate UIDLs, no UIDL, UIDLs that change, a STAT and a LIST
# that lie, no PIPELINING, a pipeline deeper than 32 commands, and kill -9
# during a large download.  After each: nothing partial is stored, nothing
# is stored twice, and nothing the server deleted is missing from the store.
. "$MS_SOURCE_DIR/tests/integration/lib/fake_sync.sh"
. "$MS_SOURCE_DIR/tests/integration/lib/mailmutate.sh"
FAKE="$MS_SOURCE_DIR/tests/data/pop3/fake_pop3.py"
CORPUS="$(ms_corpus_dir)" || exit 1
DROP="$WORK/drop"
mkdir -p "$DROP"

# maildrop N: the server's maildrop holds N distinct corpus messages (CRLF),
# named m0001... (the UIDLs); their hashes in $WORK/drop.sha, name -> hash
# in $WORK/drop.map.
maildrop()
{
	rm -rf "$DROP" && mkdir -p "$DROP"
	"$MS_PYTHON" - "$CORPUS" "$DROP" "$1" > "$WORK/drop.map" <<'EOP'
import hashlib, os, re, sys
corpus, drop, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(corpus, "messages"))
               for f in fs if f.endswith(".eml"))
seen, i = set(), 0
for path in files:
    if i == n:
        break
    data = re.sub(rb"\r?\n", b"\r\n", open(path, "rb").read())
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    h = hashlib.sha256(data).hexdigest()
    if h in seen or len(data) > 2000000:
        continue
    seen.add(h)
    i += 1
    name = "m%04d" % i
    open(os.path.join(drop, name), "wb").write(data)
    print(name, h)
EOP
	awk '{ print $2 }' "$WORK/drop.map" | sort > "$WORK/drop.sha"
	: > "$WORK/deleted"
	: > "$WORK/cmds"
}

# add_msg NAME FILE: one more message, as it is.
add_msg()
{
	cp "$2" "$DROP/$1"
	echo "$1 $(sha256sum < "$2" | awk '{ print $1 }')" >> "$WORK/drop.map"
	awk '{ print $2 }' "$WORK/drop.map" | sort > "$WORK/drop.sha"
}

# scenario NAME [EXTRA-CONFIG-LINES]: a fresh store and config (account t,
# with a mirror).
scenario()
{
	SC="$1"
	STORE="$WORK/$SC.store"
	CFG="$WORK/$SC.ini"
	MAIL="$WORK/$SC.mail"
	cat > "$CFG" <<EOC
[general]
store = $STORE
socket = $WORK/ctl.sock

[account t]
protocol = pop3
host = 127.0.0.1
port = $PORT
tls = implicit
ca_file = $MS_TLS_CA
user = u
password = p
timeout = ${TIMEOUT:-10s}
maildir = $MAIL
${2:-keep = no}
EOC
	chmod 600 "$CFG"
}

store_sha() { "$STOREDUMP" "$STORE" msgs t INBOX | cut -f5 | sort; }
n_store() { "$STOREDUMP" "$STORE" msgs t INBOX | wc -l; }
n_drop() { find "$DROP" -type f | wc -l; }

# killed_check WHAT: after a kill -9 the store is clean and every file in
# the mirror is a stored message; the mirror may lag the store's last
# commits (the kill may fall between a commit and its export: start-up
# writes the rest), so mirror_check waits for the next complete pass.
killed_check()
{
	local out stray n
	if out="$("$STOREDUMP" "$STORE" check)"; then ok "$SC: $1: $out"
	else fail "$SC: $1: store check: $out"; fi
	# The mirror's files have LF line ends; the store keeps the CRLF.
	n="$(find "$MAIL/cur" "$MAIL/new" -type f 2>/dev/null | wc -l)"
	stray="$(find "$MAIL/cur" "$MAIL/new" -type f 2>/dev/null | while read -r f; do
		sed 's/$/\r/' "$f" | sha256sum | awk '{ print $1 }'
	done | sort | comm -23 - <(store_sha) | wc -l)"
	[ "$stray" = 0 ] && ok "$SC: $1: each of the $n files in the mirror is a stored message" ||
		fail "$SC: $1: $stray files in the mirror are no stored message"
}

# invariants WHAT [killed]: no record twice, every stored body is one of
# the server's messages whole, everything the server deleted is in the
# store, store_check is clean; store and mirror agree (mirror_check), or
# after a kill (killed) killed_check.
invariants()
{
	local dups bad lost
	dups="$(store_sha | uniq -d | wc -l)"
	[ "$dups" = 0 ] || fail "$SC: $1: $dups messages stored twice"
	bad="$(store_sha | comm -23 - "$WORK/drop.sha" | wc -l)"
	[ "$bad" = 0 ] || fail "$SC: $1: $bad stored bodies are no message of the server (partial?)"
	lost="$(while read -r name; do awk -v n="$name" '$1 == n { print $2 }' "$WORK/drop.map"; done \
		< "$WORK/deleted" | sort | comm -23 - <(store_sha) | wc -l)"
	[ "$lost" = 0 ] || fail "$SC: $1: $lost messages deleted on the server are not in the store"
	[ "$dups$bad$lost" = 000 ] && ok "$SC: $1: nothing twice, nothing partial, nothing lost"
	if [ "${2:-}" = killed ]; then killed_check "$1"; else expect_check; fi
}

# complete WHAT: the store holds every message the server had.
complete()
{
	if [ "$(store_sha)" = "$(cat "$WORK/drop.sha")" ]; then
		ok "$SC: $1: the store holds all $(n_store) messages"
	else
		fail "$SC: $1: store has $(n_store), the server had $(wc -l < "$WORK/drop.sha")"
	fi
}

fake_start --maildrop "$DROP" --deleted-log "$WORK/deleted" --batch-log "$WORK/batches"

# --- dot-prefixed lines, and a proper pass --------------------------------
maildrop 6
printf 'Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n. space\r\nend\r\n' > "$WORK/dots.eml"
add_msg m0007 "$WORK/dots.eml"
# A message without a final CRLF: the server adds one before the "."
# (beyond LIST's size); the store keeps the server's bytes.
printf 'Subject: no final CRLF\r\n\r\nthe last line ends here' > "$WORK/noeol.eml"
add_msg m0008 "$WORK/noeol.eml"
scenario dots "keep = yes"
pass normal
[ "$RC" = 0 ] || fail "dots: exit $RC: $(cat "$WORK/dots.err")"
complete "dot-stuffed lines come back unstuffed, byte for byte, a message without final CRLF too"
invariants "first pass"
grep -q 'STAT' "$WORK/cmds" && grep -q '^UIDL$' "$WORK/cmds" || fail "dots: no STAT/UIDL"
: > "$WORK/batches"
pass normal
grep -q '^t: 1 folder, 0 new' "$WORK/dots.out" && ok "dots: a second pass finds nothing new" ||
	fail "dots: second pass: $(cat "$WORK/dots.out")"
# After the login: STAT, LIST and UIDL in one read (one round trip), then
# QUIT; no RETR.
reads="$(awk '$2 == "STAT" || $2 == "LIST" || $2 == "UIDL" { print $1 }' "$WORK/batches" | sort -u | wc -l)"
after="$(awk '$2 == "STAT" { r = $1 } r && $1 > r { print $2 }' "$WORK/batches" | tr '\n' ' ')"
[ "$reads" = 1 ] && [ "$after" = "QUIT " ] &&
	ok "dots: the no-change pass is one round trip after the login (then QUIT)" ||
	fail "dots: no-change pass: $(cat "$WORK/batches" | tr '\n' ' ')"
# With nothing deleted, QUIT changes nothing: the client closes once it is
# written, without waiting (5 s at most) for the +OK, which this server
# holds back 2 s.
: > "$WORK/batches"
pass quitlate
[ "$RC" = 0 ] && grep -q '^t: 1 folder, 0 new' "$WORK/dots.out" &&
	grep -q ' QUIT-UNANSWERED$' "$WORK/batches" &&
	ok "dots: no deletion: the client closes after QUIT without waiting for its reply" ||
	fail "dots: quitlate (exit $RC): $(tr '\n' ' ' < "$WORK/batches")"
# The server changes every UIDL: no message is stored twice.
for f in "$DROP"/m*; do mv "$f" "$DROP/x${f##*/m}"; done
sed -i 's/^m/x/' "$WORK/drop.map"
pass normal
grep -q '^t: 1 folder, 0 new' "$WORK/dots.out" && [ "$(n_store)" = 8 ] &&
	ok "dots: changed UIDLs: nothing stored twice" || fail "dots: changed UIDLs: $(cat "$WORK/dots.out"), $(n_store) records"
invariants "changed UIDLs"

# --- connection reset mid-RETR, then closed mid-RETR (keep = no) ----------
for cut in drop eof; do
	maildrop 8
	scenario "$cut"
	pass "$cut:4"
	[ "$RC" = 1 ] && ok "$cut: the pass failed (exit 1): $(grep -m1 "mailsyncd: t:" "$WORK/$cut.err")" ||
		fail "$cut: exit $RC"
	[ "$(n_store)" = 3 ] && ok "$cut: the 3 complete messages are stored" || fail "$cut: $(n_store) stored"
	[ ! -s "$WORK/deleted" ] && [ "$(n_drop)" = 8 ] && ok "$cut: no QUIT, so nothing deleted on the server" ||
		fail "$cut: the server deleted $(cat "$WORK/deleted")"
	invariants "after the cut"
	pass normal
	[ "$RC" = 0 ] || fail "$cut: next pass exit $RC: $(cat "$WORK/$cut.err")"
	complete "next pass"
	[ "$(n_drop)" = 0 ] && ok "$cut: then all deleted on the server" || fail "$cut: server keeps $(n_drop)"
	invariants "next pass"
done

# --- keep = no: QUIT's +OK late, still waited for --------------------------
# The deletions become real at QUIT: the client waits for its +OK before
# it drops the records, however late it comes (within the 5 s bound).
maildrop 3
scenario quitlate
: > "$WORK/batches"
pass quitlate
[ "$RC" = 0 ] && [ "$(n_drop)" = 0 ] && [ "$(wc -l < "$WORK/deleted")" = 3 ] &&
	! grep -q 'QUIT-UNANSWERED' "$WORK/batches" &&
	ok "quitlate: after DELE the client waits for QUIT's +OK; all 3 deleted" ||
	fail "quitlate: exit $RC, server keeps $(n_drop), $(tr '\n' ' ' < "$WORK/batches")"
complete "deleted on the server"
[ -z "$("$STOREDUMP" "$STORE" pop3 t)" ] &&
	ok "quitlate: the records of the deleted messages went after the +OK" ||
	fail "quitlate: records left: $("$STOREDUMP" "$STORE" pop3 t | head -3)"
invariants "after a late QUIT reply"

# --- -ERR on RETR ------------------------------------------------------------
maildrop 5
scenario retrerr
pass retrerr:2
[ "$RC" = 1 ] && grep -q "1 folder failed" "$WORK/retrerr.err" &&
	ok "retrerr: reported, exit 1" || fail "retrerr: exit $RC: $(cat "$WORK/retrerr.err")"
grep -q 'RETR refused' "$WORK/retrerr.err" && ok "retrerr: the log names it" || fail "retrerr: not logged"
[ "$(n_store)" = 4 ] && [ "$(n_drop)" = 1 ] && [ -f "$DROP/m0002" ] &&
	ok "retrerr: 4 stored and deleted; the refused one stays on the server" ||
	fail "retrerr: $(n_store) stored, server keeps $(ls "$DROP")"
invariants "after -ERR on RETR"
pass normal
complete "next pass"
[ "$(n_drop)" = 0 ] || fail "retrerr: server keeps $(n_drop)"

# --- -ERR on DELE --------------------------------------------------------------
maildrop 4
scenario deleerr
pass deleerr:3
[ "$RC" = 0 ] || fail "deleerr: exit $RC: $(cat "$WORK/deleerr.err")"
complete "-ERR on DELE"
[ "$(n_drop)" = 1 ] && [ -f "$DROP/m0003" ] && ok "deleerr: the refused deletion left m0003 on the server" ||
	fail "deleerr: server has $(ls "$DROP")"
"$STOREDUMP" "$STORE" pop3 t | grep -q $'^m0003\t.*\towed$' && ok "deleerr: its deletion is recorded as owed" ||
	fail "deleerr: records: $("$STOREDUMP" "$STORE" pop3 t)"
# The owed deletion is done even when the policy changed meanwhile.
scenario deleerr "keep = yes"
pass normal
[ "$(n_drop)" = 0 ] && ok "deleerr: the owed deletion is done by the next pass (now keep = yes)" ||
	fail "deleerr: server keeps $(ls "$DROP")"
[ "$(n_store)" = 4 ] || fail "deleerr: $(n_store) stored"
invariants "owed deletion"

# --- a lone "." the server did not stuff -----------------------------------
maildrop 3
printf 'Subject: lone dot\r\n\r\nbefore\r\n.\r\nafter the dot\r\n' > "$WORK/lone.eml"
add_msg m0004 "$WORK/lone.eml"
scenario lonedot
pass lonedot:4
[ "$RC" = 1 ] && ok "lonedot: the pass failed: $(grep -m1 'mailsyncd: t' "$WORK/lonedot.err")" ||
	fail "lonedot: exit $RC"
grep -q 'where LIST announced' "$WORK/lonedot.err" && ok "lonedot: the short message is named" ||
	fail "lonedot: $(cat "$WORK/lonedot.err")"
[ "$(n_store)" = 3 ] && [ "$(n_drop)" = 4 ] && ok "lonedot: the 3 good ones stored, nothing deleted" ||
	fail "lonedot: $(n_store) stored, server $(n_drop)"
invariants "lone dot"

# --- LIST lies about one size; STAT lies ----------------------------------
maildrop 4
scenario listlie
pass listlie:2,statlie
[ "$RC" = 1 ] || fail "listlie: exit $RC"
[ "$(n_store)" = 3 ] && [ -f "$DROP/m0002" ] && [ "$(n_drop)" = 1 ] &&
	ok "listlie: the message whose size is wrong is neither stored nor deleted" ||
	fail "listlie: $(n_store) stored, server $(ls "$DROP")"
grep -q 'STAT said 7 messages, LIST listed 4' "$WORK/listlie.err" &&
	ok "statlie: logged, LIST believed" || fail "statlie: $(grep STAT "$WORK/listlie.err")"
invariants "lying sizes"

# --- a stalling server: bounded by the account's timeout --------------------
maildrop 3
TIMEOUT=3s scenario stall
t0=$(date +%s)
pass stall:2
t1=$(date +%s)
[ "$RC" = 1 ] && [ $((t1 - t0)) -le 30 ] && ok "stall: gave up after $((t1 - t0)) s (timeout 3s): $(grep -m1 'mailsyncd: t' "$WORK/stall.err")" ||
	fail "stall: exit $RC after $((t1 - t0)) s"
[ "$(n_store)" = 1 ] && [ "$(n_drop)" = 3 ] && ok "stall: the first message stored, nothing deleted" ||
	fail "stall: $(n_store) stored, server $(n_drop)"
invariants "stall"

# --- duplicate UIDLs: never deleted -------------------------------------------
maildrop 5
scenario uidldup
pass uidldup2
[ "$RC" = 0 ] || fail "uidldup2: exit $RC: $(cat "$WORK/uidldup.err")"
complete "two messages with one UIDL"
[ "$(n_drop)" = 2 ] && [ -f "$DROP/m0001" ] && [ -f "$DROP/m0002" ] &&
	ok "uidldup2: the two that share a UIDL stay on the server, the rest are deleted" ||
	fail "uidldup2: server keeps $(ls "$DROP")"
pass uidldup2
grep -q '^t: 1 folder, 0 new, 0 changed, 0 deleted' "$WORK/uidldup.out" && ok "uidldup2: a second pass changes nothing" ||
	fail "uidldup2: second pass: $(cat "$WORK/uidldup.out")"
maildrop 4
scenario uidldupall
pass uidldup
complete "every UIDL the same"
[ "$(n_drop)" = 4 ] && ok "uidldup: nothing deleted" || fail "uidldup: server keeps $(n_drop)"
invariants "duplicate UIDLs"

# --- no UIDL: size + TOP 0 header --------------------------------------------
maildrop 5
scenario nouidl "keep = yes"
pass nouidl
[ "$RC" = 0 ] || fail "nouidl: exit $RC: $(cat "$WORK/nouidl.err")"
complete "no UIDL"
grep -c '^TOP ' "$WORK/cmds" | grep -qx 5 && ok "nouidl: TOP n 0 for each message" || fail "nouidl: TOPs: $(grep -c '^TOP' "$WORK/cmds")"
pass nouidl
grep -q '^t: 1 folder, 0 new' "$WORK/nouidl.out" && ok "nouidl: identities stable: nothing new" ||
	fail "nouidl: second pass: $(cat "$WORK/nouidl.out")"
scenario nouidl "keep = no"
pass nouidl
[ "$(n_drop)" = 0 ] && ok "nouidl: keep = no deletes them" || fail "nouidl: server keeps $(n_drop)"
invariants "no UIDL"

# --- no PIPELINING ---------------------------------------------------------------
maildrop 6
: > "$WORK/batches"
scenario nopipe
pass nopipe
[ "$RC" = 0 ] || fail "nopipe: exit $RC: $(cat "$WORK/nopipe.err")"
complete "without PIPELINING"
reads="$(awk '$2 == "STAT" || $2 == "LIST" || $2 == "UIDL" || $2 == "RETR" { print $1 }' "$WORK/batches" | sort | uniq -d | wc -l)"
[ "$reads" = 0 ] && ok "nopipe: without PIPELINING one command at a time" ||
	fail "nopipe: $reads reads with two commands"
[ "$(n_drop)" = 0 ] || fail "nopipe: server keeps $(n_drop)"

# --- a deep pipeline ------------------------------------------------------------
# With PIPELINING, every RETR of a maildrop inside the window (256 commands,
# 8 MiB announced) leaves in the first write, and so does every DELE: over
# a link with a round trip the pass waits for one, not one per 32 messages.
maildrop 100
: > "$WORK/batches"
scenario deep
pass normal
[ "$RC" = 0 ] || fail "deep: exit $RC: $(cat "$WORK/deep.err")"
for cmd in RETR DELE; do
	most="$(awk -v c="$cmd" '$2 == c { print $1 }' "$WORK/batches" | sort | uniq -c |
		sort -rn | awk 'NR == 1 { print $1 }')"
	[ "$most" = 100 ] && ok "deep: all 100 ${cmd}s arrived in one read" ||
		fail "deep: at most ${most:-0} of 100 ${cmd}s in one read"
done
[ "$(n_drop)" = 0 ] && ok "deep: keep = no deletes all 100" || fail "deep: server keeps $(n_drop)"
invariants "deep pipeline"

# --- a message over 20 MB, streamed ---------------------------------------------
maildrop 2
"$MS_PYTHON" -c '
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: big\r\n\r\n")
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
    for i in range(21 * 1024 * 1024 // len(line) + 1):
        f.write(b"." + line if i % 1000 == 0 else line)
' "$WORK/big.eml"
add_msg m0003 "$WORK/big.eml"
scenario big "keep = yes"
echo normal > "$WORK/mode"
/usr/bin/time -f '%M' -o "$WORK/big.rss" "$MAILSYNCD" -c "$CFG" --once >"$WORK/big.out" 2>"$WORK/big.err" ||
	fail "big: $(cat "$WORK/big.err")"
complete "a $(($(stat -c %s "$WORK/big.eml") / 1048576)) MB message"
rss="$(tail -1 "$WORK/big.rss")"
[ "$rss" -lt 80000 ] && ok "big: peak RSS ${rss} KiB (the body is streamed, not held)" ||
	fail "big: peak RSS ${rss} KiB"
invariants "big"

# --- kill -9 during a large download, then again ---------------------------------
# 20 messages of 1 MB (first) and 100 corpus ones, served slowly (64 KiB per 50 ms), so
# that the kills fall between commits and inside messages.
maildrop 100
for i in $(seq 1 20); do
	"$MS_PYTHON" -c '
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: large %s\r\n\r\n" % sys.argv[2].encode())
    for j in range(16000):
        f.write(b"%s line %06d of a large message, to be streamed\r\n" % (sys.argv[2].encode(), j))
' "$WORK/large.eml" "$i"
	add_msg "l$(printf %03d "$i")" "$WORK/large.eml"
done
scenario kill
for delay in 2 3.5 5; do
	echo slow > "$WORK/mode"
	"$MAILSYNCD" -c "$CFG" --once >"$WORK/kill.out" 2>"$WORK/kill.err" &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	ok "kill: killed after ${delay}s with $(n_store) stored, $(n_drop) left on the server"
	invariants "after kill -9 at ${delay}s" killed
done
pass normal
[ "$RC" = 0 ] || fail "kill: final pass exit $RC: $(cat "$WORK/kill.err")"
complete "after the kills"
[ "$(n_drop)" = 0 ] && ok "kill: the server is empty" || fail "kill: server keeps $(n_drop)"
invariants "after the kills"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
