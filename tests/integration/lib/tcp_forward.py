#!/usr/bin/env python3
"""Forwards TCP connections from LISTEN_ADDR:LISTEN_PORT to
127.0.0.1:TARGET_PORT, byte for byte (TLS passes through untouched), for
each LISTEN_PORT=TARGET_PORT pair given. Lets a test put a fixture server
on a standard port (993, 465...) of its own loopback address. Writes
READY_FILE once every listener is bound. Stopped by SIGTERM.

    tcp_forward.py --addr 127.0.0.5 --ready FILE 993=40123 143=40124 ...
"""
import argparse, asyncio, os, signal, sys

ap = argparse.ArgumentParser()
ap.add_argument("--addr", required=True)
ap.add_argument("--ready", required=True)
ap.add_argument("pairs", nargs="+")
a = ap.parse_args()


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


def handler(target):
    async def serve(reader, writer):
        try:
            r2, w2 = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pump(reader, w2), pump(r2, writer))
    return serve


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    servers = []
    for p in a.pairs:
        listen, target = (int(x) for x in p.split("="))
        servers.append(await asyncio.start_server(handler(target), a.addr, listen))
    with open(a.ready + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(a.ready + ".tmp", a.ready)
    await stop
    for s in servers:
        s.close()


asyncio.run(main())
