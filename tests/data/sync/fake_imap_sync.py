#!/usr/bin/python3
"""fake_imap_sync.py - a scripted, misbehaving IMAP server for
tests/integration/test_imap_sync_faults.sh.

IMAP4rev1 over implicit TLS (--cert, --key) on 127.0.0.1 (AUTH=PLAIN, no CONDSTORE/QRESYNC/UIDPLUS/
LIST-STATUS), one connection at a time, until killed.  Prints "PORT <n>"
once listening.  The mailboxes live in memory and persist across
connections; their messages are given on the command line:

  --box NAME:UID,UID,...   (message UID n has a small body naming n)
  --uidnext NAME:N         (default: highest UID + 1)

Every body sent is logged ("BODY <box> <uid>") to the --log file.

The fault of the current connection is read from --mode-file at every
login (so a test can switch the server between passes), one of:

  normal      a correct server
  stray       the answer to the first UID FETCH range also carries a
              message no command asked for (UID 700, with a body),
              then the connection drops when the next range is asked
              for
  nouid       the FETCH of the second message of a range carries its
              body but no UID
  nouideven   as nouid, for every message with an even UID
  short       the second message's literal is shorter than RFC822.SIZE
  midno       the first UID FETCH range answers its first message, then
              a tagged NO; later ranges answer normally
  drop        the connection closes in the middle of the second
              message's literal
  gone        SELECT of any folder but INBOX answers NO [NONEXISTENT]
  selectbusy  SELECT of any folder but INBOX answers NO [UNAVAILABLE]
  uidnextback SELECT reports UIDNEXT 2
  uidnextzero SELECT reports UIDNEXT 0 (not a valid UID)
  unordered   a UID FETCH without a body answers in descending UID order
              (as unsolicited flag updates in the middle of it could)
  noappenduid APPEND answers OK without APPENDUID (no UIDPLUS either way)
  rewrite     APPEND stores the message as GNU imap4d does (rewrite():
              no "From " line, Status: or X-UID:, spaces squeezed)
  sentcopy    APPEND first stores a "Sent copy" of the message (a
              Received: line more, the server's own date), as a server
              that saves submitted mail does, then the message (its
              INTERNALDATE the one the APPEND gave, as for every APPEND)
  searchbye   a UID SEARCH by HEADER closes the connection unanswered
              ("SEARCHBYE" goes to the --log file)
  appendhang  the first APPEND is answered OK without APPENDUID ("APPENDED"
              goes to the --log file), then nothing is answered any
              more (the test kills the client meanwhile)
  vanishedhigh every UID FETCH answer starts with "* VANISHED 10:20",
              UIDs above UIDNEXT that never existed
  modified    UID STORE leaves the lowest UID of its set alone and
              answers OK [MODIFIED that-uid]
  reorder     the tagged reply to a UID STORE comes after the next
              command's (alone after 0.5 s when no command follows)
  copyhang    the first UID COPY is done and answered (COPYUID),
              "COPIED" goes to the --log file, then nothing is answered
              any more (the test kills the client meanwhile)
  copybye     the first UID COPY is done, then the connection closes
              before its tagged reply (and COPYUID) is sent
  copyno      UID COPY and UID MOVE answer NO
  expungeno   UID EXPUNGE answers NO (and expunges nothing)
  movebye     the first UID MOVE is done and its untagged COPYUID sent,
              then the connection closes before the tagged OK
  copyuidother COPYUID names another UIDVALIDITY than the destination's
  copyuidmulti COPYUID names two UIDs (one more than was copied)
  copyuiddup  COPYUID names UID 1 of the destination (a UID it already has)
  appenduiddup APPENDUID names UID 1 (a UID the folder already has)
  appendno    APPEND answers NO [SERVERBUG] (as Cyrus refuses some malformed
              mail), stores nothing; "REFUSED" goes to the --log file
  appendquota APPEND answers NO [OVERQUOTA], stores nothing
  newuv       every folder has UIDVALIDITY one above its own
  dupuid      a UID FETCH with bodies answers UID 2 twice, the second time
              with another body
  listmiss    LIST shows INBOX only (the other folders still exist)
  listdup     LIST shows every folder twice
  listflood   LIST also shows 40,000 \\Noselect folders Flood/<n>
  statusno    STATUS of a folder that does not exist answers a plain NO
              (by default NO [NONEXISTENT])
  statusbig   STATUS of any folder but INBOX says UIDNEXT 4294967296
  selectbig   SELECT of any folder but INBOX says UIDNEXT 4294967296
  statusunquoted STATUS answers name the folder unquoted (GNU imap4d):
              a name with a space breaks the grammar
  hmsnil      STATUS answers end in "HIGHESTMODSEQ NIL" (hoodiecrow)

Modes combine with "+" ("newuv+nouid").  UID SEARCH understands ALL, UID
sets, sequence sets and HEADER field "value" (ANDed), and RETURN (...)
(answered by ESEARCH ALL);
"SEARCHED <n hits>" goes to the --log file.

A NUL byte in an APPEND's plain literal (IMAP forbids it) is answered BAD
and logged ("NULLITERAL"); a literal8 (~{n}) needs BINARY and is logged
("LITERAL8").  As Dovecot, a body with NUL bytes is stored as it came and
fetched (BODY[]) with 0x80 in their place.

More options: --caps WORDS adds capabilities (UIDPLUS: COPYUID, APPENDUID
and UID EXPUNGE are answered as such; MOVE: UID MOVE is offered; BINARY:
APPEND takes a literal8; IDLE: IDLE waits for DONE and reports nothing,
as a server whose IDLE only polls does between its checks);
--greeting TEXT replaces the greeting's text ("Courier-IMAP ready." plays
Courier); --concurrent serves each connection in a thread of its own, so
that a client's second connection (push) is served beside its first;
--uidvalidity NAME:N (default 7); --refuse-auth MECH (repeatable:
AUTHENTICATE MECH, or LOGIN for the LOGIN command, is answered NO, as GNU
imap4d refuses the SCRAM-SHA-256 it offers: a NO without a response
code; "AUTH <mech>" goes to the --log file for every login attempt);
--wrong-password: every login attempt is answered NO
[AUTHENTICATIONFAILED], as Dovecot answers a wrong password; --plain: no TLS (tls = none); --refuse-select NAME (repeatable: the
folder is listed as selectable, but STATUS and SELECT of it answer NO, as
Gmail's "[Gmail]" when its \\Noselect is missing).  UID COPY, UID MOVE, UID EXPUNGE and CREATE
are always understood.

Two environment variables change the bodies (the tests' own copy of
body() reads them too): FAKE_IMAP_NO_MSGID=1, no Message-ID in any body;
FAKE_IMAP_MSGID_OF=12:13,... UID 12's body carries UID 13's Message-ID.
BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] is answered (and not logged).
"""
import argparse
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fake_serve import serve  # noqa: E402

