"""Writes a whole sample folder (reference/, reach/, visitors/, hiring/) or one more night into it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from samplegen.hiring import write_hiring
from samplegen.reach import write_reach, write_reach_day
from samplegen.reference import write_reference
from samplegen.visitors import BASE_SESSIONS, users_for, write_visitors, write_visitors_day
from samplegen.world import DEFAULT_SEED


def generate_sample(out_dir: Path, seed: int = DEFAULT_SEED, scale: int = 1, sessions: int | None = None) -> dict:
    """Writes reach/, visitors/, hiring/, reference/ under out_dir.

    Returns a small summary (files written and data rows per file, unique
    visitors, sessions, attributed impressions). Deterministic for a given
    (seed, scale, sessions): byte-identical files on rerun. ``scale``
    multiplies visitor users and sessions; ``sessions`` sets the session
    count directly (users follow in proportion). Nothing else scales.
    """
    out_dir = Path(out_dir)
    n_sessions = sessions if sessions is not None else BASE_SESSIONS * scale
    n_users = users_for(n_sessions)
    reach_rows, impressions = write_reach(out_dir / "reach", seed)
    per_source = {
        "reference": write_reference(out_dir / "reference"),
        "reach": reach_rows,
        "visitors": write_visitors(out_dir / "visitors", seed, n_users, n_sessions),
        "hiring": write_hiring(out_dir / "hiring", seed),
    }
    rows = {f"{source}/{name}": count for source, files in per_source.items() for name, count in files.items()}
    return {
        "files": len(rows),
        "rows": rows,
        "unique_visitors": n_users,
        "sessions": n_sessions,
        "impressions_microbiome_signature": impressions,
    }


def write_extra_day(out_dir: Path, day: date, seed: int = 1, sessions: int = 20000) -> list[Path]:
    """Writes one more night's exports for ``day`` into an existing sample folder.

    One LinkedIn reach CSV holding that single day and one visitors .csv.gz
    with that day's sessions, under new file names (named for the day).
    Visitors are new users whose ids cannot collide with the base sample's.
    Used by the benchmark of an incremental night.
    """
    out_dir = Path(out_dir)
    reach = write_reach_day(out_dir / "reach", day, seed)
    return [reach, write_visitors_day(out_dir / "visitors", day, seed, sessions)]
