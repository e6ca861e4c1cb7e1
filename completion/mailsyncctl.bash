# bash completion for mailsyncctl(1): commands and options, and account
# and folder names asked from the running daemon (nothing when it is not
# running).  Installed by cmake --install into
# share/bash-completion/completions/.

_mailsyncctl_ask()
{
	# The -c/-s the user typed go along, so the same daemon answers.
	mailsyncctl "${_mailsyncctl_conn[@]}" "$@" 2>/dev/null
}

_mailsyncctl()
{
	local cur prev i cmd="" cmd_i=0
	local -a _mailsyncctl_conn=() pos=()
	local commands="status accounts folders list cat search flag move delete
		sync pause resume reload send outbox convert setup watch version"

	COMPREPLY=()
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD - 1]}"
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		-c|--config|-s|--socket)
			_mailsyncctl_conn+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
			i=$((i + 1)) ;;
		-*) ;;
		*)
			if [ -z "$cmd" ]; then
				cmd="${COMP_WORDS[i]}"
				cmd_i=$i
			else
				pos+=("${COMP_WORDS[i]}")
			fi ;;
		esac
	done
	case "$prev" in
	-c|--config)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	-s|--socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac
	if [ -z "$cmd" ]; then
		if [[ "$cur" == -* ]]; then
			COMPREPLY=($(compgen -W "-c --config -s --socket --json --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi
	case "$cmd" in
	status|folders|pause|resume|sync|list|cat|search|flag|move|delete)
		if [ "${#pos[@]}" = 0 ] && [[ "$cur" != -* ]]; then
			COMPREPLY=($(compgen -W "$(_mailsyncctl_ask accounts)" -- "$cur"))
			return
		fi ;;
	esac
	case "$cmd" in
	sync)
		[[ "$cur" == -* ]] && { COMPREPLY=($(compgen -W "--wait" -- "$cur")); return; } ;;
	folders)
		[[ "$cur" == -* ]] && { COMPREPLY=($(compgen -W "--names" -- "$cur")); return; } ;;
	list|search)
		[[ "$cur" == -* ]] && { COMPREPLY=($(compgen -W "--unread --limit --since" -- "$cur")); return; } ;;
	flag)
		if [[ "$cur" == [+-]* ]]; then
			local f flags=""
			for f in seen answered flagged deleted draft forwarded junk notjunk; do
				flags+=" ${cur:0:1}$f"
			done
			COMPREPLY=($(compgen -W "$flags" -- "$cur"))
			return
		fi ;;
	esac
	# The folder after the account (and move's destination, last).
	case "$cmd" in
	sync|list|cat|search|flag|move|delete)
		if [ "${#pos[@]}" = 1 ] || { [ "$cmd" = move ] && [ "${#pos[@]}" -ge 3 ]; }; then
			local IFS=$'\n'
			COMPREPLY=($(compgen -W "$(_mailsyncctl_ask folders "${pos[0]}" --names)" -- "$cur"))
			return
		fi ;;
	esac
}
complete -F _mailsyncctl mailsyncctl
