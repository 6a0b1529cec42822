"""Marketing funnel report: one self-contained, offline HTML file per campaign, plus an index.

Reads only the published database (published.duckdb, opened read-only): what
marketing sees is exactly what managers query. Each campaign page carries
plotly.js inline once, no CDN, no MathJax, no web fonts, so it opens from a
file share or an e-mail attachment with no request leaving the page.

Charts per campaign (each in a div with a stable id, see CHART_IDS):

- the funnel impressions -> clicks -> unique visitors -> applications -> hires
  for the whole campaign and per period, with step and overall conversion;
- the funnel per channel, side by side (small multiples);
- international hires against target, overall and per period;
- cumulative hires per week against the target line;
- weekly impressions and unique visitors;
- cost per hire by paid channel;
- the KPI scorecard (an HTML table, row for row the published kpi_scorecard,
  period 'all'), which holds the closing report's Table 1.

Funnel stages are five orders of magnitude apart (23 million impressions,
about 100 hires), so funnel bars use a log axis with the exact value written
on every bar: a linear go.Funnel would draw the last three stages as hairlines.
The exact numbers each funnel shows are also embedded as JSON
(``<script type="application/json" id="funnel-data">``) so tests can compare
what is displayed with the published table.

A campaign without exports (every export-based KPI NULL in kpi_scorecard) gets
a plain page saying so, with its facts and its register-based KPIs, instead of
empty charts.

PNG copies of the charts (for slide decks) are rendered by kaleido in a
headless Chromium (Debian's /usr/bin/chromium, or BROWSER_PATH). A failed PNG
export never stops the report: the HTML is written and the failure is
returned in the summary.
"""

import html
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from assets.publish import PUBLICATION_TABLE, PUBLISHED_TABLES
from pipelines.resources import TalentStore

ALL = "all"
STAGES = ("impressions", "clicks", "unique_visitors", "applications", "hires")
STAGE_LABELS = {
    "impressions": "Impressions",
    "clicks": "Clicks",
    "unique_visitors": "Unique visitors",
    "applications": "Applications",
    "hires": "International hires",
}
PAID_CHANNELS = ("linkedin", "meta", "google_ads")
CHANNELS = PAID_CHANNELS + ("organic", "direct", "referral")
CHANNEL_LABELS = {
    "linkedin": "LinkedIn",
    "meta": "Meta",
    "google_ads": "Google Ads",
    "organic": "Organic search",
    "direct": "Direct",
    "referral": "Referral",
    ALL: "All channels",
}
# Table 1 of the closing report first, then reach, then the rest of the funnel.
KPI_ORDER = (
    "organisations_established",
    "organisations_involved",
    "international_hires",
    "impressions",
    "unique_visitors",
    "clicks",
    "applications",
)
KPI_LABELS = {
    "organisations_established": "Organisations established in the region",
    "organisations_involved": "Regional organisations involved in talent campaign",
    "international_hires": "International talents hired",
    "impressions": "Impressions (times the campaign was shown)",
    "unique_visitors": "Unique visitors on the campaign site",
    "clicks": "Clicks to the campaign site",
    "applications": "Applications attributed to the campaign",
}
# Which export feeds which KPI: a NULL result means that export never arrived.
SOURCE_KPIS = {
    "reach (ad platform exports)": ("impressions", "clicks"),
    "visitors (site analytics export)": ("unique_visitors",),
    "hiring (ATS exports and hiring templates)": ("applications", "international_hires"),
}
STAGE_KPI = {"impressions": "impressions", "clicks": "clicks", "unique_visitors": "unique_visitors",
             "applications": "applications", "hires": "international_hires"}

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
CHANNEL_COLOURS = {
    "linkedin": "#0072B2",
    "meta": "#E69F00",
    "google_ads": "#009E73",
    "organic": "#CC79A7",
    "direct": "#D55E00",
    "referral": "#56B4E9",
    ALL: "#000000",
}
FUNNEL_COLOUR = "#0072B2"
TARGET_COLOUR = "#D55E00"
WEEK_MS = 7 * 24 * 3600 * 1000
PERIOD_SHADE = "rgba(86, 180, 233, 0.12)"  # Okabe-Ito sky blue, faint

