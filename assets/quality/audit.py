"""Audit bookkeeping: every outcome in audit.check_results, and which staged files passed which suite version.

Staged rows are validated once per file load: a night validates what it
loaded, not the history. A file stays pending until it passes its table's
suite (what failed a row-level rule having left for the quarantine) at the
suite's current version (assets/quality/suites.py ``suite_version``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from assets.quality.outcomes import ExpectationOutcome


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
