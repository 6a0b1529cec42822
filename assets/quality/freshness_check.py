"""The freshness warnings as one Dagster multi-asset check, a thin wrapper around freshness.staleness."""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at definition time.

from datetime import datetime, timezone

import dagster as dg

from assets.quality.freshness import staleness
from assets.staging.asset import staged_applications, staged_reach, staged_sessions
from assets.wrappers import STORE, settings_of, warehouse

FRESHNESS_CHECK = "source_delivered_recently"
_SOURCES = ((staged_reach, "reach"), (staged_sessions, "visitors"), (staged_applications, "hiring"))


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(FRESHNESS_CHECK, asset=asset, blocking=False,
                          description=f"Warns when no {source} export arrived for TALENT_FRESHNESS_DAYS during a period.")
        for asset, source in _SOURCES
    ],
    can_subset=True,
    name="source_freshness",
    required_resource_keys={STORE},
)
def source_freshness(context: dg.AssetCheckExecutionContext):
    """One warning check per source, evaluated in one step (a step costs Dagster about 0.25 s)."""
    selected = context.selected_asset_check_keys
    settings = settings_of(context)
    with warehouse(settings, context) as con:
        for asset, source in _SOURCES:
            key = dg.AssetCheckKey(asset.key, FRESHNESS_CHECK)
            if key not in selected:
                continue
            fresh, facts = staleness(con, source, datetime.now(timezone.utc).date(), settings.freshness_days)
            yield dg.AssetCheckResult(asset_key=asset.key, check_name=FRESHNESS_CHECK, passed=fresh,
                                      severity=dg.AssetCheckSeverity.WARN, metadata=facts)


FRESHNESS_CHECKS = [source_freshness]
