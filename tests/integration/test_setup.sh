#!/bin/bash
# mailsyncctl setup ADDRESS against real servers on loopback: a private
# DNS server (dnsmasq) with SRV, MX and address records for test domains,
# an HTTPS server with autoconfig files (certificate from the fixtures'
# CA), the fixture Dovecot (IMAP, POP3) and SMTP receiver as the probed
# hosts.  Cases: autoconfig only (the account written into a new file,
# 0600, then synced with mailsyncd --once; --pop3 and --maildir on the
# same servers), autodiscover only (a POST, one redirect followed), SRV
# only (appended to an existing file whose comments stay, a running
# daemon reloaded), guesses on the standard ports (under the MX host's
# domain and the address's own), conflicting sources (the verified probe
# wins), a plaintext-only host and a certificate for another name (both
# refused, with why), an OAuth-only provider (Google, by its host name)
# named and --password-cmd refused for it, no --yes without a terminal,
# and at a terminal (a pty): password_cmd asked, the write confirmed or
# declined, the reload offered.
#
# Guesses use the standard ports (993, 143, 465, 587, 443): the test runs
# as root (as the Dovecot fixture does) and puts a TCP forwarder on those
# ports of its own loopback addresses (127.77.x.y), so nothing in
# mailsyncctl knows it is being tested.
LIB="$MS_SOURCE_DIR/tests/integration/lib"
. "$LIB/dovecot.sh"
. "$LIB/smtp.sh"
. "$LIB/dns.sh"
ms_trap_install

