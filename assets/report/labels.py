"""The report's words, colours and number formats: what every page and chart shares.

Channels, stages and 'all' are the marts' own (assets/vocabulary.py); only how
they are written for a reader lives here.
"""

from __future__ import annotations

import math
from datetime import date

from assets.vocabulary import AD_CHANNELS, ALL, CHANNELS, STAGE_KPI, STAGES

__all__ = ["ALL", "CHANNELS", "STAGES", "STAGE_KPI", "PAID_CHANNELS"]

PAID_CHANNELS = AD_CHANNELS
STAGE_LABELS = {
    "impressions": "Impressions",
    "clicks": "Clicks",
    "unique_visitors": "Unique visitors",
    "applications": "Applications",
    "hires": "International hires",
}
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
TABLE_1_KPIS = ("organisations_established", "organisations_involved", "international_hires")
KPI_ORDER = (
    *TABLE_1_KPIS,
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
PERIOD_SHADE = "rgba(86, 180, 233, 0.12)"  # Okabe-Ito sky blue, faint

CHART_IDS = {
    "funnel": "chart-funnel",
    "funnel_periods": "chart-funnel-periods",
    "period_comparison": "chart-period-comparison",
    "funnel_channels": "chart-funnel-channels",
    "hires_vs_target": "chart-hires-vs-target",
    "hires_over_time": "chart-hires-over-time",
    "time_to_hire": "chart-time-to-hire",
    "weekly_reach": "chart-weekly-reach",
    "cost_per_hire": "chart-cost-per-hire",
}
NO_EXPORTS_TEXT = "No exports have been loaded for this campaign yet"
# System fonts only: a web font would be a request leaving the page.
FONT = "Arial, Helvetica, sans-serif"


def period_name(period: str) -> str:
    return period.replace("_", " ").capitalize()


def span(start: date, end: date) -> str:
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


def fmt_signed(value) -> str:
    """A change in a count: '+1,405,103', '−12', '±0'."""
    if value is None:
        return "–"
    return f"+{value:,}" if value > 0 else (f"−{-value:,}" if value < 0 else "±0")


def change_label(ratio: float | None) -> str:
    """'+20.0 %', '−3.1 %' or 'n/a' (no earlier value to compare with)."""
    if ratio is None:
        return "n/a"
    pct = ratio * 100
    sign = "+" if pct > 0 else ("\u2212" if pct < 0 else "±")
    return f"{sign}{abs(pct):,.1f}\u00a0%"


def points_label(change: float | None) -> str:
    """A change of conversion (a difference of ratios) in percentage points."""
    if change is None:
        return "–"
    points = change * 100
    sign = "+" if points > 0 else ("\u2212" if points < 0 else "±")
    return f"{sign}{abs(points):.3g} points"


def days_label(days: float | None) -> str:
    """Days exactly as published, without trailing zeros: '63', '77.5', '84.75'.

    Quantiles of whole days interpolated at 0.5 or 0.75 are multiples of 0.25,
    so two decimals show every published value exactly.
    """
    if days is None:
        return "–"
    return f"{days:,.2f}".rstrip("0").rstrip(".")


def vs_target(h: dict | None) -> str:
    """'102 of target 60 (170.0 %)': a KPI against its target, as plain text."""
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
