"""The report's HTML, rendered from the Jinja2 templates in templates/ with autoescaping on.

Every value a template prints is escaped, so a campaign or organisation name
is always text. Only three things are passed as markup, each made here and
never from published values: plotly.js itself, the chart divs Plotly writes,
and JSON (through Jinja's ``tojson``, which escapes ``<``, ``>``, ``&`` and
``'``).
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from assets.report.charts.hires import time_to_hire_rows
from assets.report.compare import campaign_comparison, period_comparison
from assets.report.data import CampaignData
from assets.report.labels import (
    ALL,
    CHANNELS,
    CHANNEL_LABELS,
    CHART_IDS,
    KPI_LABELS,
    NO_EXPORTS_TEXT,
    STAGES,
    STAGE_LABELS,
    change_label,
    days_label,
    fmt_eur,
    fmt_eur2,
    fmt_int,
    fmt_pct,
    fmt_signed,
    fmt_target_pct,
    period_name,
    points_label,
    span,
)

PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
# The KPIs of the index table and of the asset summary, whole campaign.
HEADLINE_KPIS = ("impressions", "unique_visitors", "international_hires", "organisations_involved",
                 "organisations_established")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("assets.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the build instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fmt_int=fmt_int, fmt_eur=fmt_eur, fmt_eur2=fmt_eur2, fmt_pct=fmt_pct,
                       fmt_target_pct=fmt_target_pct, fmt_signed=fmt_signed, change_label=change_label,
                       points_label=points_label, days_label=days_label)
    env.globals.update(span=span, period_name=period_name, kpi_labels=KPI_LABELS, stage_labels=STAGE_LABELS,
                       no_exports_text=NO_EXPORTS_TEXT)
    # Compact JSON in the order it was built (tojson's default sorts keys); dates as ISO text.
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "separators": (",", ":"), "default": str}
    return env


ENV = _environment()


def plotlyjs() -> Markup:
    return Markup(get_plotlyjs())


def chart_html(c: CampaignData, key: str, fig: go.Figure) -> Markup:
    """One chart as a div (no library, no MathJax), sized to its layout."""
    return Markup(pio.to_html(
        fig,
        config={**PLOT_CONFIG, "toImageButtonOptions": {"filename": f"{c.campaign_id}-{key}", "scale": 2}},
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        div_id=CHART_IDS[key],
        default_height=f"{fig.layout.height}px",
    ))


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
    charts = [
        {"key": key, "div_id": CHART_IDS[key], "html": chart_html(c, key, fig), "png": png_files.get(key)}
        for key, fig in figures.items()
    ]
    by_period, by_org = time_to_hire_rows(c)
    return ENV.get_template("campaign.html.j2").render(
        title=f"{c.name}: talent campaign report",
        plotlyjs=plotlyjs(),
        c=c,
        charts=charts,
        published_at=published_at,
        funnel_data=funnel_payload(c, figures),
        period_rows=period_comparison(c) if "period_comparison" in figures else [],
        stage_count=len(STAGES),
        time_to_hire_periods=by_period,
        time_to_hire_organisations=by_org,
    )


def headline(c: CampaignData) -> dict[str, dict]:
    """Headline KPIs (whole campaign) for the index page and the asset summary."""
    out = {}
    for kpi in HEADLINE_KPIS:
        r = c.kpi(kpi)
        if r is not None:
            out[kpi] = {"result": r["result"], "target": r["target"], "pct_of_target": r["pct_of_target"],
                        "met": r["met"]}
    return out


def status_text(c: CampaignData) -> str:
    if not c.has_exports:
        return "no exports loaded yet"
    if c.missing_sources:
        return "partial: " + ", ".join(s.split(" ")[0] for s in c.missing_sources) + " missing"
    return "complete"


def index_html(campaigns: list[CampaignData], published_at) -> str:
    """The index: every campaign with its status, then their whole-campaign figures side by side."""
    return ENV.get_template("index.html.j2").render(
        title="Talent campaign reports",
        plotlyjs=None,
        rows=[{"c": c, "status": status_text(c)} for c in campaigns],
        published_at=published_at,
        comparison=campaign_comparison(campaigns),
        campaigns=campaigns,
    )


def dictionary_html(entries: list[dict], published_at) -> str:
    """The data dictionary page: every published table and view with its columns, from their COMMENT ON."""
    return ENV.get_template("data_dictionary.html.j2").render(
        title="Data dictionary: published.duckdb", plotlyjs=None, entries=entries, published_at=published_at
    )

