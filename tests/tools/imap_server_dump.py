#!/usr/bin/python3
"""imap_server_dump.py - what the server holds, in ms_storedump's format.

Prints one line per message of every selectable folder (or of --folder):
FOLDER TAB UID TAB FLAGS TAB SHA256 TAB SIZE, with FLAGS the IMAP names the
store knows, in the store's order, space-separated ("-" for none).  An
independent client (Python imaplib) for the integration tests of the sync
engine: the store must equal this.
"""
import argparse
import hashlib
import imaplib
import re
import ssl
import sys

sys.path.insert(0, sys.argv[0].rsplit("/", 2)[0] + "/integration/lib")
import mutf7  # noqa: E402

KNOWN = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft",
         "$Forwarded", "$Junk", "$NotJunk"]


def flags_text(raw):
    have = {f.lower() for f in raw.split()}
    out = [k for k in KNOWN if k.lower() in have]
    return " ".join(out) or "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--folder", action="append")
    args = ap.parse_args()
    ctx = ssl.create_default_context(cafile=args.ca)
    c = imaplib.IMAP4_SSL("localhost", args.port, ssl_context=ctx)
    c._mode_utf8 = False
    c.login(args.user, args.password)
    folders = []
    typ, data = c.list('""', "*")
    for line in data:
        m = re.match(rb'\((.*?)\) (?:"(.)"|NIL) (.*)$', line)
        if b"\\noselect" in m.group(1).lower():
            continue
        name = m.group(3).decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        folders.append(name)
    out = []
    for raw in folders:
        name = mutf7.decode(raw)
        if args.folder and name not in args.folder:
            continue
        typ, _ = c.select('"%s"' % raw, readonly=True)
        if typ != "OK":
            sys.exit("SELECT %s failed" % name)
        typ, data = c.uid("SEARCH", None, "ALL")
        uids = [int(u) for u in data[0].split()]
        for i in range(0, len(uids), 200):
            chunk = uids[i:i + 200]
            typ, data = c.uid("FETCH", "%d:%d" % (chunk[0], chunk[-1]),
                              "(UID FLAGS BODY.PEEK[])")
            pending = None
            for item in data + [None]:
                if isinstance(item, tuple) or item is None:
                    if pending is not None:
                        out.append(pending)
                    pending = None
                    if item is None:
                        break
                    meta, body = item
                    uid = int(re.search(rb"UID (\d+)", meta).group(1))
                    fl = re.search(rb"FLAGS \(([^)]*)\)", meta)
                    pending = [name, uid, flags_text(fl.group(1).decode())
                               if fl else None,
                               hashlib.sha256(body).hexdigest(), len(body)]
                elif pending is not None and pending[2] is None:
                    fl = re.search(rb"FLAGS \(([^)]*)\)", item)
                    if fl:
                        pending[2] = flags_text(fl.group(1).decode())
    c.logout()
    for name, uid, fl, h, n in sorted(out):
        fl = fl or "-"
        print("%s\t%d\t%s\t%s\t%d" % (name, uid, fl, h, n))


main()
