"""Shared test helpers: fixture paths, attribution from the fixture register, and a graph runner."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from assets.ingest.reference import Attribution, read_reference

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_KEY = "test-pii-key"
VALID = {
    "reach": ["linkedin_campaign_performance.csv", "meta_decimal_comma.csv", "google_ads_utf16.tsv"],
    "visitors": ["sessions_valid.csv"],
    "hiring": ["ats_applications.csv", "hiring_template.xlsx"],
}


def warehouse_with_reference(reference: Path = FIXTURES / "reference"):
    """An in-memory warehouse with the schema, the reference data and the attribution macros loaded."""
    import duckdb

    from assets.staging.warehouse import ensure_schema, load_reference

    c = duckdb.connect()
    ensure_schema(c)
    load_reference(c, read_reference(reference))
    return c


@pytest.fixture(scope="session")
def attribution() -> Attribution:
    """sql/attribution.sql over the fixture reference data, on a warehouse of its own."""
    c = warehouse_with_reference()
    yield Attribution(c)
    c.close()


@pytest.fixture
def con():
    """An in-memory warehouse with the schema and the fixture reference data loaded."""
    c = warehouse_with_reference()
    yield c
    c.close()


def landing(tmp_path: Path, files: dict[str, list[str]], reference: Path = FIXTURES / "reference") -> Path:
    """A raw folder holding the fixture reference data and the named fixture files per source."""
    raw = tmp_path / "raw"
    for source in ("reach", "visitors", "hiring"):
        (raw / source).mkdir(parents=True, exist_ok=True)
        for name in files.get(source, []):
            shutil.copy(FIXTURES / source / name, raw / source / name)
    shutil.copytree(reference, raw / "reference")
    return raw


@pytest.fixture
def pipeline_env(tmp_path, monkeypatch):
    """Points the pipeline at temporary folders; returns a function that runs the nightly job."""
    warehouse = tmp_path / "warehouse"
    reports = tmp_path / "reports"
    monkeypatch.setenv("TALENT_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("TALENT_REPORTS_DIR", str(reports))
    monkeypatch.setenv("TALENT_PII_KEY", TEST_KEY)

    def run(raw: Path):
        import dagster as dg

        from pipelines.definitions import defs
        from pipelines.jobs import NIGHTLY_JOB

        monkeypatch.setenv("TALENT_RAW_DIR", str(raw))
        with dg.DagsterInstance.ephemeral() as instance:
            return defs().resolve_job_def(NIGHTLY_JOB).execute_in_process(instance=instance, raise_on_error=False)

    run.warehouse = warehouse / "warehouse.duckdb"
    run.published = warehouse / "published.duckdb"
    run.reports = reports
    return run


def query(path: Path, sql: str, params=None) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="session")
def sample_published(sample_run):
    """The bundled sample's warehouse, published file and reports after sample_run's first run (one per session).

    For tests that check the report and the marts on the real published sample rather than hand-made rows.
    """
    import types

    assert sample_run["first"].success, "the bundled sample did not publish"
    first = sample_run["root"] / "first_run"  # as the first run left it (the second run adds its own records)
    return types.SimpleNamespace(warehouse=first / "warehouse" / "warehouse.duckdb",
                                 published=first / "warehouse" / "published.duckdb", reports=first / "reports")


def _env(tmp_path: Path, raw: Path, warehouse: Path) -> dict:
    env = dict(os.environ)
    env.update(TALENT_RAW_DIR=str(raw), TALENT_WAREHOUSE_DIR=str(warehouse),
               TALENT_REPORTS_DIR=str(tmp_path / "reports"), TALENT_PII_KEY="test-key",
               DAGSTER_HOME=str(tmp_path / "dagster_home"))
    return env


def cli_env(tmp_path: Path, raw: Path, warehouse: Path) -> dict:
    """The environment of a `talent-pipeline` run in tmp_path, with a Dagster instance of its own there."""
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    shutil.copy(Path(__file__).parents[1] / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home")
    return _env(tmp_path, raw, warehouse)


def fresh_python(script: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter at the repository's root: imports, workers and the garbage
    collector's state start from nothing, and nothing it does stays in the test's process."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parents[1])


def talent(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@dataclass(frozen=True)
class Publication:
    """What one `talent-pipeline run` left in its folder: raw/, warehouse/, reports/, dagster_home/."""

    root: Path
    raw: Path
    env: dict
    result: subprocess.CompletedProcess
    seconds: float  # wall time of the run, start-up included

    @property
    def published(self) -> Path:
        return self.root / "warehouse" / "published.duckdb"


def shared_folder(tmp_path_factory) -> Path:
    """A folder every pytest-xdist worker of this session sees (the session's base temp folder without -n)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory, name: str, make) -> tuple[Path, dict]:
    """``make(folder)`` run once per session in the shared folder ``name``, its answer kept in run.json.

    Under pytest-xdist the first worker to need it makes it and the others wait for it (an flock),
    then read the folder and the answer it left.
    """
    shared = shared_folder(tmp_path_factory)
    root = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = root / "run.json"
        if not made.exists():
            shutil.rmtree(root, ignore_errors=True)  # what a worker that failed to make it left
            root.mkdir()
            made.write_text(json.dumps(make(root)))
        return root, json.loads(made.read_text())


@pytest.fixture(scope="session")
def fixture_publication(tmp_path_factory) -> Publication:
    """One `talent-pipeline run` over the VALID fixture exports, shared by the whole session.

    Tests that only read its outputs use it as it is; tests that change inputs or the
    warehouse take their own copy (copy_publication), which is the state that run left.
    Under pytest-xdist the first worker to need it makes it and the others wait for it
    (an flock), so the session still makes one run, not one per worker.
    """
    def make(root: Path) -> dict:
        env = cli_env(root, landing(root, VALID), root / "warehouse")
        started = time.monotonic()
        result = talent(env, "run")
        return {"args": result.args, "returncode": result.returncode, "stdout": result.stdout,
                "stderr": result.stderr, "seconds": time.monotonic() - started}

    root, done = made_once(tmp_path_factory, "fixture_publication", make)
    result = subprocess.CompletedProcess(done["args"], done["returncode"], done["stdout"], done["stderr"])
    assert result.returncode == 0, result.stdout + result.stderr
    raw = root / "raw"
    return Publication(root, raw, _env(root, raw, root / "warehouse"), result, done["seconds"])


def copy_publication(publication: Publication, target: Path) -> Publication:
    """A private copy of a publication's folder (modification times kept, so it is unchanged to a night)."""
    shutil.copytree(publication.root, target, dirs_exist_ok=True)
    env = cli_env(target, target / "raw", target / "warehouse")
    return Publication(target, target / "raw", env, publication.result, publication.seconds)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """Generates the bundled sample, runs the nightly job on it twice, and keeps the outputs: one per session.

    The second run reads nothing new (tests compare its publication with the first's). Like
    fixture_publication, the first pytest-xdist worker to need it makes it under an flock and the
    others read what it left: the runs' outcomes in run.json, the first run's outputs in first_run/.
    """
    import types

    root, done = made_once(tmp_path_factory, "sample_run", _run_sample_twice)
    published = root / "warehouse" / "published.duckdb"
    return {"root": root, "raw": root / "raw", "first": types.SimpleNamespace(success=done["first_success"]),
            "second": types.SimpleNamespace(success=done["second_success"],
                                            files_parsed=done["second_files_parsed"]),
            "first_numbers": query(root / "first_run" / "warehouse" / "published.duckdb",
                                   "SELECT * FROM kpi_scorecard ORDER BY ALL"),
            "published": published, "warehouse": root / "warehouse" / "warehouse.duckdb"}


def _run_sample_twice(root: Path) -> dict:
    """sample_run's two runs, in this process on an in-memory Dagster instance; what the tests read of them."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.jobs import NIGHTLY_JOB
    from samplegen import generate_sample

    raw = root / "raw"
    generate_sample(raw)
    patch = pytest.MonkeyPatch()
    patch.setenv("TALENT_RAW_DIR", str(raw))
    patch.setenv("TALENT_WAREHOUSE_DIR", str(root / "warehouse"))
    patch.setenv("TALENT_REPORTS_DIR", str(root / "reports"))
    patch.setenv("TALENT_PII_KEY", "e2e-secret")
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            job = defs().resolve_job_def(NIGHTLY_JOB)
            first = job.execute_in_process(instance=instance, raise_on_error=False)
            # What the first run left, for tests that read one run's outputs (sample_published).
            for folder in ("warehouse", "reports"):
                shutil.copytree(root / folder, root / "first_run" / folder)
            second = job.execute_in_process(instance=instance, raise_on_error=False)
    finally:
        patch.undo()  # the environment must not stay pointed at it for later tests
    parsed = [e.event_specific_data.materialization.metadata["files_parsed"].value for e in second.all_events
              if e.event_type_value == "ASSET_MATERIALIZATION"
              and e.asset_key.to_user_string() in ("staged_reach", "staged_sessions", "staged_applications")]
    return {"first_success": first.success, "second_success": second.success, "second_files_parsed": parsed}
