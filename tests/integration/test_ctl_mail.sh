#!/bin/bash
# mailsyncctl's mail commands against a daemon syncing the fixture
# Dovecot, with the server as the truth: folders and list show the
# server's counts, UIDs and flags; cat is byte-identical to the server's
# message (a 3 MB one too, streamed); search finds by subject; flag,
# move and delete are recorded like a reader's changes and reach the
# server and the Maildir mirror; bad UIDs and flags change nothing.
. "$MS_SOURCE_DIR/tests/tools/imap_sync_common.sh"

PEER="$MS_SOURCE_DIR/tests/integration/lib/ctl_peer.py"
MIRRORCHECK="$MS_BUILD_DIR/tests/ms_mirrorcheck"
is_sync_setup both "poll_interval = 10m"
MAILROOT="$WORK/Mail"
printf 'maildir = %s\n' "$MAILROOT" >> "$CFG"
mailfill "$MS_USER1" 40 >/dev/null || exit 1
# A message far larger than one streamed piece (256 KiB).
"$MS_PYTHON" - "$WORK/big.eml" <<'EOF'
import sys
lines = ["From: Big <big@example.test>", "To: t@example.test",
         "Subject: the big one", "Message-ID: <big@example.test>",
         "Date: Mon, 07 Dec 2026 10:00:00 +0000", ""]
body = "".join("line %06d of a large message, with some padding text\r\n" % i
               for i in range(55000))
open(sys.argv[1], "wb").write(("\r\n".join(lines) + "\r\n" + body).encode())
EOF
mailmutate_add "$MS_USER1" INBOX "$WORK/big.eml" >/dev/null || exit 1
LOG="$WORK/daemon.log"
SOCK="$WORK/ctl.sock"
log_has() { [ "$(grep -cE -- "$1" "$LOG" 2>/dev/null)" -ge "$2" ]; }
C() { "$MAILSYNCCTL" -c "$CFG" "$@"; }
J() { "$MAILSYNCCTL" -c "$CFG" --json "$@"; }

"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "first pass" 30 log_has 'acct=t state=idle .* new=41 ' 1 || exit 1

is_server_msgs > "$WORK/server0.txt"

# --- folders: counts and unread per folder, as the server has them -------------------
J folders t > "$WORK/folders.json" || fail "folders --json: exit $?"
"$MS_PYTHON" - "$WORK/folders.json" "$WORK/server0.txt" <<'EOF' &&
import json, sys, collections
d = json.load(open(sys.argv[1]))
n, unread = collections.Counter(), collections.Counter()
for line in open(sys.argv[2]):
    folder, uid, flags, sha, size = line.rstrip("\n").split("\t")
    n[folder] += 1
    unread[folder] += "\\Seen" not in flags.split()
got = {f["name"]: (f["messages"], f["unread"]) for f in d["folders"] if f["messages"]}
want = {k: (n[k], unread[k]) for k in n}
assert got == want, (got, want)
print("ok: folders --json: %d folders, counts and unread equal the server's" % len(want))
EOF
true || fail "folders --json differs from the server"
C folders t | grep -qE '^t +INBOX +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+ [kM]?B +[0-9-]+ [0-9:]+$' &&
	ok "folders: aligned columns" || { fail "folders output:"; C folders t >&2; }

# --- list: UIDs and flags of INBOX; --unread, --limit -------------------------------
J list t INBOX > "$WORK/list.json" || fail "list --json: exit $?"
"$MS_PYTHON" - "$WORK/list.json" "$WORK/server0.txt" <<'EOF' && ok "list --json: UIDs, flags and sizes equal the server's" ||
import json, sys
d = json.load(open(sys.argv[1]))
got = [(m["uid"], " ".join(m["flags"]) or "-", m["size"]) for m in d["messages"]]
want = []
for line in open(sys.argv[2]):
    folder, uid, flags, sha, size = line.rstrip("\n").split("\t")
    if folder == "INBOX":
        want.append((int(uid), flags, int(size)))
want.sort()
assert got == want, (got, want)
assert any(m["subject"] == "the big one" for m in d["messages"])
EOF
fail "list --json differs from the server"
n_unread="$(awk -F'\t' '$1 == "INBOX" && $3 !~ /Seen/' "$WORK/server0.txt" | wc -l)"
got="$(J list t INBOX --unread | "$MS_PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')"
[ "$got" = "$n_unread" ] && ok "list --unread: $got" || fail "list --unread: $got, server $n_unread"
want="$(awk -F'\t' '$1 == "INBOX" { print $2 }' "$WORK/server0.txt" | sort -n | tail -2 | tr '\n' ' ')"
got="$(J list t INBOX --limit 2 | "$MS_PYTHON" -c 'import json,sys; print(" ".join(str(m["uid"]) for m in json.load(sys.stdin)["messages"]) + " ")')"
[ "$got" = "$want" ] && ok "list --limit 2: the newest, $got" || fail "list --limit 2: $got, want $want"
C list t INBOX | head -1 | grep -q '^UID  *DATE  *FLAGS  *SIZE  *FROM  *SUBJECT$' &&
	ok "list: a header and aligned columns" || fail "list: $(C list t INBOX | head -2)"
