"""Write, audit, publish: the managers' database is replaced whole, never edited in place.

Each run builds ``published.candidate-<pid>.duckdb`` from the warehouse marts
with sql/marts.sql (the mart tables, declared as the warehouse's marts schema has
them) and sql/published.sql (the publication record, the accounting tables and
the view table_1), checkpoints and fsyncs it, audits it through a read-only
connection, then renames it over ``published.duckdb``. A rename is
atomic: a manager's open connection keeps reading the old file (its inode),
a new connection sees the new one, and a crash at any point leaves one valid
file at that path. The replaced file is kept as ``published.previous.duckdb``
for ``talent-pipeline rollback``.

Readers: DuckDB allows one read-write process or many read-only ones per file.
Nothing here opens ``published.duckdb`` itself, so managers never block a run
and a run never blocks managers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.ddl import SQL_DIR
from assets.ingest.common import first_row
from assets.marts import tables
from assets.marts.tables import MART_TABLES
from assets.staging.ledger import FILE_ORDER

PUBLISHED = "published.duckdb"
PREVIOUS = "published.previous.duckdb"
# Written in an older storage format so that older DuckDB clients (the duckdb
# CLI on PyPI is 1.5.x) can open it; DuckDB 2.0 reads it natively.
STORAGE_VERSION = "v1.2.0"
PUBLISHED_TABLES = MART_TABLES  # copied as the marts built them
PUBLICATION_TABLE = "publication"  # one row: which run published, and what it loaded
# What the figures are built from and what they leave out, from the ledger and the quarantine.
ACCOUNTING_TABLES = {
    "exports": """
        SELECT regexp_extract(path, '[^/\\\\]+$') AS file_name, source, layout, status, data_lines, rows_loaded,
               rows_quarantined, message, loaded_at AS first_seen,
               CASE WHEN NOT starts_with(file_hash, 'name:') THEN left(file_hash, 12) END AS hash_prefix
        FROM {home}.ingest.file_ledger ORDER BY source, loaded_at, path""",
    "data_issues": """
        SELECT source, source_file AS file_name, line_number, column_name,
               coalesce(rule, 'every cell reads as its declared type') AS rule, reason, value, 'row' AS scope,
               campaign_id
        FROM {home}.staging.quarantine
        UNION ALL
        SELECT source, regexp_extract(path, '[^/\\\\]+$'), error_line, error_column,
               CASE WHEN starts_with(file_hash, 'name:') THEN 'a landing folder takes only its declared file types'
                    ELSE 'the file is readable in a declared layout' END, message, NULL, 'file', NULL
        FROM {home}.ingest.file_ledger WHERE status = 'rejected'
        ORDER BY source, file_name, line_number NULLS FIRST""",
}
# The ledger state a publication is built from: loaded exports in load order (per source, as the
# marts order them), by file name and content; enough to load the same files in the same order again.
LEDGER_SQL = f"""
SELECT list({{'load_order': load_order, 'source': source, 'file_name': file_name, 'file_hash': file_hash,
              'rows_loaded': rows_loaded, 'rows_quarantined': rows_quarantined}} ORDER BY source, load_order)
FROM (SELECT row_number() OVER (PARTITION BY source ORDER BY {FILE_ORDER}) AS load_order, source,
             regexp_extract(path, '[^/]+$') AS file_name, file_hash, rows_loaded, rows_quarantined
      FROM ingest.file_ledger l WHERE status = 'loaded')
"""
REFERENCE_FILES_SQL = "SELECT list({'file_name': file_name, 'file_hash': file_hash} ORDER BY file_name) FROM ref.files"


@dataclass
class Paths:
    warehouse_dir: Path

    @property
    def published(self) -> Path:
        return self.warehouse_dir / PUBLISHED

    @property
    def previous(self) -> Path:
        return self.warehouse_dir / PREVIOUS

    def candidate(self) -> Path:
        return self.warehouse_dir / f"published.candidate-{os.getpid()}.duckdb"


def clean_stale_candidates(warehouse_dir: Path) -> list[str]:
    """Removes candidates a killed run left behind; they were never published."""
    removed = []
    for stale in warehouse_dir.glob("published.candidate-*.duckdb*"):
        stale.unlink(missing_ok=True)
        removed.append(stale.name)
    previous = warehouse_dir / PREVIOUS
    for stale in sorted(warehouse_dir.glob("*.swap-*")):
        # A swap name holds a real publication when a swap died between its two renames:
        # it becomes the previous version again rather than being lost.
        if not previous.exists():
            os.replace(stale, previous)
            removed.append(f"{stale.name} -> {PREVIOUS}")
        else:
            stale.unlink(missing_ok=True)
            removed.append(stale.name)
    return removed


def create_published_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The published schema, empty, in the connection's current schema: the mart tables, then the rest."""
    tables.create_tables(con)
    con.execute((SQL_DIR / "published.sql").read_text())


