"""Period over period: how each stage of the funnel changed against the period before."""

from __future__ import annotations

import plotly.graph_objects as go

from assets.report.charts.layout import base_layout, plain
from assets.report.compare import period_comparison
from assets.report.data import CampaignData
from assets.report.labels import OKABE_ITO, STAGE_LABELS, change_label, fmt_int, fmt_pct, period_name, points_label


def _hover(r: dict) -> str:
    before, now = period_name(r["previous_period"]), period_name(r["period"])
    text = (f"<b>{STAGE_LABELS[r['stage']]}</b><br>{before}: {fmt_int(r['previous_value'])}"
            f"<br>{now}: {fmt_int(r['value'])}")
    if r["change"] is not None:
        sign = "+" if r["change"] > 0 else ""
        text += f"<br>Change: {sign}{r['change']:,} ({change_label(r['change_ratio'])})"
    if r["stage_order"] > 1 and r["step_conversion"] is not None:
        text += (f"<br>Step conversion: {fmt_pct(r['previous_step_conversion'])} → {fmt_pct(r['step_conversion'])}"
                 f" ({points_label(r['step_conversion_change'])})")
    return text


def period_comparison_figure(c: CampaignData) -> go.Figure | None:
    """Change of every funnel stage against the previous period, in %, one group of bars per stage."""
    rows = period_comparison(c)
    if not rows:
        return None
    fig = go.Figure()
    pairs = list(dict.fromkeys((r["previous_period"], r["period"]) for r in rows))
    for i, (previous, period) in enumerate(pairs):
        mine = [r for r in rows if r["period"] == period]
        fig.add_trace(
            go.Bar(
                x=[STAGE_LABELS[r["stage"]] for r in mine],
                y=[None if r["change_ratio"] is None else r["change_ratio"] * 100 for r in mine],
                name=f"{period_name(period)} against {period_name(previous).lower()}",
                marker={"color": OKABE_ITO[(i + 1) % len(OKABE_ITO)]},
                text=[change_label(r["change_ratio"]) for r in mine],
                textposition="outside",
                cliponaxis=False,
                customdata=[_hover(r) for r in mine],
                hovertemplate="%{customdata}<extra></extra>",
            )
        )
    values = [abs(r["change_ratio"] * 100) for r in rows if r["change_ratio"] is not None]
    top = max(values + [10])
    base_layout(
        fig,
        f"{plain(c.name)}: each period against the one before",
        "change of each funnel stage in % of the previous period's value (all channels) · exact values, "
        "changes and step conversions in the hover text and in the table below",
        480,
    )
    fig.add_hline(y=0, line_color="#444", line_width=1)
    fig.update_yaxes(title_text="change against the previous period (%)", ticksuffix=" %",
                     range=[-top * 1.3, top * 1.3], zeroline=False)
    fig.update_layout(barmode="group", bargap=0.3, margin={"t": 130})
    return fig
