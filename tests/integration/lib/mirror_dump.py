#!/usr/bin/python3
"""mirror_dump.py ROOT [--strict-new] [--inbox-subfolder] [--mbsync] [--layout=maildir++|legacy] - what a Maildir mirror holds, one line
per message file: FOLDER TAB FLAGS TAB SHA256 TAB SIZE of the bytes the
server holds of it, its CRLF form (files have LF line ends; every LF
without CR is counted as CRLF, as mailsync uploads it) (flags as IMAP names
in imap_server_dump.py's order, "-" for none; INBOX is the root, or with
--inbox-subfolder (maildir_inbox = subfolder) INBOX/; %XX in directory
names decoded; --layout: folders nested as mbsync's SubFolders Maildir++
(.Lists.dev, INBOX's children ..sub) or Legacy (Lists/.dev, INBOX's
children .sub inside INBOX's Maildir) nest them, on a '/' server), sorted.  Layout problems (a file in new/ with an
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
layout = ([a.split("=", 1)[1] for a in sys.argv if a.startswith("--layout=")] or ["verbatim"])[0]
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

def walked(depth, d):
    """Does the layout make folders of directory d, depth levels down?"""
    if d in ("cur", "new", "tmp"):
        return False
    if layout == "maildir++":
        return depth == 0 and d.startswith(".")
    if layout == "legacy":
        return depth == 0 or d.startswith(".")
    return not d.startswith(".")

def decode(s):
    return re.sub("%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), s)

def folder_of(rel):
    """The server name of a Maildir at rel (written independently of
    daemon/maildir/maildir_path.c, from what mbsync writes)."""
    inbox = "INBOX" if subfolder and layout != "maildir++" else "."
    if rel == inbox:
        return "INBOX"
    if layout == "maildir++":
        parts = rel[1:].split(".")
        if parts[0] == "":
            parts[0] = "INBOX"
        return "/".join(decode(p) for p in parts)
    parts = rel.split("/")
    if layout == "legacy":
        if inbox == "INBOX" and parts[0] == "INBOX":
            parts = ["INBOX"] + [p[1:] for p in parts[1:]]
        elif inbox == "." and parts[0].startswith("."):
            parts = ["INBOX"] + [p[1:] for p in parts]
        else:
            parts = parts[:1] + [p[1:] for p in parts[1:]]
        return "/".join(p if p == "INBOX" and i == 0 else decode(p)
                        for i, p in enumerate(parts))
    return decode(rel)

for dirpath, dirnames, files in os.walk(root):
    depth = 0 if dirpath == root else os.path.relpath(dirpath, root).count("/") + 1
    dirnames[:] = sorted(d for d in dirnames if walked(depth, d))
    if not os.path.isdir(os.path.join(dirpath, "cur")):
        continue
    rel = os.path.relpath(dirpath, root)
    if subfolder and rel == "." and layout != "maildir++":
        print("the root is a Maildir (INBOX is INBOX/)", file=sys.stderr)
        bad += 1
        continue
    folder = folder_of(rel)
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
