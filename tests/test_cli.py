"""The console command as users call it: run's summary and exit codes, read-only query, sample generation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from assets.marts.tables import MART_TABLES
from assets.staging import warehouse
from assets.quality.freshness import staleness
from conftest import FIXTURES, VALID, cli_env, copy_publication, landing, talent


@pytest.fixture(scope="module")
def published_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    raw = landing(tmp, {**VALID, "reach": VALID["reach"] + ["unknown_layout.csv"]})
    env = cli_env(tmp, raw, tmp / "warehouse")
    return env, talent(env, "run")


def test_run_publishes_and_exits_2_when_an_export_was_rejected(published_run):
    _env, result = published_run
    assert result.returncode == 2, result.stdout + result.stderr
    assert "REJECTED unknown_layout.csv, line 1: unknown layout" in result.stdout
    assert "published " in result.stdout and "international_hires" in result.stdout
    assert "reach     3 loaded, 1 rejected" in result.stdout


def test_second_run_reads_nothing_new_and_exits_0_and_a_forced_one_runs_with_what_it_loaded_frozen(published_run):
    """`run --full` runs anyway. Its job executes with Dagster, the definitions and the instance
    frozen (assets/lifetime.py: the collector does not walk them again during the run) and the
    collector's usual thresholds for what the run makes."""
    env, _ = published_run
    again = talent(env, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("not running: nothing new since run "), again.stdout
    assert "succeeded" not in again.stdout  # no Dagster run was made
    probe = ("import gc, sys, dagster as dg\nseen, usual = [], gc.get_threshold()\n"
             "execute = dg.JobDefinition.execute_in_process\n"
             "def watched(job, *args, **kwargs):\n"
             "    seen.append((gc.get_freeze_count() > 100_000, gc.get_threshold() == usual))\n"
             "    return execute(job, *args, **kwargs)\n"
             "dg.JobDefinition.execute_in_process = watched\n"
             "from pipelines.cli import main\ncode = main(['run', '--full'])\nprint(code, seen)\n")
    last, output = _run_in_probe(env, probe, timeout=300)  # a whole run, beside the other test worker
    assert last == "0 [(True, True)]", output
    assert "succeeded" in output and "none new" in output
    # Forced, it validates every mart in full: no suite verdict is carried from the run before.
    suites = _mart_suites(env, _run_id(output))
    assert len(suites) == len(MART_TABLES), suites
    assert all(len(e) > 1 and "identical_content" not in e for e in suites.values()), suites


def _run_id(output: str) -> str:
    return next(line.split()[1] for line in output.splitlines() if line.startswith("run ") and " in " in line)


def _mart_suites(env, run_id: str) -> dict[str, list[str]]:
    """The expectations each mart's suite recorded in audit.check_results for run ``run_id``."""
    con = duckdb.connect(str(Path(env["TALENT_WAREHOUSE_DIR"]) / "warehouse.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT table_name, list(expectation) FROM audit.check_results WHERE run_id = ? "
                                "AND check_name = 'expectation_suite' AND table_name LIKE 'marts.%' GROUP BY ALL",
                                [run_id]).fetchall())
    finally:
        con.close()


def _run_in_probe(env, probe: str, timeout: int = 60) -> tuple[str, str]:
    """``probe`` (Python that runs `run` and prints) in a fresh interpreter: its last line, and all it wrote."""
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=timeout)
    return (out.stdout.splitlines() or [""])[-1], out.stdout + out.stderr


def test_a_night_with_nothing_new_imports_neither_dagster_nor_great_expectations(published_run):
    """Nor a parser: the staging rules' version it compares comes from a module that imports none."""
    env, _ = published_run
    probe = ("import sys; from pipelines.cli import main; code = main(['run']); "
             "print(code, 'dagster' in sys.modules, 'great_expectations' in sys.modules, "
             "'assets.staging.parsers' in sys.modules)")
    last, output = _run_in_probe(env, probe)
    assert last == "0 False False False", output


def test_a_night_with_nothing_new_does_not_wait_for_the_worker_it_started(published_run):
    """The GX worker is started before the skip check; a skipped night tells it to leave mid-import."""
    env, _ = published_run
    probe = ("from assets.quality import gx_runner\ncalls, stop = [], gx_runner.stop\n"
             "gx_runner.stop = lambda finish=True: (calls.append(finish), stop(finish))\n"
             "from pipelines.cli import main\ncode = main(['run'])\nprint(code, calls, gx_runner._POOL is None)\n")
    last, output = _run_in_probe(env, probe)
    assert last == "0 [False] True", output


