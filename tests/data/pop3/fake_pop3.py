#!/usr/bin/python3
"""A scripted, misbehaving POP3 server for tests/integration/test_pop3_faults.sh.

Serves the files of --maildrop (one message each, CRLF line ends, sorted by
name; the file name is the UIDL) over implicit TLS on 127.0.0.1, one
connection at a time, until killed.  Prints "PORT <n>" once listening.
DELE marks a message; QUIT removes the marked files (so a dropped
connection deletes nothing, as RFC 1939 says).  Every command is appended to
--log (PASS without its argument), and every file QUIT removed to
--deleted-log.  --batch-log gets "<read> <command>" per command, where
<read> counts the socket reads of the connection: commands a client
pipelined arrive in one read.

The mode, read from --mode-file at each connection, makes it misbehave
(N is a 1-based message number):
  normal          CAPA with UIDL, TOP, PIPELINING, USER
  nopipe          CAPA without PIPELINING (answers only after each command)
  drop:N          RETR N: half the message, then a reset connection
  eof:N           RETR N: half the message, then an orderly close
  stall:N         RETR N: half the message, then silence (until killed or
                  the client goes)
  retrerr:N       RETR N: -ERR
  deleerr:N       DELE N: -ERR
  lonedot:N       RETR N: sent without dot-stuffing (a "." line ends it
                  early, the rest follows as garbage)
  uidldup         every UIDL repeats the first message's
  uidldup2        messages 1 and 2 share one UIDL, the others are unique
  nouidl          CAPA without UIDL and UIDL answers -ERR
  statlie         STAT says 3 more messages and 1000 more octets
  listlie:N       LIST says message N is 10 bytes shorter than it is
  slow            sleeps 50 ms per RETR line chunk (for kill -9 tests)
  quitlate        QUIT: the deletions as usual, then the +OK only after
                  2 s, unless the client closes first (then logs
                  "QUIT-UNANSWERED" to --batch-log)
Modes combine with "," (e.g. "nopipe,retrerr:2").
"""
import argparse
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fake_serve import serve  # noqa: E402


