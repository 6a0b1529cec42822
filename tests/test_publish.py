"""Write, audit, publish: readers never blocked, never see half a publication, survive SIGKILL."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from assets.publish import database
from conftest import VALID, cli_env, copy_publication, landing, query, talent  # noqa: F401 (re-exported)

CHECKSUM = "SELECT (SELECT run_id FROM publication), (SELECT sum(coalesce(result, 0)) FROM kpi_scorecard), " \
           "(SELECT sum(coalesce(value, 0)) FROM funnel), (SELECT count(*) FROM hires_over_time)"

READER = """
import json, sys, time, duckdb
path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
answers, errors, reads = {}, [], 0
import os
while not os.path.exists(stop):
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            a = con.execute(sys.argv[4]).fetchall()[0]
            time.sleep(0.01)
            b = con.execute(sys.argv[4]).fetchall()[0]  # same connection, later: same snapshot
        finally:
            con.close()
        if a != b:
            errors.append(f"snapshot changed inside one connection: {a} -> {b}")
        answers.setdefault(str(a[0]), [])
        if list(a[1:]) not in answers[str(a[0])]:
            answers[str(a[0])].append(list(a[1:]))
        reads += 1
    except Exception as exc:
        errors.append(repr(exc))
json.dump({"answers": answers, "errors": errors, "reads": reads}, open(out, "w"))
"""


def start_reader(tmp_path: Path, published: Path):
    stop, out = tmp_path / "stop-reader", tmp_path / "reader.json"
    proc = subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), str(out), CHECKSUM])

    def finish() -> dict:
        stop.touch()
        proc.wait(timeout=60)
        return json.loads(out.read_text())

    return finish


def test_swap_keeps_previous_and_rollback_swaps_back(tmp_path):
    paths = database.Paths(tmp_path)
    for version in ("v1", "v2"):
        candidate = paths.candidate()
        con = duckdb.connect(str(candidate))
        con.execute(f"CREATE TABLE t AS SELECT '{version}' AS v")
        con.close()
        database.swap_in(candidate, paths)
    assert query(paths.published, "SELECT v FROM t") == [("v2",)]
    assert query(paths.previous, "SELECT v FROM t") == [("v1",)]
    database.rollback(paths)
    assert query(paths.published, "SELECT v FROM t") == [("v1",)]
    database.rollback(paths)
    assert query(paths.published, "SELECT v FROM t") == [("v2",)]


def test_open_reader_keeps_its_snapshot_across_a_publication(tmp_path):
    paths = database.Paths(tmp_path)
    for i, version in enumerate(("old", "new")):
        candidate = paths.candidate()
        con = duckdb.connect(str(candidate))
        con.execute(f"CREATE TABLE t AS SELECT '{version}' AS v")
        con.close()
        if i == 0:
            database.swap_in(candidate, paths)
            reader = duckdb.connect(str(paths.published), read_only=True)
        else:
            database.swap_in(candidate, paths)
    assert reader.execute("SELECT v FROM t").fetchall() == [("old",)]
    reader.close()
    assert query(paths.published, "SELECT v FROM t") == [("new",)]


@pytest.mark.slow
def test_a_reader_in_a_tight_loop_while_runs_publish_and_runs_are_killed(tmp_path, fixture_publication):
    """One reader loops over the published file the whole time: while two runs publish (each re-stages:
    a changed reference file) and while runs are killed (SIGKILL) at moments spread over a whole run.
    It never fails, never sees a snapshot change inside one connection, and each publication always
    answers the same; the killed runs never leave a broken file, and the next run publishes what a
    clean build publishes."""
    mine = copy_publication(fixture_publication, tmp_path / "publication")  # the first run, already made
    raw, env, published = mine.raw, mine.env, mine.published
    assert mine.result.returncode == 0, mine.result.stdout + mine.result.stderr
    fx_rates = raw / "reference" / "fx_rates.csv"
    finish = start_reader(tmp_path, published)
    kills = 0
    try:
        # The first publishing run also times the kill points: start-up, load, marts, checks, publish, on
        # this machine now, beside the reader (the fixture's run may have been made under other load).
        fx_rates.write_text(fx_rates.read_text() + "\n")
        started = time.monotonic()
        timed = talent(env, "run")
        duration = time.monotonic() - started
        assert timed.returncode == 0, timed.stdout + timed.stderr
        rng = random.Random(7)
        for fraction in [0.15, 0.35, 0.55, 0.75, 0.9, rng.uniform(0.2, 1.0)]:
            # Each round changes an input so the killed run has real work: load, marts, checks, publish.
            fx_rates.write_text(fx_rates.read_text() + "\n")
            proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(fraction * duration)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=120)
            assert query(published, "SELECT count(*) FROM kpi_scorecard")[0][0] > 0  # always a valid file
        final = talent(env, "run")  # the second publishing run, after the killed ones
        assert final.returncode == 0, final.stdout + final.stderr
    finally:
        report = finish()
    assert kills >= 3
    assert report["errors"] == []
    assert report["reads"] > 20
    assert len(report["answers"]) >= 3  # the fixture's publication and the two runs' (and any round that finished)
    for run_id, versions in report["answers"].items():
        assert len(versions) == 1, f"publication {run_id} answered inconsistently: {versions}"
    # What the killed runs left behind publishes what a clean build publishes: the fixture's run, made
    # from scratch on the same exports (the rounds only appended blank lines to fx_rates.csv).
    assert fx_rates.read_text().strip() == (fixture_publication.raw / "reference" / "fx_rates.csv").read_text().strip()
    tables = ("kpi_scorecard", "funnel", "hires_vs_target", "hires_over_time", "cost_per_outcome", "weekly_reach")
    for table in tables:
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert query(published, sql) == query(fixture_publication.published, sql), table
    assert not list((mine.root / "warehouse").glob("published.candidate-*"))


def test_published_file_opens_in_the_managers_duckdb_cli(fixture_publication):
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("duckdb CLI (duckdb-cli on PyPI) is not installed in this environment")
    assert fixture_publication.result.returncode == 0
    out = subprocess.run([cli, "-readonly", str(fixture_publication.published), "-csv", "-c",
                          "SELECT count(*) FROM kpi_scorecard; SELECT version();"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "v1.5" in out.stdout


def test_a_rollback_killed_between_its_renames_loses_no_version(tmp_path):
    paths = database.Paths(tmp_path)
    for version in ("v1", "v2"):
        con = duckdb.connect(str(paths.candidate()))
        con.execute(f"CREATE TABLE t AS SELECT '{version}' AS v")
        con.close()
        database.swap_in(paths.candidate(), paths)
    # The state rollback leaves if it dies after its first rename: v1 published, v2 under a swap name.
    os.link(paths.published, tmp_path / "published.duckdb.swap-999")
    os.replace(paths.previous, paths.published)
    assert query(paths.published, "SELECT v FROM t") == [("v1",)] and not paths.previous.exists()
    database.clean_stale_candidates(tmp_path)
    assert query(paths.previous, "SELECT v FROM t") == [("v2",)]
