#!/usr/bin/python3
"""A real SMTP receiver for tests (aiosmtpd), on a loopback port.

Every accepted message is stored in --dir as NNN.eml (the DATA bytes exactly
as received after dot-unstuffing, CRLF line ends) and NNN.json (envelope:
mail_from, rcpt_tos, options, peer, helo, tls, auth login, time). The .json
is renamed into place last, so its presence means the message is complete.

--tls none|starttls|implicit; with --auth USER:PASSWORD, AUTH PLAIN and
LOGIN are offered only once the connection is encrypted (after STARTTLS, or
at once with implicit TLS) and MAIL is refused until the client authenticated.
--reject ADDR=CODE (repeatable) answers RCPT TO:<ADDR> with CODE, 4xx (e.g.
451, temporary) or 5xx (e.g. 550, permanent); --reject-data CODE does the same
for every DATA. The listening port (picked by the kernel unless --port) is
written to --port-file once the server accepts connections.

Like RFC 5321 (and aiosmtpd), only CRLF ends a line and a line may have at
most 1000 bytes + CRLF: DATA with bare LF line ends reads as one over-long
line and gets "500 Line too long". A client must send CRLF.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REPLY_TEXT = {
    "4": "4.2.0 temporarily rejected by the test sink, try again later",
    "5": "5.1.1 rejected by the test sink",
}


class Sink:
    def __init__(self, directory, rejects, reject_data, log):
        self.dir = directory
        self.rejects = rejects
        self.reject_data = reject_data
        self.log = log
        existing = [n for n in os.listdir(directory) if n.endswith(".json")]
        self.count = len(existing)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.rejects.get(address.lower())
        if code:
            self.log("RCPT %s -> %s" % (address, code))
            return "%s %s" % (code, REPLY_TEXT[code[0]])
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reject_data:
            self.log("DATA -> %s" % self.reject_data)
            return "%s %s" % (self.reject_data, REPLY_TEXT[self.reject_data[0]])
        self.count += 1
        stem = os.path.join(self.dir, "%03d" % self.count)
        data = envelope.original_content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(stem + ".eml.tmp", "wb") as f:
            f.write(data)
        os.rename(stem + ".eml.tmp", stem + ".eml")
        login = session.login_data
        meta = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "helo": session.host_name,
            "peer": list(session.peer) if session.peer else None,
            "tls": session.ssl is not None or server.implicit_tls,
            "auth_login": login.decode("utf-8", "replace") if isinstance(login, bytes) else login,
            "size": len(data),
            "received": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with open(stem + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        os.rename(stem + ".json.tmp", stem + ".json")
        self.log("stored %s.eml (%d bytes) from %s to %s" % (
            os.path.basename(stem), len(data), envelope.mail_from, envelope.rcpt_tos))
        return "250 2.0.0 OK queued as %03d" % self.count


class SinkSMTP(SMTP):
    implicit_tls = False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", choices=("none", "starttls", "implicit"), default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth", help="USER:PASSWORD")
    ap.add_argument("--reject", action="append", default=[], help="ADDR=CODE")
    ap.add_argument("--reject-data", help="CODE for every DATA")
    ap.add_argument("--log")
    args = ap.parse_args()
    # aiosmtpd warns about auth_required without auth_require_tls, which is
    # what implicit TLS needs (see factory below).
    warnings.simplefilter("ignore")

    os.makedirs(args.dir, exist_ok=True)
    logf = open(args.log, "a", buffering=1, encoding="utf-8") if args.log else sys.stderr

    def log(msg):
        logf.write("%s smtp_sink: %s\n" % (time.strftime("%H:%M:%S"), msg))

    rejects = {}
    for r in args.reject:
        addr, _, code = r.rpartition("=")
        if not addr or not (len(code) == 3 and code[0] in "45" and code.isdigit()):
            sys.exit("smtp_sink: --reject wants ADDR=4xx or ADDR=5xx, not %r" % r)
        rejects[addr.lower()] = code
    if args.reject_data and not (len(args.reject_data) == 3 and args.reject_data[0] in "45"):
        sys.exit("smtp_sink: --reject-data wants 4xx or 5xx")

    ctx = None
    if args.tls != "none":
        if not (args.cert and args.key):
            sys.exit("smtp_sink: --tls %s needs --cert and --key" % args.tls)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)

    user = password = None
    if args.auth:
        if args.tls == "none":
            sys.exit("smtp_sink: --auth needs --tls starttls or implicit (no AUTH in clear text)")
        user, sep, password = args.auth.partition(":")
        if not sep:
            sys.exit("smtp_sink: --auth wants USER:PASSWORD")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode() and auth_data.password == password.encode())
        log("AUTH %s %s: %s" % (mechanism, auth_data.login if isinstance(auth_data, LoginPassword) else "?",
                                "ok" if ok else "refused"))
        # handled=False: aiosmtpd itself answers 535 to a refused login.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    handler = Sink(args.dir, rejects, args.reject_data, log)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        kw = dict(hostname="localhost", ident="mailsync test sink", enable_SMTPUTF8=True,
                  data_size_limit=64 * 1024 * 1024, loop=loop)
        if args.tls == "starttls":
            kw.update(tls_context=ctx, require_starttls=bool(args.auth))
        if args.auth:
            # With implicit TLS the whole session is encrypted, but aiosmtpd
            # only knows about STARTTLS, so its own TLS check must be off.
            kw.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=args.tls != "implicit",
                      auth_exclude_mechanism=[])
        s = SinkSMTP(handler, **kw)
        s.implicit_tls = args.tls == "implicit"
        return s

    server = loop.run_until_complete(loop.create_server(
        factory, host="127.0.0.1", port=args.port,
        ssl=ctx if args.tls == "implicit" else None))
    port = server.sockets[0].getsockname()[1]
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(args.port_file + ".tmp", args.port_file)
    log("listening on 127.0.0.1:%d tls=%s auth=%s rejects=%s" % (
        port, args.tls, "yes" if args.auth else "no", rejects or "none"))
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        log("stopped")


if __name__ == "__main__":
    main()
