#!/usr/bin/env python3
"""A static HTTPS server for tests (autoconfig files, autodiscover answers):
serves DIR over TLS with CERT/KEY on ADDR:PORT (PORT 0: any; the port is
written to PORT_FILE once listening); a POST is answered as a GET of its
path, its body logged. Logs each request to LOG. Stopped by SIGTERM.

    https_serve.py --dir DIR --cert CERT --key KEY --addr 127.0.0.1
                   [--port 0] --port-file FILE [--log FILE]
"""
import argparse, functools, http.server, signal, ssl, sys

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--addr", default="127.0.0.1")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file", required=True)
ap.add_argument("--log")
a = ap.parse_args()
log = open(a.log, "a", buffering=1) if a.log else sys.stderr


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        log.write("%s %s\n" % (self.headers.get("Host", "-"), fmt % args))

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(n, 65536)).decode("utf-8", "replace")
        log.write("%s POST body (%s): %s\n" % (
            self.headers.get("Host", "-"),
            self.headers.get("Content-Type", "-"), " ".join(body.split())))
        self.do_GET()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(a.cert, a.key)
srv = http.server.ThreadingHTTPServer((a.addr, a.port),
                                      functools.partial(Handler, directory=a.dir))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(a.port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
import os
os.rename(a.port_file + ".tmp", a.port_file)
srv.serve_forever()
