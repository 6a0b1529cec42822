"""Reading the published database: every table through one read-only connection, split per campaign."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from assets.publish import PUBLICATION_TABLE, PUBLISHED_TABLES
from assets.report.labels import ALL, KPI_ORDER, SOURCE_KPIS, period_name, span


def read_published(published_path: Path) -> dict[str, pl.DataFrame]:
    """Every published table, read through one read-only connection (managers' readers never block)."""
    published_path = Path(published_path)
    if not published_path.exists():
        raise FileNotFoundError(f"{published_path}: no published database yet; run `talent-pipeline run` first")
    con = duckdb.connect(str(published_path), read_only=True)
    try:
        return {name: con.sql(f"SELECT * FROM {name}").pl() for name in (*PUBLISHED_TABLES, PUBLICATION_TABLE)}
    finally:
        con.close()


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
    missing_sources: list[str] = field(default_factory=list)

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
                missing_sources=missing,
            )
        )
    return out
