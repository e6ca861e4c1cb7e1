#!/usr/bin/python3
"""Fill a Dovecot Maildir (LAYOUT=fs) with N corpus messages, fast.

Writes the files directly (tmp/ then rename into cur/, as Maildir wants), so
it works before Dovecot starts or while it runs: Dovecot notices the new
files at the next sync of the folder. Messages are byte-exact copies of
corpus files, taken in corpus order and cycled when N exceeds the corpus;
message i goes to folder i % len(folders), with a flag pattern that mixes
unread, seen, answered and flagged mail.

On-disk names follow this Dovecot configuration (no UTF-8 option in
mail_location): each hierarchy level is a directory, and non-ASCII names are
stored in modified UTF-7 (RFC 3501 5.1.3), e.g. "Ünïcödé" -> "&ANw-n&AO8-c&APY-d&AOk-".

File names carry S= (size) and W= (size with bare LF counted as CRLF, what
IMAP RFC822.SIZE reports). Their time.usec part is a fixed base plus the
message's index in the whole fill sequence (--start + i), and Dovecot gives
new files UIDs in that order: so in a folder that only mailfill wrote to,
message n gets UID n, also across several fills that share one manifest.

The manifest (TSV, appended to) has one line per message:
  folder  uid  imap-flags ("-" for none)  corpus-path  maildir-file-name
With an existing manifest, --start defaults to its line count (the next
corpus file) and UIDs continue from its per-folder counts.
"""
import argparse
import os
import socket
import sys
import time

import mutf7

DEFAULT_FOLDERS = ["INBOX", "Sent", "Archive", "Lists/dev", "Lists/announce", "Ünïcödé"]
# Maildir info letters for each position of a repeating pattern of ten:
# 3 unread (one of them flagged), 7 seen (some answered, some flagged).
FLAG_PATTERN = ["", "S", "RS", "S", "FS", "", "S", "FRS", "F", "S"]
# 2023-11-14: older than anything doveadm save names now, so filled mail
# sorts before it.
NAME_TIME_BASE = 1700000000
IMAP_FLAG = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def corpus_files(corpus):
    """Message files in index.tsv order (stable across runs), else sorted."""
    index = os.path.join(corpus, "index.tsv")
    files = []
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            for line in f:
                rel = line.split("\t", 1)[0]
                if rel.startswith("messages/"):
                    files.append(rel)
    if not files:
        base = os.path.join(corpus, "messages")
        for d, _, names in os.walk(base):
            files += [os.path.relpath(os.path.join(d, n), corpus) for n in names]
        files.sort()
    return files


def make_dir(path, uid, gid):
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
    os.chown(path, uid, gid)


def folder_dir(root, folder):
    if folder.upper() == "INBOX":
        return root
    return os.path.join(root, *[mutf7.encode(p) for p in folder.split("/")])


def prepare_folder(root, folder, uid, gid):
    d = folder_dir(root, folder)
    # Parents first, each owned by the mail uid (a parent without cur/ is a
    # \Noselect level of the hierarchy).
    p = root
    make_dir(p, uid, gid)
    if d != root:
        for part in os.path.relpath(d, root).split(os.sep):
            p = os.path.join(p, part)
            make_dir(p, uid, gid)
    for sub in ("cur", "new", "tmp"):
        make_dir(os.path.join(d, sub), uid, gid)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maildir", required=True, help="the user's Maildir root (INBOX)")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--uid", type=int, default=os.getuid())
    ap.add_argument("--gid", type=int, default=os.getgid())
    ap.add_argument("--corpus", default=os.environ.get("MS_CORPUS"))
    ap.add_argument("--folder", action="append", help="repeatable; default: %s" % ", ".join(DEFAULT_FOLDERS))
    ap.add_argument("--start", type=int, help="index of the first message in the fill sequence "
                    "(corpus file start %% corpus size); default: manifest lines, or 0")
    ap.add_argument("--file", action="append", help="repeatable: use only these corpus files "
                    "(paths relative to the corpus), cycled")
    ap.add_argument("--manifest", help="append the TSV manifest here")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    if not args.corpus or not os.path.isdir(os.path.join(args.corpus, "messages")):
        sys.exit("mailfill: no corpus (set --corpus or MS_CORPUS to the dir with messages/)")
    folders = args.folder or DEFAULT_FOLDERS
    prior = []
    if args.manifest and os.path.exists(args.manifest):
        with open(args.manifest, encoding="utf-8") as f:
            prior = [line.split("\t", 1)[0] for line in f]
    start = len(prior) if args.start is None else args.start
    files = args.file or corpus_files(args.corpus)
    t0 = time.monotonic()

    dirs = [prepare_folder(args.maildir, f, args.uid, args.gid) for f in folders]
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    pid = os.getpid()
    now = int(time.time())
    per_folder = [0] * len(folders)
    uid_base = [prior.count(f) for f in folders]
    flag_counts = {}
    total_bytes = 0
    cache = {}
    manifest = []
    for i in range(args.count):
        k = i % len(folders)
        seq = start + i
        rel = files[seq % len(files)]
        data = cache.get(rel)
        if data is None:
            with open(os.path.join(args.corpus, rel), "rb") as f:
                data = f.read()
            cache[rel] = data
        size = len(data)
        vsize = size + data.count(b"\n") - data.count(b"\r\n")
        flags = FLAG_PATTERN[i % len(FLAG_PATTERN)]
        # time.usec sorts in fill order: Dovecot assigns new UIDs sorted by it.
        sec, usec = NAME_TIME_BASE + seq // 1000000, seq % 1000000
        name = "%d.M%06dP%dQ%d.%s,S=%d,W=%d" % (sec, usec, pid, i, host, size, vsize)
        tmp = os.path.join(dirs[k], "tmp", name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, args.uid, args.gid)
        finally:
            os.close(fd)
        # INTERNALDATE (file mtime): one minute apart, oldest first.
        mtime = now - (args.count - i) * 60
        os.utime(tmp, (mtime, mtime))
        final = name + ":2," + flags
        os.rename(tmp, os.path.join(dirs[k], "cur", final))
        per_folder[k] += 1
        flag_counts[flags] = flag_counts.get(flags, 0) + 1
        total_bytes += size
        manifest.append("%s\t%d\t%s\t%s\t%s\n" % (
            folders[k], uid_base[k] + per_folder[k],
            " ".join(IMAP_FLAG[c] for c in flags) or "-", rel, final))

    if args.manifest:
        with open(args.manifest, "a", encoding="utf-8") as f:
            f.writelines(manifest)
    took = time.monotonic() - t0
    if not args.quiet:
        print("mailfill: %d messages (%.1f MB) from %d corpus files into %s in %.2f s" % (
            args.count, total_bytes / 1e6, min(len(files), args.count), args.maildir, took))
        for f, d, n in zip(folders, dirs, per_folder):
            print("  %-16s %6d  %s" % (f, n, os.path.relpath(d, args.maildir)))
        unread = sum(n for fl, n in flag_counts.items() if "S" not in fl)
        print("  flags: %s; unread %d" % (
            ", ".join("%s=%d" % (fl or "none", n) for fl, n in sorted(flag_counts.items())), unread))


if __name__ == "__main__":
    main()
