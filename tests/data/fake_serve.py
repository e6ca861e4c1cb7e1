"""TLS server loop shared by the scripted fake servers
(sync/fake_imap_sync.py, pop3/fake_pop3.py): one connection after the
other, or each in a thread of its own.  Not a test."""
import socket
import ssl
import threading


def serve(cert, key, handle, errors=(EOFError, ConnectionError, ssl.SSLError),
          plain=False, concurrent=False):
    """Listens on 127.0.0.1 (port printed as "PORT <n>"), wraps each
    connection in TLS (not with plain) and calls handle(sock) until
    killed; with concurrent, each connection in a thread of its own (a
    client's second connection is then served beside its first)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    print("PORT %d" % srv.getsockname()[1], flush=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    while True:
        sock, _ = srv.accept()
        if concurrent:
            threading.Thread(target=serve_one, daemon=True,
                             args=(ctx, sock, handle, errors, plain)).start()
        else:
            serve_one(ctx, sock, handle, errors, plain)


def serve_one(ctx, sock, handle, errors, plain=False):
    """One connection, to its end."""
    try:
        if not plain:
            sock = ctx.wrap_socket(sock, server_side=True)
        handle(sock)
    except errors:
        pass
    finally:
        # Half-close and drain what the client pipelined: closing
        # with unread input would reset the connection and the
        # client could lose the responses already sent.
        try:
            sock.settimeout(1.0)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except (OSError, ssl.SSLError):
            pass
        sock.close()
