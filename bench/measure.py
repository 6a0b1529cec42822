"""Runs one command and reports its wall time, CPU time and peak memory as JSON.

    python bench/measure.py RESULT.json -- COMMAND [ARGS...]

bench/run_benchmark.py starts a fresh copy of this waiter for every measurement, because
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is a high-water mark over every child a process has
ever waited for: in a fresh waiter that has exactly one child, it is the peak resident set size
of the largest process of the command's tree (``max_rss_mib``). The pipeline runs Great
Expectations in a worker process beside its own, so the waiter also samples the resident set of
the whole tree every 50 ms and keeps its peak (``tree_rss_mib``: what the machine must hold).
The waiter's own memory is not counted. The command's stdout and stderr are inherited.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss_bytes(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, from /proc (0 for processes gone meanwhile)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, command = Path(argv[0]), argv[2:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_bytes(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode = process.wait()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(json.dumps({
        "command": command,
        "returncode": returncode,
        "wall_s": round(wall, 3),
        "user_s": round(after.ru_utime - before.ru_utime, 3),
        "sys_s": round(after.ru_stime - before.ru_stime, 3),
        # Linux reports ru_maxrss in KiB.
        "max_rss_mib": round(after.ru_maxrss / 1024, 1),
        # Sampling can miss a short spike that getrusage saw: never less than the largest process.
        "tree_rss_mib": round(max(peak[0] / 1024**2, after.ru_maxrss / 1024), 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
