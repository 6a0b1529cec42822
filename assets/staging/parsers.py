"""The one interface every source is staged through, and the registry of sources.

A ``Parser`` is given the connection, the file and its ledger facts (name,
SHA-256), and inside the caller's transaction stages the file's readable rows
into the source's staged table, each with layout, source_file, file_hash and
its physical line_number; it returns a ``Load``: data lines, rows loaded, the
quarantined lines with their reasons, the export key that a corrected
re-export shares, the layout and the first and last day. The staging
transaction (assets/staging/stage.py) does the rest the same way for every
source: line accounting, supersession, quarantine, ledger.

Reach and hiring parsers are Python functions returning a ``Parsed``
(``RowParser`` stages its rows through Arrow); visitor exports are parsed by
DuckDB straight into the staged table (``VisitorParser``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import duckdb
import polars as pl

from assets.ddl import polars_schema
from assets.ingest.common import Parsed, RejectedFile, first_row
from assets.ingest.visitors import GA4, parse_visitors, release_visitor_tables

# The registry: each source's staged table.
STAGED_TABLE = {"reach": "staging.reach", "visitors": "staging.sessions", "hiring": "staging.applications"}

QUARANTINE_SCHEMA = {"line_number": pl.Int64, "column_name": pl.String, "value": pl.String, "reason": pl.String,
                     "rule": pl.String, "campaign_id": pl.String}
DECLARED_TYPES_RULE = "every cell reads as its declared type"


@dataclass(frozen=True)
class FileFacts:
    """What the ledger knows of a file before it is parsed."""

    path: Path
    digest: str  # its SHA-256: file_hash of every staged and quarantined row

    @property
    def source_file(self) -> str:
        return self.path.name


@dataclass
class Load:
    """What staging one file did, the same for every source."""

    layout: str
    export_key: str
    data_lines: int
    rows_loaded: int
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA: one row per quarantined data line, with its reason
    first_day: date | None = None
    last_day: date | None = None

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height


class Parser(Protocol):
    def stage(self, con: duckdb.DuckDBPyConnection, table: str, facts: FileFacts) -> Load:
        """Stages the file's readable rows into ``table`` (inside the caller's transaction)."""
        ...


@dataclass(frozen=True)
class _RowSchema:
    columns: dict[str, pl.DataType]
    day: str  # the column whose range is the file's first and last day


# What a row parser hands over: the staged table's columns (sql/warehouse.sql) but the
# provenance ones, which staging adds (layout, source_file, file_hash) or the parser keeps apart (line_number).
PROVENANCE = ("layout", "source_file", "file_hash", "line_number")
ROW_SCHEMAS = {
    "reach": _RowSchema(polars_schema("warehouse.sql", STAGED_TABLE["reach"], PROVENANCE), "date"),
    "hiring": _RowSchema(polars_schema("warehouse.sql", STAGED_TABLE["hiring"], PROVENANCE), "applied_on"),
}


class RowParser:
    """A Python parser (path -> Parsed) of the source's rows, staged through one Arrow table."""

    def __init__(self, source: str, parse: Callable[[Path], Parsed]):
        self.schema = ROW_SCHEMAS[source]
        self.parse = parse

    def stage(self, con: duckdb.DuckDBPyConnection, table: str, facts: FileFacts) -> Load:
        parsed = self.parse(facts.path)
        columns = self.schema.columns
        frame = pl.DataFrame(
            [{**{k: r.get(k) for k in columns}, "line_number": r["line_number"]} for r in parsed.rows],
            schema={**columns, "line_number": pl.Int64},
            orient="row",
        )
        quarantine = pl.DataFrame(
            [(q.line_number, q.column, q.value, q.reason, q.rule, q.campaign_id) for q in parsed.quarantined],
            schema=QUARANTINE_SCHEMA,
            orient="row",
        )
        con.register("_parsed_rows", frame.to_arrow())
        try:
            inserted = first_row(con.execute(
                f"INSERT INTO {table} BY NAME SELECT *, ? AS layout, ? AS source_file, ? AS file_hash "
                "FROM _parsed_rows", [parsed.layout, facts.source_file, facts.digest]))[0]
        finally:
            con.unregister("_parsed_rows")
        if inserted != len(parsed.rows):
            raise RejectedFile(facts.path, None, None,
                               f"line accounting failed: {len(parsed.rows)} readable rows but {inserted} staged")
        days = frame.get_column(self.schema.day).drop_nulls()
        return Load(parsed.layout, parsed.export_key, parsed.data_lines, inserted, quarantine,
                    days.min() if days.len() else None, days.max() if days.len() else None)


class VisitorParser:
    """GA4 session exports, parsed by DuckDB straight into the staged table (assets/ingest/visitors.py)."""

    def stage(self, con: duckdb.DuckDBPyConnection, table: str, facts: FileFacts) -> Load:
        load = parse_visitors(con, facts.path, into=table,
                              constants={"layout": GA4.name, "source_file": facts.source_file,
                                         "file_hash": facts.digest})
        quarantine = con.sql(
            f"SELECT line_number, column_name, value, reason, '{DECLARED_TYPES_RULE}' AS rule, "
            "NULL::VARCHAR AS campaign_id FROM _visitor_quarantine ORDER BY line_number").pl()
        # Dropped after success only: a failure is rolled back with them (stage_one's transaction). A file
        # DuckDB's reader stopped in has aborted that transaction, and a DROP would raise over its error.
        release_visitor_tables(con)
        return Load(load.layout, load.export_key, load.data_lines, load.rows_loaded,
                    quarantine.cast(QUARANTINE_SCHEMA), load.first_day, load.last_day)
