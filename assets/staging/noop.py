"""Nights with nothing to do: are the inputs exactly what the last publication was built from?

A night is a no-op, and the schedule and `talent-pipeline run` skip it, when all of these hold:

1. **landing folders**: ``reach/``, ``visitors/``, ``hiring/`` and ``reference/`` hold the same
   entries (every file, hidden and stray ones included: each gets a ledger outcome too),
   each with the same size and modification time (ns), as when the last publishing run started.
   That run took this fingerprint in its first step, before any folder was listed, so a file
   that landed during the run makes the next night differ (and run);
2. **staging inputs**: the same reference digest: the content of ``reference/*.csv``, the PII
   key's fingerprint and ``STAGING_RULES_VERSION`` (the digest whose change re-stages everything);
3. that run was the **last run to start writing** the warehouse, and it published: a failed or
   blocked run since may have staged rows that no publication shows;
4. the **ledger** is as that run left it at publication (no ``withdraw`` since);
5. ``published.duckdb`` is **that run's publication** (not rolled back or replaced), and the
   report's ``index.html`` exists.

Content of landing files is not hashed here (10M sessions are about 1 GB): a changed
size or mtime is enough to run, and a run whose files hash as before loads nothing new.
Anything unreadable (no warehouse yet, another process writing it) means: run.
Plain code: no Dagster, no Great Expectations, so the decision costs well under a second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

LANDING_FOLDERS = ("reach", "visitors", "hiring", "reference")


def landing_listing(raw_dir: Path) -> list[tuple[str, int, int]]:
    """(folder/name, size, mtime_ns) of every entry of the landing folders, sorted.

    Every entry, hidden files and sub-folders included: each gets an outcome in the
    ledger (assets/ingest/landing.py), so a new one is something to record.
    """
    found = []
    for folder in LANDING_FOLDERS:
        path = raw_dir / folder
        if not path.is_dir():
            continue
        for entry in path.iterdir():
            stat = entry.stat()
            found.append((f"{folder}/{entry.name}", stat.st_size if entry.is_file() else -1, stat.st_mtime_ns))
    return sorted(found)


def reference_digest(reference_dir: Path, key_fingerprint: str, rules_version: str) -> str:
    """What staged rows depend on beyond their own file: reference content, PII key, staging rules."""
    digest = hashlib.sha256()
    for path in sorted(reference_dir.glob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(key_fingerprint.encode())
    digest.update(rules_version.encode())
    return digest.hexdigest()


def inputs_fingerprint(raw_dir: Path, reference: str) -> str:
    """One digest of the landing listing and the reference digest (conditions 1 and 2)."""
    digest = hashlib.sha256(reference.encode())
    for name, size, mtime_ns in landing_listing(raw_dir):
        digest.update(f"\0{name}\0{size}\0{mtime_ns}".encode())
    return digest.hexdigest()


def current_fingerprint(settings) -> str:
    from assets.staging.rules_version import STAGING_RULES_VERSION

    reference = reference_digest(settings.raw_dir / "reference", settings.key_fingerprint(), STAGING_RULES_VERSION)
    return inputs_fingerprint(settings.raw_dir, reference)


# --- what the runs record (in the warehouse, audit.run_inputs) ----------------------------------

_LEDGER_DIGEST = (
    "SELECT coalesce(md5(string_agg(file_hash || ':' || status, ',' ORDER BY file_hash)), '') "
    "FROM ingest.file_ledger"
)


def record_run_start(con, run_id: str, fingerprint: str, now: datetime | None = None) -> None:
    """The first step of a run: the inputs it starts from (before any landing folder is listed)."""
    started = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    con.execute("DELETE FROM audit.run_inputs WHERE run_id = ?", [run_id])
    con.execute("INSERT INTO audit.run_inputs VALUES (?, ?, ?, NULL, NULL)", [run_id, started, fingerprint])


def record_publication(con, run_id: str, now: datetime | None = None) -> None:
    """After the swap: this run's inputs are what published.duckdb shows, with the ledger as it is now."""
    published = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    ledger = con.execute(_LEDGER_DIGEST).fetchall()[0][0]
    con.execute("UPDATE audit.run_inputs SET published_at = ?, ledger_digest = ? WHERE run_id = ?",
                [published, ledger, run_id])


# --- the decision -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    skip: bool
    reason: str


def nothing_new(settings) -> Verdict:
    """Whether tonight can be skipped (all five conditions above), and why or why not, in words."""
    import duckdb

    if not settings.warehouse.exists():
        return Verdict(False, f"no warehouse yet at {settings.warehouse}")
    try:
        con = duckdb.connect(str(settings.warehouse), read_only=True)
    except duckdb.Error as exc:  # another process is writing it: a run is under way or queued
        return Verdict(False, f"the warehouse is in use ({str(exc).splitlines()[0]})")
    try:
        try:
            last = con.execute(
                "SELECT run_id, fingerprint, published_at, ledger_digest FROM audit.run_inputs "
                "ORDER BY started_at DESC LIMIT 1"
            ).fetchall()
            ledger = con.execute(_LEDGER_DIGEST).fetchall()[0][0]
        except duckdb.CatalogException:
            return Verdict(False, "no run has recorded its inputs yet")
    finally:
        con.close()
    if not last:
        return Verdict(False, "no run has recorded its inputs yet")
    run_id, fingerprint, published_at, ledger_then = last[0]
    if published_at is None:
        return Verdict(False, f"the last run ({run_id}) did not publish")
    if ledger != ledger_then:
        return Verdict(False, "the ledger changed since the last publication (an export was withdrawn)")
    published_by = _published_run(settings.published)
    if published_by != run_id:
        return Verdict(False, f"published.duckdb is not the last run's publication ({published_by or 'none'})")
    if not (settings.reports_dir / "index.html").exists():
        return Verdict(False, f"no report at {settings.reports_dir / 'index.html'}")
    if current_fingerprint(settings) != fingerprint:
        return Verdict(False, "a landing file, the reference data, the PII key or the staging rules changed")
    return Verdict(True, f"nothing new since run {run_id} published at {published_at:%Y-%m-%d %H:%M} UTC: "
                         f"no new or changed file in {settings.raw_dir}, same reference data, PII key and "
                         "staging rules")


def _published_run(path: Path) -> str | None:
    import duckdb

    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = con.execute("SELECT run_id FROM publication").fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return rows[0][0] if rows else None
