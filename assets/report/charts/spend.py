"""Reach and spend charts: weekly impressions and visitors, cost per hire by paid channel."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from assets.report.charts.layout import WEEK_MS, base_layout, plain, shade_periods
from assets.report.data import CampaignData
from assets.report.labels import ALL, CHANNEL_COLOURS, CHANNEL_LABELS, PAID_CHANNELS, fmt_eur, fmt_eur2, fmt_int, span


def weekly_reach_figure(c: CampaignData) -> go.Figure | None:
    """Weekly impressions and weekly unique visitors, two panels on one time axis."""
    if not c.weekly_reach or {"impressions", "unique_visitors"} <= c.missing_kpis:
        return None
    rows = c.weekly_reach
    x = [r["week_start"] for r in rows]
    weeks = [f"{w:%Y-%m-%d}" for w in x]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
        subplot_titles=["Impressions per week (all ad platforms)", "Unique visitors per week (campaign site)"],
    )
    fig.add_trace(
        go.Bar(x=x, y=[r["impressions"] for r in rows], name="Impressions", marker={"color": "#0072B2"},
               xperiod=WEEK_MS, xperiodalignment="middle", customdata=weeks,
               hovertemplate="Week of %{customdata}<br>Impressions: %{y:,}<extra></extra>"),
        row=1, col=1,
    )
    fig.add_trace(
        go.Bar(x=x, y=[r["unique_visitors"] for r in rows], name="Unique visitors", marker={"color": "#E69F00"},
               xperiod=WEEK_MS, xperiodalignment="middle",
               customdata=[[w, r["clicks"]] for w, r in zip(weeks, rows)],
               hovertemplate="Week of %{customdata[0]}<br>Unique visitors: %{y:,}<br>Ad clicks that week: "
               "%{customdata[1]:,}<extra></extra>"),
        row=2, col=1,
    )
    shade_periods(fig, c, rows=[1, 2])
    first, last = min(x), max(x)
    base_layout(
        fig,
        f"{plain(c.name)}: weekly reach",
        f"weeks starting {first:%Y-%m-%d} to {last:%Y-%m-%d} · impressions (times shown) and distinct visitors "
        "per week; weekly visitors do not add up to the campaign's unique visitors",
        560,
    )
    fig.update_yaxes(tickformat=",", rangemode="tozero")
    fig.update_yaxes(title_text="impressions", row=1, col=1)
    fig.update_yaxes(title_text="visitors (people)", row=2, col=1)
    fig.update_xaxes(tickformat="%Y-%m-%d")
    fig.update_layout(showlegend=False, bargap=0.1, margin={"t": 120})
    return fig


def cost_per_hire_figure(c: CampaignData) -> go.Figure | None:
    """Cost per international hire (EUR) per paid channel and overall."""
    if not c.cost or "international_hires" in c.missing_kpis:
        return None
    order = list(PAID_CHANNELS) + [ALL]
    rows = sorted([r for r in c.cost if r["channel"] in order], key=lambda r: order.index(r["channel"]))
    labels = [CHANNEL_LABELS[r["channel"]] if r["channel"] != ALL else "All spend / all hires" for r in rows]
    values = [r["cost_per_hire_eur"] for r in rows]
    text = [f"EUR {v:,.0f}" if v is not None else "no hires" for v in values]
    hover = [
        f"<b>{lab}</b><br>Spend: {fmt_eur(r['spend_eur'])}<br>International hires: {fmt_int(r['hires'])}"
        f"<br>Cost per hire: {fmt_eur(r['cost_per_hire_eur'])}"
        f"<br>Cost per application: {fmt_eur(r['cost_per_application_eur'])}"
        f"<br>Cost per visitor: {fmt_eur2(r['cost_per_visitor_eur'])}"
        f"<br>Cost per click: {fmt_eur2(r['cost_per_click_eur'])}"
        for lab, r in zip(labels, rows)
    ]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[v or 0 for v in values],
            marker={"color": [CHANNEL_COLOURS[r["channel"]] for r in rows]},
            text=text,
            textposition="outside",
            cliponaxis=False,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    top = max([v for v in values if v is not None] + [1])
    base_layout(
        fig,
        f"{plain(c.name)}: cost per international hire by channel",
        f"EUR of ad spend per hire · whole campaign {span(c.start_date, c.end_date)} · "
        "'All' divides all ad spend by all hires, organic ones included",
        440,
    )
    fig.update_yaxes(title_text="EUR per hire", tickformat=",", range=[0, top * 1.2])
    fig.update_layout(showlegend=False, bargap=0.45)
    return fig
