# shellcheck shell=bash
# Filling and changing the private Dovecot's mailboxes (needs dovecot.sh and
# a running dovecot_start for everything but mailfill's file writing).
#
#   mailfill USER N [--folder NAME]... [--start I]
#                                        N corpus messages, direct Maildir
#                                        writes (see mailfill.py); appends to
#                                        $MS_MAILFILL_MANIFEST, that is
#                                        $MS_DOVECOT_DIR/mailfill-USER.tsv:
#                                        folder uid flags corpus-path file
#   mailmutate_add USER FOLDER FILE...   doveadm save, one message per file
#   mailmutate_flags USER FOLDER add|remove|replace UIDSET FLAG...
#   mailmutate_expunge USER FOLDER UIDSET
#   mailmutate_create USER FOLDER / mailmutate_delete USER FOLDER
#   mailmutate_recreate USER FOLDER      same messages, new UIDVALIDITY
#   mailmutate_status USER FOLDER        prints "messages=.. uidvalidity=.. ..."
#   mailmutate_uids USER FOLDER          prints the UIDs, one a line
#
# UIDSET is IMAP syntax (1:3,7 or 5:*). Every function prints what it did.
# Note: doveadm save (like any delivery) drops a leading mbox "From " line,
# so use mailfill, not mailmutate_add, where bytes must match the corpus.

[ -n "${_MS_MAILMUTATE_SH:-}" ] && return 0
_MS_MAILMUTATE_SH=1
# shellcheck source=dovecot.sh
. "$(dirname "${BASH_SOURCE[0]}")/dovecot.sh"

# ms_corpus_dir: the mail corpus: MS_CORPUS, else the shared one next to
# the checkout, else the checkout's own tests/corpus (a worktree or a clone
# elsewhere has only that one).
ms_corpus_dir()
{
	local c
	for c in "${MS_CORPUS:-}" "${MS_SOURCE_DIR:+$MS_SOURCE_DIR/../shared/corpus}" \
		"$MS_FIXTURE_LIB/../../../../shared/corpus" "$MS_FIXTURE_LIB/../../corpus"; do
		if [ -n "$c" ] && [ -d "$c/messages" ]; then
			(cd "$c" && pwd)
			return 0
		fi
	done
	ms_log "corpus not found (set MS_CORPUS)"
	return 1
}

mailfill()
{
	local user="$1" n="$2" corpus manifest
	shift 2
	corpus="$(ms_corpus_dir)" || return 1
	# One manifest per user: a second fill continues in the corpus where the
	# first stopped, and its UIDs continue too (see mailfill.py).
	manifest="$MS_DOVECOT_DIR/mailfill-$user.tsv"
	"$MS_PYTHON" "$MS_FIXTURE_LIB/mailfill.py" --maildir "$(dovecot_maildir "$user")" \
		--count "$n" --uid "$MS_MAIL_UID" --gid "$MS_MAIL_GID" --corpus "$corpus" \
		--manifest "$manifest" "$@" || return 1
	export MS_MAILFILL_MANIFEST="$manifest"
	# Clients that use LSUB see the folders too (only while Dovecot runs).
	# And Dovecot indexes the files now, as after a delivery: files
	# written behind its back were missed by POP3 sessions under load
	# when a `doveadm save` into the folder came before the next sync
	# (2 of 15 rounds: 2 new messages listed instead of 5).
	if [ -n "${MS_DOVECOT_PID:-}" ]; then
		cut -f1 "$manifest" | sort -u | while IFS= read -r f; do
			dovecot_doveadm mailbox subscribe -u "$user" "$f" || return 1
			dovecot_doveadm mailbox status -u "$user" messages "$f" >/dev/null || return 1
		done
	fi
}

# bench_mailfill USER N ARGS...: mailfill for a benchmark, its last line
# shown; a mailbox that cannot be filled stops the benchmark (a table of
# empty syncs would look like a result).
bench_mailfill()
{
	local log="$WORK/fill.log"

	mailfill "$@" > "$log" || {
		cat "$log"
		echo "the mailbox could not be filled: no benchmark run" >&2
		return 1
	}
	tail -1 "$log"
}

mailmutate_add()
{
	local user="$1" folder="$2" f
	shift 2
	for f in "$@"; do
		dovecot_doveadm save -u "$user" -m "$folder" < "$f" || return 1
	done
	echo "mailmutate: saved $# message(s) into $user/$folder"
}

mailmutate_flags()
{
	local user="$1" folder="$2" op="$3" set="$4"
	shift 4
	case "$op" in
	add|remove|replace) ;;
	*) ms_log "mailmutate_flags: op must be add, remove or replace"; return 1 ;;
	esac
	dovecot_doveadm flags "$op" -u "$user" "$*" mailbox "$folder" uid "$set" || return 1
	echo "mailmutate: flags $op '$*' on $user/$folder uid $set"
}

mailmutate_expunge()
{
	dovecot_doveadm expunge -u "$1" mailbox "$2" uid "$3" || return 1
	echo "mailmutate: expunged $1/$2 uid $3"
}

mailmutate_create()
{
	dovecot_doveadm mailbox create -u "$1" -s "$2" || return 1
	echo "mailmutate: created $1/$2"
}

mailmutate_delete()
{
	dovecot_doveadm mailbox delete -u "$1" -s "$2" || return 1
	echo "mailmutate: deleted $1/$2"
}

mailmutate_status()
{
	dovecot_doveadm -f flow mailbox status -u "$1" \
		'messages uidvalidity uidnext highestmodseq unseen' "$2"
}

mailmutate_uids()
{
	dovecot_doveadm -f flow fetch -u "$1" uid mailbox "$2" all | sed 's/^uid=//'
}

# The messages move to a hidden holding folder, the folder is deleted and
# created again (Dovecot gives it a new UIDVALIDITY, never the old one), and
# the messages move back with their flags, under new UIDs 1..n.
mailmutate_recreate()
{
	local user="$1" folder="$2" hold="mailsync-recreate-$$-$RANDOM" before after
	before="$(mailmutate_status "$user" "$folder")" || return 1
	dovecot_doveadm mailbox create -u "$user" "$hold" &&
		dovecot_doveadm move -u "$user" "$hold" mailbox "$folder" all &&
		dovecot_doveadm mailbox delete -u "$user" "$folder" &&
		dovecot_doveadm mailbox create -u "$user" -s "$folder" &&
		dovecot_doveadm move -u "$user" "$folder" mailbox "$hold" all &&
		dovecot_doveadm mailbox delete -u "$user" "$hold" || return 1
	after="$(mailmutate_status "$user" "$folder")" || return 1
	if [ "$(_mailmutate_field uidvalidity "$before")" = "$(_mailmutate_field uidvalidity "$after")" ]; then
		ms_log "mailmutate_recreate: UIDVALIDITY of $folder did not change ($after)"
		return 1
	fi
	echo "mailmutate: recreated $user/$folder: before $before; after $after"
}

_mailmutate_field()
{
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
