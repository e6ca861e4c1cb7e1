#!/bin/bash
# A network change during push: in a private network namespace (its own
# loopback, where Dovecot and mailsyncd both run), the address the push
# connection uses (127.0.0.1) is removed and added again.  mailsyncd sees
# it on its rtnetlink socket, drops its connections within a second and
# makes them again instead of waiting for a dead socket to time out; the
# message delivered while the address was gone and one delivered after
# arrive, each exactly once.  Needs root and unshare -n (CI runs as
# root); skipped elsewhere, saying so.
if [ -z "${MS_IN_NETNS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! unshare -n true 2>/dev/null || ! command -v ip >/dev/null; then
		echo "SKIP: needs root, unshare -n and ip (iproute2) for a private network namespace; not run"
		exit 77
	fi
	exec unshare -n env MS_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up || { echo "cannot bring lo up in the namespace" >&2; exit 1; }
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

mirror_setup
cat >> "$CFG" <<EOC
poll_interval = 1h
timeout = 60s
EOC
mapfile -t msgs < <(corpus_messages 3)
mailmutate_add "$MS_USER1" INBOX "${msgs[0]}" >/dev/null || exit 1
LOG="$WORK/daemon.log"
log_has() { grep -qE -- "$1" "$LOG"; }
n_push() { grep -cE 'acct=t push="notify on every folder' "$LOG"; }
# log_ms LINE: the time stamp of a log line in ms since the epoch.
log_ms() { echo $(( $(date -u -d "$(cut -c1-23 <<< "$1" | tr T ' ')" +%s%N) / 1000000 )); }

"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
wait_for "push up" 30 log_has 'acct=t push="notify on every folder' || exit 1
wait_for "the first message" 15 in_mirror INBOX 1 || exit 1
log_has 'network changes are not watched' && fail "no network watch: $(grep -m1 'not watched' "$LOG")"
pushes="$(n_push)"

# The address goes; a message comes meanwhile; the address is back.
ip addr del 127.0.0.1/8 dev lo || exit 1
mailmutate_add "$MS_USER1" INBOX "${msgs[1]}" >/dev/null || exit 1
sleep 0.5
ip addr add 127.0.0.1/8 dev lo || exit 1
t_back="$(( $(date +%s%N) / 1000000 ))"
# The removal alone was acted on too (its try failed: no address); the
# addition is what brings the account back.
wait_for "the addition seen" 10 log_has 'network changed \(address added' || exit 1
line="$(grep -E 'network changed \(address added' "$LOG" | tail -1)"
seen_ms=$(( $(log_ms "$line") - t_back ))
log_has 'network changed \(address removed' &&
	ok "the removal was seen: $(grep -m1 -E 'network changed \(address removed' "$LOG" | sed 's/.* info //')"
# Debounced (NET_WATCH_DEBOUNCE_MS), well within a second.
[ "$seen_ms" -lt 1000 ] && ok "reconnecting ${seen_ms} ms after the address came back: ${line#* info }" ||
	fail "the change was acted on $seen_ms ms after the address came back"
pushed_again() { [ "$(n_push)" -gt "$pushes" ]; }
wait_for "push up again" 20 pushed_again &&
	ok "push up again on a new connection $(( $(log_ms "$(grep -E 'acct=t push="notify on every folder' "$LOG" | tail -1)") - t_back )) ms after the address came back"
wait_for "the message delivered while the address was gone" 15 in_mirror INBOX 2 &&
	ok "the message delivered while the address was gone arrived"
t0=$SECONDS
mailmutate_add "$MS_USER1" INBOX "${msgs[2]}" >/dev/null || exit 1
wait_for "a message after the change" 10 in_mirror INBOX 3 &&
	ok "a message delivered after the change pushed in $((SECONDS - t0)) s"
# Not the timeout: no connection waited for it.
log_has 'timed out' && fail "a connection timed out: $(grep -m1 -E 'timed out' "$LOG")"

mirror_end_exactly_once "after the network change"
