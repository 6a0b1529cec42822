"""Organisation KPIs: the register's organisations involved in, and established during, a campaign."""

from __future__ import annotations

import polars as pl

from assets.marts.inputs import MartInputs
from assets.vocabulary import ALL


def organisation_members(inputs: MartInputs) -> pl.DataFrame:
    """campaign_id, kpi, org_id: the register's organisations each organisation KPI counts.

    Involved: joined the talent campaign on or before the campaign's end; established:
    established in the region inside the campaign window.
    """
    pairs = inputs.campaigns.select("campaign_id", "start_date", "end_date").join(
        inputs.organisations.select("org_id", "talent_campaign_joined_on", "established_in_region_on"), how="cross"
    )
    return pl.concat([
        pairs.filter(pl.col("talent_campaign_joined_on") <= pl.col("end_date"))
        .select("campaign_id", kpi=pl.lit("organisations_involved"), org_id=pl.col("org_id")),
        pairs.filter(pl.col("established_in_region_on").is_between(pl.col("start_date"), pl.col("end_date")))
        .select("campaign_id", kpi=pl.lit("organisations_established"), org_id=pl.col("org_id")),
    ])


def organisation_kpis(inputs: MartInputs) -> pl.DataFrame:
    """campaign_id, kpi, period ('all'), result: the organisation KPIs of every campaign (0 when none)."""
    counts = organisation_members(inputs).group_by("campaign_id", "kpi").agg(result=pl.col("org_id").n_unique())
    grid = inputs.campaigns.select("campaign_id").join(
        pl.DataFrame({"kpi": ["organisations_involved", "organisations_established"]}), how="cross"
    )
    return grid.join(counts, on=["campaign_id", "kpi"], how="left").select(
        "campaign_id", "kpi", period=pl.lit(ALL), result=pl.col("result").fill_null(0).cast(pl.Int64)
    )
