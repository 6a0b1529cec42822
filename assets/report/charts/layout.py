"""What every chart shares: the page layout, the log axis of the funnels, bar labels, period shading."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import escape

from assets.report.data import CampaignData
from assets.report.labels import FONT, OKABE_ITO, PERIOD_SHADE, STAGE_KPI, STAGE_LABELS, fmt_pct, period_name

WEEK_MS = 7 * 24 * 3600 * 1000
LOG_FLOOR = -0.2  # log10 of the axis start, a little below 1 so that a count of 1 still draws a sliver


def plain(text: str) -> str:
    """A published name as literal text in a chart: Plotly reads its strings as a subset of HTML."""
    return str(escape(text))


TEMPLATE = "plotly_white"


@contextmanager
def report_template() -> Iterator[None]:
    """Plotly's default template is the report's (TEMPLATE) while a report is built and written.

    The charts leave their template unset: set on each figure, it is validated and deep-copied per
    figure (0.1-0.2 s of a report's nine charts), while Plotly applies the default template unvalidated
    when it serialises a figure (the HTML and the PNGs), into the same JSON (tests/test_report.py).
    """
    previous = pio.templates.default
    pio.templates.default = TEMPLATE
    try:
        yield
    finally:
        pio.templates.default = previous


def base_layout(fig: go.Figure, title: str, subtitle: str, height: int) -> go.Figure:
    """The layout every chart shares; its template is report_template's."""
    fig.update_layout(
        title={"text": title, "subtitle": {"text": subtitle}, "x": 0.01, "xanchor": "left"},
        font={"family": FONT, "size": 13, "color": "#222"},
        height=height,
        margin={"l": 20, "r": 30, "t": 100, "b": 50},
        colorway=list(OKABE_ITO),
        separators=".,",  # decimal point, comma thousands: "23,418,392"
        hoverlabel={"font": {"family": FONT}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
    )
    return fig


def log_range(values: list[float]) -> tuple[float, float]:
    top = max([v for v in values if v and v > 0], default=10)
    return LOG_FLOOR, math.log10(top) + 0.25


def bar_text_positions(values: list, log_top: float, inside_from: float = 0.6) -> list[str]:
    """Long bars carry their number inside, short ones just outside, so no label leaves the plot."""
    positions = []
    for v in values:
        if v and v > 0 and (math.log10(v) - LOG_FLOOR) / (log_top - LOG_FLOOR) >= inside_from:
            positions.append("inside")
        else:
            positions.append("outside")
    return positions


def stage_point(row: dict, missing_kpis: set[str]) -> dict:
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


def stage_tick(row: dict, previous: str | None) -> str:
    """Stage name with its step conversion underneath, as the funnel's y tick label."""
    name = STAGE_LABELS[row["stage"]]
    if row["stage_order"] == 1 or row["step_conversion"] is None or previous is None:
        return f"<b>{name}</b>"
    text = f"{fmt_pct(row['step_conversion'])} of {previous.lower()}"
    if row["stage_order"] > 2 and row["overall_conversion"] is not None:
        text += f", {fmt_pct(row['overall_conversion'])} of impressions"
    # The axis' ticksuffix pads only the last line of a tick; pad the name line too.
    return f"<b>{name}</b>\u00a0\u00a0<br><span style='font-size:11px'>{text}</span>"


def add_missing_labels(fig: go.Figure, ticks: list[str], points: list[dict], row=None, col=None) -> None:
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


def shade_periods(fig: go.Figure, c: CampaignData, rows: list[int] | None = None) -> None:
    for p in c.periods:
        kwargs = dict(x0=p["start_date"], x1=p["end_date"], fillcolor=PERIOD_SHADE, line_width=0, layer="below")
        name = period_name(p["period"])
        if rows:
            for i, r in enumerate(rows):
                label = {"annotation_text": name, "annotation_position": "top left", "annotation_font_size": 11}
                fig.add_vrect(row=r, col=1, **(label if i == 0 else {}), **kwargs)
        else:
            fig.add_vrect(annotation_text=name, annotation_position="top left", annotation_font_size=11, **kwargs)
