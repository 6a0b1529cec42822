"""The mart tables as sql/marts.sql declares them: the one statement of each mart's columns, types and key.

sql/marts.sql creates every table of ``MART_TABLES`` (with its PRIMARY KEY on the mart's
grain, NOT NULL and COMMENT ON) in the current schema: the warehouse's ``marts`` schema
(``write_marts``) and the published file (assets/publish/database.py runs it before
sql/published.sql). The marts' frames are inserted BY NAME into those tables, so DuckDB
enforces the declaration: a duplicate key or a NULL where none may be fails the build,
and a frame whose columns or types differ from the declaration fails before it is written.
"""

from __future__ import annotations

import duckdb
import polars as pl

from assets import ddl
from assets.staging.warehouse import transaction

# What the warehouse keeps in marts.* and every publication copies: build_marts's tables, then the
# audit trail beside them (assets/marts/provenance.py build_audit); sql/marts.sql creates each.
AUDIT_TABLES = ("kpi_provenance", "hire_register")
MART_TABLES = (
    "kpi_scorecard",
    "funnel",
    "hires_vs_target",
    "hires_over_time",
    "time_to_hire",
    "cost_per_outcome",
    "weekly_reach",
    "campaigns",
    "campaign_periods",
    *AUDIT_TABLES,
)
MARTS_SQL = ddl.SQL_DIR / "marts.sql"
SCHEMA = "marts"


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Creates every mart table of sql/marts.sql, with its comments, in the connection's current schema."""
    con.execute(MARTS_SQL.read_text())


def declared() -> dict[str, dict[str, str]]:
    """table -> column -> DuckDB type, in declared order, as sql/marts.sql creates them."""
    out = ddl.declared(MARTS_SQL.name)
    if set(out) != set(MART_TABLES):
        raise ValueError(f"{MARTS_SQL.name} creates {sorted(out)}, MART_TABLES lists {sorted(MART_TABLES)}")
    return out


def columns(table: str) -> list[str]:
    """The declared columns of mart ``table``, in order: what a mart frame selects last."""
    return list(declared()[table])


def write_marts(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Replaces every marts.* table by its declared table filled with its frame, in one transaction.

    Each frame's columns and types are checked against the declaration first; then the
    tables are dropped, created again from sql/marts.sql (so the warehouse never keeps a
    table of an older declaration) and filled BY NAME. Any failure leaves the marts as
    they were. Returns rows per table.
    """
    if set(frames) != set(MART_TABLES):
        raise ValueError(f"marts to write: {sorted(frames)}; MART_TABLES: {sorted(MART_TABLES)}")
    home, schema = con.execute("SELECT current_database(), current_schema()").fetchall()[0]
    registered = []
    try:
        for name in MART_TABLES:
            view = f"_mart_{name}"
            con.register(view, frames[name].to_arrow())
            registered.append(view)
            given = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {view})").fetchall())
            problems = _mismatches(declared()[name], given)
            if problems:
                raise TypeError(f"marts.{name} does not match {MARTS_SQL.name}: " + "; ".join(problems))
        with transaction(con):
            for name in MART_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{name}")
            con.execute(f'USE "{home}"."{SCHEMA}"')
            try:
                create_tables(con)
            finally:
                con.execute(f'USE "{home}"."{schema}"')
            for name in MART_TABLES:
                try:
                    con.execute(f"INSERT INTO {SCHEMA}.{name} BY NAME SELECT * FROM _mart_{name}")
                except duckdb.ConstraintException as exc:  # a duplicate key or a NULL: name the mart
                    raise duckdb.ConstraintException(f"marts.{name}: {exc}") from exc
    finally:
        for view in registered:
            con.unregister(view)
    return {name: frames[name].height for name in MART_TABLES}


def _mismatches(wanted: dict[str, str], given: dict[str, str]) -> list[str]:
    """What keeps a frame with ``given`` column types from being the table declared as ``wanted``.

    A type must be the declared one (as DuckDB reads the frame's Arrow type), except that an
    all-NULL column (Polars' Null dtype) fits any type: DuckDB's NOT NULL then decides.
    """
    out = [f"column {c} is declared but not computed" for c in wanted if c not in given]
    out += [f"column {c} is computed but not declared" for c in given if c not in wanted]
    for c, dtype in given.items():
        if c in wanted and dtype not in (wanted[c], '"NULL"'):
            out.append(f"column {c} is {dtype}, declared {wanted[c]}")
    return out
