#!/bin/bash
# The foreground mode on a server whose personal namespace has a prefix
# ("INBOX/", Courier/Cyrus style): like --once (test_mirror_namespace.sh),
# the daemon's mirror strips the prefix the pass learned from NAMESPACE
# ("INBOX/Sent" is Sent/), and a folder a reader makes is created inside
# the namespace.
MS_DOVECOT_NS_CONF='prefix = INBOX/'
export MS_DOVECOT_NS_CONF
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
# idle = no: push starts passes of its own, and this test counts the
# passes the mirror watch starts (test_push.sh has readers with push).
printf 'poll_interval = 1h\nidle = no\n' >> "$CFG"
mapfile -t cfiles < <(find "$(ms_corpus_dir)" -type f -name '*.eml' | sort | head -5)
mailmutate_create "$MS_USER1" INBOX/Sent >/dev/null &&
mailmutate_add "$MS_USER1" INBOX "${cfiles[@]:0:2}" >/dev/null &&
mailmutate_add "$MS_USER1" INBOX/Sent "${cfiles[@]:2:2}" >/dev/null ||
	{ fail "filling the prefixed namespace"; exit 1; }
mirror_daemon_start

mirror_wait_passes 1 30 || exit 1
n="$(find "$MAIL/Sent/cur" "$MAIL/Sent/new" -type f 2>/dev/null | wc -l)"
[ "$n" = 2 ] && ok "INBOX/Sent is Sent/ in the daemon's mirror ($n files)" ||
	fail "Sent/ holds $n files: $(find "$MAIL" -type d | sed "s|$MAIL||" | tr '\n' ' ')"
find "$MAIL" -name '%*' | grep -q . && fail "escaped names in the mirror: $(find "$MAIL" -name '%*' | head -3)"

mkdir -p "$MAIL/Projects"/{cur,new,tmp}
cp "${cfiles[4]}" "$MAIL/Projects/new/reader-1.eml"
if mirror_wait_passes 2 20; then
	n="$(is_server_msgs --folder INBOX/Projects | wc -l)"
	[ "$n" = 1 ] && ok "the reader's folder is INBOX/Projects on the server, with its message" ||
		fail "INBOX/Projects on the server: $n messages; log: $(grep -i mirror "$LOG" | tail -3)"
	is_server_msgs | cut -f1 | grep -qx Projects && fail "a folder Projects outside the namespace was created"
fi

mirror_daemon_stop
"$MIRRORCHECK" "$STORE" t "$MAIL" >/dev/null 2>&1 && ok "mirror_check: store and mirror agree" ||
	fail "mirror_check: $("$MIRRORCHECK" "$STORE" t "$MAIL" 2>&1 | head -3)"

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all daemon namespace checks passed"
