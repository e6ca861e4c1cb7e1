#!/usr/bin/python3
"""mirror_dump.py ROOT [--strict-new] [--inbox-subfolder] [--mbsync] - what a Maildir mirror holds, one line
per message file: FOLDER TAB FLAGS TAB SHA256 TAB SIZE of the bytes the
server holds of it, its CRLF form (files have LF line ends; every LF
without CR is counted as CRLF, as mailsync uploads it) (flags as IMAP names
in imap_server_dump.py's order, "-" for none; INBOX is the root, or with
--inbox-subfolder (maildir_inbox = subfolder) INBOX/; %XX in directory
names decoded), sorted.  Layout problems (a file in new/ with an
info suffix, in cur/ without one, a non-empty tmp/) go to stderr and make
the exit status 1.  With --strict-new every message without flags must be
in new/.  With --mbsync (a tree mbsync filled) the "X-TUID:" line mbsync
puts last in each header is left out, as mailsync reads such a file.
"""
import hashlib, os, re, sys
root = sys.argv[1]
strict = "--strict-new" in sys.argv
subfolder = "--inbox-subfolder" in sys.argv
mbsync = "--mbsync" in sys.argv
KNOWN = [("S", "\\Seen"), ("R", "\\Answered"), ("F", "\\Flagged"),
         ("T", "\\Deleted"), ("D", "\\Draft"), ("P", "$Forwarded")]
bad, out = 0, []

def strip_tuid(data):
    """The file without mbsync's X-TUID line, the last of its header."""
    end = data.find(b"\n\n") + 1
    if end <= 0:
        return data
    start = data.rfind(b"\n", 0, end - 1) + 1
    if re.fullmatch(rb"X-TUID: [^\n]{12}\n", data[start:end], re.I):
        return data[:start] + data[end:]
    return data

for dirpath, dirnames, files in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames
                         if not d.startswith(".") and d not in ("cur", "new", "tmp"))
    if not os.path.isdir(os.path.join(dirpath, "cur")):
        continue
    rel = os.path.relpath(dirpath, root)
    if subfolder and rel == ".":
        print("the root is a Maildir (INBOX is INBOX/)", file=sys.stderr)
        bad += 1
        continue
    folder = "INBOX" if rel == (".", "INBOX")[subfolder] else re.sub(
        "%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), rel)
    tmp = os.path.join(dirpath, "tmp")
    if os.path.isdir(tmp) and os.listdir(tmp):
        print("%s: tmp/ not empty: %s" % (folder, os.listdir(tmp)), file=sys.stderr)
        bad += 1
    for sub in ("new", "cur"):
        for name in sorted(os.listdir(os.path.join(dirpath, sub))):
            if name.startswith("."):
                continue
            letters = name.split(":2,", 1)[1] if ":2," in name else None
            # mbsync writes new mail into new/ with an empty ":2,".
            if (sub == "new" and letters) or (sub == "cur" and letters is None) or \
                    (strict and sub == "cur" and not letters):
                print("%s: %s/%s in the wrong place" % (folder, sub, name), file=sys.stderr)
                bad += 1
            with open(os.path.join(dirpath, sub, name), "rb") as f:
                data = f.read()
            flags = " ".join(imap for c, imap in KNOWN if c in (letters or "")) or "-"
            if mbsync:
                data = strip_tuid(data)
            data = re.sub(rb"(?<!\r)\n", b"\r\n", data)
            out.append("%s\t%s\t%s\t%d" % (folder, flags, hashlib.sha256(data).hexdigest(), len(data)))
for line in sorted(out):
    print(line)
sys.exit(1 if bad else 0)
