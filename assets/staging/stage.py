"""Staging: moves parsed exports into the warehouse, one transaction per file.

The ledger (ingest.file_ledger) is keyed by the file's SHA-256, so a file
delivered twice under any name is loaded once, and a night only parses files
whose content it has not seen. A corrected re-export (same layout, scope and
date range, different content) replaces the rows of the file it corrects in
the same transaction that inserts its own.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

from assets.ingest.common import first_row, Parsed, RejectedFile, file_sha256
from assets.ingest.contract import contract_fingerprint
from assets.ingest.landing import landing, name_identity
from assets.ingest.reach import REACH_COLUMNS
from assets.ingest.hiring import APPLICATION_COLUMNS
from assets.ingest.visitors import GA4, parse_visitors, release_visitor_tables

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
STAGED_TABLE = {"reach": "staging.reach", "visitors": "staging.sessions", "hiring": "staging.applications"}

_SCHEMAS = {
    "reach": {
        "date": pl.Date,
        "channel": pl.String,
        "campaign_id": pl.String,
        "period": pl.String,
        "platform_campaign": pl.String,
        "ad_set": pl.String,
        "platform_campaign_id": pl.String,
        "impressions": pl.Int64,
        "clicks": pl.Int64,
        "spend": pl.Float64,
        "currency": pl.String,
        "spend_eur": pl.Float64,
        "platform_reach": pl.Int64,
    },
    "hiring": {
        "application_key": pl.String,
        "application_id": pl.String,
        "org_id": pl.String,
        "organisation_name": pl.String,
        "candidate_key": pl.String,
        "job_title": pl.String,
        "applied_on": pl.Date,
        "stage": pl.String,
        "hire_date": pl.Date,
        "country_code": pl.String,
        "campaign_id": pl.String,
        "channel": pl.String,
    },
}
assert tuple(_SCHEMAS["reach"]) == REACH_COLUMNS and tuple(_SCHEMAS["hiring"]) == APPLICATION_COLUMNS


# DuckDB's buffer pool for the pipeline's writing connections; beyond it DuckDB spills to disk
# (next to the warehouse). Its default, 80% of RAM, let a night at 10M sessions hold 2.8 GiB.
# TALENT_DUCKDB_MEMORY_LIMIT overrides it (pipelines/settings.py).
DEFAULT_MEMORY_LIMIT = "1500MB"


def connect(path: Path, read_only: bool = False, attempts: int = 20,
            memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """Opens a DuckDB file, waiting out another process's lock instead of failing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {} if read_only else {"memory_limit": memory_limit}
    delay = 0.1
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute((SQL_DIR / "warehouse.sql").read_text())


