"""The audit trail of the published figures: which exports make up each one, and every hire seen.

Plain functions on the marts' inputs (no Dagster):

- ``hire_register``: one row per hire seen in any export, counted or not, from
  ``hiring.classify_hires`` (the one home of the international-hires rule);
- ``kpi_provenance``: for every published figure (every kpi_scorecard row and every
  funnel / cost_per_outcome scope, period x channel incl. 'all'), the contribution of
  each export. Additive KPIs (impressions, clicks, spend_eur): the sum over the export's
  rows left after the marts' de-duplication (``dedupe_reach``). Distinct counts (unique
  visitors, applications, international hires, organisations): each unit of the figure
  is credited to the first export in load order that holds it, so the contributions of
  a scope add up exactly to its figure. Spend is apportioned in whole cents (largest
  remainder) so that it adds up to the published, rounded, figure too.

Organisations come from the register, not from an export: their "export" is the
reference file ``organisations.csv`` as loaded by the run (``ref.files`` holds its hash).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl

from assets.marts import visitor_scopes
from assets.marts.hiring import campaign_applications, classify_hires, dedupe_applications
from assets.marts.inputs import MartInputs
from assets.marts.organisations import organisation_members
from assets.marts.reach import dedupe_reach
from assets.marts.rollup import by_scope
from assets.marts.tables import columns
from assets.vocabulary import ALL

EXPORT = ("source_file", "file_hash")
ORGANISATIONS_FILE = "organisations.csv"
CANDIDATE_REF_CHARS = 10  # of the HMAC candidate key: short, pseudonymous, never a name or e-mail


# --- reference files: the organisations' "export" ---------------------------------------------


def record_reference_files(con: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """ref.files: name and SHA-256 of every reference file the run loaded (replaced each run)."""
    rows = [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in sorted(folder.glob("*.csv"))]
    con.execute("CREATE OR REPLACE TABLE ref.files (file_name VARCHAR PRIMARY KEY, file_hash VARCHAR NOT NULL)")
    if rows:
        con.executemany("INSERT INTO ref.files VALUES (?, ?)", rows)
    return len(rows)


# --- the hire register --------------------------------------------------------------------


def hire_register(inputs: MartInputs, apps: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per hire row of any export (file x line): the judged application, counted or why not."""
    return _register(classify_hires(inputs, apps))


def _register(classified: pl.DataFrame) -> pl.DataFrame:
    return classified.with_columns(
        candidate_ref=pl.col("candidate_key").str.slice(0, CANDIDATE_REF_CHARS),
    ).select(columns("hire_register")).sort("campaign_id", "organisation", "hire_date", "source_file", "line_number",
                                    nulls_last=True)


# --- provenance -------------------------------------------------------------------------------


def kpi_provenance(con: duckdb.DuckDBPyConnection, inputs: MartInputs, marts: dict[str, pl.DataFrame],
                   classified: pl.DataFrame | None = None) -> pl.DataFrame:
    """campaign_id, kpi, period, channel, source_file, file_hash, rows_counted, contribution."""
    apps = dedupe_applications(inputs.applications)
    classified = classify_hires(inputs, apps) if classified is None else classified
    parts = [
        *_reach_parts(inputs, marts["cost_per_outcome"]),
        _application_part(inputs, apps),
        _hire_part(classified),
        _visitor_part(con),
        _organisation_part(con, inputs),
    ]
    out = pl.concat([p.select(columns("kpi_provenance")) for p in parts if p.height], how="vertical_relaxed")
    return out.with_columns(pl.col("rows_counted").cast(pl.Int64), pl.col("contribution").cast(pl.Float64)).sort(
        "campaign_id", "kpi", "period", "channel", "source_file"
    )


def _joined(value: pl.DataFrame, rows: pl.DataFrame, kpi: str) -> pl.DataFrame:
    """Contribution and rows_counted per scope x export, both from ``by_scope`` frames (value column)."""
    keys = ["campaign_id", "period", "channel", *EXPORT]
    return (
        value.rename({"value": "contribution"})
        .join(rows.rename({"value": "rows_counted"}), on=keys, how="full", coalesce=True)
        .with_columns(pl.col("contribution").fill_null(0), pl.col("rows_counted").fill_null(0), kpi=pl.lit(kpi))
    )


def _reach_parts(inputs: MartInputs, cost: pl.DataFrame) -> list[pl.DataFrame]:
    """Impressions, clicks and spend of each export's rows that survive the marts' de-duplication."""
    reach = dedupe_reach(inputs.reach)
    rows = by_scope(reach, pl.len(), within=EXPORT)
    out = [_joined(by_scope(reach, pl.col(c).sum(), within=EXPORT), rows, c) for c in ("impressions", "clicks")]
    spend = _joined(by_scope(reach, pl.col("spend_eur").sum(), within=EXPORT), rows, "spend_eur")
    out.append(_in_cents(spend, cost.select("campaign_id", "period", "channel", figure="spend_eur")))
    return out


