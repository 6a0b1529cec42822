"""Runs one command and reports its wall time, CPU time and peak memory as JSON.

    python bench/measure.py RESULT.json -- COMMAND [ARGS...]

bench/run_benchmark.py starts a fresh copy of this waiter for every measurement, because
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is a high-water mark over every child a process has
ever waited for: in a fresh waiter that has exactly one child, it is that command's peak resident
set size (of the largest process of its tree, not the sum of processes running side by side; the
pipeline and both baselines do their work in one process). The waiter's own memory is not
counted (RUSAGE_CHILDREN excludes the caller). The command's stdout and stderr are inherited.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, command = Path(argv[0]), argv[2:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    returncode = subprocess.call(command)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(json.dumps({
        "command": command,
        "returncode": returncode,
        "wall_s": round(wall, 3),
        "user_s": round(after.ru_utime - before.ru_utime, 3),
        "sys_s": round(after.ru_stime - before.ru_stime, 3),
        # Linux reports ru_maxrss in KiB.
        "max_rss_mib": round(after.ru_maxrss / 1024, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
