"""Hiring charts: international hires against target, and cumulative hires over time."""

from __future__ import annotations

import plotly.graph_objects as go

from assets.report.charts.layout import base_layout, plain, shade_periods
from assets.report.data import CampaignData
from assets.report.labels import ALL, TARGET_COLOUR, fmt_target_pct, span


def hires_vs_target_figure(c: CampaignData) -> go.Figure | None:
    """International hires per scope against the target, as bars with a target marker."""
    if "international_hires" in c.missing_kpis or not c.hires_vs_target:
        return None
    order = [ALL] + [p["period"] for p in c.periods]
    rows = sorted(c.hires_vs_target, key=lambda r: order.index(r["period"]) if r["period"] in order else 99)
    labels = [f"<b>{c.period_label(r['period']).replace(' (', '</b><br>(')}" for r in rows]
    text = []
    for r in rows:
        t = f"{r['hires']:,}"
        if r["target"] is not None:
            t += f" hired, target {r['target']:,.0f} ({fmt_target_pct(r['pct_of_target'])})"
        text.append(t)
    hover = [
        f"<b>{c.period_label(r['period'])}</b><br>International hires: {r['hires']:,}"
        + (f"<br>Target: {r['target']:,.0f}<br>{fmt_target_pct(r['pct_of_target'])} of target"
           if r["target"] is not None else "<br>no target set")
        for r in rows
    ]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[r["hires"] for r in rows],
            name="International hires",
            marker={"color": ["#0072B2" if r["period"] == ALL else "#56B4E9" for r in rows]},
            text=text,
            textposition="outside",
            cliponaxis=False,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    with_target = [(lab, r) for lab, r in zip(labels, rows) if r["target"] is not None]
    if with_target:
        fig.add_trace(
            go.Scatter(
                x=[lab for lab, _ in with_target],
                y=[r["target"] for _, r in with_target],
                mode="markers",
                name="Target",
                marker={"symbol": "line-ew-open", "size": 70, "line": {"width": 4, "color": TARGET_COLOUR},
                        "color": TARGET_COLOUR},
                customdata=[f"Target: {r['target']:,.0f}" for _, r in with_target],
                hovertemplate="%{customdata}<extra></extra>",
            )
        )
    top = max([r["hires"] for r in rows] + [r["target"] or 0 for r in rows] + [1])
    base_layout(
        fig,
        f"{plain(c.name)}: international hires against target",
        "people hired (residents outside Denmark and Sweden) · a period counts the hires whose application "
        "was made in it",
        480,
    )
    fig.update_yaxes(title_text="international hires (people)", tickformat=",", range=[0, top * 1.2], rangemode="tozero")
    fig.update_layout(bargap=0.45, margin={"t": 130})
    return fig


def hires_over_time_figure(c: CampaignData) -> go.Figure | None:
    """Cumulative international hires per week against the whole-campaign target."""
    if "international_hires" in c.missing_kpis or not c.hires_over_time:
        return None
    rows = c.hires_over_time
    x = [r["week_start"] for r in rows]
    fig = go.Figure()
    target = next((r["target"] for r in rows if r["target"] is not None), None)
    if target is not None:
        # Drawn first, so the hires line stays visible where it runs along the target.
        fig.add_trace(
            go.Scatter(
                x=[x[0], x[-1]],
                y=[target, target],
                mode="lines",
                line={"color": TARGET_COLOUR, "dash": "dash", "width": 2},
                name=f"Target: {target:,.0f}",
                hovertemplate=f"Target: {target:,.0f}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[r["cumulative_hires"] for r in rows],
            mode="lines",
            line={"shape": "hv", "color": "#0072B2", "width": 3},
            name="Cumulative international hires",
            customdata=[[f"{r['week_start']:%Y-%m-%d}", r["hires"]] for r in rows],
            hovertemplate="Week of %{customdata[0]}<br>Cumulative hires: %{y:,}<br>Hired that week: "
            "%{customdata[1]:,}<extra></extra>",
        )
    )
    if target is not None:
        reached = next((r for r in rows if r["cumulative_hires"] >= target), None)
        if reached:
            fig.add_annotation(x=reached["week_start"], y=target, showarrow=True, arrowhead=2, ax=-70, ay=-40,
                               text=f"target reached, week of {reached['week_start']:%Y-%m-%d}", font={"size": 12})
    shade_periods(fig, c)
    top = max([r["cumulative_hires"] for r in rows] + [target or 0, 1])
    base_layout(
        fig,
        f"{plain(c.name)}: cumulative international hires against target",
        f"people, cumulative by week of hire date · {span(c.start_date, c.end_date)} · shaded: campaign periods",
        460,
    )
    fig.update_yaxes(title_text="international hires (people)", tickformat=",", range=[0, top * 1.15])
    fig.update_layout(margin={"t": 130}, legend={"traceorder": "reversed"})
    fig.update_xaxes(tickformat="%Y-%m", range=[c.start_date, c.end_date])
    return fig
