# shellcheck shell=bash
# mbsync.sh - an mbsync (isync) configuration for the fixture Dovecot, as
# the migration test and the benchmarks that compare with mbsync use it
# (sourced; defines one function).

# mbsync_rc FILE DIR PORT USER PASS CHANNEL-LINE...: writes FILE: one
# account on localhost:PORT (implicit TLS, the fixtures' CA), its Maildir
# DIR with INBOX as DIR/INBOX and nested folders (SubFolders Verbatim),
# mbsync's state inside each Maildir (SyncState *), every folder
# (Patterns *), and the CHANNEL-LINEs (Create, Expunge, Sync, ...).
mbsync_rc()
{
	local file="$1" dir="$2" port="$3" user="$4" pass="$5"
	shift 5
	{
		cat <<EOC
IMAPAccount t
Host localhost
Port $port
User $user
Pass "$pass"
SSLType IMAPS
CertificateFile $MS_TLS_CA

IMAPStore t-far
Account t

MaildirStore t-near
Path $dir/
Inbox $dir/INBOX
SubFolders Verbatim

Channel t
Far :t-far:
Near :t-near:
Patterns *
SyncState *
EOC
		printf '%s\n' "$@"
	} > "$file"
}
