#!/usr/bin/python3
"""fake_imap.py - hostile and broken IMAP servers for test_imap_session_fake.c.

Prints "PORT <n>" once listening on 127.0.0.1, then serves connections one
at a time until killed.  Every byte received before TLS is appended to the
--report file, so the test can check that no credential crossed the wire
in plaintext.  Modes:

  nostarttls   plaintext; CAPABILITY without STARTTLS (AUTH=PLAIN, LOGIN
               allowed): a client that wants STARTTLS must give up
  starttls-no  STARTTLS advertised, answered "NO"
  inject       STARTTLS answered OK, and in the same send the injection
               "A2 OK LOGIN done" + "* CAPABILITY IMAP4rev1 AUTH=PLAIN";
               then TLS and a working IMAP server (AUTH=PLAIN)
  stall        accept and never answer
  midhs        STARTTLS answered OK, then close after the ClientHello
  slow         implicit TLS; every byte the server sends is its own TLS
               record; AUTH=PLAIN login works
  logindisabled plaintext; LOGINDISABLED AUTH=PLAIN only
  loginonly    implicit TLS; no AUTH= at all, LOGIN works
  loginonly-plain the same without TLS
  nosaslir     implicit TLS; AUTH=PLAIN without SASL-IR ("+" first)
  bye          greets with BYE
  byelater     implicit TLS; logs in, answers NOOP with BYE and closes
  nologout     implicit TLS; logs in, never answers LOGOUT
  preauth      greets with PREAUTH (and offers STARTTLS)
"""
import argparse
import base64
import socket
import ssl
import sys
import time


class Peer:
    def __init__(self, sock, report, slow=False):
        self.sock = sock
        self.report = report
        self.tls = False
        self.slow = slow
        self.buf = b""

    def record(self, data):
        if not self.tls and self.report:
            with open(self.report, "ab") as f:
                f.write(data)

    def send(self, data):
        if self.slow:
            for i in range(len(data)):
                self.sock.sendall(data[i:i + 1])
                time.sleep(0.001)
        else:
            self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                return None
            self.record(data)
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def command(self):
        """(tag, upper-case command name, all words) or None at EOF."""
        line = self.line()
        if line is None:
            return None
        parts = line.split(b" ")
        return parts[0], (parts[1].upper() if len(parts) > 1 else b""), parts


def serve_imap(p, caps, user, password, mode=""):
    """A small but honest IMAP server: CAPABILITY, AUTHENTICATE PLAIN,
    LOGIN, NOOP, LOGOUT.  mode "nologout" never answers LOGOUT, "byelater"
    answers NOOP with an untagged BYE and closes."""
    while True:
        cmdline = p.command()
        if cmdline is None:
            return
        tag, cmd, parts = cmdline
        if cmd == b"CAPABILITY":
            p.send(b"* CAPABILITY " + caps + b"\r\n" + tag +
                   b" OK CAPABILITY done\r\n")
        elif cmd == b"AUTHENTICATE" and len(parts) > 2 and \
                parts[2].upper() == b"PLAIN":
            if len(parts) > 3:
                resp = parts[3]
            else:
                p.send(b"+ \r\n")
                resp = p.line()
                if resp is None:
                    return
            try:
                dec = base64.b64decode(resp, validate=True)
            except Exception:
                p.send(tag + b" BAD bad base64\r\n")
                continue
            want = b"\0" + user.encode() + b"\0" + password.encode()
            if dec == want:
                p.send(tag + b" OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n")
            else:
                p.send(tag + b" NO [AUTHENTICATIONFAILED] bad credentials\r\n")
        elif cmd == b"LOGIN" and len(parts) == 4:
            args = [x.strip(b'"') for x in parts[2:4]]
            if args == [user.encode(), password.encode()]:
                p.send(tag + b" OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n")
            else:
                p.send(tag + b" NO [AUTHENTICATIONFAILED] bad login\r\n")
        elif cmd == b"NOOP" and mode == "byelater":
            p.send(b"* BYE server shutting down for maintenance\r\n")
            return
        elif cmd == b"NOOP":
            p.send(tag + b" OK NOOP done\r\n")
        elif cmd == b"LOGOUT" and mode == "nologout":
            continue
        elif cmd == b"LOGOUT":
            p.send(b"* BYE bye\r\n" + tag + b" OK LOGOUT done\r\n")
            return
        else:
            p.send(tag + b" BAD unknown\r\n")


# Implicit TLS modes and their capabilities.
TLS_MODES = {
    "slow": b"IMAP4rev1 AUTH=PLAIN SASL-IR",
    "loginonly": b"IMAP4rev1",
    "nosaslir": b"IMAP4rev1 AUTH=PLAIN",
    "nologout": b"IMAP4rev1 AUTH=PLAIN SASL-IR",
    "byelater": b"IMAP4rev1 AUTH=PLAIN SASL-IR",
}


def handle(conn, a, ctx):
    mode = a.mode
    if mode == "stall":
        # Read (and record) until the client gives up.
        p = Peer(conn, a.report)
        while True:
            d = conn.recv(4096)
            if not d:
                return
            p.record(d)
    if mode in TLS_MODES:
        s = ctx.wrap_socket(conn, server_side=True)
        p = Peer(s, a.report, slow=mode == "slow")
        p.tls = True
        p.send(b"* OK server ready\r\n")
        serve_imap(p, TLS_MODES[mode], a.user, a.password, mode)
        return
    p = Peer(conn, a.report)
    if mode == "loginonly-plain":
        p.send(b"* OK server ready\r\n")
        serve_imap(p, b"IMAP4rev1", a.user, a.password)
        return
    if mode == "bye":
        p.send(b"* BYE too many connections from your IP\r\n")
        return
    if mode == "preauth":
        p.send(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome back\r\n")
    if mode == "nostarttls":
        caps = b"IMAP4rev1 AUTH=PLAIN SASL-IR"
    elif mode == "logindisabled":
        caps = b"IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR"
    else:
        caps = b"IMAP4rev1 STARTTLS LOGINDISABLED"
    p.send(b"* OK fake ready\r\n")
    while True:
        cmdline = p.command()
        if cmdline is None:
            return
        tag, cmd, parts = cmdline
        if cmd == b"CAPABILITY":
            p.send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
        elif cmd == b"STARTTLS" and mode == "starttls-no":
            p.send(tag + b" NO STARTTLS is broken today\r\n")
        elif cmd == b"STARTTLS" and mode == "inject":
            p.send(tag + b" OK Begin TLS\r\nA2 OK LOGIN done\r\n"
                   b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
            s = ctx.wrap_socket(conn, server_side=True)
            p = Peer(s, a.report)
            p.tls = True
            serve_imap(p, b"IMAP4rev1 AUTH=PLAIN SASL-IR", a.user,
                       a.password)
            return
        elif cmd == b"STARTTLS" and mode == "midhs":
            p.send(tag + b" OK Begin TLS\r\n")
            conn.recv(4096)  # the ClientHello
            return
        elif cmd == b"LOGOUT":
            p.send(b"* BYE bye\r\n" + tag + b" OK LOGOUT done\r\n")
            return
        else:
            p.send(tag + b" NO not available here\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--report")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="s3cret-pw")
    a = ap.parse_args()

    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print("PORT %d" % ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        try:
            handle(conn, a, ctx)
        except (OSError, ssl.SSLError) as e:
            print("fake_imap: %s" % e, file=sys.stderr)
        finally:
            conn.close()


if __name__ == "__main__":
    main()