def build_candidate(con: duckdb.DuckDBPyConnection, candidate: Path, publication: dict) -> dict[str, int]:
    """Creates the published schema in a new file and fills it from marts.* on ``con``."""
    candidate.unlink(missing_ok=True)
    Path(str(candidate) + ".wal").unlink(missing_ok=True)
    con.execute(f"ATTACH '{candidate}' AS candidate (STORAGE_VERSION '{STORAGE_VERSION}')")
    home = first_row(con.execute("SELECT current_database()"))[0]
    try:
        con.execute("USE candidate")
        create_published_schema(con)
        con.execute(f"USE {home}")
        counts = {}
        for table in PUBLISHED_TABLES:
            con.execute(f"INSERT INTO candidate.main.{table} BY NAME SELECT * FROM {home}.marts.{table}")
            counts[table] = first_row(con.execute(f"SELECT count(*) FROM candidate.main.{table}"))[0]
        for table, select in ACCOUNTING_TABLES.items():
            con.execute(f"INSERT INTO candidate.main.{table} BY NAME {select.format(home=home)}")
            counts[table] = first_row(con.execute(f"SELECT count(*) FROM candidate.main.{table}"))[0]
        con.execute(
            "INSERT INTO candidate.main.publication (published_at, run_id, files_loaded, rows_staged, "
            "rows_quarantined, pii_key_fingerprint, staging_rules_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [publication["published_at"], publication.get("run_id"), publication.get("files_loaded"),
             publication.get("rows_staged"), publication.get("rows_quarantined"),
             publication.get("pii_key_fingerprint"), publication.get("staging_rules_version")],
        )
        has_reference = first_row(con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'ref' "
            "AND table_name = 'files'", [home]))[0]
        con.execute(f"UPDATE candidate.main.publication SET ledger = ({LEDGER_SQL})"
                    + (f", reference_files = ({REFERENCE_FILES_SQL})" if has_reference else ""))
        con.execute("CHECKPOINT candidate")
    finally:
        con.execute(f"USE {home}")
        con.execute("DETACH candidate")
    if Path(str(candidate) + ".wal").exists():
        raise RuntimeError(f"{candidate.name}: a .wal file remained after CHECKPOINT; not publishing")
    _fsync(candidate)
    return counts


def audit_candidate(candidate: Path, con: duckdb.DuckDBPyConnection) -> list[str]:
    """Reopens the candidate read-only and compares every table with the marts it came from."""
    problems = []
    home = first_row(con.execute("SELECT current_database()"))[0]
    reader = duckdb.connect(str(candidate), read_only=True)
    try:
        for table in PUBLISHED_TABLES:
            published = first_row(reader.execute(f"SELECT count(*) FROM {table}"))[0]
            expected = first_row(con.execute(f"SELECT count(*) FROM {home}.marts.{table}"))[0]
            if published != expected:
                problems.append(f"{table}: {published} rows published, {expected} in marts")
        comments = reader.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND comment IS NULL AND table_name IN "
            f"({', '.join(repr(t) for t in (*PUBLISHED_TABLES, *ACCOUNTING_TABLES, PUBLICATION_TABLE))})"
        ).fetchall()
        problems += [f"{t}.{c}: no COMMENT (data dictionary)" for t, c in comments]
    finally:
        reader.close()
    return problems


def swap_in(candidate: Path, paths: Paths) -> None:
    """Makes the candidate the published file; keeps the replaced one as the previous version."""
    published, previous = paths.published, paths.previous
    if published.exists():
        keep = published.with_name(f"{PREVIOUS}.swap-{os.getpid()}")
        keep.unlink(missing_ok=True)
        os.link(published, keep)  # a second name for the current inode, no copy
        os.replace(keep, previous)
    os.replace(candidate, published)
    _fsync_dir(published.parent)


def rollback(paths: Paths) -> None:
    """Swaps published and previous: a second rollback rolls forward again."""
    published, previous = paths.published, paths.previous
    if not previous.exists():
        raise FileNotFoundError(f"no previous version to roll back to ({previous})")
    keep = published.with_name(f"{PUBLISHED}.swap-{os.getpid()}")
    keep.unlink(missing_ok=True)
    if published.exists():
        os.link(published, keep)
    os.replace(previous, published)
    if keep.exists():
        os.replace(keep, previous)
    _fsync_dir(published.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
