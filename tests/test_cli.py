"""The console command as users call it: run's summary and exit codes, read-only query, sample generation."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

import duckdb
import pytest

from assets import staging
from assets.freshness import staleness
from conftest import landing
from test_publish import VALID, cli_env, talent


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


def test_second_run_reads_nothing_new_and_exits_0(published_run):
    env, _ = published_run
    again = talent(env, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "none new" in again.stdout


def test_query_is_read_only(published_run):
    env, _ = published_run
    ok = talent(env, "query", "SELECT kpi, result FROM kpi_scorecard WHERE period = 'all' ORDER BY kpi LIMIT 2")
    assert ok.returncode == 0 and "kpi" in ok.stdout
    write = talent(env, "query", "CREATE TABLE sneaky AS SELECT 1")
    assert write.returncode == 1 and "read-only" in write.stderr.lower()


def test_withdraw_takes_an_export_out_of_the_next_publication(tmp_path):
    raw = landing(tmp_path, VALID)
    env = cli_env(tmp_path, raw, tmp_path / "warehouse")
    assert talent(env, "run").returncode == 0
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
    staging.ensure_schema(con)
    con.execute("CREATE TABLE ref.campaign_periods AS SELECT 'c' AS campaign_id, 'p1' AS period, "
                "DATE '2021-03-01' AS start_date, DATE '2021-05-31' AS end_date")
    con.execute("INSERT INTO ingest.file_ledger (file_hash, source, path, status, loaded_at) "
                "VALUES ('h', 'reach', 'x.csv', 'loaded', ?)", [datetime(2021, 3, 10, 3, 0)])
    assert staleness(con, "reach", date(2021, 3, 12), 3)[0] is True
    fresh, facts = staleness(con, "reach", date(2021, 3, 20), 3)
    assert fresh is False and facts["days_since_delivery"] == 10
    assert staleness(con, "reach", date(2021, 7, 1), 3)[0] is True  # no active period: nothing expected
    assert staleness(con, "hiring", date(2021, 3, 12), 3)[0] is False  # never delivered during a period