def test_the_schedule_skips_with_its_reason_and_runs_when_a_file_changes(published_run, monkeypatch):
    import os

    import dagster as dg

    from pipelines.schedules import nightly_schedule

    env, _ = published_run
    for var in ("TALENT_RAW_DIR", "TALENT_WAREHOUSE_DIR", "TALENT_REPORTS_DIR", "TALENT_PII_KEY"):
        monkeypatch.setenv(var, env[var])

    def tick():
        return nightly_schedule.evaluate_tick(dg.build_schedule_context(
            scheduled_execution_time=datetime(2026, 7, 1, 0, 0)))

    skipped = tick()
    assert not skipped.run_requests and skipped.skip_message.startswith("nothing new since run ")
    monkeypatch.setenv("TALENT_PII_KEY", "another-key")  # re-keys every candidate: must run
    assert len(tick().run_requests) == 1
    monkeypatch.setenv("TALENT_PII_KEY", env["TALENT_PII_KEY"])
    export = Path(env["TALENT_RAW_DIR"]) / "hiring" / "ats_applications.csv"
    stat = export.stat()
    os.utime(export, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # re-delivered, same bytes
    try:
        ran = tick()
        assert len(ran.run_requests) == 1 and ran.skip_message is None
        assert "landing file" in ran.run_requests[0].tags["talent/why"]
    finally:
        os.utime(export, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tick().skip_message  # back as published: skipped again


def test_a_new_export_runs_and_publishes_it(published_run):
    env, _ = published_run
    shutil.copy(FIXTURES / "reach" / "meta_dot_thousands.csv",
                Path(env["TALENT_RAW_DIR"]) / "reach" / "meta_dot_thousands.csv")
    ran = talent(env, "run")
    assert "succeeded" in ran.stdout and "reach     1 loaded" in ran.stdout, ran.stdout + ran.stderr
    # A reach export changes the reach marts, validated in full; the hiring and reference marts are the rows
    # an earlier run's suites passed, and carry that verdict, naming the run (assets/quality/audit.py).
    suites = _mart_suites(env, _run_id(ran.stdout))
    assert len(suites) == len(MART_TABLES) and "identical_content" not in suites["marts.funnel"], suites
    for table in ("marts.campaigns", "marts.hire_register", "marts.hires_vs_target", "marts.time_to_hire"):
        assert suites[table] == ["identical_content"], (table, suites)
    con = duckdb.connect(str(Path(env["TALENT_WAREHOUSE_DIR"]) / "warehouse.duckdb"), read_only=True)
    earlier = con.execute("SELECT regexp_extract(message, 'in run (\\S+) at', 1) FROM audit.check_results "
                          "WHERE table_name = 'marts.hire_register' AND expectation = 'identical_content'").fetchall()
    con.close()
    assert len(suites_of_earlier := _mart_suites(env, earlier[0][0])["marts.hire_register"]) > 1, suites_of_earlier
    assert talent(env, "run").stdout.startswith("not running: ")


def test_query_is_read_only(published_run):
    env, _ = published_run
    ok = talent(env, "query", "SELECT kpi, result FROM kpi_scorecard WHERE period = 'all' ORDER BY kpi LIMIT 2")
    assert ok.returncode == 0 and "kpi" in ok.stdout
    write = talent(env, "query", "CREATE TABLE sneaky AS SELECT 1")
    assert write.returncode == 1 and "read-only" in write.stderr.lower()


def test_withdraw_takes_an_export_out_of_the_next_publication(tmp_path, fixture_publication):
    env = copy_publication(fixture_publication, tmp_path).env  # one run over VALID, already made
    assert fixture_publication.result.returncode == 0
    total = "SELECT sum(result) FROM kpi_scorecard WHERE kpi = 'impressions' AND period = 'all'"
    before = _published(tmp_path, total)
    con = duckdb.connect(str(tmp_path / "warehouse" / "warehouse.duckdb"), read_only=True)
    meta = con.execute("SELECT sum(impressions) FROM staging.reach WHERE source_file = 'meta_decimal_comma.csv' "
                       "AND campaign_id IS NOT NULL AND period IS NOT NULL").fetchone()[0]
    con.close()
    assert meta > 0

    done = talent(env, "withdraw", "meta_decimal_comma.csv", "--reason", "exported from the wrong ad account")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "withdrew" in done.stdout and "staged" in done.stdout
    assert _published(tmp_path, total) == before  # managers see the old numbers until the next run
    again = talent(env, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _published(tmp_path, total) == before - meta
    unknown = talent(env, "withdraw", "nothing_like_it.csv", "--reason", "typo")
    assert unknown.returncode == 1 and "no export with this content or name" in unknown.stderr


def _published(tmp_path, sql):
    con = duckdb.connect(str(tmp_path / "warehouse" / "published.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_generate_sample_writes_every_landing_folder(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "generate-sample", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for folder in ("reach", "visitors", "hiring", "reference"):
        assert any((tmp_path / folder).iterdir())


def test_freshness_warns_only_during_an_active_period():
    con = duckdb.connect()
    warehouse.ensure_schema(con)
    con.execute("CREATE TABLE ref.campaign_periods AS SELECT 'c' AS campaign_id, 'p1' AS period, "
                "DATE '2021-03-01' AS start_date, DATE '2021-05-31' AS end_date")
    con.execute("INSERT INTO ingest.file_ledger (file_hash, source, path, status, loaded_at) "
                "VALUES ('h', 'reach', 'x.csv', 'loaded', ?)", [datetime(2021, 3, 10, 3, 0)])
    assert staleness(con, "reach", date(2021, 3, 12), 3)[0] is True
    fresh, facts = staleness(con, "reach", date(2021, 3, 20), 3)
    assert fresh is False and facts["days_since_delivery"] == 10
    assert staleness(con, "reach", date(2021, 7, 1), 3)[0] is True  # no active period: nothing expected
    assert staleness(con, "hiring", date(2021, 3, 12), 3)[0] is False  # never delivered during a period