CHART_IDS = {
    "funnel": "chart-funnel",
    "funnel_periods": "chart-funnel-periods",
    "funnel_channels": "chart-funnel-channels",
    "hires_vs_target": "chart-hires-vs-target",
    "hires_over_time": "chart-hires-over-time",
    "weekly_reach": "chart-weekly-reach",
    "cost_per_hire": "chart-cost-per-hire",
}
NO_EXPORTS_TEXT = "No exports have been loaded for this campaign yet"
# System fonts only: a web font would be a request leaving the page.
FONT = "Arial, Helvetica, sans-serif"
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
PNG_WIDTH = 1200
PNG_SCALE = 2
PNG_TIMEOUT_S = 90
# Chromium tries to reach Google services in the background; where the network
# refuses, those refusals pile up, so the renderer is started with them off.
CHROMIUM_EXTRA_FLAGS = (
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


# --- reading the published database ----------------------------------------------


def read_published(published_path: Path) -> dict[str, pl.DataFrame]:
    """Every published table, read through one read-only connection (managers' readers never block)."""
    published_path = Path(published_path)
    if not published_path.exists():
        raise FileNotFoundError(f"{published_path}: no published database yet; run `talent-pipeline run` first")
    con = duckdb.connect(str(published_path), read_only=True)
    try:
        return {name: con.sql(f"SELECT * FROM {name}").pl() for name in (*PUBLISHED_TABLES, PUBLICATION_TABLE)}
    finally:
        con.close()


@dataclass
class CampaignData:
    """One campaign's published rows, as plain Python values."""

    campaign_id: str
    name: str
    start_date: date
    end_date: date
    budget_eur: float | None
    eu_grant_eur: float | None
    periods: list[dict]
    scorecard: list[dict]  # kpi_scorecard, period 'all', in KPI_ORDER
    funnel: list[dict]
    hires_vs_target: list[dict]  # organisation 'all'
    hires_over_time: list[dict]
    weekly_reach: list[dict]
    cost: list[dict]  # cost_per_outcome, period 'all'
    missing_sources: list[str] = field(default_factory=list)

    @property
    def has_exports(self) -> bool:
        return len(self.missing_sources) < len(SOURCE_KPIS)

    @property
    def missing_kpis(self) -> set[str]:
        return {k for source in self.missing_sources for k in SOURCE_KPIS[source]}

    def kpi(self, name: str) -> dict | None:
        return next((r for r in self.scorecard if r["kpi"] == name), None)

    def funnel_rows(self, period: str, channel: str) -> list[dict]:
        rows = [r for r in self.funnel if r["period"] == period and r["channel"] == channel]
        return sorted(rows, key=lambda r: r["stage_order"])

    def period_label(self, period: str) -> str:
        if period == ALL:
            return f"Whole campaign ({_span(self.start_date, self.end_date)})"
        p = next((p for p in self.periods if p["period"] == period), None)
        name = period.replace("_", " ").capitalize()
        return f"{name} ({_span(p['start_date'], p['end_date'])})" if p else name


def campaigns_from_tables(tables: dict[str, pl.DataFrame]) -> list[CampaignData]:
    """Splits the published tables into one CampaignData per campaign, ordered by campaign name."""

    def rows(table: str, campaign_id: str, expr: pl.Expr | None = None) -> list[dict]:
        frame = tables[table].filter(pl.col("campaign_id") == campaign_id)
        if expr is not None:
            frame = frame.filter(expr)
        return frame.to_dicts()

    out = []
    for c in tables["campaigns"].sort("name").iter_rows(named=True):
        cid = c["campaign_id"]
        rank = {k: i for i, k in enumerate(KPI_ORDER)}
        scorecard = sorted(rows("kpi_scorecard", cid, pl.col("period") == ALL),
                           key=lambda r: (rank.get(r["kpi"], len(rank)), r["kpi"]))
        results = {r["kpi"]: r["result"] for r in scorecard}
        missing = [s for s, kpis in SOURCE_KPIS.items() if all(results.get(k) is None for k in kpis)]
        out.append(
            CampaignData(
                campaign_id=cid,
                name=c["name"],
                start_date=c["start_date"],
                end_date=c["end_date"],
                budget_eur=c["budget_eur"],
                eu_grant_eur=c["eu_grant_eur"],
                periods=sorted(rows("campaign_periods", cid), key=lambda r: (r["start_date"], r["period"])),
                scorecard=scorecard,
                funnel=rows("funnel", cid),
                hires_vs_target=rows("hires_vs_target", cid, pl.col("organisation") == ALL),
                hires_over_time=sorted(rows("hires_over_time", cid), key=lambda r: r["week_start"]),
                weekly_reach=sorted(rows("weekly_reach", cid), key=lambda r: r["week_start"]),
                cost=rows("cost_per_outcome", cid, pl.col("period") == ALL),
                missing_sources=missing,
            )
        )
    return out


# --- number formatting --------------------------------------------------------------


def _span(start: date, end: date) -> str:
    return f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"


def fmt_int(value) -> str:
    return "–" if value is None else f"{round(value):,}"


def fmt_eur(value) -> str:
    return "–" if value is None else f"EUR {value:,.0f}"


def fmt_eur2(value) -> str:
    return "–" if value is None else f"EUR {value:,.2f}"


def fmt_pct(ratio: float | None) -> str:
    """A ratio as a percentage with three significant digits (conversions span 17 % to 0.0004 %)."""
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return "–"
    pct = ratio * 100
    if pct == 0:
        return "0\u00a0%"
    if pct >= 100:
        return f"{pct:,.0f}\u00a0%"
    return f"{pct:.3g}\u00a0%"


def fmt_target_pct(pct: float | None) -> str:
    return "–" if pct is None else f"{pct:,.1f}\u00a0%"


# --- charts -------------------------------------------------------------------------


def _base_layout(fig: go.Figure, title: str, subtitle: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "subtitle": {"text": subtitle}, "x": 0.01, "xanchor": "left"},
        template="plotly_white",
        font={"family": FONT, "size": 13, "color": "#222"},
        height=height,
        margin={"l": 20, "r": 30, "t": 100, "b": 50},
        colorway=list(OKABE_ITO),
        separators=".,",  # decimal point, comma thousands: "23,418,392"
        hoverlabel={"font": {"family": FONT}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
    )
    return fig


LOG_FLOOR = -0.2  # log10 of the axis start, a little below 1 so that a count of 1 still draws a sliver


def _log_range(values: list[float]) -> tuple[float, float]:
    top = max([v for v in values if v and v > 0], default=10)
    return LOG_FLOOR, math.log10(top) + 0.25


def _bar_text_positions(values: list, log_top: float, inside_from: float = 0.6) -> list[str]:
    """Long bars carry their number inside, short ones just outside, so no label leaves the plot."""
    positions = []
    for v in values:
        if v and v > 0 and (math.log10(v) - LOG_FLOOR) / (log_top - LOG_FLOOR) >= inside_from:
            positions.append("inside")
        else:
            positions.append("outside")
    return positions


def _stage_point(row: dict, missing_kpis: set[str]) -> dict:
    """How one funnel row is drawn: bar length, label and hover text."""
    value = row["value"]
    stage = row["stage"]
    if STAGE_KPI[stage] in missing_kpis:
        label, note = "no exports", "no exports of this source loaded"
    elif value is None:
        label, note = "n/a", "not applicable for this channel (no ads, so no impressions or clicks)"
    elif value == 0:
        label, note = "0", "none"
    else:
        label, note = f"{value:,}", ""
    drawn = value if (value and value > 0 and STAGE_KPI[stage] not in missing_kpis) else None
    hover = f"<b>{STAGE_LABELS[stage]}</b>: {label}"
    if drawn is not None and row["stage_order"] > 1:
        hover += (f"<br>Step conversion: {fmt_pct(row['step_conversion'])} of previous stage"
                  f"<br>Overall conversion: {fmt_pct(row['overall_conversion'])} of impressions")
    if note and note != "none":
        hover += f"<br>{note}"
    return {"drawn": drawn, "label": label, "hover": hover}


def _stage_tick(row: dict, previous: str | None) -> str:
    """Stage name with its step conversion underneath, as the funnel's y tick label."""
    name = STAGE_LABELS[row["stage"]]
    if row["stage_order"] == 1 or row["step_conversion"] is None or previous is None:
        return f"<b>{name}</b>"
    text = f"{fmt_pct(row['step_conversion'])} of {previous.lower()}"
    if row["stage_order"] > 2 and row["overall_conversion"] is not None:
        text += f", {fmt_pct(row['overall_conversion'])} of impressions"
    # The axis' ticksuffix pads only the last line of a tick; pad the name line too.
    return f"<b>{name}</b>\u00a0\u00a0<br><span style='font-size:11px'>{text}</span>"


def funnel_figure(c: CampaignData) -> go.Figure:
    """Whole-campaign funnel: horizontal bars on a log axis, exact value on every bar."""
    rows = c.funnel_rows(ALL, ALL)
    points = [_stage_point(r, c.missing_kpis) for r in rows]
    ticks = [_stage_tick(r, STAGE_LABELS[rows[i - 1]["stage"]] if i else None) for i, r in enumerate(rows)]
    lo, hi = _log_range([p["drawn"] for p in points])
    values = [p["drawn"] for p in points]
    fig = go.Figure(
        go.Bar(
            y=ticks,
            x=values,
            orientation="h",
            marker={"color": FUNNEL_COLOUR},
            text=[p["label"] for p in points],
            textposition=_bar_text_positions(values, hi),
            textfont={"size": 14},
            insidetextfont={"color": "white"},
            outsidetextfont={"color": "#222"},
            cliponaxis=False,
            customdata=[p["hover"] for p in points],
            hovertemplate="%{customdata}<extra></extra>",
            name="Whole campaign",
        )
    )
    _add_missing_labels(fig, ticks, points)
    _base_layout(
        fig,
        f"{c.name}: recruitment funnel, whole campaign",
        f"{_span(c.start_date, c.end_date)} · people or events per stage, log scale (each gridline = ×10) · "
        "conversion under each stage",
        460,
    )
    fig.update_xaxes(type="log", range=[lo, hi], tickformat=",", dtick=1, title_text="count (log scale)")
    fig.update_yaxes(autorange="reversed", automargin=True, ticksuffix="  ")
    fig.update_layout(showlegend=False)
    return fig


def _add_missing_labels(fig: go.Figure, ticks: list[str], points: list[dict], row=None, col=None) -> None:
    """Zero, n/a and no-export stages have no bar on a log axis: write their label at the axis start."""
    missing = [(t, p) for t, p in zip(ticks, points) if p["drawn"] is None]
    if not missing:
        return
    trace = go.Scatter(
        y=[t for t, _ in missing],
        x=[10**LOG_FLOOR] * len(missing),
        mode="text",
        text=[p["label"] for _, p in missing],
        textposition="middle right",
        textfont={"color": "#555", "size": 12},
        customdata=[p["hover"] for _, p in missing],
        hovertemplate="%{customdata}<extra></extra>",
        showlegend=False,
        cliponaxis=False,
    )
    if row is None:
        fig.add_trace(trace)
    else:
        fig.add_trace(trace, row=row, col=col)


def funnel_periods_figure(c: CampaignData) -> go.Figure | None:
    """The funnel of each period, grouped per stage, log axis."""
    periods = [p["period"] for p in c.periods if c.funnel_rows(p["period"], ALL)]
    if not periods:
        return None
    fig = go.Figure()
    all_values = []
    for i, period in enumerate(periods):
        rows = c.funnel_rows(period, ALL)
        points = [_stage_point(r, c.missing_kpis) for r in rows]
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
    lo, hi = _log_range(all_values)
    for trace in fig.data:
        trace.textposition = _bar_text_positions(list(trace.x), hi)
        trace.insidetextfont = {"color": "white"}
        trace.outsidetextfont = {"color": "#222"}
        trace.textfont = {"size": 11}
    _base_layout(
        fig,
        f"{c.name}: funnel by period",
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
    lo, hi = _log_range(values)
    for i, ch in enumerate(channels):
        row, col = i // cols + 1, i % cols + 1
        rows = c.funnel_rows(ALL, ch)
        points = [_stage_point(r, c.missing_kpis) for r in rows]
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
                textposition=_bar_text_positions(drawn, hi, inside_from=0.7),
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
        _add_missing_labels(fig, ticks, points, row=row, col=col)
    _base_layout(
        fig,
        f"{c.name}: funnel by channel, whole campaign",
        f"{_span(c.start_date, c.end_date)} · people or events per stage, log scale · "
        "n/a = no ads in this channel, so no impressions or clicks",
        140 + 300 * nrows,
    )
    fig.update_xaxes(type="log", range=[lo, hi], tickvals=[1, 100, 10_000, 1_000_000, 100_000_000][: int(hi // 2) + 1],
                     tickformat=",")
    fig.update_yaxes(autorange="reversed", automargin=True, ticksuffix="  ")
    fig.update_layout(margin={"t": 130})
    return fig


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
    _base_layout(
        fig,
        f"{c.name}: international hires against target",
        "people hired (residents outside Denmark and Sweden) · a period counts the hires whose application "
        "was made in it",
        480,
    )
    fig.update_yaxes(title_text="international hires (people)", tickformat=",", range=[0, top * 1.2], rangemode="tozero")
    fig.update_layout(bargap=0.45, margin={"t": 130})
    return fig


def _shade_periods(fig: go.Figure, c: CampaignData, rows: list[int] | None = None) -> None:
    for p in c.periods:
        kwargs = dict(x0=p["start_date"], x1=p["end_date"], fillcolor=PERIOD_SHADE, line_width=0, layer="below")
        name = p["period"].replace("_", " ").capitalize()
        if rows:
            for i, r in enumerate(rows):
                label = {"annotation_text": name, "annotation_position": "top left", "annotation_font_size": 11}
                fig.add_vrect(row=r, col=1, **(label if i == 0 else {}), **kwargs)
        else:
            fig.add_vrect(annotation_text=name, annotation_position="top left", annotation_font_size=11, **kwargs)


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
    _shade_periods(fig, c)
    top = max([r["cumulative_hires"] for r in rows] + [target or 0, 1])
    _base_layout(
        fig,
        f"{c.name}: cumulative international hires against target",
        f"people, cumulative by week of hire date · {_span(c.start_date, c.end_date)} · shaded: campaign periods",
        460,
    )
    fig.update_yaxes(title_text="international hires (people)", tickformat=",", range=[0, top * 1.15])
    fig.update_layout(margin={"t": 130}, legend={"traceorder": "reversed"})
    fig.update_xaxes(tickformat="%Y-%m", range=[c.start_date, c.end_date])
    return fig


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
    _shade_periods(fig, c, rows=[1, 2])
    first, last = min(x), max(x)
    _base_layout(
        fig,
        f"{c.name}: weekly reach",
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
    _base_layout(
        fig,
        f"{c.name}: cost per international hire by channel",
        f"EUR of ad spend per hire · whole campaign {_span(c.start_date, c.end_date)} · "
        "'All' divides all ad spend by all hires, organic ones included",
        440,
    )
    fig.update_yaxes(title_text="EUR per hire", tickformat=",", range=[0, top * 1.2])
    fig.update_layout(showlegend=False, bargap=0.45)
    return fig


def campaign_figures(c: CampaignData) -> dict[str, go.Figure]:
    """The charts of one campaign, keyed by CHART_IDS key; none for a campaign without exports."""
    if not c.has_exports:
        return {}
    builders = {
        "funnel": funnel_figure,
        "funnel_periods": funnel_periods_figure,
        "funnel_channels": funnel_channels_figure,
        "hires_vs_target": hires_vs_target_figure,
        "hires_over_time": hires_over_time_figure,
        "weekly_reach": weekly_reach_figure,
        "cost_per_hire": cost_per_hire_figure,
    }
    figures = {}
    for key, build in builders.items():
        fig = build(c)
        if fig is not None:
            figures[key] = fig
    return figures


# --- HTML ---------------------------------------------------------------------------

CSS = """
body { font-family: Arial, Helvetica, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; }
.sub { color: #555; margin: 0 0 18px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 6px 12px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.met-yes { color: #006d4f; font-weight: bold; } .met-no { color: #b34700; font-weight: bold; }
.notice { border-left: 5px solid #E69F00; background: #fff6e5; padding: 12px 16px; font-size: 17px; }
.chart { margin: 18px 0 28px; border: 1px solid #eee; padding: 4px; }
.facts td:first-child { color: #555; }
footer { color: #666; font-size: 12px; margin-top: 40px; }
.small { color: #555; font-size: 12px; white-space: nowrap; } p.png { margin: 2px 8px; font-size: 13px; }
a { color: #0057a0; }
"""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _json_script(element_id: str, payload) -> str:
    text = json.dumps(payload, default=str, indent=None, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _page(title: str, body: str, plotlyjs: bool) -> str:
    head_js = ""
    if plotlyjs:
        # The library once, inline; MathJax off so plotly.js never asks a CDN for it.
        head_js = (
            "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
            f'<script type="text/javascript" id="plotlyjs">{get_plotlyjs()}</script>\n'
        )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        # Belt and braces: the browser itself refuses any request off the page.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; "
        "font-src data:; connect-src 'none'\">\n"
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n{head_js}</head>\n"
        f"<body><main>\n{body}\n</main></body>\n</html>\n"
    )


def _met_cell(met) -> str:
    if met is None:
        return '<td class="met">–</td>'
    return '<td class="met met-yes">met</td>' if met else '<td class="met met-no">not met</td>'


def scorecard_html(c: CampaignData) -> str:
    """The KPI scorecard (kpi_scorecard, period 'all'), one table row per published row."""
    missing = c.missing_kpis
    lines = [
        '<table id="kpi-scorecard" class="scorecard">',
        '<thead><tr><th>KPI</th><th class="num">Target</th><th class="num">Result</th>'
        '<th class="num">% of target</th><th>Target met</th></tr></thead><tbody>',
    ]
    for r in c.scorecard:
        result = fmt_int(r["result"]) if r["result"] is not None else (
            "no exports yet" if r["kpi"] in missing else "–")
        attrs = " ".join(
            f'data-{k.replace("_", "-")}="{_esc("" if r[k] is None else r[k])}"'
            for k in ("kpi", "target", "result", "pct_of_target", "met")
        )
        lines.append(
            f"<tr {attrs}><td>{_esc(KPI_LABELS.get(r['kpi'], r['kpi']))}</td>"
            f'<td class="num">{fmt_int(r["target"])}</td><td class="num">{_esc(result)}</td>'
            f'<td class="num">{fmt_target_pct(r["pct_of_target"])}</td>{_met_cell(r["met"])}</tr>'
        )
    lines.append("</tbody></table>")
    return "\n".join(lines)


def facts_html(c: CampaignData, published_at) -> str:
    periods = "<br>".join(
        f"{_esc(p['period'].replace('_', ' ').capitalize())}: {_span(p['start_date'], p['end_date'])}"
        f" (utm_campaign {_esc(p['utm_campaign'] or '–')})"
        for p in c.periods
    ) or "–"
    return (
        '<table class="facts" id="campaign-facts"><tbody>'
        f"<tr><td>Campaign window</td><td>{_span(c.start_date, c.end_date)}</td></tr>"
        f'<tr><td>Total budget</td><td data-budget-eur="{_esc(c.budget_eur or "")}">'
        f"{fmt_eur(c.budget_eur)}</td></tr>"
        f'<tr><td>EU grant</td><td data-eu-grant-eur="{_esc(c.eu_grant_eur or "")}">'
        f"{fmt_eur(c.eu_grant_eur)}</td></tr>"
        f"<tr><td>Talent-campaign periods</td><td>{periods}</td></tr>"
        f"<tr><td>Data published</td><td>{_esc(published_at or '–')}</td></tr>"
        "</tbody></table>"
    )


def funnel_payload(c: CampaignData, figures: dict[str, go.Figure]) -> dict:
    """The exact funnel numbers the page shows: per chart, the published rows it draws."""
    keep = ("period", "channel", "stage", "stage_order", "value", "step_conversion", "overall_conversion")
    shown = {}
    if "funnel" in figures:
        shown[CHART_IDS["funnel"]] = c.funnel_rows(ALL, ALL)
    if "funnel_periods" in figures:
        shown[CHART_IDS["funnel_periods"]] = [r for p in c.periods for r in c.funnel_rows(p["period"], ALL)]
    if "funnel_channels" in figures:
        channels = [t.name for t in figures["funnel_channels"].data if isinstance(t, go.Bar)]
        codes = [ch for ch in CHANNELS if CHANNEL_LABELS[ch] in channels]
        shown[CHART_IDS["funnel_channels"]] = [r for ch in codes for r in c.funnel_rows(ALL, ch)]
    return {
        "campaign_id": c.campaign_id,
        "charts": {chart: [{k: r[k] for k in keep} for r in rows] for chart, rows in shown.items()},
    }


def campaign_html(c: CampaignData, figures: dict[str, go.Figure], published_at, png_files: dict[str, str]) -> str:
    parts = [
        f'<p><a href="index.html">All campaigns</a></p>',
        f"<h1>{_esc(c.name)}</h1>",
        f'<p class="sub">Talent campaign report · campaign window {_span(c.start_date, c.end_date)} · '
        f"campaign id <code>{_esc(c.campaign_id)}</code></p>",
    ]
    if not c.has_exports:
        parts += [
            f'<p class="notice" id="no-exports"><strong>{NO_EXPORTS_TEXT}.</strong> No ad-platform, site-analytics '
            "or hiring export has been attributed to this campaign, so there is no funnel, no reach and no hires "
            "to chart. The figures below come from the campaign register.</p>",
            "<h2>Campaign facts</h2>",
            facts_html(c, published_at),
            "<h2>KPI scorecard (whole campaign)</h2>",
            '<p class="sub">Register-based KPIs are counted from the organisation register; '
            "export-based KPIs wait for their exports.</p>",
            scorecard_html(c),
        ]
    else:
        if c.missing_sources:
            parts.append(
                '<p class="notice" id="missing-exports">No exports loaded yet for: '
                + ", ".join(_esc(s) for s in c.missing_sources)
                + ". Their stages read “no exports”, not zero.</p>"
            )
        parts += [
            "<h2>KPI scorecard (whole campaign)</h2>",
            '<p class="sub">The closing report’s Table 1 (first three rows), then reach and the rest of the funnel, '
            "as published in <code>kpi_scorecard</code>.</p>",
            scorecard_html(c),
        ]
        parts.append("<h2>Charts</h2>")
        for key, fig in figures.items():
            div_id = CHART_IDS[key]
            chart = pio.to_html(
                fig,
                config={**PLOT_CONFIG, "toImageButtonOptions": {"filename": f"{c.campaign_id}-{key}", "scale": 2}},
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                div_id=div_id,
                default_height=f"{fig.layout.height}px",
            )
            png = png_files.get(key)
            link = f'<p class="png"><a href="{_esc(png)}">PNG of this chart for slides</a></p>' if png else ""
            parts.append(f'<section class="chart" id="section-{div_id}" data-chart="{key}">{chart}{link}</section>')
        parts += ["<h2>Campaign facts</h2>", facts_html(c, published_at)]
        parts.append(_json_script("funnel-data", funnel_payload(c, figures)))
    footer = f"Generated from published.duckdb (published {_esc(published_at or '–')})."
    if figures:
        footer += (" Charts: plotly.js is embedded in this file, so it works offline. Funnel bars use a log scale "
                   "(each gridline is ten times the one before) so that a hundred hires stay visible next to "
                   "millions of impressions; the exact numbers are on the bars and in the hover text.")
    parts.append(f"<footer>{footer}</footer>")
    return _page(f"{c.name}: talent campaign report", "\n".join(parts), plotlyjs=True)


def headline(c: CampaignData) -> dict[str, dict]:
    """Headline KPIs (whole campaign) for the index page and the asset summary."""
    out = {}
    for kpi in ("impressions", "unique_visitors", "international_hires", "organisations_involved",
                "organisations_established"):
        r = c.kpi(kpi)
        if r is not None:
            out[kpi] = {"result": r["result"], "target": r["target"], "pct_of_target": r["pct_of_target"],
                        "met": r["met"]}
    return out


def _vs_target(h: dict | None) -> str:
    if h is None:
        return "–"
    if h["result"] is None:
        return "no data" + (f" (target {fmt_int(h['target'])})" if h["target"] is not None else "")
    text = fmt_int(h["result"])
    if h["target"] is not None:
        text += f" of target {fmt_int(h['target'])}"
        if h["pct_of_target"] is not None:
            text += f" ({fmt_target_pct(h['pct_of_target'])})"
    return text


def _vs_target_cell(h: dict | None) -> str:
    if h is None:
        return '<td class="num">–</td>'
    main = "no data" if h["result"] is None else fmt_int(h["result"])
    sub = ""
    if h["target"] is not None:
        sub = f"target {fmt_int(h['target'])}"
        if h["pct_of_target"] is not None:
            sub += f" · {fmt_target_pct(h['pct_of_target'])}"
        sub = f'<br><span class="small">{sub}</span>'
    return f'<td class="num"><b>{main}</b>{sub}</td>'


def index_html(campaigns: list[CampaignData], published_at) -> str:
    rows = []
    for c in campaigns:
        h = headline(c)
        status = "complete" if c.has_exports else "no exports loaded yet"
        if c.has_exports and c.missing_sources:
            status = "partial: " + ", ".join(s.split(" ")[0] for s in c.missing_sources) + " missing"
        rows.append(
            f'<tr data-campaign-id="{_esc(c.campaign_id)}"><td><a href="{_esc(c.campaign_id)}.html">{_esc(c.name)}</a>'
            f"</td><td>{_span(c.start_date, c.end_date)}</td><td>{_esc(status)}</td>"
            + "".join(_vs_target_cell(h.get(k)) for k in
                      ("impressions", "unique_visitors", "international_hires", "organisations_involved",
                       "organisations_established"))
            + "</tr>"
        )
    body = (
        "<h1>Talent campaign reports</h1>"
        f'<p class="sub">From published.duckdb, published {_esc(published_at or "–")}. '
        "Whole-campaign results against their targets.</p>"
        '<table id="campaigns"><thead><tr><th>Campaign</th><th>Window</th><th>Status</th>'
        '<th class="num">Impressions</th><th class="num">Unique visitors</th>'
        '<th class="num">International hires</th><th class="num">Organisations involved</th>'
        '<th class="num">Organisations established</th></tr></thead><tbody>'
        + "\n".join(rows)
        + "</tbody></table>"
    )
    return _page("Talent campaign reports", body, plotlyjs=False)


# --- files ----------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes | str) -> None:
    """Writes via a temp file in the same folder and a rename: a reader sees the old file or the new one."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def chromium_path() -> str | None:
    """BROWSER_PATH if set, else Debian's /usr/bin/chromium, else None (kaleido searches itself)."""
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"]
    return str(DEBIAN_CHROMIUM) if DEBIAN_CHROMIUM.exists() else None


def _chromium_class():
    from choreographer.browsers.chromium import Chromium

    class OfflineChromium(Chromium):
        """kaleido's Chromium with background networking off (see CHROMIUM_EXTRA_FLAGS)."""

        def get_cli(self):
            cli = list(super().get_cli())
            return cli + [flag for flag in CHROMIUM_EXTRA_FLAGS if flag not in cli]

    return OfflineChromium


def export_pngs(jobs: list[tuple[go.Figure, Path]], workdir: Path) -> dict:
    """Renders every figure to PNG in one headless Chromium; returns a status, never raises.

    Files are rendered into ``workdir`` and renamed into place, so a failed
    export never leaves half-written PNGs at the published paths.
    """
    started = time.monotonic()
    status = {"requested": True, "status": "ok", "files": 0, "error": None, "browser": chromium_path()}
    if not jobs:
        status.update(status="skipped", error="no charts to export")
        return status
    tmp = Path(tempfile.mkdtemp(dir=workdir, prefix=".png-"))
    try:
        import kaleido

        specs = []
        for i, (fig, target) in enumerate(jobs):
            height = int(fig.layout.height or 500)
            specs.append({
                "fig": fig.to_dict(),
                "path": tmp / f"{i:03d}.png",
                "opts": {"format": "png", "width": PNG_WIDTH, "height": height, "scale": PNG_SCALE},
            })
        kopts = {"mathjax": False, "timeout": PNG_TIMEOUT_S, "browser_cls": _chromium_class()}
        if status["browser"]:
            kopts["path"] = status["browser"]
        kaleido.write_fig_from_object_sync(specs, kopts=kopts)
        for spec, (_, target) in zip(specs, jobs):
            if not spec["path"].exists() or spec["path"].stat().st_size == 0:
                raise RuntimeError(f"kaleido wrote no image for {target.name}")
        for spec, (_, target) in zip(specs, jobs):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(spec["path"], target)
            status["files"] += 1
    except Exception as exc:  # the report stands without its PNGs
        hint = ""
        if "not found" in str(exc).lower() or "chrome" in type(exc).__name__.lower():
            hint = " (install Chromium with scripts/install_chromium.sh, or set BROWSER_PATH)"
        status.update(status="failed", error=f"{type(exc).__name__}: {exc}{hint}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        status["seconds"] = round(time.monotonic() - started, 2)
    return status


def build_reports(published_path: Path, reports_dir: Path, png: bool = True) -> dict:
    """Writes <campaign_id>.html per campaign and index.html into ``reports_dir``; returns a summary.

    Reads only ``published_path`` (read-only). With ``png``, also writes
    ``<campaign_id>/<chart>.png`` per chart; a PNG failure is reported in
    ``summary["png"]``, never raised.
    """
    started = time.monotonic()
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    tables = read_published(Path(published_path))
    publication = tables["publication"]
    published_at = publication["published_at"][0] if publication.height else None
    published_at = f"{published_at:%Y-%m-%d %H:%M} UTC" if published_at is not None else None
    campaigns = campaigns_from_tables(tables)

    summary: dict = {"published": str(published_path), "published_at": published_at, "campaigns": {}}
    figures_by_campaign = {c.campaign_id: campaign_figures(c) for c in campaigns}
    png_targets = {
        c.campaign_id: {key: reports_dir / c.campaign_id / f"{key}.png" for key in figures_by_campaign[c.campaign_id]}
        for c in campaigns
    }
    if png:
        jobs = [(figures_by_campaign[cid][key], path) for cid, paths in png_targets.items() for key, path in paths.items()]
        summary["png"] = export_pngs(jobs, reports_dir)
    else:
        summary["png"] = {"requested": False, "status": "skipped", "files": 0, "error": None, "seconds": 0.0}
    png_ok = summary["png"]["status"] == "ok"

    for c in campaigns:
        figures = figures_by_campaign[c.campaign_id]
        pngs = {k: f"{c.campaign_id}/{p.name}" for k, p in png_targets[c.campaign_id].items()} if png_ok else {}
        path = reports_dir / f"{c.campaign_id}.html"
        write_atomic(path, campaign_html(c, figures, published_at, pngs))
        summary["campaigns"][c.campaign_id] = {
            "name": c.name,
            "html": str(path),
            "status": "ok" if c.has_exports and not c.missing_sources else (
                "partial" if c.has_exports else "no_exports"),
            "missing_sources": c.missing_sources,
            "charts": [CHART_IDS[k] for k in figures],
            "png": [str(p) for p in png_targets[c.campaign_id].values()] if png_ok else [],
            "headline": headline(c),
        }
    index = reports_dir / "index.html"
    write_atomic(index, index_html(campaigns, published_at))
    summary["index"] = str(index)
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary


def summary_markdown(summary: dict) -> str:
    """A short markdown summary: campaign, headline KPIs against target, PNG status."""
    lines = ["| campaign | status | impressions | unique visitors | international hires | organisations involved "
             "| organisations established |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for cid, info in summary["campaigns"].items():
        h = info["headline"]
        lines.append(
            f"| {info['name']} | {info['status']} | "
            + " | ".join(_vs_target(h.get(k)) for k in ("impressions", "unique_visitors", "international_hires",
                                                          "organisations_involved", "organisations_established"))
            + " |"
        )
    png = summary["png"]
    if png["status"] == "ok":
        lines.append(f"\nPNG export: {png['files']} charts in {png['seconds']} s (browser {png.get('browser')}).")
    elif png["status"] == "skipped":
        reason = f" ({png['error']})" if png.get("error") else ""
        lines.append(f"\nPNG export: skipped{reason}.")
    else:
        lines.append(f"\nPNG export FAILED, HTML reports written anyway: {png['error']}")
    return "\n".join(lines)


# --- Dagster ----------------------------------------------------------------------------


class ReportConfig(dg.Config):
    """png=True also writes PNG copies for slide decks (needs a headless Chromium); so does TALENT_REPORT_PNG=1.

    Off by default: the PNGs add 10-15 s to a night and are wanted for decks, not every night.
    """

    png: bool = False


@dg.asset(
    group_name="reports",
    kinds={"plotly", "html"},
    owners=["team:data"],
    deps=[dg.AssetKey("published_database")],
)
def funnel_report(context: dg.AssetExecutionContext, config: ReportConfig, store: TalentStore) -> dg.MaterializeResult:
    """reports/: one offline HTML report per campaign (<campaign_id>.html) plus index.html.

    Grain: one file per campaign in the published database, charts of its funnel
    (whole campaign, per period, per channel), hires against target, weekly
    reach, cost per hire and the KPI scorecard; PNG copies of each chart for
    slide decks in reports/<campaign_id>/. Reads published.duckdb only.
    """
    settings = store.settings()
    # Run config from the UI, or an environment switch for `TALENT_REPORT_PNG=1 talent-pipeline run`.
    png = config.png or os.environ.get("TALENT_REPORT_PNG", "0").strip().lower() in ("1", "true", "yes")
    summary = build_reports(settings.published, settings.reports_dir, png=png)
    context.log.info(f"wrote {len(summary['campaigns'])} campaign reports and {summary['index']}")
    if summary["png"]["status"] == "failed":
        context.log.warning(f"PNG export failed; the HTML reports were written: {summary['png']['error']}")
    metadata = {
        "index": dg.MetadataValue.path(summary["index"]),
        **{f"report_{cid}": dg.MetadataValue.path(info["html"]) for cid, info in summary["campaigns"].items()},
        "summary": dg.MetadataValue.md(summary_markdown(summary)),
        "png_status": summary["png"]["status"],
        "png_files": summary["png"]["files"],
        "seconds": summary["seconds"],
    }
    return dg.MaterializeResult(metadata=metadata)


REPORT_ASSETS = [funnel_report]
