"""Benchmark at scale: the pipeline side by side with a bare DuckDB script and a pandas script.

    python bench/run_benchmark.py --sessions 10000000 --repeat 3 --out bench/results/10m.json
    python bench/run_benchmark.py --raw data/raw --repeat 3 --out bench/results/sample.json

In one invocation:

1. generates the sample exports once into a work folder (``--sessions``/``--scale``, seeded), or
   uses an existing landing folder (``--raw``), which is never modified;
2. measures, ``--repeat`` times, each in its own subprocess under a fresh bench/measure.py waiter
   (wall time, CPU time, the peak RSS of the whole process tree sampled from /proc, and the largest
   process's peak RSS from ``getrusage(RUSAGE_CHILDREN).ru_maxrss``):
   - ``full``: ``talent-pipeline run``, a full rebuild (fresh TALENT_WAREHOUSE_DIR, a DAGSTER_HOME
     with the repository's dagster.yaml, TALENT_PII_KEY set);
   - ``incremental``: after that full run, one new night of exports (``write_extra_day``: one
     LinkedIn file and that day's sessions, an average day's worth) lands, and the pipeline runs
     again; only this second run is measured (``--kept-publications N``: with N earlier nights'
     publications kept beside the full run's, as after N nights of use);
   - ``duckdb``: bench/baseline_duckdb.py + baseline_duckdb.sql on the same raw files;
   - ``pandas``: bench/baseline_pandas.py on the same raw files;
3. checks that the three agree on every kpi_scorecard result (campaign x KPI x period), and that
   the incremental run agrees with the DuckDB baseline on the data including the new day; prints
   the differences and exits 1 if anything disagrees;
4. prints and writes (``--out`` JSON and a markdown table next to it) the medians, the ratios
   pipeline/DuckDB and pipeline/pandas (time and memory), incremental/full, the pipeline's time per
   step (Great Expectations checks apart) and a description of the machine.

Each repetition gets its own hard-linked copy of the raw files (the incremental night adds files
to it), warehouse, reports folder and Dagster instance under the work folder, which is removed at
the end unless ``--keep`` or ``--workdir`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PII_KEY = "benchmark-only-pii-key"
PERIOD_DAYS = 274  # days in the sample's three talent-campaign periods: an average day's sessions
MIB_PER_GB = 1000**3 / 1024**2
TARGETS = {
    "full_vs_duckdb_time": 2.0,  # pipeline <= 2x the bare DuckDB script
    "peak_memory_mib": 3 * MIB_PER_GB,  # <= 3 GB (decimal) peak RSS
    "incremental_vs_full_time": 0.15,  # an incremental night <= 15% of a full rebuild
    "sample_full_wall_s": 8.0,  # the bundled sample: the whole run <= 8 s wall (issue 13)
}
KINDS = ("full", "incremental", "noop", "duckdb", "pandas")


# --- running things ------------------------------------------------------------------------------


def cli(*args: str) -> list[str]:
    """The ``talent-pipeline`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "talent-pipeline"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "pipelines.cli", *args]


def measure(command: list[str], log: Path, env: dict[str, str] | None = None) -> dict:
    """Runs ``command`` under a fresh waiter; its output goes to ``log``."""
    result = log.with_suffix(".measure.json")
    with log.open("w") as out:
        subprocess.run([sys.executable, str(BENCH / "measure.py"), str(result), "--", *command],
                       stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, check=True)
    measured = json.loads(result.read_text())
    measured["log"] = str(log)
    if measured["returncode"] != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{' '.join(command)} exited with {measured['returncode']}; last lines of {log}:\n{tail}")
    return measured


def link_tree(source: Path, target: Path) -> None:
    """A copy of a landing folder made of hard links (falls back to copying across file systems)."""
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copy2(path, dest)


def pipeline_env(rep_dir: Path, raw: Path) -> dict[str, str]:
    home = rep_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = dict(os.environ)
    env.update({
        "TALENT_RAW_DIR": str(raw),
        "TALENT_WAREHOUSE_DIR": str(rep_dir / "warehouse"),
        "TALENT_REPORTS_DIR": str(rep_dir / "reports"),
        "TALENT_PII_KEY": PII_KEY,
        "DAGSTER_HOME": str(home),
    })
    return env


def published_kpis(warehouse_dir: Path) -> list[list]:
    import duckdb

    con = duckdb.connect(str(warehouse_dir / "published.duckdb"), read_only=True)
    try:
        return [list(r) for r in con.execute(
            "SELECT campaign_id, kpi, period, result FROM kpi_scorecard ORDER BY campaign_id, kpi, period"
        ).fetchall()]
    finally:
        con.close()


def run_info(log: Path) -> dict:
    """Run id and the time the CLI reports for the run itself (without interpreter start-up)."""
    text = log.read_text(errors="replace")
    match = re.search(r"^run (\S+) (succeeded|FAILED) in ([0-9.]+) s", text, re.MULTILINE)
    if not match:
        return {}
    return {"run_id": match.group(1), "status": match.group(2), "in_run_s": float(match.group(3))}


def keep_earlier_nights(warehouse_dir: Path, nights: int) -> None:
    """``nights`` publications before the full run's, one a day, kept as the pipeline keeps them
    (assets/publish/history.py ``keep``): copies of it whose publication row says when and by which run."""
    if nights <= 0:
        return
    import duckdb

    from assets.publish import history
    from assets.publish.database import Paths

    paths = Paths(warehouse_dir)
    kept = history.list_files(paths)
    if len(kept) != 1:
        raise SystemExit(f"--kept-publications: expected the full run's one publication in {warehouse_dir}, "
                         f"found {len(kept)}")
    current = kept[0]
    for night in range(1, nights + 1):
        at = current.published_at - timedelta(days=night)
        copy = warehouse_dir / f"earlier-{night}.duckdb"
        shutil.copyfile(current.path, copy)
        os.chmod(copy, 0o644)
        with duckdb.connect(str(copy)) as con:
            con.execute("UPDATE publication SET published_at = ?, run_id = ?", [at, f"earlier-night-{night}"])
        history.keep(copy, paths, at)
        copy.unlink()


def step_seconds(dagster_home: Path, run_id: str) -> dict[str, float]:
    """Seconds per step of one run, from the instance's event log (check steps included)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started[event.step_key] = entry.timestamp
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                seconds[event.step_key] = round(entry.timestamp - started.get(event.step_key, entry.timestamp), 3)
    return seconds


def is_check_step(step: str) -> bool:
    return step.endswith(("_expectation_suite", "_reconciles_with_staging", "quality_gate")) or "_check" in step


# --- comparing ----------------------------------------------------------------------------------


def compare(results: dict[str, list[list]]) -> list[str]:
    """Differences between named kpi_scorecard result sets (campaign, kpi, period, result); [] = agree."""
    names = list(results)
    keyed = {n: {tuple(r[:3]): r[3] for r in rows} for n, rows in results.items()}
    problems = []
    for n in names:
        if len(keyed[n]) != len(results[n]):
            problems.append(f"{n}: duplicate campaign x kpi x period rows")
    keys = sorted(set().union(*(set(k) for k in keyed.values())), key=lambda k: tuple(map(str, k)))
    missing = object()
    for key in keys:
        values = {n: keyed[n].get(key, missing) for n in names}
        if len({repr(v) for v in values.values()}) > 1:
            shown = ", ".join(f"{n}={'(no row)' if v is missing else v}" for n, v in values.items())
            problems.append(f"{' x '.join(map(str, key))}: {shown}")
    return problems


# --- describing ---------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_total_gib": round(memory_kib / 1024**2, 1),
        "platform": platform.platform(),
        # Other work on the machine skews timings: the load when the benchmark started.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        **{name: version(name) for name in ("duckdb", "polars", "dagster", "pandas", "great_expectations", "pyarrow")},
    }


def summarise(runs: list[dict]) -> dict:
    return {
        "runs": len(runs),
        "wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
        "cpu_s": round(statistics.median(r["user_s"] + r["sys_s"] for r in runs), 2),
        "max_rss_mib": round(statistics.median(r["max_rss_mib"] for r in runs), 1),
        "tree_rss_mib": round(statistics.median(r.get("tree_rss_mib", r["max_rss_mib"]) for r in runs), 1),
        "wall_s_all": [r["wall_s"] for r in runs],
        "max_rss_mib_all": [r["max_rss_mib"] for r in runs],
        "tree_rss_mib_all": [r.get("tree_rss_mib") for r in runs],
        **({"in_run_s": round(statistics.median(r["in_run_s"] for r in runs), 2)}
           if runs and all("in_run_s" in r for r in runs) else {}),
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def markdown(report: dict) -> str:
    m, med, rat = report["machine"], report["medians"], report["ratios"]
    lines = [
        f"# Benchmark: {report['data']['description']}",
        "",
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), {m['memory_total_gib']} GiB RAM; Python {m['python']}, "
        f"duckdb {m['duckdb']}, polars {m['polars']}, dagster {m['dagster']}, pandas {m['pandas']}, "
        f"great_expectations {m['great_expectations']}. Median of {report['repeat']} run(s); "
        "peak memory = RSS of the whole process tree, sampled every 50 ms (the pipeline's Great Expectations "
        "worker included); largest process = max RSS from getrusage in a fresh waiter per run.",
        "",
        "| measured | wall s | CPU s | peak RSS MiB (tree) | largest process MiB | runs (wall s) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    labels = {"full": "pipeline, full rebuild (`talent-pipeline run`)",
              "incremental": "pipeline, incremental night (one new day)",
              "noop": "pipeline, night with nothing new (skipped)",
              "duckdb": "bare DuckDB script", "pandas": "pandas script"}
    for kind in KINDS:
        if kind in med:
            s = med[kind]
            lines.append(f"| {labels[kind]} | {s['wall_s']} | {s['cpu_s']} | {s['tree_rss_mib']} | "
                         f"{s['max_rss_mib']} | {', '.join(map(str, s['wall_s_all']))} |")
    lines += ["", "| ratio | value | target | met |", "| --- | ---: | ---: | --- |"]
    for name, value in rat.items():
        target = report["targets"].get(name)
        lines.append(f"| {name} | {value} | {target['target'] if target else ''} | "
                     f"{'' if not target else ('yes' if target['met'] else '**no**')} |")
    for name, target in report["targets"].items():
        if name not in rat:
            lines.append(f"| {name} | {target['value']} | {target['target']} | {'yes' if target['met'] else '**no**'} |")
    steps = report.get("pipeline_steps", {})
    if steps:
        lines += ["", "Pipeline time by step (median over full runs, seconds; checks = Great Expectations gate):", "",
                  "| step | full s | incremental s |", "| --- | ---: | ---: |"]
        for step, full_s in sorted(steps["full"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {step} | {full_s} | {steps['incremental'].get(step, '')} |")
    lines += ["", f"KPI agreement: {'all agree' if report['agreement']['ok'] else 'DISAGREE'} "
              f"({report['agreement']['compared_rows']} kpi_scorecard rows compared)."]
    for problem in report["agreement"]["problems"][:50]:
        lines.append(f"- {problem}")
    return "\n".join(lines) + "\n"


# --- main ---------------------------------------------------------------------------------------


def size_name(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else str(n)


def curve_markdown(reports: list[dict]) -> str:
    """One row per data size: how a full run, a new day and a night with nothing new grow with history."""
    lines = ["# Benchmark scale curve", "",
             f"Machine load average (1, 5, 15 min) at each start: "
             + "; ".join(f"{r['data']['sessions']:,}: {r['machine']['load_average_1_5_15']}" for r in reports), "",
             "| sessions | full s | one new day s | nothing new s | bare DuckDB s | full / DuckDB | new day / full "
             "| peak RSS MiB (tree) | agree |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in reports:
        med, rat = r["medians"], r["ratios"]

        def wall(kind: str) -> str:
            return str(med[kind]["wall_s"]) if kind in med else ""

        peak = max(med[k]["tree_rss_mib"] for k in ("full", "incremental") if k in med) if med else ""
        lines.append(f"| {r['data']['sessions']:,} | {wall('full')} | {wall('incremental')} | {wall('noop')} | "
                     f"{wall('duckdb')} | {rat.get('full_vs_duckdb_time', '')} | "
                     f"{rat.get('incremental_vs_full_time', '')} | {peak} | "
                     f"{'yes' if r['agreement']['ok'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curve", type=lambda text: [int(float(n)) for n in text.split(",")], default=None,
                        help="sessions per point of a scale curve, e.g. 1e6,1e7,3e7: one benchmark per size "
                        "(OUT_<size>.json|md) and the curve in OUT.json|md")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--sessions", type=int, help="generate this many visitor sessions")
    source.add_argument("--scale", type=int, help="generate the sample with visitor sessions x N")
    source.add_argument("--raw", type=Path, help="use this landing folder instead of generating (never modified)")
    parser.add_argument("--seed", type=int, default=20190101)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True, help="results JSON (a .md table is written next to it)")
    parser.add_argument("--extra-day", type=date.fromisoformat, default=date(2021, 10, 15),
                        help="day of the incremental night's exports (default inside period_3)")
    parser.add_argument("--extra-sessions", type=int, default=None,
                        help="sessions of the new day (default: an average period day of the data)")
    parser.add_argument("--kept-publications", type=int, default=0, metavar="N",
                        help="before the incremental night, N earlier nights' publications are kept (copies of "
                        "the full run's, one a day before it), as after N nights of use: retention reads them")
    parser.add_argument("--workdir", type=Path, default=None, help="work folder (kept); default a temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the temp work folder")
    parser.add_argument("--skip", choices=(*KINDS, "gx_import"), action="append", default=[],
                        help="do not measure this (repeatable)")
    args = parser.parse_args(argv)
    if args.curve:
        if args.raw:
            parser.error("--curve generates its data: not with --raw")
        code, reports = 0, []
        for n in args.curve:
            point = argparse.Namespace(**{**vars(args), "curve": None, "sessions": n, "scale": None,
                                          "out": args.out.with_name(f"{args.out.stem}_{size_name(n)}.json"),
                                          "workdir": args.workdir and args.workdir / f"{n}"})
            print(f"=== scale curve: {n:,} sessions ===", flush=True)
            code |= run(point)
            reports.append(json.loads(point.out.read_text()))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"points": [{"sessions": r["data"]["sessions"], "medians": r["medians"],
                                                     "ratios": r["ratios"], "machine": r["machine"],
                                                     "agreement": r["agreement"]["ok"]} for r in reports]},
                                       indent=1, default=str) + "\n")
        table = curve_markdown(reports)
        args.out.with_suffix(".md").write_text(table)
        print(table)
        return code
    return run(args)


def run(args: argparse.Namespace) -> int:
    from samplegen import BASE_SESSIONS, write_extra_day

    work = args.workdir or Path(tempfile.mkdtemp(prefix="talent_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    report: dict = {"machine": machine(), "repeat": args.repeat, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        if args.raw:
            raw = args.raw.resolve()
            sessions = None
            data = {"raw": str(raw), "description": f"landing folder {args.raw}"}
        else:
            raw = work / "raw"
            if raw.exists():
                shutil.rmtree(raw)
            sessions = args.sessions if args.sessions is not None else BASE_SESSIONS * (args.scale or 1)
            generated = measure(cli("generate-sample", "--out", str(raw), "--seed", str(args.seed),
                                    "--sessions", str(sessions)), logs / "generate.log")
            data = {"raw": str(raw), "sessions": sessions, "seed": args.seed, "generate": generated,
                    "description": f"{sessions:,} generated visitor sessions (seed {args.seed})"}
        extra_sessions = args.extra_sessions or max(1, round((sessions or BASE_SESSIONS) / PERIOD_DAYS))
        data.update({"extra_day": args.extra_day.isoformat(), "extra_day_sessions": extra_sessions,
                     "kept_publications_before_the_new_day": args.kept_publications,
                     "bytes": sum(p.stat().st_size for p in raw.rglob("*") if p.is_file())})
        report["data"] = data
        print(f"benchmark data: {data['description']} in {raw} ({data['bytes'] / 1e6:.0f} MB); work folder {work}")

        runs: dict[str, list[dict]] = {k: [] for k in KINDS}
        kpis: dict[str, list[list]] = {}
        steps: dict[str, list[dict]] = {"full": [], "incremental": []}
        incremental_raw = None
        for rep in range(args.repeat):
            rep_dir = work / f"rep{rep}"
            if rep_dir.exists():
                shutil.rmtree(rep_dir)
            rep_raw = rep_dir / "raw"
            link_tree(raw, rep_raw)
            env = pipeline_env(rep_dir, rep_raw)
            if "full" not in args.skip or "incremental" not in args.skip:
                m = measure(cli("run"), logs / f"full_{rep}.log", env)
                m.update(run_info(Path(m["log"])))
                runs["full"].append(m)
                kpis.setdefault("pipeline_full", published_kpis(rep_dir / "warehouse"))
                if rep > 0 and published_kpis(rep_dir / "warehouse") != kpis["pipeline_full"]:
                    kpis[f"pipeline_full_rep{rep}"] = published_kpis(rep_dir / "warehouse")
                if m.get("run_id"):
                    steps["full"].append(step_seconds(rep_dir / "dagster_home", m["run_id"]))
                print(f"  [{rep}] full rebuild: {m['wall_s']:.1f} s wall, {m['tree_rss_mib']:.0f} MiB")
                if "incremental" not in args.skip:
                    write_extra_day(rep_raw, args.extra_day, seed=args.seed, sessions=extra_sessions)
                    keep_earlier_nights(rep_dir / "warehouse", args.kept_publications)
                    m = measure(cli("run"), logs / f"incremental_{rep}.log", env)
                    m.update(run_info(Path(m["log"])))
                    runs["incremental"].append(m)
                    kpis.setdefault("pipeline_incremental", published_kpis(rep_dir / "warehouse"))
                    incremental_raw = incremental_raw or rep_raw
                    if m.get("run_id"):
                        steps["incremental"].append(step_seconds(rep_dir / "dagster_home", m["run_id"]))
                    print(f"  [{rep}] incremental night: {m['wall_s']:.1f} s wall, {m['tree_rss_mib']:.0f} MiB")
                if "noop" not in args.skip:
                    # Nothing new since the last publication: the run must say so and skip (assets/staging/noop.py).
                    m = measure(cli("run"), logs / f"noop_{rep}.log", env)
                    if "not running: nothing new" not in Path(m["log"]).read_text(errors="replace"):
                        raise SystemExit(f"the night with nothing new did not skip; see {m['log']}")
                    runs["noop"].append(m)
                    print(f"  [{rep}] night with nothing new: {m['wall_s']:.2f} s wall")
            for kind, script in (("duckdb", "baseline_duckdb.py"), ("pandas", "baseline_pandas.py")):
                if kind in args.skip:
                    continue
                out = work / f"{kind}_{rep}.json"
                m = measure([sys.executable, str(BENCH / script), str(raw), "--out", str(out)],
                            logs / f"{kind}_{rep}.log")
                runs[kind].append(m)
                rows = json.loads(out.read_text())["kpi_scorecard"]
                kpis.setdefault(kind, rows)
                if rows != kpis[kind]:
                    kpis[f"{kind}_rep{rep}"] = rows
                print(f"  [{rep}] {kind} baseline: {m['wall_s']:.1f} s wall, {m['tree_rss_mib']:.0f} MiB")

        # The incremental publication must equal a from-scratch computation on the same files.
        incremental_check = {}
        if incremental_raw is not None:
            out = work / "duckdb_with_extra_day.json"
            m = measure([sys.executable, str(BENCH / "baseline_duckdb.py"), str(incremental_raw), "--out", str(out)],
                        logs / "duckdb_with_extra_day.log")
            incremental_check = {"pipeline_incremental": kpis.pop("pipeline_incremental"),
                                 "duckdb_with_extra_day": json.loads(out.read_text())["kpi_scorecard"]}
            report["duckdb_with_extra_day"] = m

        problems = compare(kpis) if len(kpis) > 1 else []
        problems += [f"incremental: {p}" for p in compare(incremental_check)] if incremental_check else []
        report["agreement"] = {
            "ok": not problems,
            "compared": sorted(kpis) + sorted(incremental_check),
            "compared_rows": max((len(v) for v in kpis.values()), default=0),
            "problems": problems,
        }
        report["kpi_scorecard"] = kpis.get("pipeline_full") or kpis.get("duckdb")

        med = {k: summarise(v) for k, v in runs.items() if v}
        report["medians"] = med
        report["runs"] = runs
        rat: dict[str, float | None] = {}
        if "full" in med:
            for base in ("duckdb", "pandas"):
                if base in med:
                    rat[f"full_vs_{base}_time"] = ratio(med["full"]["wall_s"], med[base]["wall_s"])
                    rat[f"full_vs_{base}_memory"] = ratio(med["full"]["tree_rss_mib"], med[base]["tree_rss_mib"])
            if "incremental" in med:
                rat["incremental_vs_full_time"] = ratio(med["incremental"]["wall_s"], med["full"]["wall_s"])
                rat["incremental_vs_full_memory"] = ratio(med["incremental"]["tree_rss_mib"],
                                                          med["full"]["tree_rss_mib"])
            if "noop" in med:
                rat["noop_vs_full_time"] = ratio(med["noop"]["wall_s"], med["full"]["wall_s"])
        report["ratios"] = rat

        targets = {}
        if rat.get("full_vs_duckdb_time") is not None:
            targets["full_vs_duckdb_time"] = rat["full_vs_duckdb_time"]
        if rat.get("incremental_vs_full_time") is not None:
            targets["incremental_vs_full_time"] = rat["incremental_vs_full_time"]
        if "full" in med:
            targets["peak_memory_mib"] = max(med["full"]["tree_rss_mib"],
                                             med.get("incremental", {}).get("tree_rss_mib", 0))
            if args.raw and args.raw.resolve() == (ROOT / "data" / "raw").resolve():
                targets["sample_full_wall_s"] = med["full"]["wall_s"]
        report["targets"] = {k: {"value": v, "target": round(TARGETS[k], 2), "met": v <= TARGETS[k]}
                             for k, v in targets.items()}

        if steps["full"]:
            def median_steps(samples: list[dict]) -> dict[str, float]:
                keys = sorted(set().union(*samples)) if samples else []
                return {k: round(statistics.median(s.get(k, 0.0) for s in samples), 2) for k in keys}

            full_steps, inc_steps = median_steps(steps["full"]), median_steps(steps["incremental"])
            report["pipeline_steps"] = {"full": full_steps, "incremental": inc_steps}
            report["checks_share"] = {
                kind: {"checks_s": round(sum(v for k, v in s.items() if is_check_step(k)), 2),
                       "assets_s": round(sum(v for k, v in s.items() if not is_check_step(k)), 2)}
                for kind, s in (("full", full_steps), ("incremental", inc_steps)) if s
            }
        if "gx_import" not in args.skip:
            m = measure([sys.executable, "-c", "import great_expectations"], logs / "gx_import.log")
            report["great_expectations_import"] = {"wall_s": m["wall_s"], "max_rss_mib": m["max_rss_mib"]}
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    table = markdown(report)
    args.out.with_suffix(".md").write_text(table)
    print()
    print(table)
    if problems:
        print("KPI RESULTS DISAGREE:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
