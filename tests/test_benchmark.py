"""The benchmark works end to end at a tiny scale, and the pipeline and both baselines agree.

Not a timed test: bench/run_benchmark.py is run with 20,000 sessions and one repetition; what is
checked is that every measurement happens and that the three computations of kpi_scorecard (and
the incremental night against a from-scratch computation) give the same numbers.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_benchmark_runs_and_the_three_agree(tmp_path):
    curve = tmp_path / "results" / "tiny.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "run_benchmark.py"), "--curve", "20000", "--repeat", "1",
         "--out", str(curve), "--workdir", str(tmp_path / "work"), "--skip", "gx_import"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, f"benchmark failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    out = tmp_path / "results" / "tiny_20000.json"  # the curve's one point
    report = json.loads(out.read_text())
    points = json.loads(curve.read_text())["points"]
    assert [p["sessions"] for p in points] == [20000] and points[0]["agreement"] is True
    assert "| 20,000 |" in curve.with_suffix(".md").read_text()
    # A night with nothing new is measured, and it skipped (the benchmark fails otherwise).
    assert report["medians"]["noop"]["wall_s"] < report["medians"]["full"]["wall_s"]
    assert report["agreement"]["ok"], report["agreement"]["problems"]
    assert set(report["agreement"]["compared"]) == {"pipeline_full", "duckdb", "pandas", "pipeline_incremental",
                                                    "duckdb_with_extra_day"}
    for kind in ("full", "incremental", "duckdb", "pandas"):
        assert report["medians"][kind]["wall_s"] > 0 and report["medians"][kind]["max_rss_mib"] > 0
        assert report["medians"][kind]["tree_rss_mib"] > 0
    assert {"full_vs_duckdb_time", "full_vs_pandas_time", "incremental_vs_full_time"} <= set(report["ratios"])
    assert report["machine"]["cpu_count"] and report["machine"]["duckdb"]
    rows = {(c, k, p): r for c, k, p, r in report["kpi_scorecard"]}
    kpis = {k for c, k, p in rows if c == "microbiome_signature" and p == "all" and rows[(c, k, p)]}
    assert kpis == {"impressions", "clicks", "unique_visitors", "applications", "international_hires",
                    "organisations_involved", "organisations_established"}  # every KPI was computed, not empty
    assert "| bare DuckDB script |" in out.with_suffix(".md").read_text()


def test_a_disagreement_is_reported_with_its_scope():
    compare = _module("run_benchmark").compare
    same = [["c1", "impressions", "all", 10], ["c1", "unique_visitors", "p1", None]]
    assert compare({"pipeline": same, "duckdb": [list(r) for r in same]}) == []
    problems = compare({
        "pipeline": same,
        "duckdb": [["c1", "impressions", "all", 11], ["c1", "unique_visitors", "p1", 0]],
        "pandas": [["c1", "impressions", "all", 10]],
    })
    assert problems == [
        "c1 x impressions x all: pipeline=10, duckdb=11, pandas=10",
        "c1 x unique_visitors x p1: pipeline=None, duckdb=0, pandas=(no row)",
    ]


def test_memory_is_measured_over_the_whole_process_tree(tmp_path):
    """A worker process beside the main one counts: the tree's peak is the sum, not the largest process."""
    holder = "import time; b = bytearray(200_000_000); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
    parent = f"import subprocess, sys; big = bytearray(100_000_000); big[::4096] = b'y' * len(big[::4096]); " \
             f"subprocess.run([sys.executable, '-c', {holder!r}])"
    out = tmp_path / "m.json"
    subprocess.run([sys.executable, str(BENCH / "measure.py"), str(out), "--", sys.executable, "-c", parent],
                   check=True, timeout=60)
    measured = json.loads(out.read_text())
    assert measured["returncode"] == 0
    assert measured["max_rss_mib"] >= 190  # the larger process alone
    assert measured["tree_rss_mib"] >= measured["max_rss_mib"] + 90  # both at once
