#!/usr/bin/python3
"""fake_mail_server.py - a scripted POP3 or SMTP server on 127.0.0.1 for
tests/unit/test_pop3_session.c and test_smtp_session.c.

Prints "PORT <n>" once listening, then serves connections one at a time
until killed.  Every byte received before TLS is appended to --record, so
the test can check that no credential crossed the wire in plaintext.

  --proto pop3|smtp
  --mode good        STLS/STARTTLS offered and working; then AUTH PLAIN or
                     LOGIN (and USER/PASS) checked against --user/--password
         no-tls      STLS/STARTTLS not advertised
         refused     STLS answered "-ERR", STARTTLS answered "454"
         inject      positive reply plus, in the same send, "+OK logged
                     in" (POP3) or "250 AUTH PLAIN" (SMTP)
         stall       accept and never answer
         midhs       greet, answer STLS/STARTTLS, read the ClientHello,
                     close
         slow        as good, but every byte is a send of its own (one
                     TLS record per byte after the handshake)
         implicit    TLS from the first byte, otherwise good
         nosasl      as good, but CAPA lists no SASL (POP3: USER/PASS only)
"""
import argparse
import base64
import socket
import ssl
import sys
import time


class Chan:
    def __init__(self, sock, a):
        self.sock = sock
        self.a = a
        self.buf = b""
        self.tls = False

    def send(self, data):
        if self.a.mode == "slow":
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
            if not self.tls and self.a.record:
                with open(self.a.record, "ab") as f:
                    f.write(data)
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def starttls(self, ctx):
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True


def check_plain(a, b64):
    try:
        parts = base64.b64decode(b64, validate=True).split(b"\0")
    except Exception:
        return False
    return len(parts) == 3 and parts[1] == a.user.encode() and \
        parts[2] == a.password.encode()


def auth(ch, a, w, cont, ok, bad):
    """AUTH PLAIN [ir] or AUTH LOGIN; cont is the continuation prefix."""
    if w[1].upper() == b"PLAIN":
        ir = w[2] if len(w) > 2 else None
        if ir is None:
            ch.send(cont + b"\r\n")
            ir = ch.line()
        good = ir is not None and check_plain(a, ir)
    else:
        ch.send(cont + b"VXNlcm5hbWU6\r\n")
        u = ch.line()
        ch.send(cont + b"UGFzc3dvcmQ6\r\n")
        p = ch.line()
        good = u == base64.b64encode(a.user.encode()) and \
            p == base64.b64encode(a.password.encode())
    ch.send(ok if good else bad)


def is_auth(w):
    return w[0].upper() == b"AUTH" and len(w) >= 2 and \
        w[1].upper() in (b"PLAIN", b"LOGIN")


def pop3(ch, a, ctx):
    ch.send(b"+OK fake POP3 ready\r\n")
    user = None
    while True:
        line = ch.line()
        if line is None:
            return
        w = line.split(b" ")
        cmd = w[0].upper()
        if cmd == b"CAPA":
            caps = b"+OK\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nUSER\r\n"
            if not ch.tls and a.mode != "no-tls":
                caps += b"STLS\r\n"
            if a.mode != "nosasl":
                caps += b"SASL PLAIN LOGIN\r\n"
            caps += b".\r\n"
            ch.send(caps)
        elif cmd == b"STLS" and not ch.tls:
            if a.mode == "refused":
                ch.send(b"-ERR not now\r\n")
                continue
            if a.mode == "inject":
                ch.send(b"+OK Begin TLS\r\n+OK logged in\r\n")
            else:
                ch.send(b"+OK Begin TLS\r\n")
            if a.mode == "midhs":
                ch.sock.recv(4096)
                return
            ch.starttls(ctx)
        elif is_auth(w):
            auth(ch, a, w, b"+ ", b"+OK logged in\r\n",
                 b"-ERR [AUTH] Authentication failed.\r\n")
        elif cmd == b"USER":
            user = line[5:]
            ch.send(b"+OK\r\n")
        elif cmd == b"PASS":
            ok = user == a.user.encode() and line[5:] == a.password.encode()
            ch.send(b"+OK logged in\r\n" if ok else
                    b"-ERR [AUTH] Authentication failed.\r\n")
        elif cmd == b"STAT":
            ch.send(b"+OK 2 320\r\n")
        elif cmd == b"QUIT":
            ch.send(b"+OK bye\r\n")
            return
        else:
            ch.send(b"-ERR unknown command\r\n")


def smtp(ch, a, ctx):
    ch.send(b"220 fake ESMTP ready\r\n")
    while True:
        line = ch.line()
        if line is None:
            return
        w = line.split(b" ")
        cmd = w[0].upper()
        if cmd == b"EHLO":
            r = b"250-fake greets you\r\n250-PIPELINING\r\n"
            if not ch.tls and a.mode != "no-tls":
                r += b"250-STARTTLS\r\n"
            r += b"250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
            ch.send(r)
        elif cmd == b"STARTTLS" and not ch.tls:
            if a.mode == "refused":
                ch.send(b"454 4.7.0 TLS not available\r\n")
                continue
            if a.mode == "inject":
                ch.send(b"220 2.0.0 Ready\r\n250 AUTH PLAIN\r\n")
            else:
                ch.send(b"220 2.0.0 Ready\r\n")
            if a.mode == "midhs":
                ch.sock.recv(4096)
                return
            ch.starttls(ctx)
        elif is_auth(w):
            auth(ch, a, w, b"334 ", b"235 2.7.0 Authentication successful\r\n",
                 b"535 5.7.8 Authentication credentials invalid\r\n")
        elif cmd == b"NOOP":
            ch.send(b"250 2.0.0 OK\r\n")
        elif cmd == b"QUIT":
            ch.send(b"221 2.0.0 Bye\r\n")
            return
        else:
            ch.send(b"500 5.5.2 unknown command\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", choices=("pop3", "smtp"), required=True)
    ap.add_argument("--mode", default="good")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--record")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="s3cret pw")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print("PORT %d" % ls.getsockname()[1], flush=True)
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if a.mode == "stall":
                time.sleep(3600)
            ch = Chan(s, a)
            if a.mode == "implicit":
                ch.starttls(ctx)
            (pop3 if a.proto == "pop3" else smtp)(ch, a, ctx)
        except (OSError, ssl.SSLError) as e:
            print("fake server: %s" % e, file=sys.stderr, flush=True)
        finally:
            s.close()


if __name__ == "__main__":
    main()
