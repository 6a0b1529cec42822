"""The code location as Dagster's tools load it: `dg check defs`, `dg list defs`, `dagster definitions
validate` (what `dagster dev -m pipelines.definitions` loads), offline, telemetry off, no TALENT_* set;
and the resource: every variable that is set backs its field with dg.EnvVar, unset means the default."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.wrappers import STORE, settings_of
from pipelines import settings as settings_module
from pipelines.definitions import defs
from pipelines.resources import TalentStore
from pipelines.settings import ROOT, VARIABLES, from_env

BIN = Path(sys.executable).parent


def _tool_env(tmp_path: Path) -> dict[str, str]:
    """No TALENT_* variable, a fresh HOME and DAGSTER_HOME (the repo's dagster.yaml: telemetry off),
    and a proxy that refuses every connection, so a tool that needed the network would fail."""
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    home.mkdir()
    dagster_home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", dagster_home / "dagster.yaml")
    refuse = "http://127.0.0.1:9"
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "DAGSTER_HOME": str(dagster_home),
            "VIRTUAL_ENV": str(BIN.parent), "HTTP_PROXY": refuse, "HTTPS_PROXY": refuse,
            "http_proxy": refuse, "https_proxy": refuse, "NO_COLOR": "1"}


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _no_telemetry_written(tmp_path: Path) -> list[str]:
    return [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
            if p.name in (".telemetry", "event.log")]


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dg")
    env = _tool_env(tmp)
    check = _run([str(BIN / "dg"), "check", "defs"], env)
    listing = _run([str(BIN / "dg"), "list", "defs", "--json"], env)
    validate = _run([str(BIN / "dagster"), "definitions", "validate", "-m", "pipelines.definitions"], env)
    return tmp, check, listing, validate


def test_dg_check_defs_passes_offline_without_configuration(listed):
    tmp, check, _listing, _validate = listed
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr
    assert _no_telemetry_written(tmp) == []


def test_dg_list_defs_lists_the_assets_checks_job_schedule_sensor_and_resource(listed):
    _tmp, _check, listing, _validate = listed
    assert listing.returncode == 0, listing.stdout + listing.stderr
    listed_defs = json.loads(listing.stdout)
    loaded = defs()
    assert {a["asset_key"] for a in listed_defs["assets"]} == {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert {"reference_data", "staged_reach", "staged_sessions", "staged_applications", "marts/kpi_scorecard",
            "published_database", "funnel_report"} <= {a["asset_key"] for a in listed_defs["assets"]}
    checks = {c["key"] for c in listed_defs["asset_checks"]}
    assert checks == {k.to_user_string() for k in loaded.resolve_asset_graph().asset_check_keys}
    assert {"staged_reach:source_delivered_recently", "marts/funnel:reconciles_with_staging"} <= checks
    assert [j["name"] for j in listed_defs["jobs"]] == ["nightly_refresh"]
    assert [s["name"] for s in listed_defs["schedules"]] == ["nightly_at_two_copenhagen"]
    assert [s["name"] for s in listed_defs["sensors"]] == ["new_exports"]
    assert listed_defs["resources"] == [{"name": STORE, "type": "pipelines.resources.TalentStore"}]


def test_dagster_dev_module_still_loads(listed):
    _tmp, _check, _listing, validate = listed
    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_set_variables_are_env_vars_and_unset_ones_defaults(monkeypatch, tmp_path):
    for var, _ in VARIABLES.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TALENT_WAREHOUSE_DIR", str(tmp_path / "w"))
    monkeypatch.setenv("TALENT_FRESHNESS_DAYS", "7")
    store = TalentStore.from_env_vars()
    assert store.warehouse_dir == dg.EnvVar("TALENT_WAREHOUSE_DIR")  # resolved when the run starts
    assert isinstance(store.warehouse_dir, dg.EnvVar) and isinstance(store.freshness_days, dg.EnvVar)
    assert store.raw_dir == "" and not isinstance(store.raw_dir, dg.EnvVar)

    seen = []

    @dg.asset(required_resource_keys={STORE})
    def probe(context):
        seen.append(settings_of(context))

    monkeypatch.setenv("TALENT_FRESHNESS_DAYS", "9")  # the run reads the variable, not its value at load
    assert dg.materialize([probe], resources={STORE: store}).success
    [got] = seen
    assert got == from_env()
    assert got.warehouse_dir == tmp_path / "w" and got.freshness_days == 9
    assert got.raw_dir == ROOT / "data" / "raw" and got.retention_days == 90 and got.report_png is False
    assert got.duckdb_memory_limit == "1500MB" and got.browser_path == ""


@pytest.mark.parametrize("writer", [True, False], ids=["writer_run", "other_run"])
def test_a_writer_run_holds_the_warehouse_so_its_steps_share_one_database(tmp_path, writer):
    """A run tagged as the warehouse's writer (the nightly job) opens the warehouse when it starts
    (assets/staging/warehouse.py ``hold``) and closes it when it ends: a step's connection joins that
    database, so closing it does not checkpoint (the write-ahead log stays until the run ends), and
    another process cannot take the file between two steps. Any other run opens it step by step."""
    from assets.staging.warehouse import connect
    from assets.wrappers import warehouse
    from pipelines.jobs import WRITER_TAG

    store = TalentStore(warehouse_dir=str(tmp_path / "w"))
    path = tmp_path / "w" / "warehouse.duckdb"
    connect(path).close()  # a warehouse from an earlier run
    wal = Path(f"{path}.wal")
    seen = {}

    @dg.asset(required_resource_keys={STORE})
    def writes(context):
        with warehouse(settings_of(context)) as con:
            con.execute("CREATE TABLE probe AS SELECT range AS i FROM range(10)")
        seen["wal_after_the_step"] = wal.exists()

    @dg.asset(deps=[writes], required_resource_keys={STORE})
    def reads(context):
        other = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}, read_only=True)"],
                               capture_output=True, text=True, timeout=60)
        seen["another_process_locked_out"] = other.returncode == 1 and "lock" in other.stderr.lower()
        with warehouse(settings_of(context)) as con:
            seen["rows"] = con.execute("SELECT count(*) FROM probe").fetchone()[0]

    tags = dict([WRITER_TAG]) if writer else {}
    assert dg.materialize([writes, reads], resources={STORE: store}, tags=tags).success
    assert seen == {"wal_after_the_step": writer, "another_process_locked_out": writer, "rows": 10}
    assert not wal.exists()  # checkpointed when the run let go of it
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM probe").fetchone()[0] == 10


def test_after_a_fatal_error_the_held_warehouse_is_let_go_and_opened_afresh(tmp_path):
    """DuckDB's FatalException leaves a database unusable: the held connection is closed, so that the
    next connect (a retried step) opens the file again instead of joining the broken database."""
    from assets.staging.warehouse import connect, hold, release

    path = tmp_path / "warehouse.duckdb"
    connect(path).close()
    held = hold(path)
    release(tmp_path / "other.duckdb")  # another file's error lets go of nothing
    assert held.execute("SELECT 1").fetchone() == (1,)
    release(path)  # what assets/wrappers.py does on a FatalException
    with pytest.raises(duckdb.ConnectionException):
        held.execute("SELECT 1")
    release(path)  # the run's teardown after that: nothing left to close
    fresh = connect(path)
    assert fresh.execute("SELECT 1").fetchone() == (1,)
    fresh.close()


def test_a_first_run_creates_the_warehouse_in_its_steps_and_a_busy_one_is_not_held(tmp_path):
    from assets.staging.warehouse import hold
    from pipelines.jobs import WRITER_TAG

    assert hold(tmp_path / "none" / "warehouse.duckdb") is None
    path = tmp_path / "warehouse.duckdb"
    script = (f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); "
              "sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "ready"
        with pytest.raises(duckdb.IOException, match="lock"):
            hold(path)
        store = TalentStore(warehouse_dir=str(tmp_path))

        @dg.asset(required_resource_keys={STORE})
        def nothing():
            return None

        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize([nothing], resources={STORE: store}, instance=instance, tags=dict([WRITER_TAG]))
            assert result.success
            said = [e.user_message for e in instance.all_logs(result.run_id)]
        assert any("the warehouse is in use, not held for the run" in m for m in said), said
    finally:
        other.communicate("", timeout=60)


def test_bad_values_name_their_variable(monkeypatch):
    monkeypatch.setenv("TALENT_RETENTION_DAYS", "ninety")
    with pytest.raises(ValueError, match=r"TALENT_RETENTION_DAYS='ninety': expected a whole number of days"):
        from_env()
    monkeypatch.setenv("TALENT_RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match=r"TALENT_RETENTION_DAYS='-1': expected 0 or more days"):
        from_env()


def test_the_pii_key_is_never_part_of_the_run_config(monkeypatch):
    monkeypatch.setenv("TALENT_PII_KEY", "a-secret-that-must-not-be-stored")
    store = TalentStore.from_env_vars()
    assert store.pii_key == dg.EnvVar("TALENT_PII_KEY")
    assert "a-secret-that-must-not-be-stored" not in repr(store)


def test_only_pipelines_settings_reads_the_environment():
    """Every os.environ / os.getenv read outside pipelines/settings.py is a defect; the one exception
    is GX_ANALYTICS_ENABLED, set before Great Expectations is imported (not configuration)."""
    import ast

    offenders = []
    for root in ("assets", "pipelines"):
        for path in sorted((ROOT / root).rglob("*.py")):
            if path == Path(settings_module.__file__):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                text = ast.unparse(node) if isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)) else ""
                reads = isinstance(node, ast.Attribute) and text in ("os.environ", "os.getenv")
                if reads and not _sets_gx_analytics(path, node):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def _sets_gx_analytics(path: Path, node) -> bool:
    line = path.read_text().splitlines()[node.lineno - 1]
    return "GX_ANALYTICS_ENABLED" in line



def test_the_warehouse_connection_takes_its_memory_limit_from_the_settings(monkeypatch, tmp_path):
    from assets.wrappers import warehouse

    monkeypatch.setenv("TALENT_WAREHOUSE_DIR", str(tmp_path))
    monkeypatch.setenv("TALENT_DUCKDB_MEMORY_LIMIT", "123MB")
    with warehouse(from_env()) as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    reference = duckdb.connect(config={"memory_limit": "123MB"})
    assert limit == reference.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    monkeypatch.delenv("TALENT_DUCKDB_MEMORY_LIMIT")
    with warehouse(from_env()) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] != limit