class Conn:
    def __init__(self, sock, a):
        self.sock = sock
        self.a = a
        self.rbuf = b""
        self.nreads = 0
        modes = open(a.mode_file).read().split(",") if os.path.exists(a.mode_file) else []
        self.modes = {}
        for m in (x.strip() for x in modes):
            if not m:
                continue
            k, _, v = m.partition(":")
            self.modes[k] = int(v) if v else True
        self.names = sorted(n for n in os.listdir(a.maildrop) if not n.startswith("."))
        self.deleted = set()

    def log(self, line):
        if self.a.log:
            with open(self.a.log, "a") as f:
                f.write(line + "\n")

    def send(self, data):
        self.sock.sendall(data)

    def line(self, s):
        self.send(s.encode() + b"\r\n")

    def readline(self):
        while b"\n" not in self.rbuf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.nreads += 1
            self.rbuf += d
        l, _, self.rbuf = self.rbuf.partition(b"\n")
        return l.rstrip(b"\r").decode("utf-8", "replace")

    def closed_within(self, seconds):
        """True when the client closes (EOF, or a reset) within seconds."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except (ssl.SSLError, ConnectionError):
                return True
        return False

    def body(self, n):
        with open(os.path.join(self.a.maildrop, self.names[n - 1]), "rb") as f:
            return f.read()

    def uidl(self, n):
        if "uidldup" in self.modes:
            return self.names[0]
        if "uidldup2" in self.modes and n == 2:
            return self.names[0]
        return self.names[n - 1]

    def size(self, n):
        s = os.path.getsize(os.path.join(self.a.maildrop, self.names[n - 1]))
        if self.modes.get("listlie") == n:
            s -= 10
        return s

    def msg_ok(self, arg):
        try:
            n = int(arg)
        except ValueError:
            return None
        if 1 <= n <= len(self.names) and n not in self.deleted:
            return n
        return None

    def caps(self):
        c = ["USER", "TOP", "RESP-CODES"]
        if "nouidl" not in self.modes:
            c.append("UIDL")
        if "nopipe" not in self.modes:
            c.append("PIPELINING")
        return c

    @staticmethod
    def stuff(data):
        out = []
        for l in data.split(b"\r\n"):
            out.append(b"." + l if l.startswith(b".") else l)
        return b"\r\n".join(out)

    def retr(self, n, top=None):
        data = self.body(n)
        if top is not None:
            data = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        stuffed = data if self.modes.get("lonedot") == n and top is None else self.stuff(data)
        self.line("+OK %d octets" % len(data))
        for k in ("drop", "eof", "stall"):
            if self.modes.get(k) == n and top is None:
                self.send(stuffed[: len(stuffed) // 2])
                self.log("CUT %d" % n)
                if k == "drop":
                    # A reset: no TLS close_notify, no FIN.  After a
                    # moment, so that the client has read what came
                    # before (a reset discards the unread rest).
                    time.sleep(0.5)
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    os.close(self.sock.detach())
                    raise ConnectionError
                if k == "eof":
                    raise EOFError
                # Silence until the client gives up and closes.
                self.sock.settimeout(1.0)
                while True:
                    try:
                        if not self.sock.recv(65536):
                            raise EOFError
                    except socket.timeout:
                        pass
        if "slow" in self.modes:
            for i in range(0, len(stuffed), 65536):
                self.send(stuffed[i:i + 65536])
                time.sleep(0.05)
        else:
            self.send(stuffed)
        self.send(b".\r\n")

    def run(self):
        self.line("+OK fake POP3 ready")
        authed = False
        while True:
            l = self.readline()
            verb, _, arg = l.partition(" ")
            verb = verb.upper()
            self.log(verb if verb == "PASS" else l)
            if self.a.batch_log:
                with open(self.a.batch_log, "a") as f:
                    f.write("%d %s\n" % (self.nreads, verb))
            if verb == "CAPA":
                self.line("+OK")
                for c in self.caps():
                    self.line(c)
                self.line(".")
            elif verb == "USER":
                self.line("+OK")
            elif verb == "PASS":
                authed = True
                self.line("+OK logged in")
            elif not authed:
                self.line("-ERR log in first")
            elif verb == "STAT":
                live = [n for n in range(1, len(self.names) + 1) if n not in self.deleted]
                count, octets = len(live), sum(self.size(n) for n in live)
                if "statlie" in self.modes:
                    count, octets = count + 3, octets + 1000
                self.line("+OK %d %d" % (count, octets))
            elif verb == "LIST" and not arg:
                self.line("+OK")
                for n in range(1, len(self.names) + 1):
                    if n not in self.deleted:
                        self.line("%d %d" % (n, self.size(n)))
                self.line(".")
            elif verb == "UIDL" and not arg:
                if "nouidl" in self.modes:
                    self.line("-ERR no UIDL here")
                    continue
                self.line("+OK")
                for n in range(1, len(self.names) + 1):
                    if n not in self.deleted:
                        self.line("%d %s" % (n, self.uidl(n)))
                self.line(".")
            elif verb == "RETR" and self.msg_ok(arg):
                n = self.msg_ok(arg)
                if self.modes.get("retrerr") == n:
                    self.line("-ERR cannot read message %d" % n)
                else:
                    self.retr(n)
            elif verb == "TOP" and len(arg.split()) == 2 and self.msg_ok(arg.split()[0]):
                self.retr(self.msg_ok(arg.split()[0]), top=0)
            elif verb == "DELE" and self.msg_ok(arg):
                n = self.msg_ok(arg)
                if self.modes.get("deleerr") == n:
                    self.line("-ERR message %d is locked" % n)
                else:
                    self.deleted.add(n)
                    self.line("+OK marked")
            elif verb == "NOOP":
                self.line("+OK")
            elif verb == "RSET":
                self.deleted.clear()
                self.line("+OK")
            elif verb == "QUIT":
                for n in sorted(self.deleted):
                    os.unlink(os.path.join(self.a.maildrop, self.names[n - 1]))
                    if self.a.deleted_log:
                        with open(self.a.deleted_log, "a") as f:
                            f.write(self.names[n - 1] + "\n")
                if "quitlate" in self.modes and self.closed_within(2.0):
                    if self.a.batch_log:
                        with open(self.a.batch_log, "a") as f:
                            f.write("%d QUIT-UNANSWERED\n" % self.nreads)
                    return
                self.line("+OK bye")
                return
            else:
                self.line("-ERR unknown command or message")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maildrop", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log")
    ap.add_argument("--deleted-log")
    ap.add_argument("--batch-log")
    a = ap.parse_args()
    serve(a.cert, a.key, lambda sock: Conn(sock, a).run(),
          (EOFError, ConnectionError, ssl.SSLError, BrokenPipeError))

if __name__ == "__main__":
    sys.exit(main())
