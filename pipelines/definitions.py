"""Assembles the code location: assets, checks, job, schedule, sensor, resources.

Loaded lazily (`@dg.definitions`), as `dg`, `dagster dev -m pipelines.definitions` and
`talent-pipeline run` do: the resource's `dg.EnvVar` fields follow the environment of the
process that loads them, not of whichever process first imported this module.
"""

from __future__ import annotations

import dagster as dg

from assets.marts.asset import MART_ASSETS
from assets.publish.asset import PUBLISH_ASSETS
from assets.quality.asset import CHECKS
from assets.quality.freshness_check import FRESHNESS_CHECKS
from assets.report.asset import REPORT_ASSETS
from assets.staging.asset import STAGING_ASSETS
from pipelines.jobs import nightly_refresh
from pipelines.resources import TalentStore
from pipelines.schedules import nightly_schedule
from pipelines.sensors import new_exports_sensor


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[*STAGING_ASSETS, *MART_ASSETS, *PUBLISH_ASSETS, *REPORT_ASSETS],
        asset_checks=[*CHECKS, *FRESHNESS_CHECKS],
        jobs=[nightly_refresh],
        schedules=[nightly_schedule],
        sensors=[new_exports_sensor],
        resources={"store": TalentStore.from_env_vars()},
    )
