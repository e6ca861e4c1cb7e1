#!/usr/bin/python3
"""server_wait.py - waits until an account's folders on the server hold
given counts, and prints how long that took from a start time.

    server_wait.py --port P --ca FILE --user U --password PW
                   --since MONOTONIC --timeout S  FOLDER:MESSAGES:UNSEEN ...

Polls STATUS (MESSAGES UNSEEN) of each folder on one connection, straight
to the server (not through the delay proxy), every 10 ms.  --since is a
time.monotonic() value (CLOCK_MONOTONIC, the same in every process), taken
when the reader's edits were complete.  Prints "SECONDS" and exits 0 once
every folder matches, or prints the last counts and exits 1 at the timeout.
For tests/bench/bench_roundtrip.sh's live phase.
"""
import argparse
import imaplib
import re
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--since", type=float, required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("want", nargs="+")
    a = ap.parse_args()
    want = {}
    for w in a.want:
        f, m, u = w.rsplit(":", 2)
        want[f] = (int(m), int(u))
    ctx = ssl.create_default_context(cafile=a.ca)
    c = imaplib.IMAP4_SSL("localhost", a.port, ssl_context=ctx)
    c.login(a.user, a.password)
    deadline = a.since + a.timeout
    last = {}
    while True:
        for f in want:
            typ, data = c.status(f, "(MESSAGES UNSEEN)")
            if typ != "OK":
                print("STATUS %s: %s" % (f, data), file=sys.stderr)
                return 2
            m = re.search(rb"MESSAGES (\d+) UNSEEN (\d+)", data[0])
            last[f] = (int(m.group(1)), int(m.group(2)))
        if last == want:
            # After the round that saw every folder done: an upper bound,
            # the same for every client measured.
            print("%.3f" % (time.monotonic() - a.since))
            c.logout()
            return 0
        if time.monotonic() > deadline:
            print("timeout: have %s, want %s" % (last, want), file=sys.stderr)
            return 1
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
