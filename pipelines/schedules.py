"""Nightly materialisation of the whole graph."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import nightly_refresh

NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Europe/Copenhagen"

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_at_two_copenhagen",
    job=nightly_refresh,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=TIMEZONE,  # 02:00 local time, summer and winter
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 02:00 Europe/Copenhagen: ingest new exports, check, publish, report.",
)
