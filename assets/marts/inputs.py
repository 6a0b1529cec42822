"""The marts' inputs: staged rows and reference tables, read from the warehouse already narrowed in DuckDB."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from assets.marts import visitor_scopes
from assets.marts.visitor_scopes import VisitorCounts, count_visitors
from assets.staging.ledger import FILE_ORDER

# Load order of rows: their exports' (assets/staging/ledger.py FILE_ORDER), then by line.
LOAD_ORDER = f"{FILE_ORDER}, s.line_number"


@dataclass
class MartInputs:
    """Staged rows and reference tables, as read from the warehouse.

    Visitors come either as distinct tuples (``visitors``, as hand-made in
    tests) or already counted in DuckDB (``visitor_counts``, from
    ``read_inputs``): ten million sessions are counted where they are stored.
    """

    campaigns: pl.DataFrame
    periods: pl.DataFrame
    organisations: pl.DataFrame
    targets: pl.DataFrame
    reach: pl.DataFrame  # staged reach rows with a load order column ``load_seq``
    visitors: pl.DataFrame | None  # distinct (campaign_id, period, channel, week_start, user_pseudo_id)
    applications: pl.DataFrame  # staged applications with ``load_seq``
    visitor_counts: VisitorCounts | None = None


def visitor_counts(inputs: MartInputs) -> VisitorCounts:
    if inputs.visitor_counts is not None:
        return inputs.visitor_counts
    if inputs.visitors is None:
        raise ValueError("MartInputs has neither visitor tuples nor visitor counts")
    return count_visitors(inputs.visitors)


def read_inputs(con) -> MartInputs:
    """Loads what the marts need from the warehouse, already narrowed in DuckDB.

    Visitors arrive counted from staging.visitor_scopes (assets/marts/visitor_scopes.py), brought
    up to the staged sessions first: every distinct count the marts publish, exact, without
    moving sessions out of DuckDB or reading a night's old sessions again.
    """
    visitor_scopes.refresh(con)
    load_order = f"row_number() OVER (ORDER BY {LOAD_ORDER}) AS load_seq"
    return MartInputs(
        campaigns=con.sql("SELECT * FROM ref.campaigns").pl(),
        periods=con.sql("SELECT * FROM ref.campaign_periods").pl(),
        organisations=con.sql("SELECT * FROM ref.organisations").pl(),
        targets=con.sql("SELECT * FROM ref.kpi_targets").pl(),
        reach=con.sql(
            f"SELECT s.*, {load_order} FROM staging.reach s JOIN ingest.file_ledger l USING (file_hash)"
        ).pl(),
        visitors=None,
        applications=con.sql(
            f"SELECT s.*, {load_order} FROM staging.applications s JOIN ingest.file_ledger l USING (file_hash)"
        ).pl(),
        visitor_counts=visitor_scopes.counts(con),
    )
