"""Hiring charts: international hires against target, cumulative hires over time, and time to hire."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from assets.report.charts.layout import base_layout, plain, shade_periods
from assets.report.data import CampaignData
from assets.report.labels import ALL, FUNNEL_COLOUR, TARGET_COLOUR, days_label, fmt_target_pct, span


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


def time_to_hire_rows(c: CampaignData) -> tuple[list[dict], list[dict]]:
    """The rows the chart draws: per period (whole campaign first), then per organisation (whole campaign).

    Organisations are ordered by median days to hire, fastest first (ties by name).
    """
    order = [ALL] + [p["period"] for p in c.periods]
    by_period = sorted((r for r in c.time_to_hire if r["organisation"] == ALL and r["period"] in order),
                       key=lambda r: order.index(r["period"]))
    by_org = sorted((r for r in c.time_to_hire if r["period"] == ALL and r["organisation"] != ALL),
                    key=lambda r: (r["median_days_to_hire"], r["organisation"]))
    return by_period, by_org


def time_to_hire_figure(c: CampaignData) -> go.Figure | None:
    """Median days from application to hire (bars) and the 75th percentile (markers), per period and organisation."""
    if "international_hires" in c.missing_kpis or not c.time_to_hire:
        return None
    by_period, by_org = time_to_hire_rows(c)
    panels = [(by_period, [c.period_label(r["period"]).split(" (")[0] for r in by_period])]
    if by_org:
        panels.append((by_org, [plain(r["organisation"]) for r in by_org]))
    heights = [max(len(rows), 1) for rows, _ in panels]
    fig = make_subplots(
        rows=len(panels), cols=1, vertical_spacing=0.12 if len(panels) > 1 else 0.05,
        row_heights=[h / sum(heights) for h in heights],
        subplot_titles=["By period of application (all organisations)", "By hiring organisation (whole campaign)"]
        [: len(panels)],
    )
    top = max(r["p75_days_to_hire"] for rows, _ in panels for r in rows)
    for i, (rows, names) in enumerate(panels, start=1):
        hover = [f"<b>{name}</b><br>Median: {days_label(r['median_days_to_hire'])} days"
                 f"<br>75th percentile: {days_label(r['p75_days_to_hire'])} days<br>Counted hires: {r['hires']:,}"
                 for name, r in zip(names, rows)]
        fig.add_trace(
            go.Bar(
                y=names, x=[r["median_days_to_hire"] for r in rows], orientation="h", name="Median",
                marker={"color": FUNNEL_COLOUR}, text=[days_label(r["median_days_to_hire"]) for r in rows],
                textposition="inside", insidetextfont={"color": "white"}, customdata=hover,
                hovertemplate="%{customdata}<extra></extra>", showlegend=i == 1,
            ),
            row=i, col=1,
        )
        fig.add_trace(
            go.Scatter(
                y=names, x=[r["p75_days_to_hire"] for r in rows], mode="markers+text", name="75th percentile",
                marker={"symbol": "diamond", "size": 11, "color": TARGET_COLOUR},
                text=[days_label(r["p75_days_to_hire"]) for r in rows], textposition="middle right",
                textfont={"size": 11}, customdata=hover, hovertemplate="%{customdata}<extra></extra>",
                showlegend=i == 1, cliponaxis=False,
            ),
            row=i, col=1,
        )
        fig.update_yaxes(autorange="reversed", automargin=True, ticksuffix="  ", row=i, col=1)
        fig.update_xaxes(range=[0, top * 1.2], tickformat=",", row=i, col=1)
    fig.update_xaxes(title_text="days from application to hire", row=len(panels), col=1)
    base_layout(
        fig,
        f"{plain(c.name)}: time to hire",
        "days from application to hire of the counted international hires · bar: median, diamond: 75th "
        "percentile (linear interpolation) · a period holds the hires whose application was made in it",
        200 + 34 * sum(heights) + 60 * len(panels),
    )
    fig.update_layout(margin={"t": 140}, bargap=0.35)
    return fig
