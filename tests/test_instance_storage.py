"""The Dagster instance of dagster_home/dagster.yaml: Dagster's SQLite files, the event log's connections kept."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines import instance_storage

ROOT = Path(__file__).resolve().parents[1]


@dg.asset
def first() -> int:
    return 1


@dg.asset
def second(first: int) -> int:
    return first + 1


@dg.asset_check(asset=second, blocking=True)
def second_is_two(second: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=second == 2)


JOB = dg.Definitions(assets=[first, second], asset_checks=[second_is_two],
                     jobs=[dg.define_asset_job("small", selection="*")]).resolve_job_def("small")


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def connects(monkeypatch):
    """The SQLite connections opened (SQLAlchemy's pysqlite dialect calls sqlite3.dbapi2's connect)."""
    opened: list[str] = []
    real = sqlite3.dbapi2.connect

    def counting(database, *args, **kwargs):
        opened.append(os.path.basename(str(database)))
        return real(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3.dbapi2, "connect", counting)
    return opened


def test_the_instance_stores_runs_where_dagster_does_and_another_instance_reads_them(home):
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, instance_storage.PooledSqliteEventLogStorage)
        result = JOB.execute_in_process(instance=instance)
        assert result.success
    assert (home / "history" / "runs.db").exists() and (home / "schedules").is_dir()
    assert (home / "history" / "runs" / f"{result.run_id}.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()

    # Dagster's own files: a plain SQLite instance (storage: sqlite) over the same directory reads them.
    plain_home = home.parent / "plain_home"
    plain_home.mkdir()
    (plain_home / "dagster.yaml").write_text(
        f"telemetry:\n  enabled: false\nstorage:\n  sqlite:\n    base_dir: {home}\n")
    with dg.DagsterInstance.from_config(str(plain_home)) as plain:
        assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert plain.get_run_by_id(result.run_id).is_success
        materialized = plain.get_latest_materialization_event(dg.AssetKey("second"))
        assert materialized is not None and materialized.run_id == result.run_id
        checks = plain.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("second"), "second_is_two"), limit=1)
        assert checks and checks[0].status.value == "SUCCEEDED"


def test_the_ui_the_daemon_and_their_run_workers_load_the_same_storage(home, tmp_path):
    # A run launched by the daemon rebuilds the instance from its ref in a new process.
    with dg.DagsterInstance.get() as instance, dg.DagsterInstance.from_ref(instance.get_ref()) as worker:
        assert isinstance(worker.event_log_storage, instance_storage.PooledSqliteEventLogStorage)
    # Dagster's own command line, run outside the repository: the module comes from the installed project.
    info = subprocess.run([str(Path(sys.executable).parent / "dagster"), "instance", "info"], cwd=tmp_path,
                          env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    assert "event_log_storage: PooledSqliteEventLogStorage" in info.stdout


def test_a_run_opens_each_file_once_not_once_per_event(home, connects):
    with dg.DagsterInstance.get() as instance:
        connects.clear()  # the instance's own set-up opens the files it creates
        result = JOB.execute_in_process(instance=instance)
        events = len(instance.all_logs(result.run_id))
    opened_run = connects.count(f"{result.run_id}.db")
    opened_index = connects.count("index.db")
    assert result.success and events > 20
    # Dagster's SqliteEventLogStorage opens a connection per event written (and more for the index).
    # Kept: the pool's two at most per file (the run's new file is inspected inside a connection
    # when it is created; the index's has_table runs inside a transaction).
    assert 1 <= opened_run <= 2 and 1 <= opened_index <= 2, connects


def test_a_process_keeps_at_most_KEEP_files_open_and_still_reads_the_older_runs(home, monkeypatch):
    monkeypatch.setattr(instance_storage, "KEEP", 3)  # fewer runs to make; the rule is the same
    with dg.DagsterInstance.get() as instance:
        run_ids = [JOB.execute_in_process(instance=instance).run_id for _ in range(instance_storage.KEEP + 2)]
        storage = instance.event_log_storage
        assert len(storage._engines) <= instance_storage.KEEP
        assert run_ids[0] not in storage._engines and "index" in storage._engines
        assert len(instance.all_logs(run_ids[0])) > 20  # an evicted file is opened again
    assert storage._engines == {}  # the instance's dispose closed them


def test_a_forked_child_does_not_use_its_parents_connections(home):
    with dg.DagsterInstance.get() as instance:
        parent_run = JOB.execute_in_process(instance=instance).run_id
        storage = instance.event_log_storage
        kept = dict(storage._engines)
        assert kept
        pid = os.fork()
        if pid == 0:  # the child: no engine of the parent's, and its own connections work
            code = 0 if not storage._engines and len(instance.all_logs(parent_run)) > 20 else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert storage._engines == kept  # the parent's are untouched
        assert len(instance.all_logs(parent_run)) > 20


# A run's events written from another process, as a run worker writes them while the UI watches.
WRITER = """
import logging, sys, time
import dagster as dg
from dagster._core.events.log import EventLogEntry
with dg.DagsterInstance.get() as instance:
    for i in range(5):
        instance.event_log_storage.store_event(EventLogEntry(
            error_info=None, level=logging.INFO, user_message=f"event {i}", run_id=sys.argv[1],
            timestamp=time.time(), step_key=None, job_name="small", dagster_event=None))
    print("written", flush=True)
    sys.stdin.readline()  # its connections stay open until the test has looked
