"""Freshness: warn when a source has stopped delivering while a campaign period is running.

A warning, not a gate: late exports should page the data team, not hold back
yesterday's published numbers.
"""


import os
from datetime import date, datetime, timezone

import dagster as dg

from assets.graph import staged_applications, staged_reach, staged_sessions, warehouse
from assets.ingest.common import first_row
from pipelines.resources import TalentStore

DEFAULT_MAX_DAYS = 3
FRESHNESS_CHECK = "source_delivered_recently"


def max_days() -> int:
    """TALENT_FRESHNESS_DAYS: how many days a source may stay silent during an active period."""
    return int(os.environ.get("TALENT_FRESHNESS_DAYS", DEFAULT_MAX_DAYS))


def staleness(con, source: str, today: date, limit_days: int) -> tuple[bool, dict]:
    """(fresh, facts) for one source: stale only when a period is active and the last delivery is too old."""
    active = con.execute(
        "SELECT campaign_id, period FROM ref.campaign_periods WHERE ? BETWEEN start_date AND end_date ORDER BY 1",
        [today],
    ).fetchall()
    last = first_row(con.execute(
        "SELECT max(loaded_at) FROM ingest.file_ledger WHERE source = ? AND status = 'loaded'", [source]
    ))[0]
    days = None if last is None else (today - last.date()).days
    facts = {
        "active_periods": ", ".join(f"{c}/{p}" for c, p in active) or "none",
        "last_delivery": last.isoformat(sep=" ", timespec="seconds") if last else "never",
        "days_since_delivery": days if days is not None else -1,
        "limit_days": limit_days,
    }
    if not active:
        return True, facts
    return (days is not None and days <= limit_days), facts


_SOURCES = ((staged_reach, "reach"), (staged_sessions, "visitors"), (staged_applications, "hiring"))


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(FRESHNESS_CHECK, asset=asset, blocking=False,
                          description=f"Warns when no {source} export arrived for TALENT_FRESHNESS_DAYS during a period.")
        for asset, source in _SOURCES
    ],
    can_subset=True,
    name="source_freshness",
)
def source_freshness(context: dg.AssetCheckExecutionContext, store: TalentStore):
    """One warning check per source, evaluated in one step (a step costs Dagster about 0.25 s)."""
    selected = context.selected_asset_check_keys
    with warehouse(store, context) as (con, _settings):
        for asset, source in _SOURCES:
            key = dg.AssetCheckKey(asset.key, FRESHNESS_CHECK)
            if key not in selected:
                continue
            fresh, facts = staleness(con, source, datetime.now(timezone.utc).date(), max_days())
            yield dg.AssetCheckResult(asset_key=asset.key, check_name=FRESHNESS_CHECK, passed=fresh,
                                      severity=dg.AssetCheckSeverity.WARN, metadata=facts)


FRESHNESS_CHECKS = [source_freshness]