BOXES = {}
UIDNEXT = {}
BODIES = {}     # bodies APPENDed, by (box, uid)
DATES = {}      # the date-time an APPEND gave, by (box, uid)
FLAGS = {}      # flags other than \\Seen alone, by (box, uid)
UIDVALIDITY = 7
UIDVALIDITIES = {}  # by box, when not UIDVALIDITY
CAPS = ""           # extra capabilities (--caps)
REFUSE_AUTH = set()  # mechanisms (and LOGIN) answered NO (--refuse-auth)
WRONG_PASSWORD = False  # every login answered NO [AUTHENTICATIONFAILED]
REFUSE_SELECT = set()  # folders listed but never selectable (--refuse-select)
GREETING = "fake ready"  # the greeting's text (--greeting)


def uidvalidity(box):
    return UIDVALIDITIES.get(box, UIDVALIDITY)


def body(uid, box=None):
    if (box, uid) in BODIES:
        return BODIES[(box, uid)]
    # FAKE_IMAP_NO_MSGID=1 (in the environment, so that the tests' own
    # copy of this function agrees): bodies without Message-ID, which
    # only their content can re-match after a UIDVALIDITY change.
    if os.environ.get("FAKE_IMAP_NO_MSGID"):
        return ("From: a@example.org\r\nTo: b@example.org\r\n"
                "Subject: message %d\r\n\r\nBody of message %d.\r\n"
                % (uid, uid)).encode()
    # FAKE_IMAP_MSGID_OF=12:13,...: UID 12 carries the Message-ID of UID
    # 13 (the same size too when the UIDs have as many digits), as two
    # copies of one message that differ (a list's and the direct one).
    ids = dict(tuple(int(x) for x in p.split(":")) for p in
               os.environ.get("FAKE_IMAP_MSGID_OF", "").split(",") if p)
    return ("From: a@example.org\r\nTo: b@example.org\r\n"
            "Subject: message %d\r\nMessage-ID: <m%d@example.org>\r\n"
            "\r\nBody of message %d.\r\n"
            % (uid, ids.get(uid, uid), uid)).encode()


