"""Nightly materialisation of the whole graph, skipped when nothing changed (assets/staging/noop.py)."""

from __future__ import annotations

import dagster as dg

from assets.staging.noop import nothing_new
from pipelines.jobs import nightly_refresh
from pipelines.settings import from_env

NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Europe/Copenhagen"


@dg.schedule(
    name="nightly_at_two_copenhagen",
    job=nightly_refresh,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=TIMEZONE,  # 02:00 local time, summer and winter
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 02:00 Europe/Copenhagen: ingest new exports, check, publish, report. "
    "Skipped, with the reason on the tick, when no landing file, reference file, PII key or staging "
    "rule changed since the last publication (assets/staging/noop.py).",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    verdict = nothing_new(from_env())
    if verdict.skip:
        return dg.SkipReason(verdict.reason)
    context.log.info(f"running: {verdict.reason}")
    return dg.RunRequest(tags={"talent/trigger": "nightly", "talent/why": verdict.reason[:200]})
