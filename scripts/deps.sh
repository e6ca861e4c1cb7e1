#!/usr/bin/env bash
# Installs the Debian packages mailsync needs to build, test and run its demo.
# Does nothing when they are all present; otherwise runs apt-get as root
# (through sudo when not root).  Usage: scripts/deps.sh [--all]
#   --all  also the peers used by benchmarks (mpop, msmtp, fetchmail
#          with procmail as its MDA)
set -euo pipefail

packages=(
	build-essential cmake pkg-config git
	libuv1-dev libssl-dev liblmdb-dev libinih-dev libjansson-dev zlib1g-dev
	libzstd-dev                       # the store's compressed bodies
	libisal-dev                       # ISA-L: fast inflate of IMAP COMPRESS
	libcmocka-dev
	libc-ares-dev libcurl4-openssl-dev # mailsyncctl setup: DNS and HTTPS
	clang libclang-rt-14-dev          # libFuzzer and sanitizer runtimes
	openssl ca-certificates           # test CA and certificates
	dovecot-imapd dovecot-pop3d       # real servers for integration tests
	python3 python3-aiosmtpd          # real SMTP receiver for tests
	lmdb-utils procps iproute2 groff-base
	time                              # peak RSS in tests (test_pop3_faults)
	strace                            # system call counts in tests (test_push_sync_cost)
	systemd                           # systemd-analyze verify/security of the units
	mblaze notmuch neomutt tmux       # Maildir readers for the mirror tests
	isync                             # mbsync fills the Maildir test_mirror_migrate adopts
	git-email                         # git send-email --sendmail-cmd (send tests)
	zsh                               # checks the installed zsh completion
	dnsmasq-base                      # a local DNS server for the setup tests
)
if [[ "${1:-}" == "--all" ]]; then
	packages+=(mpop msmtp fetchmail procmail)   # benchmark peers (and isync, above)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi

echo "scripts/deps.sh: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "scripts/deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# The packaged Dovecot must not start a system instance; the tests run
# their own private servers.  policy-rc.d keeps invoke-rc.d quiet.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
	"${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [[ -n "${created_policy:-}" ]]; then
	"${sudo[@]}" rm -f /usr/sbin/policy-rc.d
fi
