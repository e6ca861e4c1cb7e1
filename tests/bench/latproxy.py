#!/usr/bin/python3
"""latproxy.py - a TCP relay on 127.0.0.1 that delays every chunk by a fixed
time in each direction, so loopback behaves like a link with a round trip of
twice that (no netem in this kernel, so it is done in user space).  For
tests/bench/bench_roundtrip.sh.

    latproxy.py --listen PORT --target PORT --delay MS [--stats FILE]

Prints "PORT n" once listening.  On SIGTERM or SIGINT it stops and, with
--stats, writes one JSON object: connections, bytes each way, and
round_trips: how often a connection's client spoke again after the server
had spoken (a lower bound on the round trips a client waited for).  SIGUSR1
writes the figures so far and goes on (to count one stretch of a long-lived
client's connection).
"""
import argparse
import asyncio
import json
import os
import signal
import time

STATS = {"connections": 0, "bytes_up": 0, "bytes_down": 0, "round_trips": 0}


async def relay(src, dst, delay, up, side):
    """Copies src to dst, each chunk delay seconds after it was read."""
    queue = asyncio.Queue()

    async def writer():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            dst.write(data)
            await dst.drain()
        try:
            dst.write_eof()
        except (OSError, RuntimeError):
            pass

    task = asyncio.ensure_future(writer())
    try:
        while True:
            data = await src.read(1 << 16)
            if not data:
                break
            STATS["bytes_up" if up else "bytes_down"] += len(data)
            if up and side["last"] == "server":
                STATS["round_trips"] += 1
            side["last"] = "client" if up else "server"
            queue.put_nowait((time.monotonic() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def serve(creader, cwriter, args):
    STATS["connections"] += 1
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1",
                                                         args.target)
    except OSError:
        cwriter.close()
        return
    # The greeting comes first: the client's first words are a turn.
    side = {"last": "server"}
    delay = args.delay / 1000.0
    await asyncio.gather(relay(creader, swriter, delay, True, side),
                         relay(sreader, cwriter, delay, False, side))
    for w in (cwriter, swriter):
        try:
            w.close()
        except OSError:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--target", type=int, required=True)
    ap.add_argument("--delay", type=float, required=True,
                    help="one-way delay in ms")
    ap.add_argument("--stats")
    args = ap.parse_args()
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, args), "127.0.0.1", args.listen)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, write_stats, args)
    async with server:
        await stop.wait()
    write_stats(args)


def write_stats(args):
    if args.stats:
        with open(args.stats + ".tmp", "w") as f:
            json.dump(STATS, f)
        os.replace(args.stats + ".tmp", args.stats)


if __name__ == "__main__":
    asyncio.run(main())