FAILS=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }
ok() { printf 'ok: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { ms_missing "test_setup binds ports 443 and 993 on 127.77.x.y: run as root"; exit $?; }

T="$(ms_tmpdir_make ms-setup)" || exit 1
ms_cleanup_add "ms_tmpdir_remove '$T' 0"

# One certificate from the fixtures' CA for every test domain but
# other.test (the wrong-name case), also presented by Dovecot and the SMTP
# receiver (they read MS_TLS_CERT when they start).
ms_tls_ensure || exit 1
_ms_tls_leaf "$MS_TLS_DIR" setup localhost \
	"DNS:localhost, DNS:*.ac.test, DNS:ad.test, DNS:*.ad.test, DNS:*.srv.test, DNS:*.guess.test, DNS:*.provider.test, DNS:*.mix.test, DNS:*.plain.test, DNS:imap.gmail.com, IP:127.0.0.1" || exit 1
openssl x509 -req -in "$MS_TLS_DIR/setup.csr" -CA "$MS_TLS_CA" -CAkey "$MS_TLS_CA_KEY" \
	-CAcreateserial -days 30 -sha256 -extfile "$MS_TLS_DIR/setup.ext" \
	-out "$MS_TLS_DIR/setup.pem" 2>/dev/null || exit 1
export MS_TLS_CERT="$MS_TLS_DIR/setup.pem" MS_TLS_KEY="$MS_TLS_DIR/setup.key"

dovecot_start || exit $?
smtp_sink_start --tls implicit || exit $?
mkdir -p "$T/home" "$T/run" && chmod 0700 "$T/run"
dovecot_doveadm save -u "$MS_USER1" -m INBOX < "$(ms_corpus_dir 2>/dev/null || echo "$MS_CORPUS")/messages/cpython/0683.eml" ||
	{ fail "cannot put a message into INBOX"; exit 1; }

# Two loopback addresses of our own: one for the web server and the
# guessed hosts, one nobody listens on.
A="127.77.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))"
SMTP_PLAIN_PORT=""

# --- the web server: autoconfig files ------------------------------------------
mkdir -p "$T/www/mail"
autoconfig()
{
	# autoconfig FILE IMAP-HOST IMAP-PORT IMAP-SOCKET SMTP-HOST SMTP-PORT EXTRA
	cat > "$1" <<EOX
<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="test">
    <domain>test</domain>
    <displayName>Test &amp; Co</displayName>
    <incomingServer type="imap">
      <hostname>$2</hostname>
      <port>$3</port>
      <socketType>$4</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    $7
    <outgoingServer type="smtp">
      <hostname>$5</hostname>
      <port>$6</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
EOX
}
# ac.test names localhost, which mailsyncd (the system's resolver) finds too.
autoconfig "$T/www/mail/config-v1.1.xml" localhost "$MS_IMAPS_PORT" SSL \
	localhost "$MS_SMTP_PORT" \
	"<incomingServer type=\"pop3\"><hostname>localhost</hostname><port>$MS_POP3S_PORT</port><socketType>SSL</socketType></incomingServer>"
# mix.test: autoconfig says implicit TLS on the plaintext port (wrong),
# SRV gives the right port; and a POP3 server marked plain.
autoconfig "$T/www/mix.xml" imap.mix.test "$MS_IMAP_PORT" SSL \
	smtp.mix.test "$MS_SMTP_PORT" \
	"<incomingServer type=\"pop3\"><hostname>imap.mix.test</hostname><port>$MS_POP3_PORT</port><socketType>plain</socketType></incomingServer>"
# ad.test: autodiscover only; its first answer redirects (redirectUrl) to
# a second place, which gives IMAP and SMTP over implicit TLS and a POP3
# server without TLS.
mkdir -p "$T/www/autodiscover" "$T/www/ad2"
cat > "$T/www/autodiscover/autodiscover.xml" <<EOX
<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account><Action>redirectUrl</Action>
      <RedirectUrl>https://autodiscover.ad.test/ad2/autodiscover.xml</RedirectUrl></Account>
  </Response>
</Autodiscover>
EOX
cat > "$T/www/ad2/autodiscover.xml" <<EOX
<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol><Type>IMAP</Type><Server>localhost</Server><Port>$MS_IMAPS_PORT</Port>
        <LoginName>$MS_USER1</LoginName><Encryption>SSL</Encryption></Protocol>
      <Protocol><Type>POP3</Type><Server>localhost</Server><Port>$MS_POP3_PORT</Port>
        <SSL>off</SSL></Protocol>
      <Protocol><Type>SMTP</Type><Server>localhost</Server><Port>$MS_SMTP_PORT</Port>
        <Encryption>SSL</Encryption></Protocol>
    </Account>
  </Response>
</Autodiscover>
EOX
"$MS_PYTHON" "$LIB/https_serve.py" --dir "$T/www" --cert "$MS_TLS_CERT" --key "$MS_TLS_KEY" \
	--addr "$A" --port 443 --port-file "$T/https.port" --log "$T/https.log" > "$T/https.out" 2>&1 &
HTTPS_PID=$!
ms_cleanup_add "ms_pid_stop $HTTPS_PID https"
ms_wait_port_file "$T/https.port" "$HTTPS_PID" "https server" "$T/https.out" > /dev/null || exit 1

# --- standard ports on $A, forwarded to the fixtures ------------------------------
"$MS_PYTHON" "$LIB/tcp_forward.py" --addr "$A" --ready "$T/fwd.ready" \
	"993=$MS_IMAPS_PORT" "143=$MS_IMAP_PORT" "465=$MS_SMTP_PORT" > "$T/fwd.out" 2>&1 &
FWD_PID=$!
ms_cleanup_add "ms_pid_stop $FWD_PID forward"
ms_wait_port_file "$T/fwd.ready" "$FWD_PID" "forwarder" "$T/fwd.out" > /dev/null || exit 1

# --- DNS ---------------------------------------------------------------------------
dns_start --domain test \
	"host-record=autoconfig.ac.test,$A" \
	"host-record=autodiscover.ad.test,$A" \
	"host-record=ad.test,$A" \
	"srv-host=_imaps._tcp.gm.test,imap.gmail.com,$MS_IMAPS_PORT,0,0" \
	"host-record=imap.gmail.com,127.0.0.1" \
	"srv-host=_imaps._tcp.srv.test,imap.srv.test,$MS_IMAPS_PORT,0,0" \
	"srv-host=_imap._tcp.srv.test,imap.srv.test,$MS_IMAP_PORT,0,0" \
	"srv-host=_pop3s._tcp.srv.test,pop.srv.test,$MS_POP3S_PORT,10,0" \
	"srv-host=_pop3._tcp.srv.test,pop.srv.test,$MS_POP3_PORT,10,0" \
	"srv-host=_submissions._tcp.srv.test,smtp.srv.test,$MS_SMTP_PORT,0,0" \
	"srv-host=_submission._tcp.srv.test" \
	"host-record=imap.srv.test,127.0.0.1" \
	"host-record=pop.srv.test,127.0.0.1" \
	"host-record=smtp.srv.test,127.0.0.1" \
	"mx-host=guess.test,mx1.provider.test,10" \
	"host-record=imap.guess.test,$A" \
	"host-record=smtp.provider.test,$A" \
	"host-record=autoconfig.mix.test,$A" \
	"host-record=imap.mix.test,127.0.0.1" \
	"host-record=smtp.mix.test,127.0.0.1" \
	"srv-host=_imaps._tcp.mix.test,imap.mix.test,$MS_IMAPS_PORT,0,0" \
	"srv-host=_imaps._tcp.other.test,imap.other.test,$MS_IMAPS_PORT,0,0" \
	"host-record=imap.other.test,127.0.0.1" \
	|| exit $?

RES="127.0.0.1:$MS_DNS_PORT"
# The user's environment: a home of its own, no config yet.
export HOME="$T/home" XDG_RUNTIME_DIR="$T/run"
unset XDG_CONFIG_HOME MAILSYNC_CONFIG XDG_DATA_HOME
printf '#!/bin/sh\nprintf %%s "%s"\n' "$MS_PASS1" > "$T/pw.sh"
printf '#!/bin/sh\necho not-a-real-token\n' > "$T/tok.sh"
chmod 0700 "$T/pw.sh" "$T/tok.sh"

setup()
{
	# setup ARGS...: mailsyncctl setup, bounded; stdout+stderr in $T/out.
	timeout 120 "$MAILSYNCCTL" setup --resolver "$RES" --ca-file "$MS_TLS_CA" "$@" > "$T/out" 2>&1
}
row() { grep -E "^[ *] *[0-9]+  $1 +$2 " "$T/out"; }

# --- autoconfig only: a new file, then mailsyncd --once -----------------------------
CONF="$HOME/.config/mailsync/config.ini"
if setup alice@ac.test --password-cmd "$T/pw.sh" --yes; then
	ok "autoconfig: setup wrote the account"
else
	fail "autoconfig: setup failed: $(cat "$T/out")"
fi
row IMAP "localhost:$MS_IMAPS_PORT" | grep -q '^\*.*implicit  autoconfig .*ok: TLSv1.[23] verified, auth .*PLAIN' &&
	ok "autoconfig: IMAP over implicit TLS recommended" || fail "autoconfig IMAP row: $(cat "$T/out")"
row POP3 "localhost:$MS_POP3S_PORT" | grep -q '^ .* ok: ' && ok "autoconfig: POP3 shown, not chosen" ||
	fail "autoconfig POP3 row: $(cat "$T/out")"
row SMTP "localhost:$MS_SMTP_PORT" | grep -q '^\*.*ok: ' && ok "autoconfig: SMTP chosen" ||
	fail "autoconfig SMTP row: $(cat "$T/out")"
grep -q "Host: autoconfig.ac.test\|^autoconfig.ac.test" "$T/https.log" && grep -q 'config-v1.1.xml?emailaddress=alice@ac.test' "$T/https.log" &&
	ok "autoconfig fetched from https://autoconfig.ac.test (port 443, through --resolver)" ||
	fail "https log: $(cat "$T/https.log")"
! grep -q 'guess' "$T/out" && ok "autoconfig: no guessing once servers worked" || fail "guesses made: $(cat "$T/out")"
grep -q "mailsyncd is not running: .*mailsyncd --once ac.test" "$T/out" &&
	ok "no daemon: setup works and says how to start the account" || fail "no daemon: $(cat "$T/out")"
if [ -f "$CONF" ] && [ "$(stat -c %a "$CONF")" = 600 ]; then
	ok "new config file $CONF, mode 0600"
else
	fail "config file: $(ls -l "$CONF" 2>&1)"
fi
grep -q "^\[account ac.test\]" "$CONF" && grep -q "^host = localhost" "$CONF" &&
	grep -q "^port = $MS_IMAPS_PORT" "$CONF" && grep -q '^tls = implicit' "$CONF" &&
	grep -q "^user = $MS_USER1\$" "$CONF" && grep -q "^password_cmd = $T/pw.sh" "$CONF" &&
	grep -q "^smtp_host = localhost" "$CONF" && grep -q "^ca_file = $MS_TLS_CA" "$CONF" &&
	ok "account section as expected" || fail "section: $(cat "$CONF")"
! grep -q "$MS_PASS1" "$CONF" && ok "no password in the file" || fail "the password is in the file"
"$MAILSYNCD" -c "$CONF" --check-config > "$T/check" 2>&1 && ok "--check-config accepts it" ||
	fail "--check-config: $(cat "$T/check")"
if timeout 120 "$MAILSYNCD" --once ac.test > "$T/once" 2>&1; then
	ok "mailsyncd --once syncs the written account"
else
	fail "--once: $(cat "$T/once")"
fi
n="$(find "$HOME/Mail/ac.test" -type f -path '*/new/*' -o -type f -path '*/cur/*' 2>/dev/null | wc -l)"
[ "$n" -ge 1 ] && ok "the message is in ~/Mail/ac.test ($n file)" || fail "Maildir: $n files"

# --- --pop3 and --maildir on the same servers: POP3 recommended -----------------------
if setup alice@ac.test --pop3 --account acpop --maildir "$T/popmail" --password-cmd "$T/pw.sh" --dry-run; then
	ok "--pop3: setup found servers"
else
	fail "--pop3: $(cat "$T/out")"
fi
row POP3 "localhost:$MS_POP3S_PORT" | grep -q '^\*.*implicit  autoconfig .*ok: ' &&
	row IMAP "localhost:$MS_IMAPS_PORT" | grep -q '^ .* ok: ' &&
	grep -q 'Recommended for reading: #[0-9]* (POP3, implicit TLS)$' "$T/out" &&
	ok "--pop3: POP3 recommended over a working IMAP" || fail "--pop3 rows: $(cat "$T/out")"
grep -q '^\[account acpop\]' "$T/out" && grep -q '^protocol = pop3' "$T/out" &&
	grep -q "^port = $MS_POP3S_PORT" "$T/out" && grep -q "^maildir = $T/popmail\$" "$T/out" &&
	ok "--pop3: the section reads POP3, --account and --maildir taken" || fail "--pop3 section: $(cat "$T/out")"
! grep -q acpop "$CONF" && ok "--dry-run: nothing written" || fail "--dry-run wrote: $(cat "$CONF")"

# --- without --ca-file the fixtures' CA is not trusted: the same servers are refused ------
timeout 120 "$MAILSYNCCTL" setup --resolver "$RES" alice@ac.test --dry-run > "$T/out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q 'autoconfig https://autoconfig.ac.test/.*: .*certificate' "$T/out" &&
	grep -q 'no server of ac.test passed the probe' "$T/out" &&
	ok "without --ca-file: the autoconfig server's certificate is not trusted" ||
	fail "no --ca-file (autoconfig): rc $rc $(cat "$T/out")"
timeout 120 "$MAILSYNCCTL" setup --resolver "$RES" bob@srv.test --dry-run > "$T/out" 2>&1
rc=$?
[ "$rc" = 1 ] && row IMAP "imap.srv.test:$MS_IMAPS_PORT" | grep -q 'refused: .*certificate' &&
	row SMTP "smtp.srv.test:$MS_SMTP_PORT" | grep -q 'refused: .*certificate' &&
	ok "without --ca-file: the probes refuse the servers' certificates" ||
	fail "no --ca-file (probes): rc $rc $(cat "$T/out")"

# --- no --yes and no terminal: nothing written, say how ---------------------------------
cp "$CONF" "$T/conf.before"
setup alice@ac.test --account noyes --password-cmd "$T/pw.sh" < /dev/null
rc=$?
[ "$rc" = 2 ] && grep -q 'Not written (confirm on a terminal, or give --yes)' "$T/out" &&
	cmp -s "$CONF" "$T/conf.before" && ok "without --yes and a terminal: nothing written (exit 2)" ||
	fail "no --yes: rc $rc $(cat "$T/out")"

# --- autodiscover only, with one redirect --------------------------------------------------
if setup grace@ad.test --password-cmd "$T/pw.sh" --dry-run; then
	ok "autodiscover: setup found servers"
else
	fail "autodiscover: $(cat "$T/out")"
fi
row IMAP "localhost:$MS_IMAPS_PORT" | grep -q '^\*.*implicit  autodiscover .*ok: ' &&
	ok "autodiscover: IMAP over implicit TLS recommended" || fail "autodiscover IMAP: $(cat "$T/out")"
row SMTP "localhost:$MS_SMTP_PORT" | grep -q '^\*.*implicit  autodiscover .*ok: ' &&
	ok "autodiscover: SMTP chosen" || fail "autodiscover SMTP: $(cat "$T/out")"
row POP3 "localhost:$MS_POP3_PORT" | grep -q 'refused: the autodiscover answer says plain' &&
	ok "autodiscover: a server without TLS refused" || fail "autodiscover POP3: $(cat "$T/out")"
grep -q "^user = $MS_USER1\$" "$T/out" && ok "autodiscover: LoginName is the user" ||
	fail "autodiscover user: $(cat "$T/out")"
grep -q 'autodiscover.ad.test POST body (text/xml.*<EMailAddress>grace@ad.test</EMailAddress>' "$T/https.log" &&
	grep -q '"POST /autodiscover/autodiscover.xml' "$T/https.log" && grep -q '"POST /ad2/autodiscover.xml' "$T/https.log" &&
	ok "autodiscover: POSTed for the address, the redirect followed" || fail "https log: $(cat "$T/https.log")"
grep -q 'Not used: .*autoconfig https://ad.test/.well-known/autoconfig/mail/config-v1.1.xml: HTTP 404$\|^ *autoconfig https://ad.test/.well-known/autoconfig/mail/config-v1.1.xml: HTTP 404$' "$T/out" &&
	ok "autodiscover: the autoconfig place without a file is reported as HTTP 404" || fail "404 note: $(cat "$T/out")"

# --- a provider that takes only OAuth (by its host name) ------------------------------------
setup henry@gm.test --password-cmd "$T/pw.sh" --yes -c "$T/gm.ini"
rc=$?
row IMAP "imap.gmail.com:$MS_IMAPS_PORT" | grep -q '^\*.*SRV .*ok: .*OAuth required by Google' &&
	ok "OAuth: the provider named in the table" || fail "OAuth row: $(cat "$T/out")"
[ "$rc" = 2 ] && grep -q 'Google takes only OAuth here; give --oauth-token-cmd' "$T/out" && [ ! -e "$T/gm.ini" ] &&
	ok "OAuth: --password-cmd refused, nothing written" || fail "OAuth password: rc $rc $(cat "$T/out")"
if setup henry@gm.test --oauth-token-cmd "$T/tok.sh" --dry-run; then
	grep -q '^auth = xoauth2' "$T/out" && grep -q "^oauth_token_cmd = $T/tok.sh" "$T/out" &&
		! grep -q '^password_cmd' "$T/out" && ok "OAuth: the section asks for a token" ||
		fail "OAuth section: $(cat "$T/out")"
else
	fail "OAuth dry run: $(cat "$T/out")"
fi

# --- SRV only, into an existing file with comments; the daemon reloads ---------------
CONF2="$T/existing.ini"
cat > "$CONF2" <<EOC
; my own notes, kept
[general]
store = $T/store2   ; inline comment
socket = $T/run/ms2.sock

# an account of before
[account old]
protocol = imap
host = localhost
port = $MS_IMAPS_PORT
ca_file = $MS_TLS_CA
user = $MS_USER1
password_cmd = $T/pw.sh
EOC
chmod 0640 "$CONF2"
"$MAILSYNCD" -c "$CONF2" > "$T/daemon.log" 2>&1 &
DPID=$!
ms_cleanup_add "ms_pid_stop $DPID mailsyncd"
for ((i = 0; i < 100; i++)); do [ -S "$T/run/ms2.sock" ] && break; sleep 0.1; done
before="$(cat "$CONF2")"
if setup bob@srv.test --password-cmd "$T/pw.sh" --account srvacct --yes -c "$CONF2"; then
	ok "SRV: setup wrote the account"
else
	fail "SRV: setup failed: $(cat "$T/out")"
fi
row IMAP "imap.srv.test:$MS_IMAPS_PORT" | grep -q '^\*.*implicit  SRV .*ok: ' && ok "SRV: _imaps chosen" ||
	fail "SRV IMAP row: $(cat "$T/out")"
row IMAP "imap.srv.test:$MS_IMAP_PORT" | grep -q '^ .*STARTTLS  SRV .*ok: ' && ok "SRV: _imap probed with STARTTLS" ||
	fail "SRV STARTTLS row: $(cat "$T/out")"
grep -q '_submission._tcp.srv.test: not offered' "$T/out" && ok "SRV: target \".\" reported as not offered" ||
	fail "SRV '.': $(cat "$T/out")"
[ "$(head -c "${#before}" "$CONF2")" = "$before" ] && ok "existing file: every byte kept, comments too" ||
	fail "existing file changed: $(cat "$CONF2")"
[ "$(stat -c %a "$CONF2")" = 640 ] && ok "existing file keeps its mode" || fail "mode: $(stat -c %a "$CONF2")"
grep -q 'mailsyncd reloaded' "$T/out" && ok "the running daemon was reloaded" || fail "reload: $(cat "$T/out")"
for ((i = 0; i < 100; i++)); do grep -q 'srvacct' "$T/daemon.log" && break; sleep 0.1; done
grep -q 'srvacct' "$T/daemon.log" && ok "the daemon knows the new account" || fail "daemon log: $(tail -5 "$T/daemon.log")"

# --- a configuration kept as a symbolic link (dotfiles): written through ----------
# The link stays a link, its target gets the account and keeps its mode.
mkdir -p "$T/dotfiles" "$T/linked"
printf '; kept in a repository\n[general]\nstore = %s\nsocket = %s\n' \
	"$T/store3" "$T/run/ms3.sock" > "$T/dotfiles/mailsync.ini"
chmod 0640 "$T/dotfiles/mailsync.ini"
ln -s ../dotfiles/mailsync.ini "$T/linked/config.ini"
if setup bob@srv.test --password-cmd "$T/pw.sh" --account linkacct --yes -c "$T/linked/config.ini"; then
	ok "symlink: setup wrote the account"
else
	fail "symlink: setup failed: $(cat "$T/out")"
fi
[ -L "$T/linked/config.ini" ] && grep -q '^\[account linkacct\]' "$T/dotfiles/mailsync.ini" &&
	ok "symlink: the link stays, its target has the account" ||
	fail "symlink: $(ls -l "$T/linked/config.ini"; grep -c linkacct "$T/dotfiles/mailsync.ini")"
[ "$(stat -c %a "$T/dotfiles/mailsync.ini")" = 640 ] && ok "symlink: the target keeps its mode" ||
	fail "symlink target mode: $(stat -c %a "$T/dotfiles/mailsync.ini")"
ls "$T/dotfiles" "$T/linked" | grep -q 'setup-' && fail "symlink: a temporary file left: $(ls "$T/dotfiles" "$T/linked")" ||
	ok "symlink: no temporary file left"

# --- a file too large to be a configuration: said so, nothing written -------------
head -c $((17 << 20)) /dev/zero | tr '\0' ';' > "$T/big.ini"
sum="$(md5sum < "$T/big.ini")"
setup bob@srv.test --password-cmd "$T/pw.sh" --account bigacct --yes -c "$T/big.ini"
rc=$?
[ "$rc" != 0 ] && grep -q "$T/big.ini is larger than 16 MiB" "$T/out" &&
	! grep -q 'cannot read' "$T/out" && [ "$(md5sum < "$T/big.ini")" = "$sum" ] &&
	ok "a 17 MiB file: the reason said, the file unchanged" ||
	fail "a 17 MiB file: rc $rc: $(grep "mailsyncctl: setup" "$T/out")"
rm -f "$T/big.ini"

# --- at a terminal: password_cmd asked, the write confirmed, the reload offered --------
asked()
{
	# asked ANSWER-TO-WRITE ANSWER-TO-RELOAD ARGS...: setup on a pty
	local w="$1" r="$2"
	shift 2
	timeout 120 "$MS_PYTHON" "$LIB/pty_answer.py" --timeout 100 \
		--answer "password_cmd: =$T/pw.sh" --answer "Write it? [y/N] =$w" \
		${r:+--answer "reload its configuration now? [Y/n] =$r"} -- \
		"$MAILSYNCCTL" setup --resolver "$RES" --ca-file "$MS_TLS_CA" "$@" > "$T/out" 2>&1
}
cp "$CONF2" "$T/conf2.before"
asked n "" bob@srv.test --account ivy -c "$CONF2"
rc=$?
[ "$rc" = 0 ] && grep -q '^Not written\.' "$T/out" && cmp -s "$CONF2" "$T/conf2.before" &&
	ok "terminal: 'n' writes nothing (exit 0)" || fail "terminal n: rc $rc $(cat "$T/out")"
asked y " " bob@srv.test --account ivy -c "$CONF2"
rc=$?
[ "$rc" = 0 ] && grep -q 'The password is never written to the file' "$T/out" &&
	grep -q 'mailsyncd reloaded' "$T/out" && grep -q '^\[account ivy\]' "$CONF2" &&
	grep -q "^password_cmd = $T/pw.sh" "$CONF2" &&
	ok "terminal: password_cmd asked, written on 'y', reload taken by default" ||
	fail "terminal y: rc $rc $(cat "$T/out")"
for ((i = 0; i < 100; i++)); do grep -q 'ivy' "$T/daemon.log" && break; sleep 0.1; done
grep -q 'ivy' "$T/daemon.log" && ok "the daemon knows the account set up at the terminal" ||
	fail "daemon log: $(tail -5 "$T/daemon.log")"
ms_pid_stop "$DPID" mailsyncd && ms_cleanup_remove "ms_pid_stop $DPID mailsyncd"
setup bob@srv.test --password-cmd "$T/pw.sh" --account srvacct --yes -c "$CONF2"
grep -q 'already has \[account srvacct\]' "$T/out" && ok "an existing account name is refused" ||
	fail "duplicate: $(cat "$T/out")"

# --- guesses on the standard ports: MX host's domain, then the address's ---------------
if setup carol@guess.test --dry-run; then ok "guess: setup found servers"; else fail "guess: $(cat "$T/out")"; fi
row IMAP "imap.guess.test:993" | grep -q '^\*.*implicit  guess .*ok: ' && ok "guess: imap.guess.test:993 chosen" ||
	fail "guess IMAP: $(cat "$T/out")"
row IMAP "imap.guess.test:143" | grep -q 'STARTTLS  guess .*ok: ' && ok "guess: imap.guess.test:143 with STARTTLS" ||
	fail "guess IMAP 143: $(cat "$T/out")"
row SMTP "smtp.provider.test:465" | grep -q '^\*.*implicit  MX .*ok: ' && ok "guess: smtp under the MX host's domain chosen" ||
	fail "MX SMTP: $(cat "$T/out")"
row SMTP "smtp.provider.test:587" | grep -q 'refused: .*connection refused' && ok "guess: closed port refused with why" ||
	fail "MX 587: $(cat "$T/out")"
grep -q 'do not exist: .*pop.guess.test' "$T/out" && ok "guess: missing hosts listed" || fail "missing: $(cat "$T/out")"
grep -q -- '--dry-run: nothing written' "$T/out" && ! grep -q 'guess.test' "$CONF" "$CONF2" &&
	ok "--dry-run writes nothing" || fail "dry run wrote"

# --- conflicting sources: the verified probe wins --------------------------------------
if setup dave@mix.test --dry-run --autoconfig-url "https://autoconfig.mix.test/mix.xml"; then
	ok "mix: setup found servers"
else
	fail "mix: $(cat "$T/out")"
fi
row IMAP "imap.mix.test:$MS_IMAP_PORT" | grep -q 'autoconfig .*refused: .*without TLS on this port' &&
	ok "mix: autoconfig's wrong TLS mode refused, with the STARTTLS hint" || fail "mix autoconfig row: $(cat "$T/out")"
row IMAP "imap.mix.test:$MS_IMAPS_PORT" | grep -q '^\*.*SRV .*ok: ' && ok "mix: SRV's verified server wins" ||
	fail "mix SRV row: $(cat "$T/out")"
row POP3 "imap.mix.test:$MS_POP3_PORT" | grep -q 'refused: the autoconfig file says plain' &&
	ok "mix: a plain autoconfig server refused" || fail "mix plain: $(cat "$T/out")"

# --- a certificate for another name --------------------------------------------------
setup erin@other.test --dry-run
row IMAP "imap.other.test:$MS_IMAPS_PORT" | grep -q 'refused: TLS certificate of imap.other.test.* refused: .*it is for .*localhost.*\*\.ac\.test' &&
	ok "wrong name: refused, the certificate's names shown" || fail "wrong name: $(cat "$T/out")"
grep -q 'no server of other.test passed the probe' "$T/out" && ok "wrong name: nothing proposed" ||
	fail "other.test: $(cat "$T/out")"

# --- a host offering only plaintext -------------------------------------------------------
smtp_sink_stop
smtp_sink_start --tls starttls --strip-starttls || exit $?
dns_stop
dns_start --domain test \
	"srv-host=_submission._tcp.plain.test,smtp.plain.test,$MS_SMTP_PORT,0,0" \
	"host-record=smtp.plain.test,127.0.0.1" || exit $?
RES="127.0.0.1:$MS_DNS_PORT"
setup frank@plain.test --dry-run
row SMTP "smtp.plain.test:$MS_SMTP_PORT" | grep -q 'refused: offers no STARTTLS: plaintext only' &&
	ok "plaintext-only host refused" || fail "plain: $(cat "$T/out")"

# --- usage -----------------------------------------------------------------------------
timeout 10 "$MAILSYNCCTL" setup not-an-address > "$T/out" 2>&1
[ $? = 2 ] && grep -q 'not a mail address' "$T/out" && ok "a bad address is a usage error" ||
	fail "bad address: $(cat "$T/out")"
timeout 10 "$MAILSYNCCTL" setup a@b.test --resolver nonsense > "$T/out" 2>&1
[ $? = 2 ] && grep -q -- '--resolver nonsense' "$T/out" && ok "a bad --resolver is a usage error" ||
	fail "bad resolver: $(cat "$T/out")"

# --- mailsyncctl without its setup helper ---------------------------------------------
# setup runs in mailsyncctl-setup (c-ares and libcurl stay out of mailsyncctl):
# a mailsyncctl alone says what is missing.
mkdir -p "$T/alone" && cp "$MAILSYNCCTL" "$T/alone/mailsyncctl"
timeout 10 "$T/alone/mailsyncctl" setup a@b.test --dry-run > "$T/out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q 'its helper mailsyncctl-setup is missing' "$T/out" &&
	ok "without its helper, setup says so" || fail "no helper: rc $rc: $(cat "$T/out")"
# The other commands do not load c-ares or libcurl.
ldd "$MAILSYNCCTL" | grep -qE 'libcurl|libcares' &&
	fail "mailsyncctl links libcurl or c-ares: $(ldd "$MAILSYNCCTL" | grep -E 'curl|cares')" ||
	ok "mailsyncctl loads neither libcurl nor c-ares"

[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)"; exit 1; }
echo "all ok"