def load_reference(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Replaces the ref.* tables with the reference files, atomically."""
    con.execute("BEGIN")
    try:
        for name, frame in frames.items():
            con.register("_ref_frame", frame.to_arrow())
            con.execute(f"CREATE OR REPLACE TABLE ref.{name} AS SELECT * FROM _ref_frame")
            con.unregister("_ref_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {name: frame.height for name, frame in frames.items()}


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


def landing_files(folder: Path, source: str) -> list[Path]:
    """The export files of a landing folder (by name), oldest first; the name breaks ties."""
    return [f.path for f in landing(folder, source) if f.verdict == "export"]


def _hash_with_cache(con, path: Path) -> str:
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


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: str,
    folder: Path,
    parse: Callable[[Path], Parsed] | None,
    run_id: str | None = None,
) -> IngestSummary:
    """Stages every landing file whose content is not yet in the ledger.

    ``parse`` turns a path into a Parsed; visitors are parsed in SQL on ``con``
    instead (pass None). A RejectedFile is recorded and the next file goes on.
    """
    summary = IngestSummary(source)
    for entry in landing(folder, source):
        path = entry.path
        if entry.verdict != "export":
            summary.files.append(record_by_name(con, source, path, entry.verdict, entry.reason, run_id))
            continue
        digest = _hash_with_cache(con, path)
        known = first_row(con.execute("SELECT status, path FROM ingest.file_ledger WHERE file_hash = ?", [digest]))
        if known:
            if known[1] == str(path):
                summary.files.append(FileOutcome(str(path), "unchanged"))
            else:
                message = f"{path.name}: same content as {Path(known[1]).name}, already {known[0]}"
                summary.files.append(record_by_name(con, source, path, "duplicate", message, run_id))
            continue
        summary.files.append(_stage_one(con, source, path, digest, parse, run_id))
    forget_removed(con, source, folder)
    return summary


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


def _ledger_insert(con, **values) -> None:
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
        _ledger_insert(con, file_hash=identity, source=source, path=str(path),
                       size_bytes=path.stat().st_size if path.is_file() else None, data_lines=None, rows_loaded=0,
                       rows_quarantined=0, status=verdict, message=reason, loaded_at=_now(), run_id=run_id)
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


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _stage_one(con, source, path: Path, digest: str, parse, run_id) -> FileOutcome:
    size = path.stat().st_size
    now = _now()
    registered: list[str] = []
    con.execute("BEGIN")
    try:
        if source == "visitors":
            # Parsed straight into staging.sessions (tens of millions of rows are not copied twice).
            load = parse_visitors(con, path, into=STAGED_TABLE[source],
                                  constants={"layout": GA4.name, "source_file": path.name, "file_hash": digest})
            layout, export_key = load.layout, load.export_key
            data_lines, loaded, quarantined = load.data_lines, load.rows_loaded, load.rows_quarantined
            rows_sql = None
            quarantine_sql = ("SELECT line_number, column_name, value, reason, "
                              "'every cell reads as its declared type' AS rule, NULL AS campaign_id "
                              "FROM _visitor_quarantine")
        else:
            parsed = parse(path)
            layout, export_key = parsed.layout, parsed.export_key
            data_lines, loaded, quarantined = parsed.data_lines, len(parsed.rows), len(parsed.quarantined)
            frame = pl.DataFrame(
                [{**{k: r.get(k) for k in _SCHEMAS[source]}, "line_number": r["line_number"]} for r in parsed.rows],
                schema={**_SCHEMAS[source], "line_number": pl.Int64},
                orient="row",
            )
            qframe = pl.DataFrame(
                [(q.line_number, q.column, q.value, q.reason, q.rule, q.campaign_id) for q in parsed.quarantined],
                schema={"line_number": pl.Int64, "column_name": pl.String, "value": pl.String, "reason": pl.String,
                        "rule": pl.String, "campaign_id": pl.String},
                orient="row",
            )
            for name, data in (("_parsed_rows", frame), ("_parsed_quarantine", qframe)):
                con.register(name, data.to_arrow())
                registered.append(name)
            rows_sql = "SELECT *, ? AS layout, ? AS source_file, ? AS file_hash FROM _parsed_rows"
            quarantine_sql = "SELECT line_number, column_name, value, reason, rule, campaign_id FROM _parsed_quarantine"
        if loaded + quarantined != data_lines:
            raise RejectedFile(path, None, None, f"line accounting failed: {loaded} loaded + {quarantined} "
                                                 f"quarantined != {data_lines} data lines")
        if loaded == 0 and not (export_key.split("|") + ["", ""])[1]:
            # Nothing staged and no account or organisation named: nothing says whose export this is,
            # so it keeps an identity of its own and never supersedes (empties) another one's file.
            export_key = f"{layout}|no rows staged|{digest}"
        superseded = [
            r[0]
            for r in con.execute(
                "SELECT file_hash FROM ingest.file_ledger WHERE source = ? AND export_key = ? AND status = 'loaded'",
                [source, export_key],
            ).fetchall()
        ]
        table = STAGED_TABLE[source]
        for old in superseded:
            con.execute(f"DELETE FROM {table} WHERE file_hash = ?", [old])
            con.execute("DELETE FROM staging.quarantine WHERE file_hash = ?", [old])
            con.execute(
                "UPDATE ingest.file_ledger SET status = 'superseded', superseded_by = ?, "
                "message = 'replaced by corrected re-export ' || ? WHERE file_hash = ?",
                [digest, path.name, old],
            )
        if rows_sql is not None:
            inserted = first_row(con.execute(f"INSERT INTO {table} BY NAME {rows_sql}",
                                             [layout, path.name, digest]))[0]
            if inserted != loaded:
                raise RejectedFile(path, None, None,
                                   f"line accounting failed: {loaded} readable rows but {inserted} staged")
        con.execute(
            f"INSERT INTO staging.quarantine BY NAME SELECT ? AS source, ? AS source_file, ? AS file_hash, "
            f"line_number, column_name, value, reason, rule, campaign_id, ? AS run_id FROM ({quarantine_sql})",
            [source, path.name, digest, run_id],
        )
        _ledger_insert(con, file_hash=digest, source=source, layout=layout, export_key=export_key, path=str(path),
                       size_bytes=size, data_lines=data_lines, rows_loaded=loaded, rows_quarantined=quarantined,
                       status="loaded", message=f"replaces {len(superseded)} earlier export(s)" if superseded else None,
                       loaded_at=now, run_id=run_id)
        con.execute("COMMIT")
    except RejectedFile as exc:
        con.execute("ROLLBACK")
        log.warning("rejected %s", exc)
        _ledger_insert(con, file_hash=digest, source=source, path=str(path), size_bytes=size, rows_loaded=0,
                       rows_quarantined=0, status="rejected", message=str(exc), loaded_at=now, run_id=run_id,
                       error_line=exc.line, error_column=exc.column)
        return FileOutcome(str(path), "rejected", message=str(exc))
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in registered:
            con.unregister(name)
        if source == "visitors":
            release_visitor_tables(con)
    status = "superseding" if superseded else "loaded"
    return FileOutcome(str(path), status, layout, data_lines, loaded, quarantined)


# Bumped when parsing or attribution rules change how existing exports are staged (the ledger
# key, line accounting): the next run re-stages everything once, like a reference change.
# 2: visitor export keys include the file name; empty lines are not data lines.
# 3: declared contracts (strict types, scrubbed free text), quarantine rules, row problems contained.
# The contract's own fingerprint is part of it: editing a declaration re-stages once.
STAGING_RULES_VERSION = "3:" + contract_fingerprint()


def reset_if_inputs_changed(con: duckdb.DuckDBPyConnection, version: str) -> bool:
    """Re-stages everything when reference data or the PII key changed.

    Staged rows carry attribution (campaign, period, organisation) and HMAC
    candidate keys computed at load time; new reference data or a new key makes
    them stale, so the ledger is cleared and every export is parsed again.
    """
    con.execute("CREATE TABLE IF NOT EXISTS ingest.reference_version (version VARCHAR)")
    row = first_row(con.execute("SELECT version FROM ingest.reference_version"))
    if row and row[0] == version:
        return False
    con.execute("BEGIN")
    try:
        had_history = first_row(con.execute("SELECT count(*) FROM ingest.file_ledger"))[0] > 0
        for table in ("staging.reach", "staging.sessions", "staging.applications", "staging.quarantine"):
            con.execute(f"DELETE FROM {table}")
        # A withdrawn export stays withdrawn: its entry keeps it from being parsed again.
        con.execute("DELETE FROM ingest.file_ledger WHERE status <> 'withdrawn'")
        con.execute("DELETE FROM ingest.reference_version")
        con.execute("INSERT INTO ingest.reference_version VALUES (?)", [version])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return had_history


@dataclass
class Withdrawal:
    file_hash: str
    source: str
    path: str
    rows_removed: int
    quarantine_removed: int
    restored: tuple[str, ...] = ()  # exports it had superseded, parsed again by the next run


def withdraw(con: duckdb.DuckDBPyConnection, export: str, reason: str, now: datetime | None = None) -> Withdrawal:
    """Takes a loaded (or rejected) export back out of the warehouse, in one transaction.

    ``export`` is the file's path (its content is hashed, so any copy will do),
    the name it was loaded under, or its SHA-256 (8 or more leading characters).
    Its staged and quarantined rows are deleted and its ledger entry becomes
    'withdrawn', so it is not parsed again while it lies in the landing folder;
    the next run rebuilds the marts without it. Exports it had superseded are
    forgotten by the ledger, so the next run loads them again if they are still
    in the landing folder. Raises ValueError when the export is unknown,
    ambiguous or already superseded or withdrawn.
    """
    path = Path(export)
    if re.fullmatch(r"[0-9a-f]{8,64}", export) and not path.exists():
        rows = con.execute(
            "SELECT file_hash, source, path, status FROM ingest.file_ledger WHERE starts_with(file_hash, ?)", [export]
        ).fetchall()
    elif path.is_file():
        rows = con.execute(
            "SELECT file_hash, source, path, status FROM ingest.file_ledger WHERE file_hash = ?", [file_sha256(path)]
        ).fetchall()
    else:
        rows = con.execute(
            "SELECT file_hash, source, path, status FROM ingest.file_ledger "
            "WHERE (path = ? OR ends_with(path, ?)) AND NOT starts_with(file_hash, 'name:')",
            [export, "/" + path.name],
        ).fetchall()
    if not rows:
        raise ValueError(f"{export}: no export with this content or name is in the ledger")
    if len(rows) > 1:  # a name reused by a corrected re-export: the live one is meant
        live = [r for r in rows if r[3] in ("loaded", "rejected")]
        rows = live if len(live) == 1 else rows
    if len(rows) > 1:
        listed = ", ".join(f"{r[0][:12]} {r[2]} ({r[3]})" for r in rows)
        raise ValueError(f"{export}: several exports match ({listed}); give the file's hash (12 characters will do)")
    digest, source, loaded_path, status = rows[0]
    if status not in ("loaded", "rejected"):
        raise ValueError(f"{export}: this export is {status}, there is nothing to withdraw")
    stamp = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    con.execute("BEGIN")
    try:
        removed = first_row(con.execute(f"DELETE FROM {STAGED_TABLE[source]} WHERE file_hash = ?", [digest]))[0]
        quarantined = first_row(con.execute("DELETE FROM staging.quarantine WHERE file_hash = ?", [digest]))[0]
        # What this export replaced is no longer replaced: forgetting those entries makes the
        # next run parse them again if they are still in the landing folder.
        restored = [r[0] for r in con.execute(
            "DELETE FROM ingest.file_ledger WHERE superseded_by = ? AND status = 'superseded' RETURNING path",
            [digest],
        ).fetchall()]
        con.execute(
            "UPDATE ingest.file_ledger SET status = 'withdrawn', message = ? WHERE file_hash = ?",
            [f"withdrawn {stamp:%Y-%m-%d %H:%M} UTC (was {status}): {reason}", digest],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    log.info("withdrew %s: %d staged and %d quarantined rows removed", loaded_path, removed, quarantined)
    return Withdrawal(digest, source, loaded_path, removed, quarantined, tuple(restored))