out="$(C list t NoSuchFolder 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"no folder 'NoSuchFolder'"* ]] && ok "list of a missing folder: exit 1" ||
	fail "list NoSuchFolder: $rc $out"

# --- cat: byte-identical to the server ---------------------------------------------------
n_cat=0
while IFS=$'\t' read -r folder uid flags sha size; do
	[ "$folder" = INBOX ] || continue
	got="$(C cat t INBOX "$uid" | sha256sum | cut -d' ' -f1)"
	[ "$got" = "$sha" ] || fail "cat t INBOX $uid: sha256 $got, server $sha"
	n_cat=$((n_cat + 1))
done < "$WORK/server0.txt"
ok "cat: $n_cat INBOX messages byte-identical to the server's"
big_uid="$(J list t INBOX | "$MS_PYTHON" -c 'import json,sys; print([m["uid"] for m in json.load(sys.stdin)["messages"] if m["subject"] == "the big one"][0])')"
cmp -s <(C cat t INBOX "$big_uid") "$WORK/big.eml" &&
	ok "cat of a $(stat -c %s "$WORK/big.eml")-byte message: identical to the file appended" ||
	fail "cat of the big message differs"
J cat t INBOX "$big_uid" | "$MS_PYTHON" -c '
import base64, json, sys
d = json.load(sys.stdin)
assert base64.b64decode(d["body_base64"]) == open(sys.argv[1], "rb").read() and d["size"] == len(base64.b64decode(d["body_base64"]))
' "$WORK/big.eml" && ok "cat --json: the message as base64" || fail "cat --json"
for i in 1 2 3; do "$MS_PYTHON" "$PEER" "$SOCK" vanishcat t INBOX "$big_uid" >/dev/null; done
J status >/dev/null && ok "clients vanishing mid-cat: still serving" || fail "not serving after vanished cat"
out="$(C cat t INBOX 99999 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"no UID 99999"* ]] && ok "cat of a missing UID: exit 1, $out" || fail "cat missing: $rc $out"
# Pipelined: a second request behind a streamed payload keeps its order.
"$MS_PYTHON" - "$SOCK" "$big_uid" <<'EOF' && ok "a request behind a streamed payload is answered after it" || fail "pipelined cat"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(20)
f = s.makefile("rb")
json.loads(f.readline())
req = lambda i, c, a: (json.dumps({"id": i, "cmd": c, "args": a}) + "\n").encode()
s.sendall(req(1, "cat", {"account": "t", "folder": "INBOX", "uid": int(sys.argv[2])}) + req(2, "version", {}))
r1 = json.loads(f.readline()); body = f.read(r1["payload"]); r2 = json.loads(f.readline())
assert r1["id"] == 1 and len(body) == r1["payload"] and body.endswith(b"\r\n") and r2["id"] == 2, (r1, r2)
EOF

# --- search ---------------------------------------------------------------------------------
got="$(J search t "THE BIG" | "$MS_PYTHON" -c 'import json,sys; print(" ".join("%s/%s" % (m["folder"], m["uid"]) for m in json.load(sys.stdin)["messages"]))')"
[ "$got" = "INBOX/$big_uid" ] && ok "search (any case): INBOX/$big_uid" || fail "search: '$got'"
got="$(J search t Sent "the big" | "$MS_PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')"
[ "$got" = 0 ] && ok "search in another folder: nothing" || fail "search Sent: $got"

# --- flag, delete, move: to the server and the mirror ------------------------------------
read -r u1 u2 u3 u4 < <(awk -F'\t' '$1 == "INBOX" { print $2 }' "$WORK/server0.txt" | sort -n | head -4 | tr '\n' ' ')
# Paused, so that no pass pushes a change before the next command looks.
C pause t >/dev/null || fail "pause: exit $?"
out="$(C flag t INBOX "$u1" "$u2" +flagged +answered -seen 2>&1)" &&
	[[ "$out" == *"2 of 2 messages changed; sent when the account syncs again" ]] &&
	ok "flag while paused: $out" || fail "flag: $out"
out="$(C flag t INBOX "$u1" +bogus 2>&1)"; rc=$?
[ "$rc" = 2 ] && [[ "$out" == *"unknown flag 'bogus'"* ]] && ok "an unknown flag: exit 2" || fail "flag +bogus: $rc $out"
out="$(C delete t INBOX "$u3" 99999 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"no UID 99999; nothing was changed"* ]] &&
	ok "delete with a missing UID: exit 1, nothing changed" || fail "delete 99999: $rc $out"
