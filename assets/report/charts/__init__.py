"""The Plotly charts of a campaign page, keyed as labels.CHART_IDS (the div id of each)."""

from __future__ import annotations

import plotly.graph_objects as go

from assets.report.charts.funnel import funnel_channels_figure, funnel_figure, funnel_periods_figure
from assets.report.charts.hires import hires_over_time_figure, hires_vs_target_figure, time_to_hire_figure
from assets.report.charts.periods import period_comparison_figure
from assets.report.charts.spend import cost_per_hire_figure, weekly_reach_figure
from assets.report.data import CampaignData

# In page order (as labels.CHART_IDS); a builder returns None when its chart has nothing to draw.
BUILDERS = {
    "funnel": funnel_figure,
    "funnel_periods": funnel_periods_figure,
    "period_comparison": period_comparison_figure,
    "funnel_channels": funnel_channels_figure,
    "hires_vs_target": hires_vs_target_figure,
    "hires_over_time": hires_over_time_figure,
    "time_to_hire": time_to_hire_figure,
    "weekly_reach": weekly_reach_figure,
    "cost_per_hire": cost_per_hire_figure,
}


def campaign_figures(c: CampaignData) -> dict[str, go.Figure]:
    """The charts of one campaign, keyed by CHART_IDS key; none for a campaign without exports."""
    if not c.has_exports:
        return {}
    figures = {}
    for key, build in BUILDERS.items():
        fig = build(c)
        if fig is not None:
            figures[key] = fig
    return figures
