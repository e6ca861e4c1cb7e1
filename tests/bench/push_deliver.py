#!/usr/bin/env python3
"""push_deliver.py - the deliveries and the stopwatch of bench_push.sh.

Appends N messages over one IMAP connection, round-robin to the folders,
spaced uniformly MIN..MAX seconds apart; each carries "X-Bench-Id: K".
The clock starts at the server's tagged OK of the APPEND.  An inotify
watch on every target directory (each client's new/ and cur/ of each
folder) stops it when a file holding that id appears there (renamed in,
as Maildir writers do).  Prints, per client and folder, p50 and p99 and
max of the latency in ms, and the deliveries that never arrived.

  push_deliver.py HOST PORT CAFILE USER PASSWORD N MIN MAX TIMEOUT \
      CLIENT=FOLDER=DIR [CLIENT=FOLDER=DIR ...]
"""
import ctypes
import os
import random
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time

IN_MOVED_TO = 0x80
IN_CLOSE_WRITE = 0x8
IN_CREATE = 0x100

libc = ctypes.CDLL("libc.so.6", use_errno=True)


class Inotify:
    def __init__(self):
        self.fd = libc.inotify_init1(os.O_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.wd = {}

    def add(self, path, what):
        wd = libc.inotify_add_watch(self.fd, path.encode(), IN_MOVED_TO | IN_CLOSE_WRITE)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)
        self.wd[wd] = (path, what)

    def events(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return []
        buf = os.read(self.fd, 65536)
        now = time.monotonic()
        out, i = [], 0
        while i < len(buf):
            wd, mask, cookie, ln = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode()
            i += 16 + ln
            if wd in self.wd and name:
                path, what = self.wd[wd]
                out.append((now, os.path.join(path, name), what))
        return out


def percentile(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def main():
    host, port, ca, user, pw = sys.argv[1:6]
    n, lo, hi, timeout = int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])
    targets = [a.split("=", 2) for a in sys.argv[10:]]
    folders = []
    for _, f, _ in targets:
        if f not in folders:
            folders.append(f)
    ino = Inotify()
    for client, folder, d in targets:
        for sub in ("new", "cur"):
            p = os.path.join(d, sub)
            os.makedirs(p, exist_ok=True)
            ino.add(p, (client, folder))
    sent = {}          # id -> (folder, t_ok)
    seen = {}          # (client, id) -> t
    lock = threading.Lock()
    done = threading.Event()

    def watch():
        while not done.is_set():
            for t, path, (client, folder) in ino.events(0.2):
                try:
                    with open(path, "rb") as fh:
                        head = fh.read(4096)
                except OSError:
                    continue  # renamed again (new/ -> cur/): seen there
                m = re.search(rb"X-Bench-Id: (\d+)", head)
                if m:
                    with lock:
                        seen.setdefault((client, int(m.group(1))), t)

    th = threading.Thread(target=watch, daemon=True)
    th.start()

    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname=host)
    f = s.makefile("rb")
    f.readline()
    tag = [0]

    def cmd(text, literal=None):
        tag[0] += 1
        t = b"d%d" % tag[0]
        if literal is None:
            s.sendall(b"%s %s\r\n" % (t, text))
        else:
            s.sendall(b"%s %s {%d+}\r\n" % (t, text, len(literal)) + literal + b"\r\n")
        while True:
            l = f.readline()
            if l.startswith(t + b" "):
                now = time.monotonic()
                if not l.startswith(t + b" OK"):
                    raise RuntimeError(l)
                return now

    cmd(b'LOGIN "%s" "%s"' % (user.encode(), pw.encode()))
    rnd = random.Random(4242)
    for k in range(n):
        folder = folders[k % len(folders)]
        msg = (b"From: bench <bench@example.com>\r\nTo: alice@example.com\r\n"
               b"Subject: push bench %d\r\nMessage-ID: <push-bench-%d-%d@example.com>\r\n"
               b"X-Bench-Id: %d\r\n\r\nmessage %d\r\n" % (k, os.getpid(), k, k, k))
        t_ok = cmd(b'APPEND "%s"' % folder.encode(), msg)
        sent[k] = (folder, t_ok)
        if k + 1 < n:
            time.sleep(rnd.uniform(lo, hi))
    clients = sorted({c for c, _, _ in targets})
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with lock:
            if all((c, k) in seen for c in clients for k in sent):
                break
        time.sleep(0.05)
    done.set()
    cmd(b"LOGOUT")
    print("%-10s %-8s %5s %9s %9s %9s %7s" % ("client", "folder", "n", "p50_ms", "p99_ms", "max_ms", "missing"))
    for c in clients:
        for fo in folders:
            lat = [(seen[(c, k)] - t) * 1000.0 for k, (ff, t) in sent.items() if ff == fo and (c, k) in seen]
            miss = sum(1 for k, (ff, _) in sent.items() if ff == fo and (c, k) not in seen)
            print("%-10s %-8s %5d %9.1f %9.1f %9.1f %7d" % (c, fo, len(lat), percentile(lat, 50),
                                                           percentile(lat, 99), max(lat) if lat else float("nan"), miss))


if __name__ == "__main__":
    main()
