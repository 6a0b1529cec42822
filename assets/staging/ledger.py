"""The ledger (ingest.file_ledger): what became of every file, keyed by its SHA-256 (or, for files
judged by their name alone, by their path), and the outcomes a night reports."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from assets.ingest.common import file_sha256, first_row
from assets.ingest.landing import landing, name_identity

# Load order of the exports (ledger alias ``l``): the order they were loaded in, the hash breaking ties.
# De-duplication keeps the latest; provenance credits a unit to the first export.
FILE_ORDER = "l.loaded_at, l.file_hash"

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    path: str
    status: str  # loaded | rejected | duplicate | unchanged | superseding | ignored
    layout: str | None = None
    data_lines: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None


@dataclass
class IngestSummary:
    source: str
    files: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    def as_metadata(self) -> dict:
        return {
            "files_seen": len(self.files),
            "files_parsed": sum(f.status in ("loaded", "superseding", "rejected") for f in self.files),
            "files_loaded": self.count("loaded") + self.count("superseding"),
            "files_rejected": self.count("rejected"),
            "files_duplicate": self.count("duplicate"),
            "files_unchanged": self.count("unchanged"),
            "files_ignored": self.count("ignored"),
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
        }


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def landing_files(folder: Path, source: str) -> list[Path]:
    """The export files of a landing folder (by name), oldest first; the name breaks ties."""
    return [f.path for f in landing(folder, source) if f.verdict == "export"]


def hash_with_cache(con, path: Path) -> str:
    """The file's SHA-256, read from ingest.path_seen while its size and modification time are unchanged."""
    stat = path.stat()
    row = first_row(con.execute(
        "SELECT file_hash FROM ingest.path_seen WHERE path = ? AND size_bytes = ? AND mtime_ns = ?",
        [str(path), stat.st_size, stat.st_mtime_ns],
    ))
    if row:
        return row[0]
    digest = file_sha256(path)
    con.execute(
        "INSERT OR REPLACE INTO ingest.path_seen VALUES (?, ?, ?, ?)",
        [str(path), stat.st_size, stat.st_mtime_ns, digest],
    )
    return digest


def forget_removed(con, source: str, folder: Path) -> int:
    """Rejected or ignored files no longer in the landing folder become 'removed': data_issues and
    the campaign pages stop listing them, and exports keeps their history."""
    present = [str(p) for p in folder.iterdir()] if folder.exists() else []
    gone = con.execute(
        "UPDATE ingest.file_ledger SET status = 'removed', message = message || ' (no longer in the landing "
        "folder)' WHERE source = ? AND status IN ('rejected', 'ignored') AND NOT list_contains(?, path) "
        "RETURNING path", [source, present]).fetchall()
    return len(gone)


LEDGER_COLUMNS = ("file_hash", "source", "layout", "export_key", "path", "size_bytes", "data_lines", "rows_loaded",
                  "rows_quarantined", "status", "message", "superseded_by", "loaded_at", "run_id", "error_line",
                  "error_column")


def ledger_insert(con, **values) -> None:
    columns = [c for c in LEDGER_COLUMNS if c in values]
    con.execute(
        f"INSERT OR REPLACE INTO ingest.file_ledger ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [values[c] for c in columns],
    )


def record_by_name(con, source: str, path: Path, verdict: str, reason: str, run_id: str | None) -> FileOutcome:
    """Records an outcome decided without parsing: ignored or rejected by its name, or a duplicate of
    content already in the ledger. Such entries are keyed by the path (landing.name_identity)."""
    identity = name_identity(source, path)
    known = first_row(con.execute("SELECT status FROM ingest.file_ledger WHERE file_hash = ?", [identity]))
    if known is None:
        if verdict != "ignored":
            log.warning("%s %s", verdict, reason)
        ledger_insert(con, file_hash=identity, source=source, path=str(path),
                      size_bytes=path.stat().st_size if path.is_file() else None, data_lines=None, rows_loaded=0,
                      rows_quarantined=0, status=verdict, message=reason, loaded_at=now(), run_id=run_id)
        return FileOutcome(str(path), verdict, message=reason)
    return FileOutcome(str(path), "unchanged", message=reason)


def account_reference_folder(con, folder: Path, known: set[str], run_id: str | None) -> list[FileOutcome]:
    """The reference folder's files that are not reference files: each recorded in the ledger (rejected
    or ignored by name), so that a stray file there is never skipped without a word."""
    out = []
    for entry in landing(folder, "reference"):
        if entry.verdict == "export" and entry.path.stem in known:
            continue
        verdict, reason = entry.verdict, entry.reason
        if verdict == "export":
            verdict = "rejected"
            reason = (f"{entry.path.name}: not a reference file (this folder takes "
                      f"{', '.join(sorted(k + '.csv' for k in known))}); not read")
        outcome = record_by_name(con, "reference", entry.path, verdict, reason, run_id)
        if outcome.status != "unchanged":
            out.append(outcome)
    forget_removed(con, "reference", folder)
    return out
