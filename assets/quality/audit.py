"""Audit bookkeeping: every outcome in audit.check_results, and which staged files and which mart contents
passed which suite version.

Staged rows are validated once per file load: a night validates what it
loaded, not the history. A file stays pending until it passes its table's
suite (what failed a row-level rule having left for the quarantine) at the
suite's current version (assets/quality/suites.py ``suite_version``).

A mart is validated whole, every night its rows differ from the last rows that passed its suite
at that version (``content_digest``: every row and column type, in the order the suite reads them,
the reference data the suite reads, and the libraries that make its frames). A mart a night left
as it was (a night without hiring exports leaves the hiring marts alone) carries that verdict, as
staged files do, for at most FULL_EVERY, and never on ``talent-pipeline run --full``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from importlib import metadata

from assets.quality.outcomes import ExpectationOutcome
from assets.staging.warehouse import table_exists

# The longest a carried result stands: a mart suite's verdict on unchanged rows (here), and the visitor
# recount's counts (assets/quality/recount.py): at least this often, each is made again from everything.
FULL_EVERY = timedelta(days=7)
VALIDATED_CONTENT = "audit.validated_content"
# What turns a mart's rows into the frames its suite judges, besides the rows themselves.
_FRAME_LIBRARIES = ("duckdb", "numpy", "pandas", "pyarrow")


def pending_files(con, table_name: str, version: str) -> list[tuple[str, datetime]]:
    """(file_hash, loaded_at) of the loaded files in ``table_name`` not yet passed at ``version``."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.validated_files (table_name VARCHAR, file_hash VARCHAR, "
        "loaded_at TIMESTAMP, suite_version VARCHAR, validated_at TIMESTAMP)"
    )
    return con.execute(
        f"""
        SELECT l.file_hash, l.loaded_at FROM ingest.file_ledger l
        WHERE l.status = 'loaded' AND l.file_hash IN (SELECT DISTINCT file_hash FROM {table_name})
          AND NOT EXISTS (SELECT 1 FROM audit.validated_files v
                          WHERE v.table_name = ? AND v.file_hash = l.file_hash AND v.loaded_at = l.loaded_at
                            AND v.suite_version = ?)
        ORDER BY l.loaded_at
        """,
        [table_name, version],
    ).fetchall()


def mark_validated(con, table_name: str, pending, outcomes: Sequence[ExpectationOutcome], version: str) -> None:
    """Files whose rows passed (or whose failing rows were contained) are not validated again at ``version``."""
    if all(o.passed or o.contained for o in outcomes):
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        con.executemany(
            "INSERT INTO audit.validated_files VALUES (?, ?, ?, ?, ?)",
            [[table_name, h, loaded_at, version, now] for h, loaded_at in pending],
        )


def record(con, outcomes: Sequence[ExpectationOutcome], run_id: str | None, check_name: str) -> None:
    """Appends one audit.check_results row per expectation (one INSERT: executemany costs ~30 ms a check)."""
    import pyarrow as pa

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = pa.table({
        "run_id": pa.array([run_id] * len(outcomes), pa.string()),
        "checked_at": pa.array([now] * len(outcomes), pa.timestamp("us")),
        "table_name": pa.array([o.table_name for o in outcomes], pa.string()),
        "check_name": pa.array([check_name] * len(outcomes), pa.string()),
        "expectation": pa.array([o.expectation for o in outcomes], pa.string()),
        "column_name": pa.array([o.column_name for o in outcomes], pa.string()),
        "passed": pa.array([o.passed for o in outcomes], pa.bool_()),
        "failed_rows": pa.array([o.failed_rows for o in outcomes], pa.int64()),
        "examples": pa.array(["; ".join(o.examples) or None for o in outcomes], pa.string()),
        "message": pa.array([o.message for o in outcomes], pa.string()),
        "quarantined_rows": pa.array([o.quarantined for o in outcomes], pa.int64()),
    })
    con.register("_check_outcomes", rows)
    try:
        con.execute("INSERT INTO audit.check_results BY NAME SELECT * FROM _check_outcomes")
    finally:
        con.unregister("_check_outcomes")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def outcomes_markdown(outcomes: Sequence[ExpectationOutcome]) -> str:
    """Failures first, then the rest: expectation | column | rule | passed | failed rows | examples."""
    lines = ["| expectation | column | rule | passed | failed rows | examples |", "|---|---|---|---|---|---|"]
    for o in sorted(outcomes, key=lambda o: o.passed):
        failed = "" if o.failed_rows is None else f"{o.failed_rows:,}"
        lines.append(
            f"| {_cell(o.expectation)} | {_cell(o.column_name or '')} | {_cell(o.rule)} | "
            f"{'yes' if o.passed else '**NO**'} | {failed} | {_cell('; '.join(o.examples))} |"
        )
    return "\n".join(lines)


def content_digest(con, table_name: str, *inputs: str) -> str:
    """SHA-256 of a table's column names and types and of every row, in the order a plain scan reads them
    (as the suite's frames do), with the versions of the libraries that make those frames and ``inputs``:
    what else the suite reads (the reference's fingerprint: a derived frame may join its dates)."""
    digest = hashlib.sha256(repr([metadata.version(d) for d in _FRAME_LIBRARIES] + list(inputs)).encode())
    columns = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table_name})").fetchall()
    digest.update(repr(columns).encode())
    result = con.execute(f"SELECT * FROM {table_name}")
    while rows := result.fetchmany(10_000):
        digest.update(repr(rows).encode())
    return digest.hexdigest()


def passed_before(con, table_name: str, digest: str, version: str) -> tuple[str | None, datetime] | None:
    """(run_id, validated_at) of the last time these exact rows passed ``version`` within FULL_EVERY, or None.

    Only reads, so that a check running ahead in a thread may call it."""
    if not table_exists(con, VALIDATED_CONTENT):
        return None
    since = datetime.now(timezone.utc).replace(tzinfo=None) - FULL_EVERY
    row = con.execute(
        f"SELECT run_id, validated_at FROM {VALIDATED_CONTENT} WHERE table_name = ? AND content_digest = ? "
        "AND suite_version = ? AND validated_at > ? ORDER BY validated_at DESC LIMIT 1",
        [table_name, digest, version, since],
    ).fetchall()
    return row[0] if row else None


def mark_content_validated(con, table_name: str, digest: str, version: str, run_id: str | None,
                           outcomes: Sequence[ExpectationOutcome]) -> None:
    """Rows that passed every expectation of ``version`` are not validated again while they stay so."""
    if outcomes and all(o.passed for o in outcomes):
        con.execute(f"CREATE TABLE IF NOT EXISTS {VALIDATED_CONTENT} (table_name VARCHAR, content_digest VARCHAR, "
                    "suite_version VARCHAR, run_id VARCHAR, validated_at TIMESTAMP)")
        con.execute(f"INSERT INTO {VALIDATED_CONTENT} VALUES (?, ?, ?, ?, ?)",
                    [table_name, digest, version, run_id, datetime.now(timezone.utc).replace(tzinfo=None)])
