"""Nightly operations: definitions validate, the schedule's cron and zone, the sensor's cursor."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime

import dagster as dg
import pytest

from conftest import FIXTURES
from pipelines import sensors
from pipelines.definitions import defs
from pipelines.schedules import nightly_schedule


def test_definitions_load_and_validate():
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    job = definitions.resolve_job_def("nightly_refresh")
    keys = {k.to_user_string() for k in definitions.resolve_all_asset_keys()}
    assert {"reference_data", "staged_reach", "staged_sessions", "staged_applications",
            "marts/kpi_scorecard", "marts/funnel", "published_database"} <= keys
    assert job.executor_def.name == "in_process"


def test_every_asset_states_grain_owner_group_and_kind():
    for spec in defs().resolve_all_asset_specs():
        assert spec.description and spec.owners and spec.group_name in {"ingest", "marts", "publish", "reports"}
        assert spec.kinds, spec.key


def test_schedule_runs_at_two_copenhagen_time(tmp_path, monkeypatch):
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "Europe/Copenhagen"
    monkeypatch.setenv("TALENT_WAREHOUSE_DIR", str(tmp_path / "warehouse"))  # nothing published yet: it runs
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 7, 1, 0, 0))
    requests = nightly_schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1 and "no warehouse yet" in requests[0].tags["talent/why"]


def _sensor(cursor=None):
    context = dg.build_sensor_context(cursor=cursor)
    result = sensors.new_exports_sensor(context)
    return result, context.cursor


@pytest.fixture
def raw(tmp_path, monkeypatch):
    for source in ("reach", "visitors", "hiring"):
        (tmp_path / source).mkdir()
    monkeypatch.setenv("TALENT_RAW_DIR", str(tmp_path))
    monkeypatch.setattr(sensors, "SETTLE_SECONDS", 0)
    return tmp_path


def _drop(raw, source, name, mtime):
    target = raw / source / name
    shutil.copy(FIXTURES / source / name, target)
    os.utime(target, (mtime, mtime))


def test_sensor_requests_one_run_for_a_new_file_and_none_when_nothing_changed(raw, monkeypatch):
    _drop(raw, "reach", "meta_decimal_comma.csv", 1_600_000_000)
    first, cursor = _sensor()
    assert isinstance(first, dg.RunRequest) and first.run_key
    again, cursor_again = _sensor(cursor)
    assert isinstance(again, dg.SkipReason) and cursor_again == cursor
    _drop(raw, "hiring", "ats_applications.csv", 1_600_000_100)
    third, cursor3 = _sensor(cursor)
    assert isinstance(third, dg.RunRequest) and third.run_key != first.run_key
    assert set(json.loads(cursor3)) == {"reach/meta_decimal_comma.csv", "hiring/ats_applications.csv"}


def test_sensor_sees_a_changed_file_and_ignores_one_still_being_written(raw, monkeypatch):
    _drop(raw, "reach", "meta_decimal_comma.csv", 1_600_000_000)
    signatures = sensors.landing_signatures(raw, settle=0)
    path = raw / "reach" / "meta_decimal_comma.csv"
    path.write_bytes(path.read_bytes() + b"\n")
    os.utime(path, (1_600_000_500, 1_600_000_500))
    assert sensors.new_or_changed(signatures, sensors.landing_signatures(raw, settle=0)) != {}
    fresh = raw / "reach" / "arriving.csv"
    fresh.write_text("partial")
    assert "reach/arriving.csv" not in sensors.landing_signatures(raw, settle=30)



def test_warehouse_writers_never_overlap_and_telemetry_is_off():
    import yaml

    from pipelines.jobs import nightly_refresh
    from pipelines.settings import ROOT

    config = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "talent/warehouse", "limit": 1} in limits
    assert nightly_refresh.run_tags.get("talent/warehouse") == "writer"
    assert config["run_monitoring"]["enabled"] is True  # a killed run is failed, freeing the queue
