#!/bin/bash
# Many mirrored accounts, one inotify instance: the kernel limits inotify
# instances per user (fs.inotify.max_user_instances, 128 by default), and
# one instance per mirror watch ran out past about 120 accounts.  Here the
# limit is lowered to LIMIT for the daemon alone (a user namespace of its
# own, whose /proc/sys/user/max_inotify_instances it may set) and the
# daemon runs N > LIMIT mirrored accounts: every mirror is watched on the
# daemon's one instance, so a reader's deletion in each account's mirror,
# the last one included, reaches the server at once (the poll is an hour
# away).  Where user namespaces are not allowed, the limit stays and the
# test still proves the daemon holds one inotify instance for N watches.
. "$MS_SOURCE_DIR/tests/integration/lib/mirror.sh"

N=6
LIMIT=4
mirror_setup
# A poll far away and no push: only the watches can explain prompt passes.
printf 'poll_interval = 1h\nidle = no\n' >> "$CFG"
# Accounts t2..tN: t's section, each with a mirror of its own.
section="$(sed -n '/^\[account t\]/,$p' "$CFG")"
for ((k = 2; k <= N; k++)); do
	printf '\n%s\n' "$section" | sed -e "s/^\[account t\]/[account t$k]/" \
		-e "s|^maildir = .*|maildir = $WORK/mail$k|" >> "$CFG"
done
mailfill "$MS_USER1" 60 >/dev/null || exit 1
mirror_of() { if [ "$1" = 1 ]; then echo "$MAIL"; else echo "$WORK/mail$1"; fi; }
name_of() { if [ "$1" = 1 ]; then echo t; else echo "t$1"; fi; }

LOG="$WORK/daemon.log"
if unshare -U -r true 2>/dev/null; then
	# exec: the daemon keeps the PID the shell had, which is stopped by it.
	unshare -U -r sh -c 'echo "$0" > /proc/sys/user/max_inotify_instances &&
		exec "$1" -c "$2"' "$LIMIT" "$MAILSYNCD" "$CFG" 2>"$LOG" &
	is_limited=1
else
	echo "# no user namespace here: the per-user limit stays as it is"
	"$MAILSYNCD" -c "$CFG" 2>"$LOG" &
	is_limited=0
fi
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"

passes() { grep -cE "acct=$1 state=idle " "$LOG" 2>/dev/null || true; }
all_passed()
{
	local k
	for ((k = 1; k <= N; k++)); do
		[ "$(passes "$(name_of "$k")")" -ge "$1" ] || return 1
	done
}
wait_for "every account's first pass" 120 all_passed 1 || { tail -5 "$LOG" >&2; exit 1; }
ok "$N accounts synced their mirrors$([ "$is_limited" = 1 ] && echo ", at most $LIMIT inotify instances allowed")"
# One instance per watch failed here with "inotify: Too many open files".
# (A first pass that failed before the mirror existed, as one of several
# simultaneous logins may, says "mirror watch: open ...: No such file";
# the next export starts the watch.)
if grep -qE 'mirror watch:.*(inotify|Too many open files)' "$LOG"; then
	fail "a mirror watch failed: $(grep -m1 -E 'mirror watch:.*(inotify|Too many)' "$LOG")"
fi
n_ino="$(find "/proc/$DPID/fd" -lname 'anon_inode:inotify' 2>/dev/null | wc -l)"
[ "$n_ino" = 1 ] && ok "the daemon holds one inotify instance for $N mirrors" ||
	fail "the daemon holds $n_ino inotify instances, want 1"

# The uids to delete: account k deletes the k-th message of INBOX (the
# mirror's root), each a different one.
mapfile -t files < <(find "$MAIL/cur" "$MAIL/new" -type f | sort)
[ "${#files[@]}" -ge "$N" ] || { fail "only ${#files[@]} INBOX messages"; exit 1; }
for ((k = 1; k <= N; k++)); do
	uid[$k]="$(uid_of "${files[$((k - 1))]}")"
done
t0=$SECONDS
for ((k = N; k >= 1; k--)); do
	m="$(mirror_of "$k")"
	f="$(find "$m/cur" "$m/new" -type f -name "*-${uid[$k]}-*" | head -1)"
	[ -n "$f" ] || { fail "account $k: no file of uid ${uid[$k]} in $m"; continue; }
	rm "$f"
done
on_server() { is_server_msgs --folder INBOX | awk -F'\t' -v u="$1" '$2 == u' | wc -l; }
all_gone()
{
	local k
	for ((k = 1; k <= N; k++)); do
		[ "$(on_server "${uid[$k]}")" = 0 ] || return 1
	done
}
wait_for "every reader's deletion on the server" 60 all_gone ||
	fail "still on the server: $(for ((k = 1; k <= N; k++)); do [ "$(on_server "${uid[$k]}")" = 0 ] || printf '%s ' "t$k:${uid[$k]}"; done)"
all_gone && ok "$N deletions, one per mirror, on the server $((SECONDS - t0)) s after the readers made them"
for ((k = 1; k <= N; k++)); do
	grep -q "acct=$(name_of "$k") mirror changed by a reader: syncing now" "$LOG" ||
		fail "account $(name_of "$k"): no 'mirror changed by a reader' in the log"
done

mirror_daemon_stop

[ "$FAILS" = 0 ] || { echo "$FAILS failures" >&2; exit 1; }
echo "all many-account mirror checks passed"
