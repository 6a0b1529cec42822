"""Re-staging and withdrawal: when every export is parsed again (reference data, PII key or the
staging rules changed), and taking one loaded export back out of the warehouse."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from assets.ingest.common import file_sha256, first_row
from assets.staging.parsers import STAGED_TABLE
from assets.staging.warehouse import transaction

log = logging.getLogger(__name__)


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
    with transaction(con):
        had_history = first_row(con.execute("SELECT count(*) FROM ingest.file_ledger"))[0] > 0
        for table in (*STAGED_TABLE.values(), "staging.quarantine"):
            con.execute(f"DELETE FROM {table}")
        # A withdrawn export stays withdrawn: its entry keeps it from being parsed again.
        con.execute("DELETE FROM ingest.file_ledger WHERE status <> 'withdrawn'")
        con.execute("DELETE FROM ingest.reference_version")
        con.execute("INSERT INTO ingest.reference_version VALUES (?)", [version])
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
    with transaction(con):
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
    log.info("withdrew %s: %d staged and %d quarantined rows removed", loaded_path, removed, quarantined)
    return Withdrawal(digest, source, loaded_path, removed, quarantined, tuple(restored))
