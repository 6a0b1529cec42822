"""Reading the published database: every table through one read-only connection, split per campaign."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from assets.publish.database import ACCOUNTING_TABLES, PUBLICATION_TABLE, PUBLISHED_TABLES
from assets.report.labels import ALL, KPI_ORDER, SOURCE_KPIS, period_name, span


# The key under which read_published returns the data dictionary (no published table has that name).
DICTIONARY = "_data_dictionary"
# Every table and view of the published file with its columns, from the file's own COMMENT ON text.
_DICTIONARY_SQL = """
    WITH objects AS (
        SELECT table_name AS object_name, 'table' AS kind, comment FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name = 'main'
        UNION ALL
        SELECT view_name, 'view', comment FROM duckdb_views()
        WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
    ),
    keys AS (
        SELECT table_name, unnest(constraint_column_names) AS column_name FROM duckdb_constraints()
        WHERE database_name = current_database() AND schema_name = 'main' AND constraint_type = 'PRIMARY KEY'
    )
    SELECT o.object_name AS table_name, o.kind, o.comment AS table_comment, c.column_index, c.column_name,
           c.data_type, c.is_nullable, k.column_name IS NOT NULL AS is_key, c.comment AS column_comment
    FROM objects o
    JOIN duckdb_columns() c ON c.database_name = current_database() AND c.schema_name = 'main'
                           AND c.table_name = o.object_name
    LEFT JOIN keys k ON k.table_name = o.object_name AND k.column_name = c.column_name
    ORDER BY o.object_name, c.column_index
"""


def read_published(published_path: Path) -> dict[str, pl.DataFrame]:
    """Every published table and the data dictionary (key ``DICTIONARY``), through one read-only connection.

    Managers' readers never block it, and it never blocks them.
    """
    published_path = Path(published_path)
    if not published_path.exists():
        raise FileNotFoundError(f"{published_path}: no published database yet; run `talent-pipeline run` first")
    con = duckdb.connect(str(published_path), read_only=True)
    try:
        names = (*PUBLISHED_TABLES, *ACCOUNTING_TABLES, PUBLICATION_TABLE)
        tables = {name: con.sql(f"SELECT * FROM {name}").pl() for name in names}
        tables[DICTIONARY] = con.sql(_DICTIONARY_SQL).pl()
        return tables
    finally:
        con.close()


def dictionary_entries(tables: dict[str, pl.DataFrame]) -> list[dict]:
    """One entry per published table or view, alphabetical: its kind, its comment and its columns in order."""
    entries = []
    for (name,), frame in tables[DICTIONARY].group_by("table_name", maintain_order=True):
        first = frame.row(0, named=True)
        entries.append({
            "name": name,
            "kind": first["kind"],
            "comment": first["table_comment"],
            "columns": frame.sort("column_index").select(
                "column_name", "data_type", "is_nullable", "is_key", "column_comment"
            ).to_dicts(),
        })
    return sorted(entries, key=lambda e: e["name"])


@dataclass
class CampaignData:
    """One campaign's published rows, as plain Python values."""

    campaign_id: str
    name: str
    start_date: date
    end_date: date
    budget_eur: float | None
    eu_grant_eur: float | None
    periods: list[dict]
    scorecard: list[dict]  # kpi_scorecard, period 'all', in KPI_ORDER
    funnel: list[dict]
    hires_vs_target: list[dict]  # organisation 'all'
    hires_over_time: list[dict]
    weekly_reach: list[dict]
    cost: list[dict]  # cost_per_outcome, period 'all'
    time_to_hire: list[dict] = field(default_factory=list)  # every scope with a counted hire
    missing_sources: list[str] = field(default_factory=list)
    data_notes: dict = field(default_factory=dict)  # what the numbers leave out (data_notes())

    @property
    def has_exports(self) -> bool:
        return len(self.missing_sources) < len(SOURCE_KPIS)

    @property
    def missing_kpis(self) -> set[str]:
        return {k for source in self.missing_sources for k in SOURCE_KPIS[source]}

    def kpi(self, name: str) -> dict | None:
        return next((r for r in self.scorecard if r["kpi"] == name), None)

    def funnel_rows(self, period: str, channel: str) -> list[dict]:
        rows = [r for r in self.funnel if r["period"] == period and r["channel"] == channel]
        return sorted(rows, key=lambda r: r["stage_order"])

    def period_label(self, period: str) -> str:
        if period == ALL:
            return f"Whole campaign ({span(self.start_date, self.end_date)})"
        p = next((p for p in self.periods if p["period"] == period), None)
        name = period_name(period)
        return f"{name} ({span(p['start_date'], p['end_date'])})" if p else name


