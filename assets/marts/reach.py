"""Reach: ad-platform rows de-duplicated across exports, and the weekly reach mart."""

from __future__ import annotations

import polars as pl

from assets.marts.inputs import MartInputs, visitor_counts
from assets.marts.tables import columns

# A reach row's identity across exports: a later export of the same key replaces the earlier one.
REACH_KEY = ("date", "channel", "platform_campaign", "ad_set", "platform_campaign_id")


def dedupe_reach(reach: pl.DataFrame) -> pl.DataFrame:
    """One row per date x channel x platform campaign x ad set: the most recently loaded wins."""
    return (
        reach.filter(pl.col("campaign_id").is_not_null())
        .sort("load_seq")
        .unique(subset=list(REACH_KEY), keep="last", maintain_order=True)
    )


def weekly_reach(inputs: MartInputs) -> pl.DataFrame:
    """One row per campaign x week with impressions, clicks and the week's distinct visitors."""
    reach = dedupe_reach(inputs.reach).with_columns(week_start=pl.col("date").dt.truncate("1w"))
    r = reach.group_by("campaign_id", "week_start").agg(
        pl.col("impressions").sum(), pl.col("clicks").sum(), pl.col("spend_eur").sum()
    )
    v = visitor_counts(inputs).weeks
    out = r.join(v, on=["campaign_id", "week_start"], how="full", coalesce=True)
    return out.with_columns(
        pl.col("impressions").fill_null(0).cast(pl.Int64),
        pl.col("clicks").fill_null(0).cast(pl.Int64),
        pl.col("unique_visitors").fill_null(0).cast(pl.Int64),
        pl.col("spend_eur").fill_null(0.0).round(2),
    ).select(columns("weekly_reach")).sort("campaign_id", "week_start")
