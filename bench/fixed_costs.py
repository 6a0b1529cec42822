"""What a run costs whatever its data: each fixed cost measured on its own, medians of 3 (issue 13).

    python bench/fixed_costs.py [--repeat 3] [--out bench/results/fixed_costs.md] [--raw data/raw]

Every probe runs in a fresh interpreter (an import costs what it costs a night, not what a warm
process pays), reports the seconds of the part it measures, and is repeated; the table shows the
median and every run. Components:

- interpreter: `python -c pass`, measured from outside (start-up and teardown of a bare interpreter);
- duckdb + polars import (what a night with nothing new pays beside the listing);
- dagster import; the definitions load (pipelines.definitions and the nightly job resolved), dagster
  already imported;
- the event log / run storage: one run of a trivial one-op job against a sqlite DAGSTER_HOME (the
  project's dagster.yaml), beside the same job on an in-memory (ephemeral) instance;
- Great Expectations: its import; its context and bookkeeping (gx_runner.warm_up: ephemeral
  context, pandas datasource, batch definition), GX already imported; one validation of a 100-row
  frame with five expectations (per-call bookkeeping); the worker process (spawn, import, warm-up)
  until a first validation returns, and until it has exited after stop();
- the report: assets.report.build imported, then build_reports (HTML with plotly.js embedded, no
  PNG) on the bundled sample's publication;
- the whole bundled-sample run: `talent-pipeline run` on a clean warehouse and a fresh DAGSTER_HOME,
  with the seconds its Dagster steps add up to and the number of event-log records it wrote, beside
  the bare DuckDB script on the same folder.

Not timed: anything that depends on the data beyond the bundled sample (see run_benchmark.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

# Each probe prints one JSON object: {"seconds": measured part, ...extra facts}.
PREAMBLE = "import json, os, sys, time\nos.environ['GX_ANALYTICS_ENABLED'] = 'false'\n"
PROBES: dict[str, tuple[str, str]] = {
    "imports: duckdb + polars": ("what a skipped night imports", """
t = time.perf_counter()
import duckdb, polars
print(json.dumps({"seconds": time.perf_counter() - t}))
"""),
    "imports: dagster": ("import dagster", """
t = time.perf_counter()
import dagster
print(json.dumps({"seconds": time.perf_counter() - t}))
"""),
    "dagster: definitions load": ("pipelines.definitions imported, defs() built and the nightly job resolved (dagster already imported)", """
import dagster
t = time.perf_counter()
from pipelines.definitions import defs
from pipelines.jobs import NIGHTLY_JOB
defs().resolve_job_def(NIGHTLY_JOB)
print(json.dumps({"seconds": time.perf_counter() - t, "modules": len(sys.modules)}))
"""),
    "dagster: trivial run, sqlite instance": ("one-op job, execute_in_process on DAGSTER_HOME (sqlite event log and run storage)", """
import dagster as dg
@dg.op
def nothing():
    return 1
job = dg.GraphDefinition(name="trivial", node_defs=[nothing]).to_job(executor_def=dg.in_process_executor)
with dg.DagsterInstance.get() as instance:
    job.execute_in_process(instance=instance)  # the first run also creates the sqlite files
    t = time.perf_counter()
    result = job.execute_in_process(instance=instance)
    seconds = time.perf_counter() - t
    records = len(instance.all_logs(result.run_id))
print(json.dumps({"seconds": seconds, "event_records": records}))
"""),
    "dagster: trivial run, in-memory instance": ("the same job on DagsterInstance.ephemeral()", """
import dagster as dg
@dg.op
def nothing():
    return 1
job = dg.GraphDefinition(name="trivial", node_defs=[nothing]).to_job(executor_def=dg.in_process_executor)
with dg.DagsterInstance.ephemeral() as instance:
    job.execute_in_process(instance=instance)
    t = time.perf_counter()
    job.execute_in_process(instance=instance)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""),
    "great expectations: import": ("import great_expectations", """
t = time.perf_counter()
import great_expectations
print(json.dumps({"seconds": time.perf_counter() - t}))
"""),
    "great expectations: context": ("gx_runner.warm_up(): context, datasource, batch definition (GX already imported)", """
import great_expectations
from assets.quality import gx_runner
t = time.perf_counter()
gx_runner.warm_up()
print(json.dumps({"seconds": time.perf_counter() - t}))
"""),
    "great expectations: one small validation": ("validate_frame: 100 rows, 5 expectations (context already built)", """
import pandas as pd
from assets.quality import gx_runner
gx_runner.warm_up()
frame = pd.DataFrame({"a": range(100), "b": [str(i) for i in range(100)]})
expectations = [("ExpectColumnValuesToNotBeNull", {"column": "a"}),
                ("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": 0}),
                ("ExpectColumnValuesToNotBeNull", {"column": "b"}),
                ("ExpectColumnValuesToBeUnique", {"column": "a"}),
                ("ExpectColumnValuesToMatchRegex", {"column": "b", "regex": "^[0-9]+$"})]
gx_runner.validate_frame(frame, expectations)  # the first call compiles GX's metric providers
t = time.perf_counter()
results = gx_runner.validate_frame(frame, expectations)
assert all(r.success for r in results), results
print(json.dumps({"seconds": time.perf_counter() - t}))
"""),
    "great expectations: worker ready": ("gx_runner.start() until a first validation returns from the spawned worker", """
import pandas as pd
from assets.quality import gx_runner
t = time.perf_counter()
gx_runner.start()
results = gx_runner.run(pd.DataFrame({"a": [1, 2]}), [("ExpectColumnValuesToNotBeNull", {"column": "a"})])
seconds = time.perf_counter() - t
gx_runner.stop()
assert results[0].success, results
print(json.dumps({"seconds": seconds}))
"""),
    "great expectations: worker stop": ("gx_runner.stop() after a validation, until the worker has exited (what a finished run waits for)", """
import pandas as pd
from assets.quality import gx_runner
gx_runner.start()
results = gx_runner.run(pd.DataFrame({"a": [1, 2]}), [("ExpectColumnValuesToNotBeNull", {"column": "a"})])
assert results[0].success, results
t = time.perf_counter()
gx_runner.stop()
print(json.dumps({"seconds": time.perf_counter() - t}))
"""),
    "report: build (no PNG)": ("assets.report.build imported, then build_reports on the bundled sample's publication", """
t0 = time.perf_counter()
from pathlib import Path
from assets.report.build import build_reports
imported = time.perf_counter() - t0
t = time.perf_counter()
build_reports(Path(sys.argv[1]), Path(sys.argv[2]), png=False)
print(json.dumps({"seconds": time.perf_counter() - t, "import_s": imported}))
"""),
}


