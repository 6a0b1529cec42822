"""Assembles the code location: assets, checks, job, schedule, sensor, resources."""

from __future__ import annotations

import dagster as dg

from assets.quality.checks import CHECKS
from assets.quality.freshness import FRESHNESS_CHECKS
from assets.graph import ASSETS
from pipelines.jobs import nightly_refresh
from pipelines.resources import TalentStore
from pipelines.schedules import nightly_schedule
from pipelines.sensors import new_exports_sensor

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[*CHECKS, *FRESHNESS_CHECKS],
    jobs=[nightly_refresh],
    schedules=[nightly_schedule],
    sensors=[new_exports_sensor],
    resources={"store": TalentStore()},
)
