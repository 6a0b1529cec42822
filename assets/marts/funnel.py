"""The funnel: each stage's value at every scope, the funnel and KPI scorecard marts, and cost per outcome.

The rules (../shared/data-contract.md, "KPI rules"): impressions and clicks are sums over
de-duplicated reach rows of the scope; unique visitors are distinct user_pseudo_id over
exactly the scope asked for, never a sum of smaller scopes; applications and international
hires are assets/marts/hiring.py's; organisation KPIs assets/marts/organisations.py's.
"""

from __future__ import annotations

import polars as pl

from assets.marts.hiring import campaign_applications, dedupe_applications, international_hires
from assets.marts.inputs import MartInputs, visitor_counts
from assets.marts.organisations import organisation_kpis
from assets.marts.reach import dedupe_reach
from assets.marts.rollup import by_scope, scope_periods
from assets.marts.tables import columns
from assets.vocabulary import AD_CHANNELS, ALL, CHANNELS, KPIS, STAGE_KPI, STAGES


def stage_values(inputs: MartInputs) -> pl.DataFrame:
    """campaign_id, period, channel, stage, value: each stage computed at each scope."""
    reach = dedupe_reach(inputs.reach)
    apps = dedupe_applications(inputs.applications)
    frames = [
        by_scope(reach, pl.col("impressions").sum()).with_columns(stage=pl.lit("impressions")),
        by_scope(reach, pl.col("clicks").sum()).with_columns(stage=pl.lit("clicks")),
        visitor_counts(inputs).scopes.with_columns(stage=pl.lit("unique_visitors")),
        by_scope(campaign_applications(inputs, apps), pl.col("application_key").n_unique()).with_columns(
            stage=pl.lit("applications")
        ),
        by_scope(international_hires(inputs, apps), pl.col("candidate_key").n_unique()).with_columns(
            stage=pl.lit("hires")
        ),
    ]
    return pl.concat(frames, how="vertical_relaxed").with_columns(pl.col("value").cast(pl.Int64))