C delete t INBOX "$u3" >/dev/null || fail "delete: exit $?"
out="$(C delete t INBOX "$u3" 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"already to be deleted"* ]] && ok "a second delete: exit 1, $out" ||
	fail "second delete: $rc $out"
C move t INBOX "$u4" Archive >/dev/null || fail "move: exit $?"
C resume t >/dev/null || fail "resume: exit $?"
C sync t --wait >/dev/null || fail "sync --wait after the changes: exit $?"
is_server_msgs > "$WORK/server1.txt"
awk -F'\t' -v u="$u1" '$1 == "INBOX" && $2 == u { print $3 }' "$WORK/server1.txt" | grep -qx '\\Answered \\Flagged' &&
	ok "flag reached the server: UID $u1 \\Answered \\Flagged, not \\Seen" ||
	fail "server flags of $u1: $(awk -F'\t' -v u="$u1" '$1 == "INBOX" && $2 == u' "$WORK/server1.txt")"
awk -F'\t' -v u="$u3" '$1 == "INBOX" && $2 == u' "$WORK/server1.txt" | grep -q . &&
	fail "UID $u3 still on the server" || ok "delete reached the server"
sha4="$(awk -F'\t' -v u="$u4" '$1 == "INBOX" && $2 == u { print $4 }' "$WORK/server0.txt")"
awk -F'\t' -v u="$u4" '$1 == "INBOX" && $2 == u' "$WORK/server1.txt" | grep -q . && fail "UID $u4 still in INBOX"
awk -F'\t' -v s="$sha4" '$1 == "Archive" && $4 == s' "$WORK/server1.txt" | grep -q . &&
	ok "move reached the server: in Archive" || fail "moved message not in Archive"
f1="$(find "$MAILROOT/cur" -name "*,U=$u1,*" | head -1)"
[[ "$f1" == *:2,FR ]] && ok "the mirror shows the flags: ${f1##*/}" || fail "mirror file of $u1: '$f1'"
find "$MAILROOT/cur" "$MAILROOT/new" -name "*,U=$u3,*" | grep -q . && fail "deleted message still in the mirror" ||
	ok "the mirror lost the deleted message"
# (Mirror files have LF line ends: their CRLF form is the server's bytes.)
[ "$(find "$MAILROOT/.Archive" "$MAILROOT/Archive" -type f 2>/dev/null |
	while read -r f; do perl -pe 's/(?<!\r)\n/\r\n/' < "$f" | sha256sum; done | grep -c "^$sha4 ")" -ge 1 ] &&
	ok "the mirror has the moved message in Archive" || fail "moved message not in the mirror's Archive"
J status | "$MS_PYTHON" -c 'import json,sys; d=json.load(sys.stdin)["accounts"][0]; assert d["state"] == "idle", d' ||
	fail "status after the changes"

# --- shell completion, installed by cmake --install, asks the daemon ---------------
PREFIX="$WORK/prefix"
cmake --install "$MS_BUILD_DIR" --prefix "$PREFIX" >/dev/null || fail "cmake --install"
comp="$PREFIX/share/bash-completion/completions/mailsyncctl"
complete_bash()
{
	PATH="$(dirname "$MAILSYNCCTL"):$PATH" bash -c '. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mailsyncctl
		printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@"
}
[ "$(complete_bash mailsyncctl st)" = status ] && ok "bash completion: commands" ||
	fail "bash completion of 'st': $(complete_bash mailsyncctl st)"
[ "$(complete_bash mailsyncctl -c "$CFG" sync '')" = t ] && ok "bash completion: accounts from the daemon" ||
	fail "bash completion of accounts: $(complete_bash mailsyncctl -c "$CFG" sync '')"
got="$(complete_bash mailsyncctl -c "$CFG" list t '' | sort | tr '\n' ' ')"
[[ " $got" == *" Archive "*" INBOX "*" Lists/dev "* ]] && ok "bash completion: folders from the daemon: $got" ||
	fail "bash completion of folders: $got"
[ "$(complete_bash mailsyncctl flag t INBOX 1 +fl)" = +flagged ] && ok "bash completion: flags" ||
	fail "bash completion of +fl: $(complete_bash mailsyncctl flag t INBOX 1 +fl)"
zf="$PREFIX/share/zsh/site-functions/_mailsyncctl"
[ -f "$zf" ] && zsh -n "$zf" && ok "zsh completion installed, valid zsh" || fail "zsh completion: $zf"
[ -f "$PREFIX/share/man/man1/mailsyncctl.1" ] && ok "mailsyncctl(1) installed" || fail "man page not installed"

is_daemon_term 15
is_compare "after flag, delete, move"
out="$("$MIRRORCHECK" "$STORE" t "$MAILROOT" check 2>&1)" && ok "ms_mirrorcheck: $out" || fail "mirror check: $out"
grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG" && fail "sanitizer report in the log"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)" >&2; exit 1; }
echo "all passed"
