#!/bin/bash
# Smoke test of the integration fixtures: a private Dovecot and the SMTP sink
# really run, TLS is really verified, mail really goes in and comes out.
# Exit 0 pass, 77 skipped (servers missing, MS_REQUIRE_SERVERS unset), else fail.

LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib"
. "$LIB/mailmutate.sh"
. "$LIB/smtp.sh"
ms_trap_install

FAILS=0
fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	FAILS=$((FAILS + 1))
}
ok()
{
	printf 'ok: %s\n' "$*"
}
client()
{
	"$MS_PYTHON" "$LIB/mailclient.py" "$@"
}
imap()
{
	client "$1" --port "$MS_IMAPS_PORT" --tls implicit --ca "$MS_TLS_CA" \
		--user "$MS_USER1" --password "$MS_PASS1" "${@:2}"
}

CORPUS="$(ms_corpus_dir)" || { ms_missing "the mail corpus (MS_CORPUS)"; exit $?; }
dovecot_start || exit $?
smtp_sink_start --tls starttls --auth "sinkuser:sink pass" \
	--reject temp@example.test=451 --reject perm@example.test=550 || exit $?
WORK="$(ms_tmpdir_make ms-smoke)" || exit 1
ms_cleanup_add "ms_tmpdir_remove '$WORK' 0"

# --- TLS: verified against the generated CA, for the right name ----------------
for mode in implicit starttls; do
	port="$MS_IMAPS_PORT"
	[ "$mode" = starttls ] && port="$MS_IMAP_PORT"
	if caps="$(client capability --port "$port" --tls "$mode" --ca "$MS_TLS_CA" \
		--user "$MS_USER1" --password "$MS_PASS1")"; then
		ok "IMAP $mode login with the CA and host-name check"
	else
		fail "IMAP $mode login with the CA"
		continue
	fi
	for cap in IDLE QRESYNC CONDSTORE COMPRESS=DEFLATE LITERAL+ UIDPLUS MOVE SPECIAL-USE LIST-STATUS; do
		[[ " $caps " == *" $cap "* ]] || fail "IMAP $mode: CAPABILITY lacks $cap: $caps"
	done
	# Without the CA (system trust store) the handshake must fail, and so
	# must a name the certificate is not for: proof that verification is on.
	client capability --port "$port" --tls "$mode" --user "$MS_USER1" \
		--password "$MS_PASS1" 2>"$WORK/err"
	rc=$?
	[ "$rc" = 3 ] && ok "IMAP $mode without the CA: verification fails" ||
		fail "IMAP $mode without the CA: expected exit 3, got $rc: $(cat "$WORK/err")"
	client capability --port "$port" --tls "$mode" --ca "$MS_TLS_CA" --host wrong.example \
		--user "$MS_USER1" --password "$MS_PASS1" 2>"$WORK/err"
	rc=$?
	[ "$rc" = 3 ] && ok "IMAP $mode to a name not in the certificate: verification fails" ||
		fail "IMAP $mode with a wrong name: expected exit 3, got $rc: $(cat "$WORK/err")"
done
client capability --port "$MS_IMAPS_PORT" --ca "$MS_TLS_CA" --user "$MS_USER2" \
	--password "$MS_PASS2" > /dev/null && ok "second user logs in" || fail "login as $MS_USER2"
client capability --port "$MS_IMAPS_PORT" --ca "$MS_TLS_CA" --user "$MS_USER1" \
	--password wrong > /dev/null 2>&1
rc=$?
[ "$rc" = 4 ] && ok "wrong password refused" || fail "wrong password: expected exit 4, got $rc"
fp="$(openssl s_client -connect "127.0.0.1:$MS_IMAPS_PORT" -servername localhost < /dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 2>/dev/null)"
[ "sha256:${fp#*=}" = "$MS_TLS_FINGERPRINT" ] && ok "served certificate matches MS_TLS_FINGERPRINT" ||
	fail "fingerprint: served ${fp#*=}, exported $MS_TLS_FINGERPRINT"

# --- fill, list, read back ------------------------------------------------------
mailfill "$MS_USER1" 12 || fail "mailfill"
# One more message into INBOX: the first corpus file that is CRLF-only with no
# NUL byte, which IMAP must return byte for byte (Dovecot turns bare LF into
# CRLF and NUL into 0x80 on output, so other files are compared accordingly).
crlf_file="$("$MS_PYTHON" - "$CORPUS" <<'EOF'
import sys
rows = [l.split("\t")[0] for l in open(sys.argv[1] + "/index.tsv") if l.startswith("messages/")]
for rel in rows:
    d = open(sys.argv[1] + "/" + rel, "rb").read()
    if b"\0" not in d and d.count(b"\n") == d.count(b"\r\n") > 0 and d.endswith(b"\r\n") \
            and len(d) < 20000:
        print(rel)
        break