def mailbox_arg(arg):
    """The mailbox name an argument starts with (quoted or an atom)."""
    if arg.startswith('"'):
        m = re.match(r'"((?:[^"\\]|\\.)*)"', arg)
        return re.sub(r'\\(.)', r'\1', m.group(1))
    return arg.split(" ")[0]


def rewrite(data):
    """What GNU imap4d stores of an APPENDed message: no leading "From "
    line, no Status: or X-UID: header, runs of spaces squeezed."""
    lines = data.split(b"\r\n")
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    out, in_header = [], True
    for ln in lines:
        if ln == b"":
            in_header = False
        if in_header and re.match(rb"(?i)(status|x-uid):", ln):
            continue
        out.append(re.sub(rb" +", b" ", ln))
    return b"\r\n".join(out)


def header_has(data, field, value):
    """The header field (case-insensitive) contains value."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for ln in head.split("\r\n"):
        name, _, v = ln.partition(":")
        if name.strip().lower() == field.lower() and value in v:
            return True
    return False


def parse_set(s, box):
    uids = []
    for part in s.split(","):
        if ":" in part:
            a, b = part.split(":")
            hi = max(BOXES[box] + [0]) if b == "*" else int(b)
            lo = int(a)
            if b == "*" and lo > hi:
                # "n:*" is the last message when n is past it.
                uids += [hi] if hi else []
                continue
            lo, hi = min(lo, hi), max(lo, hi)
            uids += [u for u in BOXES[box] if lo <= u <= hi]
        else:
            uids += [u for u in BOXES[box] if u == int(part)]
    return sorted(set(uids))


class Conn:
    def __init__(self, sock, mode_file, log=None):
        self.sock = sock
        self.log = log
        self.buf = b""
        self.mode_file = mode_file
        self.mode = "normal"
        self.box = None
        self.n_fetch = 0
        self.deferred = None

    def has(self, mode):
        """The connection's fault includes mode ("a+b" is both)."""
        return mode in self.mode.split("+")

    def uv(self, box):
        return uidvalidity(box) + (1 if self.has("newuv") else 0)

    def line(self):
        while b"\n" not in self.buf:
            # reorder: with no command pipelined behind the deferred
            # reply it goes out alone (the client waits for it).
            self.sock.settimeout(0.5 if self.deferred else None)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                self.send(self.deferred)
                self.deferred = None
                continue
            finally:
                self.sock.settimeout(None)
            if not d:
                raise EOFError
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        ln = ln.rstrip(b"\r").decode("latin-1")
        words = ln.split(" ")
        if self.log and len(words) >= 2:
            cmd = words[1].upper()
            if cmd == "UID" and len(words) >= 3:
                cmd += " " + words[2].upper()
            with open(self.log, "a") as f:
                f.write(cmd + "\n")
        return ln

    def literal(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def append(self, tag, arg):
        m = re.match(r'.*?(~?)\{(\d+)(\+?)\}$', arg)
        name, n = mailbox_arg(arg), int(m.group(2))
        is_binary = m.group(1) == "~"
        if not m.group(3):
            self.send("+ go ahead\r\n")
        data = self.literal(n)
        self.line()     # the CRLF ending the command
        if is_binary and "BINARY" not in CAPS.split():
            self.send("%s BAD literal8 without BINARY\r\n" % tag)
            return
        with open(self.log, "a") as f:
            if is_binary:
                f.write("LITERAL8\n")
            elif b"\0" in data:
                f.write("NULLITERAL\n")
        if not is_binary and b"\0" in data:
            self.send("%s BAD NUL in a literal\r\n" % tag)
            return
        if self.has("appendquota"):
            self.send("%s NO [OVERQUOTA] Quota exceeded\r\n" % tag)
            return
        if self.has("appendno"):
            with open(self.log, "a") as f:
                f.write("REFUSED\n")
            self.send("%s NO [SERVERBUG] Message contains invalid "
                      "header\r\n" % tag)
            return
        if self.has("sentcopy"):
            uid = UIDNEXT[name]
            UIDNEXT[name] = uid + 1
            BOXES[name].append(uid)
            BODIES[(name, uid)] = b"Received: by fake (a Sent copy)\r\n" + data
        uid = UIDNEXT[name]
        UIDNEXT[name] = uid + 1
        BOXES[name].append(uid)
        BODIES[(name, uid)] = rewrite(data) if self.has("rewrite") else data
        d = re.search(r'"( ?\d{1,2}-\w{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4})"', arg)
        if d:
            DATES[(name, uid)] = d.group(1)
        if self.has("noappenduid") or self.has("appendhang"):
            self.send("%s OK APPEND done\r\n" % tag)
            if self.has("appendhang"):
                with open(self.log, "a") as f:
                    f.write("APPENDED\n")
                while True:
                    self.line()
        else:
            self.send("%s OK [APPENDUID %d %d] APPEND done\r\n" % (
                tag, self.uv(name), 1 if self.has("appenduiddup") else uid))

    def send(self, s):
        self.sock.sendall(s if isinstance(s, bytes) else s.encode())

    def fetch_one(self, uid, seq, drop=False, nouid=False, short=False,
                  with_body=True, with_msgid=False):
        # Dovecot sends NUL bytes as 0x80 in BODY[].
        b = body(uid, self.box).replace(b"\0", b"\x80")
        size = len(b)
        if short:
            b = b[:-5]
        head = "* %d FETCH (%sFLAGS (%s) INTERNALDATE " \
               "\"%s\" RFC822.SIZE %d" % (
                   seq, "" if nouid else "UID %d " % uid,
                   " ".join(sorted(FLAGS.get((self.box, uid), {"\\Seen"}))),
                   DATES.get((self.box, uid), "01-Jan-2024 10:00:00 +0000"),
                   size)
        if with_msgid:
            # BODY[HEADER.FIELDS (MESSAGE-ID)]: the field and the blank
            # line, or the blank line alone.
            h = b"".join(ln + b"\r\n" for ln in
                         b.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                         if ln.lower().startswith(b"message-id:")) + b"\r\n"
            head += " BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n" % len(h)
            self.send(head.encode() + h + b")\r\n")
            return
        if not with_body:
            self.send(head + ")\r\n")
            return
        if self.log:
            with open(self.log, "a") as f:
                f.write("BODY %s %d\n" % (self.box, uid))
        self.send(head + " BODY[] {%d}\r\n" % len(b))
        if drop:
            self.send(b[:10])
            raise EOFError
        self.send(b + b")\r\n")

    def uid_store(self, tag, args):
        m = re.match(r"([0-9:*,]+) (?:\(UNCHANGEDSINCE \d+\) )?([+-])FLAGS"
                     r"(?:\.SILENT)? \((.*)\)", args)
        uids = parse_set(m.group(1), self.box)
        code = ""
        if self.has("modified") and uids:
            # Another client changed the lowest UID meanwhile.
            code = "[MODIFIED %d] " % uids[0]
            uids = uids[1:]
        for uid in uids:
            cur = FLAGS.setdefault((self.box, uid), {"\\Seen"})
            for fl in m.group(3).split():
                if m.group(2) == "+":
                    cur.add(fl)
                else:
                    cur.discard(fl)
        if self.has("reorder"):
            self.deferred = "%s OK STORE done\r\n" % tag
            return
        self.send("%s OK %sSTORE done\r\n" % (tag, code))

    def copy(self, tag, args, is_move):
        m = re.match(r'([0-9:*,]+) "?([^"]+)"?$', args)
        dest = m.group(2)
        if self.has("copyno"):
            self.send("%s NO [SERVERBUG] cannot copy\r\n" % tag)
            return
        if dest not in BOXES:
            self.send("%s NO [TRYCREATE] no such mailbox\r\n" % tag)
            return
        src_uids = parse_set(m.group(1), self.box)
        dst_uids = []
        for uid in src_uids:
            new = UIDNEXT[dest]
            UIDNEXT[dest] = new + 1
            BOXES[dest].append(new)
            BODIES[(dest, new)] = body(uid, self.box)
            FLAGS[(dest, new)] = set(FLAGS.get((self.box, uid), {"\\Seen"}))
            FLAGS[(dest, new)].discard("\\Deleted")
            dst_uids.append(new)
        code = ""
        if src_uids and "UIDPLUS" in CAPS:
            uv = self.uv(dest)
            if self.has("copyuidother"):
                uv += 1000
            dset = ",".join(str(u) for u in dst_uids)
            if self.has("copyuiddup"):
                dset = "1"
            if self.has("copyuidmulti"):
                dset = "%d:%d" % (dst_uids[0], dst_uids[0] + 1)
            code = "[COPYUID %d %s %s] " % (
                uv, ",".join(str(u) for u in src_uids), dset)
        if not is_move:
            if self.has("copybye"):
                raise EOFError
            self.send("%s OK %sCOPY done\r\n" % (tag, code))
            if self.has("copyhang"):
                with open(self.log, "a") as f:
                    f.write("COPIED\n")
                while True:
                    self.line()
            return
        if code:
            self.send("* OK %smoved\r\n" % code)
        self.expunge_uids(src_uids)
        if self.has("movebye"):
            raise EOFError
        self.send("%s OK MOVE done\r\n" % tag)

    def expunge_uids(self, uids):
        for uid in sorted(uids, reverse=True):
            if uid in BOXES[self.box]:
                seq = BOXES[self.box].index(uid) + 1
                BOXES[self.box].remove(uid)
                self.send("* %d EXPUNGE\r\n" % seq)

    def uid_expunge(self, tag, args):
        if self.has("expungeno"):
            self.send("%s NO [SERVERBUG] cannot expunge\r\n" % tag)
            return
        self.expunge_uids([u for u in parse_set(args.strip(), self.box)
                           if "\\Deleted" in FLAGS.get((self.box, u), ())])
        self.send("%s OK UID EXPUNGE done\r\n" % tag)

    def uid_fetch(self, tag, args):
        m = re.match(r"([0-9:*,]+) \((.*)\)", args)
        uids = parse_set(m.group(1), self.box)
        items = m.group(2)
        with_body = "BODY.PEEK[]" in items
        self.n_fetch += 1
        if self.has("stray") and self.n_fetch == 2 and with_body:
            raise EOFError
        seqs = {u: i + 1 for i, u in enumerate(BOXES[self.box])}
        if self.has("vanishedhigh"):
            self.send("* VANISHED 10:20\r\n")
        if self.has("unordered") and not with_body:
            uids.reverse()
        for i, uid in enumerate(uids):
            second = i == 1 and with_body
            if self.has("midno") and self.n_fetch == 1 and i == 1:
                self.send("%s NO [SERVERBUG] cannot fetch\r\n" % tag)
                return
            self.fetch_one(uid, seqs[uid], with_body=with_body,
                           with_msgid="HEADER.FIELDS (MESSAGE-ID)" in items,
                           drop=self.has("drop") and second,
                           nouid=(self.has("nouid") and second) or
                           (self.has("nouideven") and with_body and
                            uid % 2 == 0),
                           short=self.has("short") and second)
            if self.has("dupuid") and with_body and uid == 2:
                b = body(uid, self.box) + b"X-Other: a second message\r\n"
                self.send("* %d FETCH (UID %d FLAGS () RFC822.SIZE %d "
                          "BODY[] {%d}\r\n" % (seqs[uid], uid, len(b),
                                                len(b)))
                self.send(b + b")\r\n")
            if self.has("stray") and self.n_fetch == 1 and i == 0:
                self.fetch_one(700, 99, with_body=True)
        self.send("%s OK UID FETCH done\r\n" % tag)

    def uid_search(self, tag, args):
        """UID SEARCH [RETURN (...)] with keys ALL, UID set and sequence
        sets, ANDed; answers SEARCH, or ESEARCH with RETURN."""
        words = args.split()
        is_esearch = False
        if words and words[0].upper() == "RETURN":
            is_esearch = True
            while not words.pop(0).endswith(")"):
                pass
        if self.has("searchbye") and "HEADER" in args.upper():
            with open(self.log, "a") as f:
                f.write("SEARCHBYE\n")
            raise EOFError
        seqs = {u: i + 1 for i, u in enumerate(BOXES[self.box])}
        hits = list(BOXES[self.box])
        while words:
            w = words.pop(0)
            if w.upper() == "ALL":
                continue
            if w.upper() == "UID":
                keep = set(parse_set(words.pop(0), self.box))
                hits = [u for u in hits if u in keep]
                continue
            if w.upper() == "HEADER":
                field, value = words.pop(0), words.pop(0).strip('"')
                hits = [u for u in hits
                        if header_has(body(u, self.box), field, value)]
                continue
            n = len(BOXES[self.box])
            want = set()
            for part in w.split(","):
                a, _, b = part.partition(":")
                a = n if a == "*" else int(a)
                b = a if not b else n if b == "*" else int(b)
                want.update(range(min(a, b), max(a, b) + 1))
            hits = [u for u in hits if seqs[u] in want]
        if self.log:
            with open(self.log, "a") as f:
                f.write("SEARCHED %d\n" % len(hits))
        if is_esearch:
            self.send("* ESEARCH (TAG \"%s\") UID%s\r\n" % (
                tag, " ALL " + ",".join(map(str, hits)) if hits else ""))
        else:
            self.send("* SEARCH%s\r\n" % "".join(" %d" % u for u in hits))
        self.send("%s OK SEARCH done\r\n" % tag)

    def run(self):
        caps = "IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN" + (
            " " + CAPS if CAPS else "")
        self.send("* OK [CAPABILITY %s] %s\r\n" % (caps, GREETING))
        while True:
            ln = self.line()
            # reorder: a deferred tagged reply follows the next command's.
            prev, self.deferred = self.deferred, None
            self.command(ln, caps)
            if prev:
                self.send(prev)
                if self.log:
                    with open(self.log, "a") as f:
                        f.write("REORDERED\n")

    def command(self, ln, caps):
        tag, cmd, *rest = ln.split(" ", 2) + [""]
        arg = rest[0]
        ucmd = cmd.upper()
        if ucmd == "CAPABILITY":
            self.send("* CAPABILITY %s\r\n%s OK done\r\n" % (caps, tag))
        elif ucmd in ("LOGIN", "AUTHENTICATE"):
            mech = arg.split(" ")[0].upper() if ucmd == "AUTHENTICATE" \
                else "LOGIN"
            if self.log:
                with open(self.log, "a") as f:
                    f.write("AUTH %s\n" % mech)
            if WRONG_PASSWORD:
                self.send("%s NO [AUTHENTICATIONFAILED] Authentication "
                          "failed.\r\n" % tag)
                return
            if mech in REFUSE_AUTH:
                # As GNU imap4d does with SCRAM-SHA-256 for a user
                # without SCRAM keys: offered, then refused.
                self.send("%s NO %s authentication failed\r\n" % (
                    tag, mech))
                return
            if ucmd == "AUTHENTICATE" and " " not in arg:
                self.send("+ \r\n")
                self.line()
            with open(self.mode_file) as f:
                self.mode = f.read().strip()
            self.send("%s OK [CAPABILITY %s] in\r\n" % (tag, caps))
        elif ucmd == "LIST":
            for name in BOXES:
                if self.has("listmiss") and name != "INBOX":
                    continue
                for _ in range(2 if self.has("listdup") else 1):
                    self.send('* LIST () "/" "%s"\r\n' % name)
            if self.has("listflood"):
                self.send("".join('* LIST (\\Noselect) "/" "Flood/%d"\r\n'
                                  % i for i in range(40000)))
            self.send("%s OK LIST done\r\n" % tag)
        elif ucmd == "STATUS":
            name = mailbox_arg(arg)
            if name in REFUSE_SELECT:
                self.send("%s NO [NONEXISTENT] Unknown Mailbox: %s "
                          "(Failure)\r\n" % (tag, name))
                return
            if name not in BOXES:
                self.send("%s NO %sno such mailbox\r\n" % (
                    tag, "" if self.has("statusno") else "[NONEXISTENT] "))
                return
            un = UIDNEXT[name]
            if self.has("statusbig") and name != "INBOX":
                un = 4294967296
            # statusunquoted: the name as GNU imap4d sends it, spaces
            # and all; hmsnil: HIGHESTMODSEQ NIL, as hoodiecrow
            # answers for a folder never used.
            self.send("* STATUS %s (MESSAGES %d UIDNEXT %d "
                      "UIDVALIDITY %d%s)\r\n" % (
                          name if self.has("statusunquoted")
                          else '"%s"' % name, len(BOXES[name]), un,
                          self.uv(name),
                          " HIGHESTMODSEQ NIL" if self.has("hmsnil")
                          else ""))
            self.send("%s OK STATUS done\r\n" % tag)
        elif ucmd in ("SELECT", "EXAMINE"):
            name = mailbox_arg(arg)
            if name in REFUSE_SELECT:
                # Gmail's "[Gmail]" without \\Noselect in its LIST.
                self.send("%s NO [NONEXISTENT] Unknown Mailbox: %s (now in "
                          "authenticated state) (Failure)\r\n" % (tag, name))
                return
            if self.has("gone") and name != "INBOX":
                self.send("%s NO [NONEXISTENT] no such mailbox\r\n"
                          % tag)
                return
            if self.has("selectbusy") and name != "INBOX":
                self.send("%s NO [UNAVAILABLE] Mailbox is locked, try "
                          "later\r\n" % tag)
                return
            self.box = name
            self.n_fetch = 0
            un = 2 if self.has("uidnextback") else \
                0 if self.has("uidnextzero") else UIDNEXT[name]
            if self.has("selectbig") and name != "INBOX":
                un = 4294967296
            self.send("* %d EXISTS\r\n* OK [UIDVALIDITY %d] v\r\n"
                      "* OK [UIDNEXT %d] n\r\n"
                      "* FLAGS (\\Seen \\Deleted)\r\n"
                      "%s OK [READ-WRITE] selected\r\n" % (
                          len(BOXES[name]), self.uv(name), un, tag))
        elif ucmd == "UID" and arg.upper().startswith("STORE "):
            self.uid_store(tag, arg[6:])
        elif ucmd == "CREATE":
            name = arg.strip().strip('"')
            if name in BOXES:
                self.send("%s NO [ALREADYEXISTS] exists\r\n" % tag)
                return
            BOXES[name] = []
            UIDNEXT[name] = 1
            self.send("%s OK CREATE done\r\n" % tag)
        elif ucmd == "APPEND":
            self.append(tag, arg)
        elif ucmd == "UID" and arg.upper().startswith("FETCH "):
            self.uid_fetch(tag, arg[6:])
        elif ucmd == "UID" and arg.upper().startswith("SEARCH "):
            self.uid_search(tag, arg[7:])
        elif ucmd == "UID" and arg.upper().startswith("COPY "):
            self.copy(tag, arg[5:], False)
        elif ucmd == "UID" and arg.upper().startswith("MOVE ") and \
                "MOVE" in CAPS.split():
            self.copy(tag, arg[5:], True)
        elif ucmd == "UID" and arg.upper().startswith("EXPUNGE ") and \
                "UIDPLUS" in CAPS.split():
            self.uid_expunge(tag, arg[8:])
        elif ucmd == "IDLE" and "IDLE" in CAPS.split():
            self.send("+ idling\r\n")
            if self.line().strip().upper() != "DONE":
                self.send("%s BAD expected DONE\r\n" % tag)
                return
            self.send("%s OK IDLE done\r\n" % tag)
        elif ucmd == "NOOP" or ucmd == "ID" or ucmd == "ENABLE":
            self.send("%s OK done\r\n" % tag)
        elif ucmd == "LOGOUT":
            self.send("* BYE bye\r\n%s OK done\r\n" % tag)
            raise EOFError
        else:
            self.send("%s BAD unknown %s\r\n" % (tag, cmd))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--box", action="append", default=[])
    ap.add_argument("--uidnext", action="append", default=[])
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--log", help="appends every command name received")
    ap.add_argument("--key", required=True)
    ap.add_argument("--caps", default="")
    ap.add_argument("--uidvalidity", action="append", default=[])
    ap.add_argument("--refuse-auth", action="append", default=[])
    ap.add_argument("--refuse-select", action="append", default=[])
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--greeting", default="fake ready")
    ap.add_argument("--concurrent", action="store_true")
    ap.add_argument("--wrong-password", action="store_true")
    a = ap.parse_args()
    global CAPS, GREETING, WRONG_PASSWORD
    CAPS = a.caps
    WRONG_PASSWORD = a.wrong_password
    REFUSE_AUTH.update(m.upper() for m in a.refuse_auth)
    REFUSE_SELECT.update(a.refuse_select)
    GREETING = a.greeting
    for spec in a.uidvalidity:
        name, n = spec.split(":")
        UIDVALIDITIES[name] = int(n)
    for spec in a.box:
        name, uids = spec.split(":")
        BOXES[name] = sorted(int(u) for u in uids.split(",") if u)
        UIDNEXT[name] = max(BOXES[name] + [0]) + 1
    for spec in a.uidnext:
        name, n = spec.split(":")
        UIDNEXT[name] = int(n)
    serve(a.cert, a.key, lambda sock: Conn(sock, a.mode_file, a.log).run(),
          plain=a.plain, concurrent=a.concurrent)

if __name__ == "__main__":
    sys.exit(main())