def funnel(inputs: MartInputs, values: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period x channel x stage, with step and overall conversion.

    Every campaign gets every (period incl. 'all') x (channel incl. 'all') x stage
    row; a stage a channel cannot have (impressions of direct traffic) is null,
    a stage with no data in a scope that can have it is 0.
    """
    values = stage_values(inputs) if values is None else values
    grid = (
        scope_periods(inputs.campaigns, inputs.periods)
        .join(pl.DataFrame({"channel": list(CHANNELS) + [ALL]}), how="cross")
        .join(pl.DataFrame({"stage": STAGES, "stage_order": range(1, len(STAGES) + 1)},
                           schema={"stage": pl.String, "stage_order": pl.Int32}), how="cross")
    )
    out = grid.join(values, on=["campaign_id", "period", "channel", "stage"], how="left")
    paid_only = pl.col("stage").is_in(["impressions", "clicks"]) & ~pl.col("channel").is_in(list(AD_CHANNELS) + [ALL])
    out = out.with_columns(
        value=pl.when(paid_only).then(None).otherwise(pl.col("value").fill_null(0)).cast(pl.Int64)
    ).sort("campaign_id", "period", "channel", "stage_order")
    group = ["campaign_id", "period", "channel"]
    prev = pl.col("value").shift(1).over(group, order_by="stage_order")
    first = pl.col("value").first().over(group, order_by="stage_order")
    return out.with_columns(
        step_conversion=pl.when(pl.col("stage_order") > 1).then(_ratio(pl.col("value"), prev)),
        overall_conversion=pl.when(pl.col("stage_order") > 1).then(_ratio(pl.col("value"), first)),
    ).select(columns("funnel"))


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den.is_not_null() & (den > 0) & num.is_not_null()).then(num / den).otherwise(None)


def kpi_scorecard(inputs: MartInputs, values: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x KPI x period ('all' = whole campaign): target, result, % and met.

    Export-based KPIs of a campaign with no exports of that source are null,
    not zero: "no data" and "nothing happened" are different answers.
    """
    values = stage_values(inputs) if values is None else values
    stage_to_kpi = STAGE_KPI
    totals = values.filter(pl.col("channel") == ALL).with_columns(
        kpi=pl.col("stage").replace_strict(stage_to_kpi)
    ).select("campaign_id", "kpi", "period", pl.col("value").alias("result"))
    grid = scope_periods(inputs.campaigns, inputs.periods).join(
        pl.DataFrame({"kpi": list(stage_to_kpi.values())}), how="cross"
    )
    has_source = _campaigns_with_data(inputs)
    export_kpis = (
        grid.join(totals, on=["campaign_id", "kpi", "period"], how="left")
        .join(has_source, on=["campaign_id", "kpi"], how="left")
        .with_columns(
            result=pl.when(pl.col("has_data").fill_null(False)).then(pl.col("result").fill_null(0)).otherwise(None)
        )
        .drop("has_data")
    )
    scores = pl.concat([export_kpis, organisation_kpis(inputs)], how="diagonal_relaxed")
    targets = inputs.targets.with_columns(pl.col("period").fill_null(ALL)).select(
        "campaign_id", "kpi", "period", "target"
    )
    out = scores.join(targets, on=["campaign_id", "kpi", "period"], how="left")
    return out.with_columns(
        pct_of_target=pl.when(pl.col("target") > 0).then((pl.col("result") / pl.col("target") * 100).round(1)),
        met=pl.when(pl.col("target").is_not_null() & pl.col("result").is_not_null()).then(
            pl.col("result") >= pl.col("target")
        ),
    ).select(columns("kpi_scorecard")).sort(
        "campaign_id", pl.col("kpi").replace_strict({k: i for i, k in enumerate(KPIS)}), "period"
    )


def _campaigns_with_data(inputs: MartInputs) -> pl.DataFrame:
    def campaigns(frame: pl.DataFrame, kpis: list[str]) -> pl.DataFrame:
        ids = frame.filter(pl.col("campaign_id").is_not_null()).select("campaign_id").unique()
        return ids.join(pl.DataFrame({"kpi": kpis}), how="cross").with_columns(has_data=pl.lit(True))

    return pl.concat(
        [
            campaigns(inputs.reach, ["impressions", "clicks"]),
            campaigns(visitor_counts(inputs).scopes, ["unique_visitors"]),
            campaigns(inputs.applications, ["applications", "international_hires"]),
        ]
    ).unique()


def cost_per_outcome(inputs: MartInputs, values: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period x ad channel (and 'all'): spend in EUR and cost per outcome."""
    values = stage_values(inputs) if values is None else values
    reach = dedupe_reach(inputs.reach)
    spend = by_scope(reach, pl.col("spend_eur").sum()).rename({"value": "spend_eur"})
    wide = values.pivot(on="stage", index=["campaign_id", "period", "channel"], values="value")
    for stage in STAGES:
        if stage not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Int64).alias(stage))
    out = spend.join(wide, on=["campaign_id", "period", "channel"], how="left").filter(
        pl.col("channel").is_in(list(AD_CHANNELS) + [ALL])
    )

    def cost(col: str) -> pl.Expr:
        return pl.when(pl.col(col) > 0).then((pl.col("spend_eur") / pl.col(col)).round(2))

    outcomes = ("clicks", "unique_visitors", "applications", "hires")
    return out.with_columns(pl.col("spend_eur").round(2)).with_columns(
        *(pl.col(c).fill_null(0).cast(pl.Int64) for c in outcomes),
        cost("clicks").alias("cost_per_click_eur"),
        cost("unique_visitors").alias("cost_per_visitor_eur"),
        cost("applications").alias("cost_per_application_eur"),
        cost("hires").alias("cost_per_hire_eur"),
    ).select(columns("cost_per_outcome")).sort("campaign_id", "period", "channel")
