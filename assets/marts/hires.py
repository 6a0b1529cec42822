"""The hire marts: hires against target, hires over time and time to hire, all of the counted hires."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from assets.marts.hiring import international_hires
from assets.marts.inputs import MartInputs
from assets.marts.rollup import by_scope, scope_periods
from assets.marts.tables import columns
from assets.vocabulary import ALL


def hires_vs_target(inputs: MartInputs, hires: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period x participating organisation, plus organisation = 'all'.

    Targets are set per campaign and period, so only the 'all' organisation row has one.
    """
    hires = international_hires(inputs) if hires is None else hires
    periods = scope_periods(inputs.campaigns, inputs.periods)
    involved = inputs.campaigns.select("campaign_id", "end_date").join(
        inputs.organisations.select(pl.col("name").alias("organisation"), "talent_campaign_joined_on"), how="cross"
    ).filter(pl.col("talent_campaign_joined_on") <= pl.col("end_date")).select("campaign_id", "organisation")
    counts = by_scope(hires, pl.col("candidate_key").n_unique(), column="organisation").rename({"value": "hires"})
    grid = pl.concat([periods.with_columns(organisation=pl.lit(ALL)), periods.join(involved, on="campaign_id")])
    out = grid.join(counts, on=["campaign_id", "period", "organisation"], how="left").with_columns(
        pl.col("hires").fill_null(0).cast(pl.Int64)
    )
    targets = (
        inputs.targets.filter(pl.col("kpi") == "international_hires")
        .with_columns(pl.col("period").fill_null(ALL), organisation=pl.lit(ALL))
        .select("campaign_id", "period", "organisation", "target")
    )
    out = out.join(targets, on=["campaign_id", "period", "organisation"], how="left")
    return out.with_columns(
        pct_of_target=pl.when(pl.col("target") > 0).then((pl.col("hires") / pl.col("target") * 100).round(1))
    ).select(columns("hires_vs_target")).sort(
        "campaign_id", "period", pl.col("organisation") != ALL, "organisation"
    )


def hires_over_time(inputs: MartInputs, hires: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x week (Monday) of its window: hires that week and cumulative, with the target."""
    hires = international_hires(inputs) if hires is None else hires
    weekly = hires.group_by("campaign_id", pl.col("hire_date").dt.truncate("1w").alias("week_start")).agg(
        pl.col("candidate_key").n_unique().alias("hires")
    )
    weeks = []
    for c in inputs.campaigns.iter_rows(named=True):
        start = c["start_date"] - timedelta(days=c["start_date"].weekday())
        weeks.append(
            pl.DataFrame({"week_start": pl.date_range(start, c["end_date"], "1w", eager=True)}).with_columns(
                campaign_id=pl.lit(c["campaign_id"])
            )
        )
    target = inputs.targets.filter((pl.col("kpi") == "international_hires") & pl.col("period").is_null()).select(
        "campaign_id", "target"
    )
    out = (
        pl.concat(weeks)
        .join(weekly, on=["campaign_id", "week_start"], how="left")
        .with_columns(pl.col("hires").fill_null(0).cast(pl.Int64))
        .sort("campaign_id", "week_start")
        .with_columns(cumulative_hires=pl.col("hires").cum_sum().over("campaign_id"))
        .join(target, on="campaign_id", how="left")
    )
    return out.select(columns("hires_over_time"))


# Quantiles of days to hire: linear interpolation between the two nearest ranks (for the p-quantile of n
# sorted values, position p * (n - 1)), as DuckDB's quantile_cont and numpy's default compute them.
QUANTILE_INTERPOLATION = "linear"


def time_to_hire(inputs: MartInputs, hires: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period (and 'all') x hiring organisation (and 'all') with a counted hire.

    Days from application to hire of exactly the hires the international-hires
    KPI counts (``international_hires``: one per candidate, their first
    qualifying hire), so ``hires`` equals hires_vs_target's for every scope
    with at least one hire. A hire's period is its application's, as there.
    """
    hires = international_hires(inputs) if hires is None else hires
    days = hires.with_columns(days=(pl.col("hire_date") - pl.col("applied_on")).dt.total_days())
    aggs = [
        pl.col("candidate_key").n_unique().alias("hires"),
        pl.col("days").quantile(0.5, interpolation=QUANTILE_INTERPOLATION).alias("median_days_to_hire"),
        pl.col("days").quantile(0.75, interpolation=QUANTILE_INTERPOLATION).alias("p75_days_to_hire"),
    ]
    out = by_scope(days, aggs, column="organisation")
    return out.with_columns(pl.col("hires").cast(pl.Int64)).select(columns("time_to_hire")).sort(
        "campaign_id", "period", pl.col("organisation") != ALL, "organisation"
    )
