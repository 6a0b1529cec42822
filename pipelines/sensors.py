"""A sensor on the landing folders: one run per new set of exports, never two for the same file."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import dagster as dg

from assets.ingest.landing import SUFFIXES, classify
from pipelines.jobs import nightly_refresh
from pipelines.settings import from_env

# A file modified this recently may still be being copied in; the next tick takes it.
SETTLE_SECONDS = 30


def landing_signatures(raw_dir: Path, now: float | None = None, settle: float | None = None) -> dict[str, str]:
    """path -> "size:mtime_ns" for every settled file in the landing folders (and reference data) that is
    not ignored by name: a stray file starts a run too, so that its rejection is recorded and shown."""
    now = time.time() if now is None else now
    settle = SETTLE_SECONDS if settle is None else settle
    found: dict[str, str] = {}
    for source in SUFFIXES:
        folder = raw_dir / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not path.is_file() or classify(path, source).verdict == "ignored":
                continue
            stat = path.stat()
            if now - stat.st_mtime < settle:
                continue
            found[f"{source}/{path.name}"] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return found


def new_or_changed(seen: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    return {path: sig for path, sig in current.items() if seen.get(path) != sig}


@dg.sensor(
    name="new_exports",
    job=nightly_refresh,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts the refresh when a new or changed export lands in data/raw/<source>/.",
)
def new_exports_sensor(context: dg.SensorEvaluationContext):
    raw_dir = from_env().raw_dir
    seen = json.loads(context.cursor) if context.cursor else {}
    current = landing_signatures(raw_dir)
    changed = new_or_changed(seen, current)
    if not changed:
        return dg.SkipReason(f"no new or changed export in {raw_dir}")
    # The run key is the set of changed files: the same set can never start a second run,
    # even if a cursor update were lost.
    run_key = hashlib.sha256(json.dumps(sorted(changed.items())).encode()).hexdigest()[:16]
    context.update_cursor(json.dumps(current, sort_keys=True))
    return dg.RunRequest(
        run_key=run_key,
        tags={"talent/trigger": "new_exports", "talent/files": str(len(changed))},
    )
