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

Scripted faults for a sending client:
  --defer-data N:CODE    the first N messages' final "." get CODE (4xx or 5xx),
                         later ones are accepted
  --drop-after-data N    the first N messages are stored, then the connection
                         is closed before the reply (the "possibly sent" window)
  --stall-data SECONDS   store the first message, then wait this long before
                         replying to its final "." (a kill lands in that window)
  --size N               advertise SIZE N and refuse larger messages
  --no-pipelining        do not advertise PIPELINING (offered by default, with
                         ENHANCEDSTATUSCODES)
  --no-smtputf8          do not advertise SMTPUTF8
  --starttls-reply CODE  answer STARTTLS with CODE (e.g. 454) instead of 220
  --starttls-inject TEXT send TEXT (one line, CRLF added) right after the 220
                         to STARTTLS, before the handshake (an injection)
  --strip-starttls       never advertise STARTTLS, but offer AUTH in plain
                         text (what a stripping attacker shows)
Every AUTH attempt is logged ("AUTH ..."), so a test can prove none was made.

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
    def __init__(self, directory, rejects, reject_data, log, args=None):
        self.dir = directory
        self.rejects = rejects
        self.reject_data = reject_data
        self.log = log
        self.args = args
        self.deferred = 0
        self.dropped = 0
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

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        a = self.args
        out = []
        for r in responses:
            if a and a.strip_starttls and r.endswith("STARTTLS"):
                continue
            if a and a.no_smtputf8 and r.endswith("SMTPUTF8"):
                continue
            out.append(r)
        extra = ["250-ENHANCEDSTATUSCODES"]
        if not (a and a.no_pipelining):
            extra.append("250-PIPELINING")
        return out[:-1] + extra + out[-1:]

    async def handle_DATA(self, server, session, envelope):
        a = self.args
        if a and a.defer_data:
            n, _, code = a.defer_data.partition(":")
            if self.deferred < int(n):
                self.deferred += 1
                self.log("DATA -> %s (deferred %d of %s)" % (code, self.deferred, n))
                return "%s %s" % (code, REPLY_TEXT[code[0]])
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
        if a and a.stall_data and self.count == 1:
            self.log("stalling %s s before the reply" % a.stall_data)
            await asyncio.sleep(a.stall_data)
        if a and self.dropped < a.drop_after_data:
            self.dropped += 1
            self.log("dropping the connection before the reply (%d of %d)" % (
                self.dropped, a.drop_after_data))
            server.transport.abort()
            return "421 4.3.0 dropped by the test sink"
        return "250 2.0.0 OK queued as %03d" % self.count


class SinkSMTP(SMTP):
    implicit_tls = False
    starttls_reply = None
    starttls_inject = None

    async def smtp_STARTTLS(self, arg):
        if self.starttls_reply:
            await self.push("%s 4.7.0 TLS not available (test sink)" % self.starttls_reply)
            return
        if self.starttls_inject:
            # The 220 and the injected line in one write, before TLS: a
            # client must throw the injected bytes away.
            self.transport.write(("220 Ready to start TLS\r\n%s\r\n" %
                                  self.starttls_inject).encode())
            self._inject_220 = True
        return await super().smtp_STARTTLS(arg)

    async def push(self, status):
        # The 220 went out with the injection already.
        if getattr(self, "_inject_220", False) and status.startswith("220 "):
            self._inject_220 = False
            return
        return await super().push(status)


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
    ap.add_argument("--defer-data", help="N:CODE for the first N messages")
    ap.add_argument("--drop-after-data", type=int, default=0)
    ap.add_argument("--stall-data", type=float, default=0)
    ap.add_argument("--size", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--no-pipelining", action="store_true")
    ap.add_argument("--no-smtputf8", action="store_true")
    ap.add_argument("--starttls-reply")
    ap.add_argument("--starttls-inject")
    ap.add_argument("--strip-starttls", action="store_true")
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

    handler = Sink(args.dir, rejects, args.reject_data, log, args)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        kw = dict(hostname="localhost", ident="mailsync test sink", enable_SMTPUTF8=True,
                  data_size_limit=args.size, loop=loop)
        if args.tls == "starttls":
            kw.update(tls_context=ctx,
                      require_starttls=bool(args.auth) and not args.strip_starttls)
        if args.auth:
            # With implicit TLS the whole session is encrypted, but aiosmtpd
            # only knows about STARTTLS, so its own TLS check must be off.
            # A stripping attacker offers AUTH in plain text, too.
            kw.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=args.tls != "implicit" and not args.strip_starttls,
                      auth_exclude_mechanism=[])
        s = SinkSMTP(handler, **kw)
        s.implicit_tls = args.tls == "implicit"
        s.starttls_reply = args.starttls_reply
        s.starttls_inject = args.starttls_inject
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