def probe(code: str, env: dict, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PREAMBLE + code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"probe failed:\n{code}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - started, done


def bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_home(folder: Path) -> Path:
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


def full_run(raw: Path, work: Path) -> dict:
    """`talent-pipeline run` on a clean warehouse and instance: wall, in-run and step seconds, records."""
    shutil.rmtree(work, ignore_errors=True)
    env = dict(os.environ, TALENT_RAW_DIR=str(raw), TALENT_WAREHOUSE_DIR=str(work / "warehouse"),
               TALENT_REPORTS_DIR=str(work / "reports"), TALENT_PII_KEY="fixed-costs-bench",
               DAGSTER_HOME=str(fresh_home(work)))
    seconds, done = timed([sys.executable, "-m", "pipelines.cli", "run"], env)
    if done.returncode != 0:
        raise SystemExit(f"talent-pipeline run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    bench = bench_module("run_benchmark")
    log = work / "run.log"
    log.write_text(done.stdout)
    info = bench.run_info(log)
    steps = bench.step_seconds(Path(env["DAGSTER_HOME"]), info["run_id"])
    import dagster as dg

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        records = len(instance.all_logs(info["run_id"]))
    return {"seconds": seconds, "in_run_s": info["in_run_s"], "steps_s": round(sum(steps.values()), 3),
            "steps": len(steps), "event_records": records, "published": str(work / "warehouse" / "published.duckdb")}


def median_of(runs: list[dict]) -> dict:
    out = {"seconds": statistics.median(r["seconds"] for r in runs), "runs": [round(r["seconds"], 3) for r in runs]}
    for key in runs[0]:
        if key not in ("seconds", "published") and isinstance(runs[0][key], (int, float)):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def measure_all(raw: Path, repeat: int, work: Path) -> dict:
    env = dict(os.environ, GX_ANALYTICS_ENABLED="false", DAGSTER_HOME=str(fresh_home(work / "probe")))
    results: dict[str, dict] = {}
    results["interpreter: start + exit"] = median_of(
        [{"seconds": timed([sys.executable, "-c", "pass"], env)[0]} for _ in range(repeat)])
    results["interpreter: start + exit"]["what"] = "python -c pass, from outside"

    runs = [full_run(raw, work / f"full{i}") for i in range(repeat)]
    published = runs[0]["published"]
    whole = median_of(runs)
    whole["what"] = "talent-pipeline run, clean warehouse and DAGSTER_HOME, bundled sample (wall, from outside)"
    for name, (what, code) in PROBES.items():
        args = (published, str(work / "report_out")) if name.startswith("report") else ()
        results[name] = median_of([probe(code, env, *args) for _ in range(repeat)])
        results[name]["what"] = what
    results["whole run: talent-pipeline run"] = whole
    duck = []
    for i in range(repeat):
        seconds, done = timed([sys.executable, str(BENCH / "baseline_duckdb.py"), str(raw),
                               "--out", str(work / f"duckdb{i}.json")], env)
        if done.returncode != 0:
            raise SystemExit(f"baseline_duckdb.py failed:\n{done.stderr[-3000:]}")
        duck.append({"seconds": seconds})
    results["bare DuckDB script"] = median_of(duck)
    results["bare DuckDB script"]["what"] = "bench/baseline_duckdb.py on the same folder (wall, from outside)"
    return results


def markdown(results: dict, repeat: int, load: tuple[float, float, float], note: str) -> str:
    lines = [
        "# Fixed costs per component (bench/fixed_costs.py)",
        "",
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; median of {repeat} run(s), each in a fresh "
        f"interpreter; load average at the start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min; "
        "the machine is shared, so compare rows measured together).",
    ]
    if note:
        lines += ["", note]
    lines += ["", "| component | median s | runs (s) | also | what is timed |", "| --- | ---: | --- | --- | --- |"]
    for name, r in results.items():
        extra = ", ".join(f"{k} {round(v, 3) if isinstance(v, float) else v}" for k, v in r.items()
                          if k not in ("seconds", "runs", "what"))
        lines.append(f"| {name} | {r['seconds']:.3f} | {', '.join(map(str, r['runs']))} | {extra} | {r['what']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--raw", type=Path, default=ROOT / "data" / "raw", help="the bundled sample")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "fixed_costs.md")
    parser.add_argument("--note", default="", help="a line for the report (what was changed, what else ran)")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fixed-costs-") as tmp:
        results = measure_all(args.raw.resolve(), args.repeat, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(results, args.repeat, load, args.note))
    args.out.with_suffix(".json").write_text(json.dumps({"load_average": load, "results": results}, indent=1))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
