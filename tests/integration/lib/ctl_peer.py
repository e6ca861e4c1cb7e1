#!/usr/bin/python3
"""ctl_peer.py - a misbehaving (or careful) control socket client for the
integration tests: each mode does one thing to the daemon's socket and
prints what came back, so that the test can check the daemon's answer.

usage: ctl_peer.py SOCKET MODE
  garbage      sends bytes that are not JSON; prints the error reply's code
  bigline      sends a 10 MB line without end; prints the error code
  half         sends half a request and holds it for 3 s, then closes
  noread N     asks watch, then N status requests, never reads; holds the
               connection until the daemon drops it (at most 300 s) and
               prints "dropped"
  vanish N     sends N status requests and closes without reading
  vanishcat ACCOUNT FOLDER UID   asks cat and closes after 1 byte
  rawcall JSON sends one request line; prints the reply line
  badhello     says hello with protocol 99; prints the error code
"""
import json
import select
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    return s


def read_line(s, buf):
    while b"\n" not in buf[0]:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed")
        buf[0] += chunk
    line, _, rest = buf[0].partition(b"\n")
    buf[0] = rest
    return json.loads(line)


def hello(s, buf):
    h = read_line(s, buf)
    assert h["hello"]["proto"] == 1, h
    return h


def error_code_after(s, buf, payload):
    hello(s, buf)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = read_line(s, buf)
    # Then the daemon closes.
    rest = s.recv(65536)
    closed = "closed" if rest == b"" else "open"
    print(reply["error"]["code"], closed)


def main():
    path, mode = sys.argv[1], sys.argv[2]
    buf = [b""]
    s = connect(path)
    if mode == "garbage":
        error_code_after(s, buf, b"\x00\xffnot json at all\n")
    elif mode == "bigline":
        hello(s, buf)
        sent = 0
        try:
            block = b"x" * 65536
            while sent < 10 * 1024 * 1024:
                s.sendall(block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = read_line(s, buf)
        print(reply["error"]["code"], "sent=%d" % sent)
    elif mode == "badhello":
        error_code_after(s, buf, b'{"hello":{"proto":99,"version":"9"}}\n')
    elif mode == "half":
        hello(s, buf)
        s.sendall(b'{"id":1,"cmd":"sta')
        time.sleep(3)
        s.close()
        print("closed")
    elif mode == "noread":
        n = int(sys.argv[3])
        s.sendall(b'{"id":1,"cmd":"watch"}\n')
        req = b'{"id":2,"cmd":"status"}\n' * n
        s.setblocking(False)
        off = 0
        deadline = time.time() + 20
        while off < len(req) and time.time() < deadline:
            try:
                off += s.send(req[off:])
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break
        print("sent=%d" % off, flush=True)
        # The daemon's close shows as a hang-up without reading a byte.
        p = select.poll()
        p.register(s, select.POLLRDHUP)
        if any(ev & (select.POLLRDHUP | select.POLLHUP)
               for _, ev in p.poll(300 * 1000)):
            print("dropped", flush=True)
    elif mode == "vanish":
        n = int(sys.argv[3])
        s.sendall(b'{"id":2,"cmd":"status"}\n' * n)
        s.close()
        print("closed")
    elif mode == "vanishcat":
        hello(s, buf)
        req = {"id": 1, "cmd": "cat", "args": {"account": sys.argv[3],
               "folder": sys.argv[4], "uid": int(sys.argv[5])}}
        s.sendall(json.dumps(req).encode() + b"\n")
        s.recv(1)
        s.close()
        print("closed")
    elif mode == "rawcall":
        hello(s, buf)
        s.sendall(sys.argv[3].encode() + b"\n")
        print(json.dumps(read_line(s, buf), sort_keys=True))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
