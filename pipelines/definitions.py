"""Assembles the code location: assets, checks, job, schedule, sensor, resources."""

from __future__ import annotations

import dagster as dg

from assets.graph import ASSETS
from pipelines.jobs import nightly_refresh
from pipelines.resources import TalentStore

defs = dg.Definitions(
    assets=ASSETS,
    jobs=[nightly_refresh],
    resources={"store": TalentStore()},
)
