"""Containment: a staged row that fails a row-level rule is quarantined, not allowed to block everything.

The staged suites (assets/quality/staged_suites.py) stay the one statement of each rule:
Great Expectations judges the rows, and the rows it lists as failing are the
ones moved here from the staged table into ``staging.quarantine``, with the
file, line, column, the expectation that failed and its rule in words. They
then count nowhere, and the ledger's loaded + quarantined still equals each
file's data lines. Everything else goes on to the marts and is published.

What cannot be contained still blocks: a schema rule (a column missing), a
rule that could not be evaluated, or a failure without rows to point at.

A failing row is found again by what the frame Great Expectations saw holds:
its ``file_hash`` and ``line_number``; a file (for a per-file rule such as one
currency per file: all of its rows); or, for a profiled table, the group's
values of the columns the rule read (every row with those values fails the
rule alike) and the null flags of the profiled columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from assets.ingest.contract import private_fields
from assets.staging.warehouse import transaction

SOURCE_OF = {"staging.reach": "reach", "staging.sessions": "visitors", "staging.applications": "hiring"}

# Columns whose values never go into a quarantine row (they identify a person or a visitor).
WITHHELD = private_fields()


def contain(con, table: str, outcomes: Sequence, where: str, run_id: str | None,
            weight: str, null_flag: str) -> list:
    """Quarantines the rows of every containable failure; returns the outcomes with their counts.

    ``where`` limits the search to the files just validated. One transaction:
    the rows leave the staged table, enter staging.quarantine, and the ledger's
    counts move with them.
    """
    targets = [(i, o) for i, o in enumerate(outcomes) if not o.passed and o.containable and o.failing is not None]
    if not targets:
        return list(outcomes)
    columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    out = list(outcomes)
    try:
        with transaction(con):
            con.execute("CREATE OR REPLACE TEMP TABLE _contained (file_hash VARCHAR, line_number BIGINT, ord INTEGER)")
            for order, (_i, o) in enumerate(targets):
                select = _identities(con, table, o.failing, where, columns, weight, null_flag)
                con.execute(f"INSERT INTO _contained SELECT DISTINCT file_hash, line_number, {order} FROM ({select})")
                con.unregister("_failing")
            counts = dict(con.execute("SELECT ord, count(*) FROM _contained GROUP BY ord").fetchall())
            rules = pd.DataFrame({
                "ord": range(len(targets)),
                "column_name": [o.column_name for _, o in targets],
                "reason": [f"{o.column_name or table}: {o.rule} (failed check {o.expectation})" for _, o in targets],
                "rule": [o.rule for _, o in targets],
                "value_column": [o.column_name if o.column_name in columns and o.column_name not in WITHHELD else None
                                 for _, o in targets],
            })
            con.register("_contained_rules", rules)
            value = " ".join(f"WHEN r.value_column = '{c}' THEN left(CAST(s.\"{c}\" AS VARCHAR), 80)"
                             for c in sorted(set(rules["value_column"].dropna())))
            con.execute(
                f"""
                INSERT INTO staging.quarantine BY NAME
                SELECT ? AS source, s.source_file, s.file_hash, s.line_number, r.column_name,
                       {f'CASE {value} END' if value else 'NULL'} AS value, r.reason, r.rule, s.campaign_id, ? AS run_id
                FROM (SELECT file_hash, line_number, min(ord) AS ord FROM _contained GROUP BY ALL) c
                JOIN {table} s USING (file_hash, line_number)
                JOIN _contained_rules r USING (ord)
                """,
                [SOURCE_OF[table], run_id],
            )
            moved = _delete(con, table)
            for file_hash, n in moved:
                con.execute(
                    "UPDATE ingest.file_ledger SET rows_loaded = rows_loaded - ?, "
                    "rows_quarantined = rows_quarantined + ? WHERE file_hash = ?", [n, n, file_hash])
    finally:
        con.execute("DROP TABLE IF EXISTS _contained")
        try:
            con.unregister("_contained_rules")
        except Exception:  # noqa: BLE001 - not registered when the first statement failed
            pass
    for order, (i, o) in enumerate(targets):
        n = counts.get(order, 0)
        out[i] = replace(o, quarantined=n, containable=n > 0,
                         message=f"{o.message} -> {n:,} row(s) quarantined; they count nowhere (data_issues)")
    return out


def _delete(con, table: str) -> list[tuple[str, int]]:
    moved = con.execute(
        "SELECT file_hash, count(*) FROM (SELECT DISTINCT file_hash, line_number FROM _contained) GROUP BY ALL"
    ).fetchall()
    con.execute(
        f"DELETE FROM {table} WHERE (file_hash, line_number) IN (SELECT (file_hash, line_number) FROM _contained)"
    )
    return moved


def _identities(con, table: str, failing: pd.DataFrame, where: str, columns: set[str],
                weight: str, null_flag: str) -> str:
    """SQL selecting (file_hash, line_number) of the staged rows that ``failing`` stands for."""
    frame = failing.copy()
    for c in frame.columns:
        if isinstance(frame[c].dtype, pd.CategoricalDtype):
            frame[c] = frame[c].astype(object)
    if weight not in frame.columns and "line_number" in frame.columns:
        con.register("_failing", frame[["file_hash", "line_number"]].astype({"file_hash": str}))
        return (f"SELECT s.file_hash, s.line_number FROM (SELECT * FROM {table} WHERE {where}) s "
                f"JOIN _failing f ON s.file_hash = f.file_hash AND s.line_number = f.line_number")
    flags = [c for c in frame.columns if c.startswith("_") and c.endswith(null_flag)]
    profiled = {c[1:-len(null_flag)] for c in flags}
    grouped = [c for c in frame.columns if c in columns and c not in profiled]
    if weight not in frame.columns:
        grouped = ["file_hash"]  # a per-file rule: every row of the file
    keep = [*grouped, *flags]
    con.register("_failing", frame[keep].drop_duplicates())
    on = [f's."{c}" IS NOT DISTINCT FROM f."{c}"' for c in grouped]
    on += [f'(s."{c[1:-len(null_flag)]}" IS NULL) = f."{c}"' for c in flags]
    return (f"SELECT s.file_hash, s.line_number FROM (SELECT * FROM {table} WHERE {where}) s "
            f"JOIN _failing f ON {' AND '.join(on)}")


def quarantine_report(con, source: str, run_id: str | None):
    """What the warning-severity check says of a source's quarantined rows, by file and reason.

    Returned as the check result's fields (passed, description, metadata): the thin Dagster
    wrapper makes the result; this room stays plain.
    """
    rows = con.execute(
        "SELECT source_file, reason, count(*) AS n, min(line_number) AS first_line, "
        "count(*) FILTER (WHERE run_id = ?) AS new_this_run FROM staging.quarantine WHERE source = ? "
        "GROUP BY ALL ORDER BY n DESC, source_file, reason", [run_id, source]).fetchall()
    total = sum(r[2] for r in rows)
    lines = ["| file | reason | rows | first line | new this run |", "|---|---|---|---|---|"]
    lines += [f"| {f} | {str(r).replace('|', '/')} | {n:,} | {line} | {new:,} |" for f, r, n, line, new in rows[:50]]
    return dict(
        passed=total == 0,
        description=(f"{total:,} {source} row(s) quarantined: they count nowhere (published as data_issues)"
                     if total else f"no {source} row is quarantined"),
        metadata={"rows_quarantined": total, "new_this_run": sum(r[4] for r in rows),
                  "by_file_and_reason": "\n".join(lines) if rows else "_none_"},
    )
