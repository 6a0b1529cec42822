"""Validating a table where it is stored: its frames read in chunks, or as a weighted profile.

A mart is small: its rows are read once. A staged table is validated on the
files loaded since their last passing validation (assets/quality/audit.py),
in chunks of about CHUNK_ROWS rows (bounded memory), or, for sessions, as
their profile: one row per distinct combination of the columns the rules
read, computed by DuckDB, so Great Expectations judges every value of ten
million sessions without moving them. Staged rows that fail a row-level
rule leave for the quarantine (assets/quality/containment.py).
"""

from __future__ import annotations

import pandas as pd

from assets.quality import containment
from assets.quality.audit import content_digest, mark_content_validated, mark_validated, passed_before, pending_files
from assets.quality.frames import LOW_CARDINALITY, present_columns, to_pandas
from assets.quality.outcomes import PRIVATE, ExpectationOutcome, Verdicts, merge
from assets.quality.rules import PROFILE_NULL_FLAG, WEIGHT, Reference
from assets.quality.suites import SUITES, suite_version, validate

# Bounded memory: pandas frames for GX stay near this many rows (about 0.7 GB of sessions).
CHUNK_ROWS = 2_000_000
# Chunks split on a column of each table's key, so a key is never split across chunks.
# Reach and applications have per-file rules (one currency per file), so they split by file;
# sessions split by visitor, since a single visitor file can hold tens of millions of rows.
PARTITION_COLUMN = {
    "staging.reach": "file_hash",
    "staging.sessions": "user_pseudo_id",
    "staging.applications": "file_hash",
}


def table_frames(con, table_name: str, reference: Reference,
                 where: str = "true") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows with the columns the suite reads, a 1,000-row sample with every column for the schema rule)."""
    suite = SUITES[table_name]
    present = present_columns(con, table_name)
    columns = [c for c in suite.needed_columns(reference) if c in present]
    select = ", ".join(f'"{c}"' for c in columns) or "1 AS no_columns"
    rows = to_pandas(con, f"SELECT {select} FROM {table_name} WHERE {where}", categorical=LOW_CARDINALITY)
    sample = to_pandas(con, f"SELECT * FROM {table_name} LIMIT 1000")
    return rows, sample


def profile_frames(con, table_name: str, reference: Reference,
                   where: str = "true") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(the rows' profile, the rows whose key another row shares, a schema sample) of a profiled table.

    The profile has one row per distinct combination of the columns the rules
    read, the suite's ``profile`` columns reduced to null or not (keeping their
    smallest value, or a placeholder for a private one, and the first line_number),
    with WEIGHT rows behind it: ten million sessions become tens of thousands of rows.
    """
    suite = SUITES[table_name]
    present = present_columns(con, table_name)
    columns = [c for c in suite.needed_columns(reference) if c in present]
    select, flags = [], []
    for c in columns:
        if c in suite.profile:
            # A group's rows are all null or all not: keep one value (a placeholder for a private one).
            withheld = f"CASE WHEN bool_or(\"{c}\" IS NOT NULL) THEN '(withheld)' END AS \"{c}\""
            select.append(withheld if c in PRIVATE else f'min("{c}") AS "{c}"')
            flags.append(f'("{c}" IS NULL) AS "_{c}{PROFILE_NULL_FLAG}"')
        else:
            select.append(f'"{c}"')
    # In the order of each group's first row, so that examples are the first failing rows, as on the rows.
    profile = to_pandas(
        con,
        f"SELECT {', '.join(select + flags)}, count(*) AS {WEIGHT} FROM {table_name} WHERE {where} "
        f"GROUP BY ALL ORDER BY min(rowid)",
        categorical=LOW_CARDINALITY,
    )
    # The null flags stay: with the other grouped columns they find a failing group's rows again.
    key = ", ".join(f'"{c}"' for c in suite.unique)
    shown = [c for c in dict.fromkeys((*suite.unique, *suite.unique_show, *suite.location)) if c in present]
    # Rows whose key hash repeats are the candidates (grouping integers is quicker than the string
    # keys); the window over those few rows keeps exactly the rows whose key repeats.
    shared = to_pandas(
        con,
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in shown)} FROM {table_name} "
        f"WHERE {where} AND hash({key}) IN (SELECT hash({key}) AS h FROM {table_name} WHERE {where} "
        f"GROUP BY h HAVING count(*) > 1) "
        f"QUALIFY count(*) OVER (PARTITION BY {key}) > 1 ORDER BY rowid",
        categorical=LOW_CARDINALITY,
    )
    sample = to_pandas(con, f"SELECT * FROM {table_name} LIMIT 1000")
    return profile, shared, sample


def validate_table(con, table_name: str, run_id: str | None = None, full: bool = False) -> list[ExpectationOutcome]:
    """A table's suite on what it holds (a staged table: on the files loaded since their last passing
    validation at the suite's version). A staged row that fails a row-level rule is quarantined.

    A mart's rows identical to rows that passed this suite version (assets/quality/audit.py
    ``passed_before``) carry that verdict unless ``full``; the outcomes of a mart validated in full
    say, in ``after``, what the gate keeps once it has recorded them (a mart's check only reads).
    """
    reference = Reference.from_warehouse(con)
    version = suite_version(SUITES[table_name], reference)
    if table_name not in PARTITION_COLUMN:
        digest = content_digest(con, table_name, reference.fingerprint())
        earlier = None if full else passed_before(con, table_name, digest, version)
        if earlier is not None:
            run, at = earlier
            return [ExpectationOutcome(
                table_name, "identical_content", None, "the same rows passed this suite version", True, 0, (),
                f"{table_name}: its rows are those that passed suite version {version} in run {run} at "
                f"{at:%Y-%m-%d %H:%M:%S} UTC (content SHA-256 {digest[:16]}); not validated again",
            )]
        rows, sample = table_frames(con, table_name, reference)
        outcomes = validate(table_name, rows, reference, schema_frame=sample)
        return Verdicts(outcomes, after=lambda c, run=run_id: mark_content_validated(
            c, table_name, digest, version, run, outcomes))
    pending = pending_files(con, table_name, version)
    if not pending:
        return [ExpectationOutcome(
            table_name, "incremental_validation", None, "every staged file passed this suite version", True, 0, (),
            f"{table_name}: no file loaded since its last passing validation; nothing new to validate",
        )]
    hashes = ", ".join(f"'{h}'" for h, _ in pending)
    files = f"file_hash IN ({hashes})"
    if SUITES[table_name].profile:
        profile, shared, sample = profile_frames(con, table_name, reference, files)
        outcomes = validate(table_name, profile, reference, schema_frame=sample, key_frame=shared)
    else:
        total = con.execute(f"SELECT count(*) FROM {table_name} WHERE {files}").fetchall()[0][0]
        parts = max(1, -(-total // CHUNK_ROWS))
        column = PARTITION_COLUMN[table_name]
        chunks = []
        for part in range(parts):
            where = files + (f" AND hash({column}) % {parts} = {part}" if parts > 1 else "")
            rows, sample = table_frames(con, table_name, reference, where)
            chunks.append(validate(table_name, rows, reference, schema_frame=sample))
            del rows
        outcomes = merge(table_name, chunks)
    outcomes = containment.contain(con, table_name, outcomes, files, run_id, WEIGHT, PROFILE_NULL_FLAG)
    mark_validated(con, table_name, pending, outcomes, version)
    return outcomes