def campaigns_from_tables(tables: dict[str, pl.DataFrame]) -> list[CampaignData]:
    """Splits the published tables into one CampaignData per campaign, ordered by campaign name."""

    def rows(table: str, campaign_id: str, expr: pl.Expr | None = None) -> list[dict]:
        frame = tables[table].filter(pl.col("campaign_id") == campaign_id)
        if expr is not None:
            frame = frame.filter(expr)
        return frame.to_dicts()

    rank = {k: i for i, k in enumerate(KPI_ORDER)}
    out = []
    for c in tables["campaigns"].sort("name").iter_rows(named=True):
        cid = c["campaign_id"]
        scorecard = sorted(rows("kpi_scorecard", cid, pl.col("period") == ALL),
                           key=lambda r: (rank.get(r["kpi"], len(rank)), r["kpi"]))
        results = {r["kpi"]: r["result"] for r in scorecard}
        missing = [s for s, kpis in SOURCE_KPIS.items() if all(results.get(k) is None for k in kpis)]
        out.append(
            CampaignData(
                campaign_id=cid,
                name=c["name"],
                start_date=c["start_date"],
                end_date=c["end_date"],
                budget_eur=c["budget_eur"],
                eu_grant_eur=c["eu_grant_eur"],
                periods=sorted(rows("campaign_periods", cid), key=lambda r: (r["start_date"], r["period"])),
                scorecard=scorecard,
                funnel=rows("funnel", cid),
                hires_vs_target=rows("hires_vs_target", cid, pl.col("organisation") == ALL),
                hires_over_time=sorted(rows("hires_over_time", cid), key=lambda r: r["week_start"]),
                weekly_reach=sorted(rows("weekly_reach", cid), key=lambda r: r["week_start"]),
                cost=rows("cost_per_outcome", cid, pl.col("period") == ALL),
                time_to_hire=rows("time_to_hire", cid),
                missing_sources=missing,
                data_notes=data_notes(tables, cid),
            )
        )
    return out


def data_notes(tables: dict[str, pl.DataFrame], campaign_id: str) -> dict:
    """What a campaign's published numbers leave out, from data_issues and exports.

    ``excluded``: rows attributed to this campaign and held back, by source and reason;
    ``unattributed``: rows held back before they could be attributed (they may belong to any
    campaign), by source and reason; ``rejected``: files rejected whole (no campaign is known).
    """
    issues = tables.get("data_issues")
    if issues is None:
        return {"excluded": [], "unattributed": [], "rejected": []}

    def by_reason(frame: pl.DataFrame) -> list[dict]:
        return (frame.group_by("source", "rule", "reason").agg(pl.len().alias("rows"), pl.col("file_name").n_unique()
                                                               .alias("files"))
                .sort(["rows", "source", "reason"], descending=[True, False, False]).to_dicts())

    rows = issues.filter(pl.col("scope") == "row")
    rejected = tables["exports"].filter(pl.col("status") == "rejected").select("source", "file_name", "message")
    return {
        "excluded": by_reason(rows.filter(pl.col("campaign_id") == campaign_id)),
        "unattributed": by_reason(rows.filter(pl.col("campaign_id").is_null())),
        "rejected": rejected.sort("source", "file_name").to_dicts(),
    }