def _in_cents(parts: pl.DataFrame, published: pl.DataFrame) -> pl.DataFrame:
    """Each export's spend in whole cents, adding up to the published (rounded) figure: largest remainder."""
    scope = ["campaign_id", "period", "channel"]
    raw = pl.col("contribution") * 100
    return (
        parts.join(published, on=scope, how="left")
        .sort(*scope, "file_hash")
        .with_columns(floor=raw.floor(), fraction=raw - raw.floor())
        .with_columns(
            short=(pl.col("figure") * 100).round() - pl.col("floor").sum().over(scope),
            rank=pl.col("fraction").rank("ordinal", descending=True).over(scope),
        )
        .with_columns(
            contribution=(pl.col("floor") + (pl.col("rank") <= pl.col("short")).cast(pl.Float64)) / 100
        )
        .drop("figure", "floor", "fraction", "short", "rank")
    )


def _application_part(inputs: MartInputs, apps: pl.DataFrame) -> pl.DataFrame:
    """Each counted application is credited to the first export (load order) that holds it."""
    counted = campaign_applications(inputs, apps).select("application_key", "campaign_id", "period", "channel")
    staged = inputs.applications.select("application_key", *EXPORT, "load_seq")
    first = staged.sort("load_seq").unique("application_key", keep="first").drop("load_seq")
    value = by_scope(counted.join(first, on="application_key"), pl.col("application_key").n_unique(), within=EXPORT)
    rows = by_scope(staged.join(counted, on="application_key"), pl.len(), within=EXPORT)
    return _joined(value, rows, "applications")


def _hire_part(classified: pl.DataFrame) -> pl.DataFrame:
    """Each counted hire is credited to its counted register row's export (its first, by construction)."""
    counted = classified.filter(pl.col("counted"))
    behind = classified.filter(pl.col("application_key").is_in(counted["application_key"].implode()))
    value = by_scope(counted, pl.col("candidate_key").n_unique(), within=EXPORT)
    return _joined(value, by_scope(behind, pl.len(), within=EXPORT), "international_hires")


def _visitor_part(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Each visitor of a scope is credited to the first visitor export (load order) with a session of it there.

    Read from staging.visitor_scope_credits (assets/marts/visitor_scopes.py), which the per-visitor
    masks keep as exports arrive: a night adds what its exports brought, without reading the older
    sessions again. rows_counted is the export's sessions in the scope.
    """
    credited = visitor_scopes.credits(con)
    value = credited.select("campaign_id", "period", "channel", *EXPORT, value="visitors")
    rows = credited.select("campaign_id", "period", "channel", *EXPORT, value="sessions")
    return _joined(value.filter(pl.col("value") > 0), rows, "unique_visitors")


def _organisation_part(con: duckdb.DuckDBPyConnection, inputs: MartInputs) -> pl.DataFrame:
    """Organisation KPIs count register rows: all of them credited to organisations.csv."""
    members = organisation_members(inputs)
    if members.is_empty():
        return members
    found = con.execute("SELECT file_hash FROM ref.files WHERE file_name = ?", [ORGANISATIONS_FILE]).fetchall()
    if not found:
        raise ValueError(f"ref.files has no {ORGANISATIONS_FILE}: the reference files were not recorded this run")
    rows = members.join(inputs.organisations.select("org_id"), on="org_id")
    return rows.group_by("campaign_id", "kpi").agg(
        rows_counted=pl.len(), contribution=pl.col("org_id").n_unique()
    ).with_columns(period=pl.lit(ALL), channel=pl.lit(ALL), source_file=pl.lit(ORGANISATIONS_FILE),
                   file_hash=pl.lit(found[0][0]))


def build_audit(con: duckdb.DuckDBPyConnection, inputs: MartInputs,
                marts: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The audit tables beside the marts: one classification of hires for both."""
    classified = classify_hires(inputs)
    return {"kpi_provenance": kpi_provenance(con, inputs, marts, classified), "hire_register": _register(classified)}


# --- the check: contributions add up to every published figure ------------------------------------

# Written in plain SQL apart from the code above, which it checks: every published figure beside
# the sum of its contributions. Spend is in cents, so "adds up" means within half a cent.
TRACED_FIGURES_SQL = f"""
WITH published AS (
    SELECT 'kpi_scorecard' AS published_in, campaign_id, kpi, period, '{ALL}' AS channel, result::DOUBLE AS figure
    FROM marts.kpi_scorecard WHERE result IS NOT NULL
    UNION ALL
    SELECT 'funnel', campaign_id, CASE stage WHEN 'hires' THEN 'international_hires' ELSE stage END, period,
           channel, value::DOUBLE
    FROM marts.funnel WHERE value IS NOT NULL
    UNION ALL
    SELECT 'cost_per_outcome', campaign_id, 'spend_eur', period, channel, spend_eur
    FROM marts.cost_per_outcome WHERE spend_eur IS NOT NULL
),
traced AS (
    SELECT campaign_id, kpi, period, channel, sum(contribution) AS contributions, count(*) AS exports
    FROM marts.kpi_provenance GROUP BY ALL
)
SELECT coalesce(p.published_in, 'no published figure') AS published_in, campaign_id, kpi, period, channel,
       coalesce(p.figure, 0) AS figure, coalesce(t.contributions, 0) AS contributions,
       coalesce(t.contributions, 0) - coalesce(p.figure, 0) AS difference, coalesce(t.exports, 0) AS exports
FROM published p FULL JOIN traced t USING (campaign_id, kpi, period, channel)
ORDER BY ALL
"""
