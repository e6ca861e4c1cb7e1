#!/usr/bin/python3
"""Independent reference client (Python's imaplib/poplib/smtplib) that tests
use to look at the servers from outside mailsync.

Every subcommand connects to --connect (default 127.0.0.1, where the
fixtures listen) and verifies TLS against --ca (or the system store without
it) with host-name checking for --host (default localhost).
Exit codes: 0 ok, 2 usage, 3 TLS verification failed, 4 authentication
refused, 5 protocol or other error.

  capability     IMAP: log in, print the post-login CAPABILITY line
  list           IMAP: print LIST "" "*" as "FLAGS<TAB>NAME" (names decoded)
  fetch          IMAP: write BODY.PEEK[] of --folder/--uid to --out, print
                 its flags (sorted, without \Recent; "-" for none)
  status         IMAP: print MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ of --folder
  pop3-list      POP3: log in, print "N SIZE UIDL" per message
  smtp-send      SMTP: send --file from --from to --to (repeatable)
"""
import argparse
import imaplib
import poplib
import re
import smtplib
import socket
import ssl
import sys

import mutf7


class Fail(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def connect_to(addr):
    """All three client modules open their sockets through
    socket.create_connection with the name they verify; send them to addr."""
    real = socket.create_connection

    def create_connection(address, *a, **kw):
        return real((addr, address[1]), *a, **kw)
    socket.create_connection = create_connection


def tls_context(args):
    ctx = ssl.create_default_context(cafile=args.ca) if args.ca else ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def open_session(args, implicit, plain, starttls):
    """Connects as --tls says: implicit(ctx) or plain() then starttls(c, ctx)."""
    ctx = tls_context(args)
    try:
        if args.tls == "implicit":
            return implicit(ctx)
        c = plain()
        if args.tls == "starttls":
            starttls(c, ctx)
        return c
    except ssl.SSLCertVerificationError as e:
        raise Fail(3, "TLS verification failed: %s" % e)


def imap_connect(args):
    c = open_session(
        args,
        lambda ctx: imaplib.IMAP4_SSL(args.host, args.port, ssl_context=ctx, timeout=args.timeout),
        lambda: imaplib.IMAP4(args.host, args.port, timeout=args.timeout),
        lambda c, ctx: c.starttls(ssl_context=ctx))
    if args.tls == "none" and not args.plain_ok:
        raise Fail(2, "refusing to log in without TLS (use --plain-ok)")
    try:
        c.login(args.user, args.password)
    except imaplib.IMAP4.error as e:
        raise Fail(4, "IMAP login refused: %s" % e)
    return c


def check(typ, data, what):
    if typ != "OK":
        raise Fail(5, "%s: %s %s" % (what, typ, data))
    return data


def cmd_capability(args):
    c = imap_connect(args)
    data = check(*c.capability(), "CAPABILITY")
    print(data[-1].decode())
    c.logout()


def cmd_list(args):
    c = imap_connect(args)
    for line in check(*c.list('""', "*"), "LIST"):
        m = re.match(rb'\((.*?)\) (?:"(.)"|NIL) (.*)$', line)
        name = m.group(3).decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        print("%s\t%s" % (m.group(1).decode(), mutf7.decode(name)))
    c.logout()


def select(c, folder):
    return check(*c.select('"%s"' % mutf7.encode(folder), readonly=True), "SELECT " + folder)


def cmd_fetch(args):
    c = imap_connect(args)
    select(c, args.folder)
    data = check(*c.uid("FETCH", str(args.uid), "(FLAGS RFC822.SIZE BODY.PEEK[])"), "FETCH")
    if not data or not isinstance(data[0], tuple):
        raise Fail(5, "no message with UID %d in %s" % (args.uid, args.folder))
    body = data[0][1]
    # RFC822.SIZE comes before or after the literal, depending on the server.
    rest = b" ".join(d for d in data[1:] if isinstance(d, bytes))
    meta = data[0][0] + b" " + rest
    size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))
    flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()
    # Printed sorted and without \Recent (which depends on who looked first).
    print(" ".join(sorted(f for f in flags if f != "\\Recent")) or "-")
    if size != len(body):
        raise Fail(5, "RFC822.SIZE %d but BODY[] has %d bytes" % (size, len(body)))
    with open(args.out, "wb") as f:
        f.write(body)
    c.logout()


def cmd_status(args):
    c = imap_connect(args)
    data = check(*c.status('"%s"' % mutf7.encode(args.folder),
                           "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ UNSEEN)"), "STATUS")
    print(re.search(rb"\((.*)\)", data[0]).group(1).decode())
    c.logout()


def cmd_pop3_list(args):
    p = open_session(
        args,
        lambda ctx: poplib.POP3_SSL(args.host, args.port, context=ctx, timeout=args.timeout),
        lambda: poplib.POP3(args.host, args.port, timeout=args.timeout),
        lambda c, ctx: c.stls(context=ctx))
    try:
        p.user(args.user)
        p.pass_(args.password)
    except poplib.error_proto as e:
        raise Fail(4, "POP3 login refused: %s" % e)
    _, lst, _ = p.list()
    _, uidl, _ = p.uidl()
    uids = dict(l.decode().split() for l in uidl)
    for l in lst:
        n, size = l.decode().split()
        print(n, size, uids.get(n, "-"))
    p.quit()


def cmd_smtp_send(args):
    with open(args.file, "rb") as f:
        data = f.read()
    s = open_session(
        args,
        lambda ctx: smtplib.SMTP_SSL(args.host, args.port, context=ctx, timeout=args.timeout),
        lambda: smtplib.SMTP(args.host, args.port, timeout=args.timeout),
        lambda c, ctx: c.starttls(context=ctx))
    try:
        if args.user:
            s.login(args.user, args.password)
    except smtplib.SMTPAuthenticationError as e:
        raise Fail(4, "SMTP AUTH refused: %s" % e)
    try:
        refused = s.sendmail(args.mail_from, args.to, data)
    except smtplib.SMTPException as e:
        raise Fail(5, "SMTP send failed: %s" % e)
    for rcpt, (code, msg) in refused.items():
        print("refused %s %d %s" % (rcpt, code, msg.decode()))
    s.quit()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("capability", "list", "fetch", "status", "pop3-list", "smtp-send"))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="localhost", help="name the certificate must match")
    ap.add_argument("--connect", default="127.0.0.1", help="address to connect to")
    ap.add_argument("--tls", choices=("implicit", "starttls", "none"), default="implicit")
    ap.add_argument("--ca", help="CA file; default: the system trust store")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--plain-ok", action="store_true", help="allow login without TLS")
    ap.add_argument("--folder", default="INBOX")
    ap.add_argument("--uid", type=int)
    ap.add_argument("--out")
    ap.add_argument("--file")
    ap.add_argument("--from", dest="mail_from")
    ap.add_argument("--to", action="append")
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()
    connect_to(args.connect)
    cmds = {"capability": cmd_capability, "list": cmd_list, "fetch": cmd_fetch,
            "status": cmd_status, "pop3-list": cmd_pop3_list, "smtp-send": cmd_smtp_send}
    try:
        cmds[args.command](args)
    except Fail as e:
        print("mailclient: %s" % e, file=sys.stderr)
        sys.exit(e.code)
    except ssl.SSLCertVerificationError as e:
        print("mailclient: TLS verification failed: %s" % e, file=sys.stderr)
        sys.exit(3)
    except (OSError, imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPException) as e:
        print("mailclient: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(5)


if __name__ == "__main__":
    main()
