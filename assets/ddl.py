"""What a schema file under sql/ declares, read back from DuckDB itself: the one statement of a table's columns.

sql/warehouse.sql declares the staged tables, sql/marts.sql the marts. Code that needs a
table's columns or types (a parser's row schema, a suite's column set, a mart frame's
check) asks here instead of listing them again; the file is run once on an empty
in-memory database and its catalogue read.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import polars as pl

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"  # the one path to the SQL files

# DuckDB's types in the schema files, as Polars frames carry them.
POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String, "DATE": pl.Date, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean, "TIMESTAMP": pl.Datetime("us"),
}


@cache
def _catalogue(sql_file: str) -> tuple[list[tuple], list[tuple]]:
    """The columns and constraints ``sql_file`` creates on an empty in-memory database (read once)."""
    con = duckdb.connect()
    try:
        con.execute((SQL_DIR / sql_file).read_text())
        columns = con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() ORDER BY schema_name, table_name, column_index"
        ).fetchall()
        constraints = con.execute(
            "SELECT schema_name, table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
            "WHERE database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'NOT NULL') "
            "ORDER BY schema_name, table_name, constraint_index"
        ).fetchall()
    finally:
        con.close()
    return columns, constraints


def _name(schema: str, table: str) -> str:
    return table if schema == "main" else f"{schema}.{table}"


@cache
def declared(sql_file: str) -> dict[str, dict[str, str]]:
    """Table -> column -> DuckDB type, in declared order (default-schema tables by name, others as schema.table)."""
    out: dict[str, dict[str, str]] = {}
    for schema, table, column, dtype in _catalogue(sql_file)[0]:
        out.setdefault(_name(schema, table), {})[column] = dtype
    return out


def polars_schema(sql_file: str, table: str, drop: tuple[str, ...] = ()) -> dict[str, pl.DataType]:
    """The Polars schema of ``table`` as ``sql_file`` declares it, without the ``drop`` columns."""
    return {c: POLARS_TYPES[t] for c, t in declared(sql_file)[table].items() if c not in drop}


@cache
def keys(sql_file: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Table -> (primary key columns, NOT NULL columns beyond the key), as ``sql_file`` declares them."""
    primary: dict[str, tuple[str, ...]] = {}
    not_null: dict[str, list[str]] = {}
    for schema, table, kind, names in _catalogue(sql_file)[1]:
        if kind == "PRIMARY KEY":
            primary[_name(schema, table)] = tuple(names)
        else:
            not_null.setdefault(_name(schema, table), []).extend(names)
    tables = set(primary) | set(not_null)
    return {t: (primary.get(t, ()), tuple(c for c in not_null.get(t, []) if c not in primary.get(t, ())))
            for t in tables}


NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "FLOAT", "DOUBLE")


def is_numeric(duckdb_type: str) -> bool:
    return duckdb_type in NUMERIC_TYPES or duckdb_type.startswith("DECIMAL")
