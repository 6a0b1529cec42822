"""The nightly job: the whole graph, in one process (the warehouse has one writer)."""

from __future__ import annotations

import dagster as dg

NIGHTLY_JOB = "nightly_refresh"
# A run that writes the warehouse: the instance's run queue lets one such run go at a time
# (dagster_home/dagster.yaml), and it holds the warehouse open for its length (pipelines/resources.py).
WRITER_TAG = ("talent/warehouse", "writer")

nightly_refresh = dg.define_asset_job(
    NIGHTLY_JOB,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Ingest new exports, rebuild marts, check, publish and regenerate the report.",
    # One warehouse writer at a time: a run from the sensor queues behind the schedule's.
    run_tags=dict([WRITER_TAG]),
)