EOF
)"
mailfill "$MS_USER1" 1 --file "$crlf_file" --folder INBOX > /dev/null || fail "mailfill --file"
[ "$(wc -l < "$MS_MAILFILL_MANIFEST")" = 13 ] || fail "manifest has $(wc -l < "$MS_MAILFILL_MANIFEST") lines, not 13"
[ "$(tail -n 1 "$MS_MAILFILL_MANIFEST" | cut -f1,2)" = "INBOX	3" ] ||
	fail "the second fill's message should be INBOX UID 3: $(tail -n 1 "$MS_MAILFILL_MANIFEST")"

maildir="$(dovecot_maildir "$MS_USER1")"
n=0 bad=0 exact=0
while IFS=$'\t' read -r folder uid flags rel file; do
	n=$((n + 1))
	# On disk: a byte-exact copy, owned by the mail uid.
	path="$(find "$maildir" -name "$file" -print -quit)"
	if [ -z "$path" ] || ! cmp -s "$path" "$CORPUS/$rel" ||
		[ "$(stat -c %u "$path")" != "$MS_MAIL_UID" ]; then
		fail "maildir copy of $rel ($folder) missing, different or wrongly owned: $path"
		bad=$((bad + 1))
		continue
	fi
	# Over IMAP, by the UID the manifest predicts.
	if ! got="$(imap fetch --folder "$folder" --uid "$uid" --out "$WORK/fetched" 2>"$WORK/err")"; then
		fail "IMAP fetch $folder uid $uid: $(cat "$WORK/err")"
		bad=$((bad + 1))
		continue
	fi
	want="$(tr ' ' '\n' <<< "$flags" | LC_ALL=C sort | tr '\n' ' ')"
	if [ "${want% }" != "$got" ]; then
		fail "flags of $folder uid $uid: IMAP says '$got', the fill wrote '$flags'"
		bad=$((bad + 1))
	fi
	if "$MS_PYTHON" - "$CORPUS/$rel" "$WORK/fetched" <<'EOF'
import sys
raw, got = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if got == raw else 1)
EOF
	then
		exact=$((exact + 1))
	elif ! "$MS_PYTHON" - "$CORPUS/$rel" "$WORK/fetched" <<'EOF'
import sys
raw, got = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
want = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b"\0", b"\x80")
sys.exit(0 if got == want and b"\r" not in raw.replace(b"\r\n", b"") else 1)
EOF
	then
		fail "IMAP body of $folder uid $uid differs from $rel"
		bad=$((bad + 1))
	fi
done < "$MS_MAILFILL_MANIFEST"
if imap fetch --folder INBOX --uid 3 --out "$WORK/crlf" > /dev/null && cmp "$WORK/crlf" "$CORPUS/$crlf_file"; then
	ok "CRLF corpus file $crlf_file read back byte-identical over IMAP"
else
	fail "CRLF corpus file $crlf_file not byte-identical over IMAP"
fi
[ "$bad" = 0 ] && ok "$n filled messages: on disk byte-exact; over IMAP at the predicted UID with the flags written and the expected bytes ($exact identical)"

imap list > "$WORK/list" || fail "IMAP LIST"
for f in INBOX Sent Archive Lists/dev Lists/announce Ünïcödé; do
	cut -f2 "$WORK/list" | grep -qxF "$f" || fail "LIST lacks $f: $(tr '\n' ' ' < "$WORK/list")"
done
grep -qP '^\\Noselect.*\tLists$' "$WORK/list" || fail "Lists is not a \\Noselect parent"
st="$(imap status --folder Ünïcödé)" && [[ "$st" == *"MESSAGES 2 "* ]] &&
	ok "LIST shows the nested and the non-ASCII folder; Ünïcödé has 2 messages" ||
	fail "STATUS Ünïcödé: $st"
st="$(imap status --folder INBOX)" && [[ "$st" == *"MESSAGES 3 "* ]] ||
	fail "INBOX should have 3 messages: $st"

# --- changes through doveadm ----------------------------------------------------
mailmutate_add "$MS_USER1" Archive "$CORPUS/$crlf_file" || fail "mailmutate_add"
mailmutate_flags "$MS_USER1" Archive add 1:2 '\Flagged' '\Answered' || fail "mailmutate_flags add"
mailmutate_flags "$MS_USER1" Archive remove 1 '\Seen' || fail "mailmutate_flags remove"
flags="$(dovecot_doveadm -f flow fetch -u "$MS_USER1" 'uid flags' mailbox Archive all)"
grep -q '^uid=1 flags=.*\\Answered \\Flagged' <<< "$flags" &&
	grep -q '^uid=2 flags=.*\\Answered \\Flagged' <<< "$flags" &&
	! grep -q '^uid=1 .*Seen' <<< "$flags" && grep -q '^uid=3 ' <<< "$flags" ||
	fail "flags after mailmutate_flags: $flags"
mailmutate_expunge "$MS_USER1" Archive 2 || fail "mailmutate_expunge"
[ "$(mailmutate_uids "$MS_USER1" Archive | tr '\n' ' ')" = "1 3 " ] ||
	fail "UIDs after expunge: $(mailmutate_uids "$MS_USER1" Archive | tr '\n' ' ')"
