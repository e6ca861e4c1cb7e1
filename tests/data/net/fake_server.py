#!/usr/bin/python3
"""fake_server.py - loopback servers for tests/unit/test_net_*.c.

Prints "PORT <n>" on stdout once listening, then serves connections one at
a time until killed (or --max-conns is reached).  Modes:

  tls         implicit TLS: greet "* OK hello", then echo "ECHO <line>"
  plain       the same without TLS
  starttls    greet "* OK ready"; on "a STARTTLS" answer "a OK begin TLS"
              and, in the same send, the injection "* OK injected"; then
              TLS, greet "* OK tls", echo.  Any other plaintext command
              before TLS is recorded as a leak (see --report).
  slow        TLS; greet "* OK slow greeting" one byte per send (and so
              one TLS record per byte), then echo
  midhs       read the ClientHello, then close (mid-handshake)
  bye         greet "* BYE" (TLS if --cert is given), then close
  stall       accept and never answer
  full        never accept, and fill the accept queue with one connection
              of its own, so further connects hang (connect timeout)
  burst       plain; 32 lines of 16 KiB in one send, then "END", then echo
"""
import argparse
import socket
import ssl
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)


def serve_echo(s, f_greet):
    f_greet(s)
    buf = b""
    while True:
        data = s.recv(4096)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            s.sendall(b"ECHO " + line + b"\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--report", help="file to append plaintext leaks to")
    ap.add_argument("--max-conns", type=int, default=0)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-max", choices=["1.1", "1.2"],
                    help="highest TLS version the server speaks")
    a = ap.parse_args()

    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.tls_max == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        elif a.tls_max == "1.1":
            # Old protocols need the lowest security level to be offered.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1

    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    if a.mode == "full":
        # With a backlog of 0 the queue holds one connection; the kernel
        # drops the SYNs of any further one, whose connect() then hangs.
        ls.listen(0)
        filler = socket.socket(fam, socket.SOCK_STREAM)
        filler.connect(ls.getsockname()[:2])
        print("PORT %d" % ls.getsockname()[1], flush=True)
        while True:
            time.sleep(60)
    ls.listen(8)
    print("PORT %d" % ls.getsockname()[1], flush=True)

    n = 0
    held = []
    while a.max_conns == 0 or n < a.max_conns:
        c, _ = ls.accept()
        n += 1
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            handle(a, ctx, c, held)
        except (OSError, ssl.SSLError):
            pass
        if a.mode != "stall":
            try:
                c.close()
            except OSError:
                pass


def handle(a, ctx, c, held):
    mode = a.mode
    if mode == "stall":
        held.append(c)  # keep it open, never answer
        return
    if mode == "midhs":
        c.recv(4096)
        return
    if mode == "bye":
        s = ctx.wrap_socket(c, server_side=True) if ctx else c
        s.sendall(b"* BYE going away\r\n")
        return
    if mode == "plain":
        serve_echo(c, lambda s: s.sendall(b"* OK hello\r\n"))
        return
    if mode == "burst":
        serve_echo(c, lambda s: s.sendall(
            (b"x" * 16382 + b"\r\n") * 32 + b"END\r\n"))
        return
    if mode == "tls":
        s = ctx.wrap_socket(c, server_side=True)
        serve_echo(s, lambda s: s.sendall(b"* OK hello\r\n"))
        return
    if mode == "slow":
        s = ctx.wrap_socket(c, server_side=True)

        def greet(s):
            for b in b"* OK slow greeting\r\n":
                s.sendall(bytes([b]))
                time.sleep(0.005)
        serve_echo(s, greet)
        return
    if mode == "starttls":
        c.sendall(b"* OK ready\r\n")
        buf = b""
        while b"\n" not in buf:
            d = c.recv(4096)
            if not d:
                return
            buf += d
        line = buf.split(b"\n", 1)[0].rstrip(b"\r")
        if line != b"a STARTTLS":
            if a.report:
                with open(a.report, "ab") as f:
                    f.write(b"PLAINTEXT " + line + b"\n")
            return
        # Reply and injection in one send: the client reads them together.
        c.sendall(b"a OK begin TLS\r\n* OK injected\r\n")
        s = ctx.wrap_socket(c, server_side=True)
        serve_echo(s, lambda s: s.sendall(b"* OK tls\r\n"))
        return
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
