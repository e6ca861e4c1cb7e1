#!/usr/bin/python3
"""OAuth2 token introspection endpoint (RFC 7662) for the Dovecot fixture.

Dovecot's oauth2 passdb POSTs "token=..." to /introspect; we answer
{"active": true, "username": USER} for a token listed in the tokens file
({"token": "user", ...}) and {"active": false} for anything else. Binds
127.0.0.1 on a port the kernel picks and writes that port to --port-file
(written last, atomically, so its presence means "ready").
"""
import argparse
import json
import os
import signal
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    with open(args.tokens, encoding="utf-8") as f:
        tokens = json.load(f)
    log = open(args.log, "a", buffering=1, encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(n).decode("ascii", "replace"))
            tok = (form.get("token") or [""])[0]
            if not tok:
                auth = self.headers.get("Authorization", "")
                if auth.lower().startswith("bearer "):
                    tok = auth[7:].strip()
            user = tokens.get(tok)
            body = {"active": True, "username": user} if user else {"active": False}
            log.write("%s %s -> %s\n" % (self.path, tok[:8] + "...", json.dumps(body)))
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, fmt, *a):
            log.write("http: " + (fmt % a) + "\n")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