v1="$(imap status --folder Archive)"
mailmutate_recreate "$MS_USER1" Archive || fail "mailmutate_recreate"
v2="$(imap status --folder Archive)"
uv1="$(sed 's/.*UIDVALIDITY \([0-9]*\).*/\1/' <<< "$v1")" uv2="$(sed 's/.*UIDVALIDITY \([0-9]*\).*/\1/' <<< "$v2")"
[ -n "$uv1" ] && [ "$uv1" != "$uv2" ] && [[ "$v2" == *"MESSAGES 2 "* ]] &&
	ok "Archive recreated: UIDVALIDITY $uv1 -> $uv2, messages kept" ||
	fail "recreate: before '$v1' after '$v2'"

# --- POP3 -----------------------------------------------------------------------
for mode in implicit starttls; do
	port="$MS_POP3S_PORT"
	[ "$mode" = starttls ] && port="$MS_POP3_PORT"
	if client pop3-list --port "$port" --tls "$mode" --ca "$MS_TLS_CA" \
		--user "$MS_USER1" --password "$MS_PASS1" > "$WORK/pop3"; then
		[ "$(wc -l < "$WORK/pop3")" = 3 ] && ok "POP3 $mode lists the 3 INBOX messages" ||
			fail "POP3 $mode list: $(cat "$WORK/pop3")"
	else
		fail "POP3 $mode login"
	fi
done
client pop3-list --port "$MS_POP3S_PORT" --user "$MS_USER1" --password "$MS_PASS1" 2>/dev/null
[ $? = 3 ] && ok "POP3S without the CA: verification fails" || fail "POP3S verified without the CA"

# --- SMTP -----------------------------------------------------------------------
client smtp-send --port "$MS_SMTP_PORT" --tls starttls --ca "$MS_TLS_CA" \
	--user "$MS_SMTP_USER" --password "$MS_SMTP_PASS" --from "$MS_USER1@example.test" \
	--to "$MS_USER2@example.test" --to temp@example.test --to perm@example.test \
	--file "$CORPUS/$crlf_file" > "$WORK/refused" || fail "SMTP send"
grep -q '^refused temp@example.test 451 ' "$WORK/refused" &&
	grep -q '^refused perm@example.test 550 ' "$WORK/refused" &&
	ok "SMTP sink refuses the configured recipients with 451 and 550" ||
	fail "SMTP refusals: $(cat "$WORK/refused")"
if smtp_sink_wait 1 10; then
	cmp -s "$MS_SMTP_DIR/001.eml" "$CORPUS/$crlf_file" && ok "SMTP sink stored the message byte-exact" ||
		fail "stored 001.eml differs from $crlf_file"
	"$MS_PYTHON" - "$MS_SMTP_DIR/001.json" "$MS_USER1@example.test" "$MS_USER2@example.test" \
		"$MS_SMTP_USER" <<'EOF' && ok "SMTP envelope recorded (from, to, TLS, AUTH)" || fail "SMTP envelope: $(cat "$MS_SMTP_DIR/001.json")"
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if m["mail_from"] == sys.argv[2] and m["rcpt_tos"] == [sys.argv[3]]
         and m["tls"] is True and m["auth_login"] == sys.argv[4] else 1)
EOF
else
	fail "SMTP sink stored nothing"
fi
if client smtp-send --port "$MS_SMTP_PORT" --tls none --user "$MS_SMTP_USER" \
	--password "$MS_SMTP_PASS" --from a@example.test --to b@example.test \
	--file "$CORPUS/$crlf_file" > /dev/null 2>&1; then
	fail "SMTP AUTH worked without TLS"
else
	ok "SMTP AUTH is not offered before STARTTLS"
fi
client smtp-send --port "$MS_SMTP_PORT" --tls starttls --user "$MS_SMTP_USER" \
	--password "$MS_SMTP_PASS" --from a@example.test --to b@example.test \
	--file "$CORPUS/$crlf_file" > /dev/null 2>&1
[ $? = 3 ] && ok "SMTP STARTTLS without the CA: verification fails" || fail "SMTP verified without the CA"

# --- stop, and prove the processes are gone ----------------------------------------
if [ "$FAILS" != 0 ]; then
	echo "--- dovecot log ($MS_DOVECOT_LOG) ---"
	tail -n 40 "$MS_DOVECOT_LOG"
	echo "--- smtp sink log ($MS_SMTP_LOG) ---"
	tail -n 20 "$MS_SMTP_LOG"
fi
dpid="$MS_DOVECOT_PID" spid="$MS_SMTP_PID" ddir="$MS_DOVECOT_DIR" sdir="$MS_SMTP_DIR"
kids="$(ms_pid_descendants "$dpid")"
[ -n "$kids" ] || fail "dovecot master $dpid has no child processes"
dovecot_stop || fail "dovecot_stop"
smtp_sink_stop || fail "smtp_sink_stop"
for p in $dpid $spid $kids; do
	ms_pid_alive "$p" && fail "process $p still alive after stop"
done
[ -e "$ddir" ] && fail "$ddir not removed"
[ -e "$sdir" ] && fail "$sdir not removed"
ok "servers stopped (dovecot $dpid with $(echo $kids | wc -w) children, smtp sink $spid)"

if [ "$FAILS" != 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "smoke test passed"