"""


def test_the_ui_sees_a_running_runs_events_as_another_process_writes_them(home):
    """The UI's live log of a run (`watch`) wakes when the run's file changes: it must while the
    writer keeps its connections open (its commits reach the write-ahead log first)."""
    with dg.DagsterInstance.get() as instance:
        run_id = JOB.execute_in_process(instance=instance).run_id
        seen: list[str] = []
        instance.event_log_storage.watch(run_id, None, lambda entry, _cursor: seen.append(entry.user_message))
        writer = subprocess.Popen([sys.executable, "-c", WRITER, run_id], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        try:
            assert writer.stdout.readline().strip() == "written"
            deadline = time.monotonic() + 10
            while sum(m.startswith("event ") for m in seen) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [m for m in seen if m.startswith("event ")] == [f"event {i}" for i in range(5)]
        finally:
            writer.communicate("\n", timeout=60)


def test_wipe_closes_the_kept_files_before_dagster_deletes_them(home):
    with dg.DagsterInstance.get() as instance:
        run_id = JOB.execute_in_process(instance=instance).run_id
        assert run_id in instance.event_log_storage._engines
        instance.wipe()
        assert instance.all_logs(run_id) == []  # Dagster's own reads a new, empty file: so must this one


NESTED = """
import dagster as dg
from pipelines import instance_storage
from test_instance_storage import JOB
instance_storage.KEEP = 3  # fewer runs to make; the rule is the same
with dg.DagsterInstance.get() as instance:
    run_ids = [JOB.execute_in_process(instance=instance).run_id for _ in range(instance_storage.KEEP)]
    storage = instance.event_log_storage
    for run_id in run_ids:  # the index is no longer among the kept files
        instance.all_logs(run_id)
    assert "index" not in storage._engines
    with storage.run_connection(run_ids[0]):
        print("has_table", storage.has_table("asset_event_tags"), flush=True)
"""


def test_has_table_inside_a_runs_transaction_does_not_wait_for_itself(home):
    # In a process of its own: a lock waiting for itself would hang this one at the instance's dispose.
    nested = subprocess.run([sys.executable, "-c", NESTED], cwd=Path(__file__).parent, capture_output=True,
                            text=True, timeout=60, env=os.environ.copy())
    assert nested.returncode == 0, nested.stderr[-2000:]
    assert "has_table True" in nested.stdout
