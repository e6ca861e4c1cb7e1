#!/bin/bash
# mailsyncctl on a POP3 account of a running daemon (the fixture Dovecot's
# POP3S): status shows it (protocol pop3, idle, its messages), folders its
# INBOX with counts, list its messages with sizes, cat each one byte for
# byte as the server sends it, sync --wait runs a pass that downloads new
# mail; flag and delete are refused with a clear error.
. "$MS_SOURCE_DIR/tests/tools/pop3_common.sh"
p3_setup
mailfill "$MS_USER1" 12 --folder INBOX --quiet >/dev/null || exit 1
p3_config ctl implicit "$MS_POP3S_PORT" "keep = yes
poll_interval = 10m"
LOG="$WORK/daemon.log"
log_has() { [ "$(grep -cE -- "$1" "$LOG" 2>/dev/null)" -ge "$2" ]; }
C() { "$MAILSYNCCTL" -c "$CFG" "$@"; }
J() { "$MAILSYNCCTL" -c "$CFG" --json "$@"; }
jq_py() { "$MS_PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "first pass" 30 log_has 'acct=p state=idle .* new=12 ' 1 || { cat "$LOG" >&2; exit 1; }

# --- status ---------------------------------------------------------------------
J status > "$WORK/status.json" || fail "status --json: exit $?"
st="$(jq_py '"%s %s %s %s" % (d["accounts"][0]["protocol"], d["accounts"][0]["state"], d["accounts"][0]["messages"], d["accounts"][0]["last"]["new"])' < "$WORK/status.json")"
[ "$st" = "pop3 idle 12 12" ] && ok "status --json: $st" || fail "status --json: $st"
C status > "$WORK/status.txt" || fail "status: exit $?"
grep -qE '^p +pop3 +idle ' "$WORK/status.txt" && ok "status: $(tail -1 "$WORK/status.txt")" ||
	{ fail "status output:"; cat "$WORK/status.txt" >&2; }

# --- folders, list, cat -------------------------------------------------------------
J folders p > "$WORK/folders.json" || fail "folders --json: exit $?"
got="$(jq_py '" ".join("%s:%d:%d" % (f["name"], f["messages"], f["unread"]) for f in d["folders"])' < "$WORK/folders.json")"
[ "$got" = "INBOX:12:12" ] && ok "folders: $got (all unread)" || fail "folders: $got"
# (The daemon holds the store: the server is the truth to compare with.)
J list p INBOX > "$WORK/list.json" || fail "list --json: exit $?"
uids="$(jq_py '" ".join(str(m["uid"]) for m in d["messages"])' < "$WORK/list.json")"
jq_py '"\n".join(str(m["size"]) for m in d["messages"])' < "$WORK/list.json" | sort -n > "$WORK/list.sizes"
[ "$uids" = "1 2 3 4 5 6 7 8 9 10 11 12" ] && [ "$(cat "$WORK/list.sizes")" = "$(p3_server_sizes)" ] &&
	ok "list: UIDs 1 to 12, sizes those of the server's messages" ||
	fail "list: UIDs $uids, sizes $(tr '\n' ' ' < "$WORK/list.sizes") vs $(p3_server_sizes | tr '\n' ' ')"
for uid in $uids; do
	C cat p INBOX "$uid" | sha256sum | cut -d' ' -f1
done | sort > "$WORK/cat.sha"
[ "$(cat "$WORK/cat.sha")" = "$(p3_server_hashes)" ] &&
	ok "cat: the 12 messages, byte for byte as the server sends them" ||
	fail "cat: $(comm -3 "$WORK/cat.sha" <(p3_server_hashes) | wc -l) differ from the server's"

# --- sync --wait -------------------------------------------------------------------------
mailfill "$MS_USER1" 3 --folder INBOX --quiet >/dev/null || exit 1
C sync p --wait > "$WORK/sync.txt" 2>&1 || fail "sync --wait: exit $?: $(cat "$WORK/sync.txt")"
grep -q '^p: 1 folder, 3 new' "$WORK/sync.txt" && ok "sync --wait: $(grep new "$WORK/sync.txt" | tail -1)" ||
	fail "sync --wait: $(cat "$WORK/sync.txt")"
got="$(J folders p | jq_py 'd["folders"][0]["messages"]')"
[ "$got" = 15 ] && ok "folders after the sync: 15" || fail "folders after the sync: $got"

# --- flag and delete: refused with a clear error (POP3 carries neither) --------------
out="$(C flag p INBOX 1 +flagged 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"pop3 account"* ]] && ok "flag: exit 1, $out" || fail "flag: exit $rc: $out"
out="$(C delete p INBOX 2 2>&1)"; rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"pop3 account"* ]] && ok "delete: exit 1, $out" || fail "delete: exit $rc: $out"
got="$(J folders p | jq_py 'd["folders"][0]["messages"]')"
[ "$got" = 15 ] && [ "$(p3_server_count)" = 15 ] && ok "nothing changed (15 here and on the server)" ||
	fail "after the refusals: $got here, $(p3_server_count) on the server"
p3_done
