"""The Great Expectations worker: it leaves with the process that started it, even one that is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_worker_exits_when_its_parent_dies_without_stopping_it():
    script = ("import os, time\nfrom assets.quality import gx_runner\ngx_runner.start()\n"
              "while not gx_runner._POOL._processes: time.sleep(0.05)\n"
              "print(*gx_runner._POOL._processes, flush=True)\nos._exit(0)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    workers = [int(p) for p in done.stdout.split()]
    assert workers, done.stdout + done.stderr
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), f"worker(s) {workers} outlived their parent"
