"""Staging: moves parsed exports into the warehouse, one transaction per file.

The ledger (ingest.file_ledger, assets/staging/ledger.py) is keyed by the
file's SHA-256, so a file delivered twice under any name is loaded once, and
a night only parses files whose content it has not seen. Every source goes
through the same transaction (``stage_one``) and the same parser interface
(assets/staging/parsers.py): the parser stages the rows, then line accounting
is checked, a corrected re-export (same layout, scope and date range,
different content) replaces the rows of the file it corrects, the quarantined
lines are written and the ledger records the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from assets.ingest.common import RejectedFile, first_row
from assets.ingest.landing import landing
from assets.staging.ledger import (FileOutcome, IngestSummary, forget_removed, hash_with_cache, ledger_insert, now,
                                   record_by_name)
from assets.staging.parsers import STAGED_TABLE, FileFacts, Parser
from assets.staging.warehouse import transaction

log = logging.getLogger(__name__)


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: str,
    folder: Path,
    parser: Parser,
    run_id: str | None = None,
) -> IngestSummary:
    """Stages every landing file whose content is not yet in the ledger, through ``parser``.

    A RejectedFile is recorded and the next file goes on.
    """
    summary = IngestSummary(source)
    for entry in landing(folder, source):
        path = entry.path
        if entry.verdict != "export":
            summary.files.append(record_by_name(con, source, path, entry.verdict, entry.reason, run_id))
            continue
        digest = hash_with_cache(con, path)
        known = first_row(con.execute("SELECT status, path FROM ingest.file_ledger WHERE file_hash = ?", [digest]))
        if known:
            if known[1] == str(path):
                summary.files.append(FileOutcome(str(path), "unchanged"))
            else:
                message = f"{path.name}: same content as {Path(known[1]).name}, already {known[0]}"
                summary.files.append(record_by_name(con, source, path, "duplicate", message, run_id))
            continue
        summary.files.append(stage_one(con, source, parser, FileFacts(path, digest), run_id))
    forget_removed(con, source, folder)
    return summary


def stage_one(con, source: str, parser: Parser, facts: FileFacts, run_id: str | None) -> FileOutcome:
    """One file in one transaction: its rows, its quarantine, what it supersedes and its ledger entry."""
    path, digest = facts.path, facts.digest
    size = path.stat().st_size
    loaded_at = now()
    table = STAGED_TABLE[source]
    try:
        with transaction(con):
            load = parser.stage(con, table, facts)
            loaded, quarantined = load.rows_loaded, load.rows_quarantined
            if loaded + quarantined != load.data_lines:
                raise RejectedFile(path, None, None, f"line accounting failed: {loaded} loaded + {quarantined} "
                                                     f"quarantined != {load.data_lines} data lines")
            export_key = load.export_key
            if loaded == 0 and not (export_key.split("|") + ["", ""])[1]:
                # Nothing staged and no account or organisation named: nothing says whose export this is,
                # so it keeps an identity of its own and never supersedes (empties) another one's file.
                export_key = f"{load.layout}|no rows staged|{digest}"
            superseded = [
                r[0]
                for r in con.execute(
                    "SELECT file_hash FROM ingest.file_ledger "
                    "WHERE source = ? AND export_key = ? AND status = 'loaded'",
                    [source, export_key],
                ).fetchall()
            ]
            for old in superseded:
                con.execute(f"DELETE FROM {table} WHERE file_hash = ?", [old])
                con.execute("DELETE FROM staging.quarantine WHERE file_hash = ?", [old])
                con.execute(
                    "UPDATE ingest.file_ledger SET status = 'superseded', superseded_by = ?, "
                    "message = 'replaced by corrected re-export ' || ? WHERE file_hash = ?",
                    [digest, path.name, old],
                )
            con.register("_load_quarantine", load.quarantine.to_arrow())
            con.execute(
                "INSERT INTO staging.quarantine BY NAME SELECT ? AS source, ? AS source_file, ? AS file_hash, "
                "line_number, column_name, value, reason, rule, campaign_id, ? AS run_id FROM _load_quarantine",
                [source, facts.source_file, digest, run_id],
            )
            # After success only: a failed insert aborts the transaction, where unregistering would raise
            # "transaction is aborted" over the insert's own error (the next file registers the name again).
            con.unregister("_load_quarantine")
            ledger_insert(con, file_hash=digest, source=source, layout=load.layout, export_key=export_key,
                          path=str(path), size_bytes=size, data_lines=load.data_lines, rows_loaded=loaded,
                          rows_quarantined=quarantined, status="loaded",
                          message=f"replaces {len(superseded)} earlier export(s)" if superseded else None,
                          loaded_at=loaded_at, run_id=run_id)
    except RejectedFile as exc:  # rolled back: only the ledger says why
        log.warning("rejected %s", exc)
        ledger_insert(con, file_hash=digest, source=source, path=str(path), size_bytes=size, rows_loaded=0,
                      rows_quarantined=0, status="rejected", message=str(exc), loaded_at=loaded_at, run_id=run_id,
                      error_line=exc.line, error_column=exc.column)
        return FileOutcome(str(path), "rejected", message=str(exc))
    status = "superseding" if superseded else "loaded"
    return FileOutcome(str(path), status, load.layout, load.data_lines, loaded, quarantined)
