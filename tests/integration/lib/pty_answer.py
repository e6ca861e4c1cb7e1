#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal (stdin and stdout both a terminal)
and answers its questions as a user at the terminal would.

    pty_answer.py [--timeout SECONDS] [--answer 'PROMPT=ANSWER']... -- CMD ARG...

Answers are given in order: each is typed (with a newline) once PROMPT has
appeared in the output after the previous answer.  Everything the command
printed goes to stdout.  Exit status: the command's; 124 when it did not
end within the timeout (it is killed), 125 when a prompt never came.
"""
import argparse, os, pty, select, signal, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--timeout", type=float, default=60)
ap.add_argument("--answer", action="append", default=[])
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
answers = [x.split("=", 1) for x in a.answer]

pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)

out = b""
seen = 0          # output before this offset was matched already
deadline = time.monotonic() + a.timeout
timed_out = False
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        timed_out = True
        break
    r, _, _ = select.select([fd], [], [], min(left, 0.5))
    if not r:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:         # EIO: the command closed the terminal
        break
    if not chunk:
        break
    out += chunk
    if answers and answers[0][0].encode() in out[seen:]:
        seen = len(out)
        os.write(fd, answers.pop(0)[1].encode() + b"\n")

if timed_out:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
os.close(fd)
sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
if timed_out:
    sys.exit(124)
if answers:
    sys.stdout.write("\npty_answer.py: never asked: %s\n" % answers[0][0])
    sys.exit(125)
sys.exit(os.waitstatus_to_exitcode(status))
