"""The comparisons marketing asks for: each period against the one before, and campaigns side by side.

Both only rearrange published rows (funnel, kpi_scorecard, cost_per_outcome);
no count is recomputed here, and distinct counts are compared, never added.
"""

from __future__ import annotations

from assets.report.data import CampaignData
from assets.report.labels import ALL, KPI_LABELS, STAGE_KPI, TABLE_1_KPIS


def _difference(now, before):
    return None if now is None or before is None else now - before


def _relative(now, before):
    """Change as a ratio of the earlier value (0.2 = +20 %); None when there is nothing to divide by."""
    return None if now is None or not before else (now - before) / before


def comparable_periods(c: CampaignData) -> list[str]:
    """The campaign's periods that have funnel rows, in time order."""
    return [p["period"] for p in c.periods if c.funnel_rows(p["period"], ALL)]


def period_comparison(c: CampaignData) -> list[dict]:
    """One row per period after the first x funnel stage (all channels): its value and conversions beside the
    previous period's, with the change (absolute, and relative to the previous period).

    Conversions are ratios; their change is a difference of ratios (x 100 = percentage points). A stage whose
    source has no exports has no values, rather than zeros.
    """
    periods = comparable_periods(c)
    rows = []
    for previous, period in zip(periods, periods[1:]):
        before = {r["stage"]: r for r in c.funnel_rows(previous, ALL)}
        for now in c.funnel_rows(period, ALL):
            stage = now["stage"]
            then = before.get(stage, {})
            missing = STAGE_KPI[stage] in c.missing_kpis
            row = {"period": period, "previous_period": previous, "stage": stage, "stage_order": now["stage_order"]}
            for column in ("value", "step_conversion", "overall_conversion"):
                row[column] = None if missing else now[column]
                row[f"previous_{column}"] = None if missing else then.get(column)
            row["change"] = _difference(row["value"], row["previous_value"])
            row["change_ratio"] = _relative(row["value"], row["previous_value"])
            row["step_conversion_change"] = _difference(row["step_conversion"], row["previous_step_conversion"])
            row["overall_conversion_change"] = _difference(row["overall_conversion"],
                                                           row["previous_overall_conversion"])
            rows.append(row)
    return rows


# The campaign comparison on the index page, in row order: Table 1, reach, visitors, then spend per hire.
COMPARED_KPIS = (*TABLE_1_KPIS, "impressions", "unique_visitors")
COMPARED_LABELS = {
    **{k: KPI_LABELS[k] for k in COMPARED_KPIS},
    "impressions": "Reach: impressions (times the campaign was shown)",
    "spend_eur": "Ad spend (EUR)",
    "cost_per_hire_eur": "Cost per international hire (EUR, all ad spend / all hires)",
}


def campaign_comparison(campaigns: list[CampaignData]) -> list[dict]:
    """One row per compared figure, one cell per campaign (the index page's side-by-side table).

    KPI cells carry result, target and % of target from kpi_scorecard (period
    'all'); money cells come from cost_per_outcome (period and channel 'all').
    """
    rows = []
    for kpi in COMPARED_KPIS:
        cells = []
        for c in campaigns:
            r = c.kpi(kpi) or {}
            cells.append({"campaign_id": c.campaign_id, "result": r.get("result"), "target": r.get("target"),
                          "pct_of_target": r.get("pct_of_target"), "met": r.get("met")})
        rows.append({"key": kpi, "label": COMPARED_LABELS[kpi], "kind": "kpi", "cells": cells})
    for column in ("spend_eur", "cost_per_hire_eur"):
        cells = []
        for c in campaigns:
            whole = next((r for r in c.cost if r["channel"] == ALL), {})
            cells.append({"campaign_id": c.campaign_id, "value": whole.get(column)})
        rows.append({"key": column, "label": COMPARED_LABELS[column], "kind": "eur", "cells": cells})
    return rows
