#!/usr/bin/python3
# rss_watch.py OUT CMD...: runs CMD (typically /usr/bin/time ... PROG ...),
# finds the process CMD starts (PROG; CMD itself when it starts none) and
# polls its /proc/PID/status every 5 ms.  Writes to OUT one line:
#   ANON_MAX FILE_MAX HWM SHMEM_MAX
# the largest anonymous and file-backed RSS seen (kB; separate maxima, a
# poll may miss the very peak), the last VmHWM read, and the largest
# shared-memory RSS: a file on tmpfs that the process maps (the store's
# LMDB map with MS_TEST_TMP=/dev/shm) counts there, not as file-backed.  /proc/PID/status
# is read without walking page tables, so polling does not slow PROG.
# Exits with CMD's status.
import os
import subprocess
import sys
import time


def child_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def status(pid):
    d = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    d[k] = int(v.split()[0])
    except (OSError, ValueError):
        return None
    return d if len(d) == 4 else None


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    p = subprocess.Popen(cmd)
    anon = file = hwm = shmem = 0
    target = None
    while p.poll() is None:
        if target is None:
            target = child_of(p.pid)
        d = status(target if target is not None else p.pid)
        if d is not None:
            anon = max(anon, d["RssAnon"])
            file = max(file, d["RssFile"])
            hwm = max(hwm, d["VmHWM"])
            shmem = max(shmem, d["RssShmem"])
        time.sleep(0.005)
    with open(out, "w") as f:
        f.write("%d %d %d %d\n" % (anon, file, hwm, shmem))
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
