"""Every mart from one set of inputs: the frames assets/marts/tables.py writes into the declared tables."""

from __future__ import annotations

import polars as pl

from assets.marts.funnel import cost_per_outcome, funnel, kpi_scorecard, stage_values
from assets.marts.hiring import dedupe_applications, international_hires
from assets.marts.hires import hires_over_time, hires_vs_target, time_to_hire
from assets.marts.inputs import MartInputs
from assets.marts.reach import weekly_reach
from assets.marts.tables import columns


def build_marts(inputs: MartInputs) -> dict[str, pl.DataFrame]:
    """Every published mart but the audit tables (assets/marts/provenance.py build_audit), from one set of inputs."""
    apps = dedupe_applications(inputs.applications)
    values = stage_values(inputs)
    hires = international_hires(inputs, apps)
    return {
        "kpi_scorecard": kpi_scorecard(inputs, values),
        "funnel": funnel(inputs, values),
        "hires_vs_target": hires_vs_target(inputs, hires),
        "hires_over_time": hires_over_time(inputs, hires),
        "time_to_hire": time_to_hire(inputs, hires),
        "cost_per_outcome": cost_per_outcome(inputs, values),
        "weekly_reach": weekly_reach(inputs),
        "campaigns": inputs.campaigns.select(columns("campaigns")).sort("campaign_id"),
        "campaign_periods": inputs.periods.select(columns("campaign_periods")).sort("campaign_id", "start_date"),
    }
