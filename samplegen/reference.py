"""The campaign team's reference files (reference/): campaigns, periods, organisations, KPI targets, FX rates,
channel rules."""

from __future__ import annotations

from pathlib import Path

from samplegen.files import write_csv
from samplegen.world import CAMPAIGNS, CHANNEL_RULES, CHANNEL_RULES_HEADER, FX_RATES, KPI_TARGETS, ORGANISATIONS, PERIODS


def write_reference(folder: Path) -> dict[str, int]:
    """The campaign team's six reference CSVs; returns data rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "campaigns.csv": (
            ["campaign_id", "name", "start_date", "end_date", "budget_eur", "eu_grant_eur"],
            [[c, n, s.isoformat(), e.isoformat(), b, g] for c, n, s, e, b, g in CAMPAIGNS],
        ),
        "campaign_periods.csv": (
            ["campaign_id", "period", "start_date", "end_date", "utm_campaign"],
            [[p.campaign_id, p.period, p.start.isoformat(), p.end.isoformat(), p.utm] for p in PERIODS],
        ),
        "organisations.csv": (
            ["org_id", "name", "country", "city", "sector", "talent_campaign_joined_on", "established_in_region_on"],
            [list(o) for o in ORGANISATIONS],
        ),
        "kpi_targets.csv": (["campaign_id", "kpi", "period", "target"], [list(t) for t in KPI_TARGETS]),
        "fx_rates.csv": (["currency", "eur_per_unit"], [list(r) for r in FX_RATES]),
        "channel_rules.csv": (CHANNEL_RULES_HEADER, [list(r) for r in CHANNEL_RULES]),
    }
    for name, (header, body) in tables.items():
        write_csv(folder / name, [header, *body], encoding="utf-8")
    return {name: len(body) for name, (_, body) in tables.items()}
