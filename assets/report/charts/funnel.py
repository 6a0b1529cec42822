"""Funnel charts: the whole campaign, per period and per channel, on a log axis with exact labels."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from assets.report.charts.layout import (
    add_missing_labels,
    bar_text_positions,
    base_layout,
    log_range,
    plain,
    stage_point,
    stage_tick,
)
from assets.report.data import CampaignData
from assets.report.labels import (
    ALL,
    CHANNEL_COLOURS,
    CHANNEL_LABELS,
    CHANNELS,
    FUNNEL_COLOUR,
    OKABE_ITO,
    STAGE_LABELS,
    STAGES,
    span,
)


def funnel_figure(c: CampaignData) -> go.Figure:
    """Whole-campaign funnel: horizontal bars on a log axis, exact value on every bar."""
    rows = c.funnel_rows(ALL, ALL)
    points = [stage_point(r, c.missing_kpis) for r in rows]
    ticks = [stage_tick(r, STAGE_LABELS[rows[i - 1]["stage"]] if i else None) for i, r in enumerate(rows)]
    lo, hi = log_range([p["drawn"] for p in points])
    values = [p["drawn"] for p in points]
    fig = go.Figure(
        go.Bar(
            y=ticks,
            x=values,
            orientation="h",
            marker={"color": FUNNEL_COLOUR},
            text=[p["label"] for p in points],
            textposition=bar_text_positions(values, hi),
            textfont={"size": 14},
            insidetextfont={"color": "white"},
            outsidetextfont={"color": "#222"},
            cliponaxis=False,
            customdata=[p["hover"] for p in points],
            hovertemplate="%{customdata}<extra></extra>",
            name="Whole campaign",
        )
    )
    add_missing_labels(fig, ticks, points)
    base_layout(
        fig,
        f"{plain(c.name)}: recruitment funnel, whole campaign",
        f"{span(c.start_date, c.end_date)} · people or events per stage, log scale (each gridline = ×10) · "
        "conversion under each stage",
        460,
    )
    fig.update_xaxes(type="log", range=[lo, hi], tickformat=",", dtick=1, title_text="count (log scale)")
    fig.update_yaxes(autorange="reversed", automargin=True, ticksuffix="  ")
    fig.update_layout(showlegend=False)
    return fig


def funnel_periods_figure(c: CampaignData) -> go.Figure | None:
    """The funnel of each period, grouped per stage, log axis."""
    periods = [p["period"] for p in c.periods if c.funnel_rows(p["period"], ALL)]
    if not periods:
        return None
    fig = go.Figure()
    all_values = []
    for i, period in enumerate(periods):
        rows = c.funnel_rows(period, ALL)
        points = [stage_point(r, c.missing_kpis) for r in rows]
        all_values += [p["drawn"] for p in points]
        fig.add_trace(
            go.Bar(
                y=[STAGE_LABELS[r["stage"]] for r in rows],
                x=[p["drawn"] for p in points],
                orientation="h",
                name=c.period_label(period),
                marker={"color": OKABE_ITO[i % len(OKABE_ITO)]},
                text=[p["label"] for p in points],
                customdata=[f"<b>{c.period_label(period)}</b><br>{p['hover']}" for p in points],
                hovertemplate="%{customdata}<extra></extra>",
                cliponaxis=False,
            )
        )
    lo, hi = log_range(all_values)
    for trace in fig.data:
        trace.textposition = bar_text_positions(list(trace.x), hi)
        trace.insidetextfont = {"color": "white"}
        trace.outsidetextfont = {"color": "#222"}
        trace.textfont = {"size": 11}
    base_layout(
        fig,
        f"{plain(c.name)}: funnel by period",
        "people or events per stage and period, log scale · hires and applications counted in the period "
        "the application was made",
        120 + 95 * len(STAGES) + 18 * len(periods) * len(STAGES) // 2,
    )
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05,
                      legend={"y": 1.0, "traceorder": "normal"}, margin={"t": 130})
    fig.update_xaxes(type="log", range=[lo, hi], tickformat=",", dtick=1, title_text="count (log scale)")
    fig.update_yaxes(autorange="reversed", automargin=True, ticksuffix="  ")
    return fig


def funnel_channels_figure(c: CampaignData) -> go.Figure | None:
    """One small funnel per channel (period 'all'), side by side on the same log axis."""
    channels = [ch for ch in CHANNELS if any((r["value"] or 0) > 0 for r in c.funnel_rows(ALL, ch))]
    if not channels:
        return None
    cols = 3
    nrows = math.ceil(len(channels) / cols)
    fig = make_subplots(
        rows=nrows,
        cols=cols,
        shared_yaxes=True,
        subplot_titles=[CHANNEL_LABELS[ch] for ch in channels],
        horizontal_spacing=0.04,
        vertical_spacing=0.16 if nrows > 1 else 0.1,
    )
    values = [r["value"] for ch in channels for r in c.funnel_rows(ALL, ch)]
    lo, hi = log_range(values)
    for i, ch in enumerate(channels):
        row, col = i // cols + 1, i % cols + 1
        rows = c.funnel_rows(ALL, ch)
        points = [stage_point(r, c.missing_kpis) for r in rows]
        ticks = [STAGE_LABELS[r["stage"]] for r in rows]
        drawn = [p["drawn"] for p in points]
        fig.add_trace(
            go.Bar(
                y=ticks,
                x=drawn,
                orientation="h",
                name=CHANNEL_LABELS[ch],
                marker={"color": CHANNEL_COLOURS[ch]},
                text=[p["label"] for p in points],
                textposition=bar_text_positions(drawn, hi, inside_from=0.7),
                insidetextfont={"color": "white"},
                outsidetextfont={"color": "#222"},
                textfont={"size": 11},
                cliponaxis=False,
                customdata=[f"<b>{CHANNEL_LABELS[ch]}</b><br>{p['hover']}" for p in points],
                hovertemplate="%{customdata}<extra></extra>",
                showlegend=False,
            ),
            row=row,
            col=col,
        )
        add_missing_labels(fig, ticks, points, row=row, col=col)
    base_layout(
        fig,
        f"{plain(c.name)}: funnel by channel, whole campaign",
        f"{span(c.start_date, c.end_date)} · people or events per stage, log scale · "
        "n/a = no ads in this channel, so no impressions or clicks",
        140 + 300 * nrows,
    )
    fig.update_xaxes(type="log", range=[lo, hi], tickvals=[1, 100, 10_000, 1_000_000, 100_000_000][: int(hi // 2) + 1],
                     tickformat=",")
    fig.update_yaxes(autorange="reversed", automargin=True, ticksuffix="  ")
    fig.update_layout(margin={"t": 130})
    return fig
