#!/usr/bin/env python3
"""push_floor.py - the floor for bench_push.sh: the least a client can do to
bring pushed mail to disk.  One TLS connection per folder: LOGIN, SELECT,
IDLE; on EXISTS: DONE, UID FETCH of the new messages (BODY.PEEK[]), each
written to OUT/FOLDER/tmp then renamed into OUT/FOLDER/new, IDLE again.

  push_floor.py HOST PORT CAFILE USER PASSWORD OUT FOLDER...

Runs until SIGTERM.  Writes OUT/ready once every folder is in IDLE.
"""
import os
import re
import signal
import socket
import ssl
import sys
import threading


class Watch:
    def __init__(self, host, port, ca, user, pw, out, folder):
        ctx = ssl.create_default_context(cafile=ca)
        raw = socket.create_connection((host, port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s = ctx.wrap_socket(raw, server_hostname=host)
        self.f = self.s.makefile("rb")
        self.folder = folder
        self.dir = os.path.join(out, folder)
        for d in ("tmp", "new"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.tag = 0
        self.line()  # greeting
        self.cmd('LOGIN "%s" "%s"' % (user, pw))
        self.last_uid = 0
        exists = 0
        for l in self.cmd('SELECT "%s"' % folder):
            m = re.match(rb"\* (\d+) EXISTS", l)
            if m:
                exists = int(m.group(1))
        if exists:
            for l in self.cmd("UID SEARCH ALL"):
                if l.startswith(b"* SEARCH"):
                    uids = [int(x) for x in l.split()[2:]]
                    self.last_uid = max(uids) if uids else 0

    def line(self):
        l = self.f.readline()
        if not l:
            raise EOFError(self.folder)
        return l

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")

    def cmd(self, text):
        self.tag += 1
        t = b"f%d" % self.tag
        self.send("f%d %s" % (self.tag, text))
        lines = []
        while True:
            l = self.line()
            if l.startswith(t + b" "):
                if not l.startswith(t + b" OK"):
                    raise RuntimeError(l)
                return lines
            lines.append(l)

    def fetch_new(self):
        self.tag += 1
        t = b"f%d" % self.tag
        self.send("f%d UID FETCH %d:* (UID BODY.PEEK[])" % (self.tag, self.last_uid + 1))
        while True:
            l = self.line()
            if l.startswith(t + b" "):
                return
            m = re.search(rb"UID (\d+) BODY\[\] \{(\d+)\}\r\n$", l)
            if not m:
                continue
            uid, size = int(m.group(1)), int(m.group(2))
            body = self.f.read(size)
            self.line()  # ")"
            if uid <= self.last_uid:
                continue
            self.last_uid = uid
            tmp = os.path.join(self.dir, "tmp", str(uid))
            with open(tmp, "wb") as fh:
                fh.write(body)
            os.rename(tmp, os.path.join(self.dir, "new", str(uid)))

    def idle(self):
        self.tag += 1
        t = b"f%d" % self.tag
        self.send("f%d IDLE" % self.tag)
        self.line()  # "+ idling"
        return t

    def run(self, ready):
        t = self.idle()
        ready.release()
        while True:
            l = self.line()
            if re.match(rb"\* \d+ EXISTS", l):
                self.send("DONE")
                while not self.line().startswith(t + b" "):
                    pass
                self.fetch_new()
                t = self.idle()


def main():
    host, port, ca, user, pw, out = sys.argv[1:7]
    folders = sys.argv[7:]
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    ready = threading.Semaphore(0)
    watches = [Watch(host, int(port), ca, user, pw, out, f) for f in folders]
    threads = [threading.Thread(target=w.run, args=(ready,), daemon=True) for w in watches]
    for th in threads:
        th.start()
    for _ in folders:
        ready.acquire()
    open(os.path.join(out, "ready"), "w").close()
    for th in threads:
        th.join()


if __name__ == "__main__":
    main()
