"""`talent-pipeline`: run the graph, query the published database (now or as of a time), explain a figure,
list the kept publications, generate the sample, roll back."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from assets.settings import Settings
from pipelines.settings import default_dagster_home, from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="talent-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="materialise the whole graph in-process against the local Dagster instance "
                       "(skipped when nothing changed since the last publication)")
    r.add_argument("--full", action="store_true",
                   help="run even if nothing changed, and rebuild the per-visitor table from every session")
    q = sub.add_parser("query", help="run SQL read-only against the published database")
    q.add_argument("sql")
    q.add_argument("--as-of", default=None, metavar="TIMESTAMP",
                   help="against the publication current at that UTC time (2026-10-15, 2026-10-15T02:00Z)")
    e = sub.add_parser("explain", help="a published figure, the exports it is made of and, for hires, the register")
    e.add_argument("--campaign", required=True, help="campaign_id or name")
    e.add_argument("--kpi", required=True, help="impressions | clicks | spend_eur | unique_visitors | applications | "
                   "international_hires | organisations_involved | organisations_established")
    e.add_argument("--period", default="all")
    e.add_argument("--channel", default="all")
    e.add_argument("--as-of", default=None, metavar="TIMESTAMP", help="explain the publication current then")
    sub.add_parser("history", help="list the kept publications: time, run, exports added, headline figures, changes")
    g = sub.add_parser("generate-sample", help="write the sample exports")
    g.add_argument("--out", type=Path, default=None, help="folder (default: $TALENT_RAW_DIR or data/raw)")
    g.add_argument("--seed", type=int, default=None, help="generator seed (default: the bundled sample's)")
    g.add_argument("--scale", type=int, default=1, help="multiply visitor sessions by N")
    g.add_argument("--sessions", type=int, default=None, help="total visitor sessions (overrides --scale)")
    r = sub.add_parser("rollback", help="restore the previously published database (run again to undo)")
    r.add_argument("--to", default=None, metavar="TIMESTAMP|FILE",
                   help="restore a kept publication: its file, or the one current at that UTC time")
    w = sub.add_parser("withdraw", help="take a loaded export back out of the warehouse (then run again)")
    w.add_argument("export", help="the export's path, or the file name it was loaded under")
    w.add_argument("--reason", required=True, help="why, kept in the ledger")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(full=args.full)
    if args.command == "query":
        return query(args.sql, args.as_of)
    if args.command == "explain":
        return explain(args)
    if args.command == "history":
        from assets.publish import history
        from assets.publish.database import Paths

        print("\n".join(history.describe(Paths(from_env().warehouse_dir))))
        return 0
    if args.command == "generate-sample":
        from samplegen import DEFAULT_SEED, generate_sample

        out = args.out or from_env().raw_dir
        seed = DEFAULT_SEED if args.seed is None else args.seed
        summary = generate_sample(out, seed=seed, scale=args.scale, sessions=args.sessions)
        print(f"wrote sample exports to {out}")
        for key, value in summary.items():
            print(f"  {key}: {value}")
        return 0
    if args.command == "rollback":
        from assets.publish import history
        from assets.publish.database import Paths, rollback

        settings = from_env()
        paths = Paths(settings.warehouse_dir)
        if args.to is None:
            rollback(paths)
            history.after_rollback(paths)
            print(f"restored the previous publication into {settings.published}")
        else:
            try:
                kept = history.resolve(paths, args.to)
                history.restore(paths, kept)
            except (ValueError, FileNotFoundError) as exc:
                print(f"cannot roll back: {exc}", file=sys.stderr)
                return 1
            print(f"restored {kept.name} into {settings.published} (`rollback` again returns to the one before)")
        # The report shows what managers query, so it follows the rollback.
        from assets.report.build import build_reports

        build_reports(settings.published, settings.reports_dir, png=False)
        print(f"rebuilt the report in {settings.reports_dir}")
        return 0
    if args.command == "withdraw":
        return withdraw(args.export, args.reason)
    return 2


def withdraw(export: str, reason: str) -> int:
    import duckdb

    from assets.staging.restage import withdraw as withdraw_export
    from assets.staging.warehouse import connect, ensure_schema

    settings = from_env()
    if not settings.warehouse.exists():
        print(f"no warehouse yet at {settings.warehouse}: nothing was loaded", file=sys.stderr)
        return 1
    with writer_lock(settings.warehouse_dir):
        try:
            con = connect(settings.warehouse, memory_limit=settings.duckdb_memory_limit)
        except duckdb.IOException as exc:
            print(f"cannot withdraw: the warehouse is busy ({exc}); try again when the run has finished",
                  file=sys.stderr)
            return 1
        try:
            ensure_schema(con)
            done = withdraw_export(con, export, reason)
        except ValueError as exc:
            print(f"cannot withdraw: {exc}", file=sys.stderr)
            return 1
        finally:
            con.close()
    print(f"withdrew {done.path} ({done.source}): {done.rows_removed:,} staged and "
          f"{done.quarantine_removed:,} quarantined rows removed")
    for path in done.restored:
        print(f"  {path} is no longer superseded: the next run loads it again if it is still in the landing folder")
    print("run `talent-pipeline run` to publish without it (the published numbers still include it until then)")
    return 0


def run(full: bool = False) -> int:
    from assets.quality import gx_runner

    settings = from_env()
    with writer_lock(settings.warehouse_dir):
        # The Great Expectations worker imports GX on the other core while this process decides
        # whether there is anything to do, imports Dagster and the definitions and loads the exports:
        # GX's import is the longest of these, so it starts first and the checks find it ready.
        # (After the lock: a run waiting for another one holds no worker meanwhile.)
        gx_runner.start()
        try:
            return _run(settings, full)
        finally:
            gx_runner.stop(finish=False)  # a night skipped (or an error before the run): GX's import is not waited for


def _run(settings: Settings, full: bool) -> int:
    """The night itself, in the writer lock, with the GX worker started."""
    from assets.lifetime import loading
    from assets.quality import gx_runner

    with loading():  # what is imported and built here lives as long as the process (assets/lifetime.py)
        if not full:
            # Decided before Dagster is imported or GX is waited for: a night with nothing new costs
            # the interpreter, duckdb and a listing of the landing folders (assets/staging/noop.py).
            from assets.staging.noop import nothing_new

            verdict = nothing_new(settings)
            if verdict.skip:
                print(f"not running: {verdict.reason}")
                print("(talent-pipeline run --full runs anyway and rebuilds everything)")
                return 0
        default_dagster_home()
        import dagster as dg

        from assets.wrappers import FULL_TAG
        from pipelines.definitions import defs
        from pipelines.jobs import NIGHTLY_JOB

        started = time.monotonic()
        job = defs().resolve_job_def(NIGHTLY_JOB)
        tags = {FULL_TAG: "true"} if full else {}
        instance = dg.DagsterInstance.get()
    try:
        with instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    finally:
        gx_runner.stop()  # the run's worker leaves as it should, validations done
    elapsed = time.monotonic() - started
    return print_summary(result, settings, elapsed)


@contextmanager
def writer_lock(warehouse_dir: Path):
    """One `talent-pipeline run` at a time per warehouse: a second one waits for the first.

    An flock is released by the kernel when its process dies, so a killed run never
    leaves it behind. (Runs from the schedule and sensor queue in the Dagster instance.)
    """
    import fcntl

    warehouse_dir.mkdir(parents=True, exist_ok=True)
    with open(warehouse_dir / ".writer.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another run is writing the warehouse; waiting for it to finish", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def print_summary(result, settings, elapsed: float) -> int:
    """Files, rows, checks and KPI results of the run; the exit code says whether it published."""
    import dagster as dg

    from assets.staging.warehouse import connect

    materialised = set()
    failed_checks, warnings = [], []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialised.add(event.asset_key.to_user_string())
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN:
                warnings.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}: "
                                f"{evaluation.description or ''}")
            elif not evaluation.passed:
                failed_checks.append(
                    f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                    f" ({evaluation.severity.value})"
                    + "".join(f"\n    {line}" for line in (evaluation.description or "").splitlines())
                )
    failed_steps = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    published = "published_database" in materialised
    print(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {elapsed:.1f} s")
    rejected = 0
    con = connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            "SELECT source, count(*) FILTER (status IN ('loaded','superseded')), count(*) FILTER (status='rejected'), "
            "sum(rows_loaded) FILTER (status='loaded'), sum(rows_quarantined) FILTER (status='loaded') "
            "FROM ingest.file_ledger WHERE run_id = ? GROUP BY source ORDER BY source",
            [result.run_id],
        ).fetchall()
        print("files read this run:")
        if not rows:
            print("  none new (every export already in the ledger)")
        for source, loaded, n_rejected, staged, quarantined in rows:
            print(f"  {source:9} {loaded} loaded, {n_rejected} rejected; rows {staged or 0:,} loaded, "
                  f"{quarantined or 0:,} quarantined")
        for (message,) in con.execute(
            "SELECT message FROM ingest.file_ledger WHERE run_id = ? AND status = 'rejected'", [result.run_id]
        ).fetchall():
            rejected += 1
            print(f"  REJECTED {message}")
        for source, reason, n in con.execute(
            "SELECT source, reason, count(*) FROM staging.quarantine WHERE run_id = ? GROUP BY ALL "
            "ORDER BY 3 DESC LIMIT 20", [result.run_id]
        ).fetchall():
            print(f"  quarantined {n:,} {source} row(s): {reason}")
    finally:
        con.close()
    for warning in warnings:
        print(f"warning: {warning}")
    if failed_steps:
        print(f"failed steps: {', '.join(failed_steps)}")
    if failed_checks:
        print("failed checks:")
        for check in failed_checks:
            print(f"  {check}")
    if not published:
        print("NOT PUBLISHED: published.duckdb still holds the previous publication")
        return 1
    print(f"published {settings.published}")
    pub = connect(settings.published, read_only=True)
    try:
        print(pub.sql(
            "SELECT campaign_id, kpi, period, target, result, pct_of_target, met FROM kpi_scorecard "
            "WHERE period = 'all' ORDER BY campaign_id, kpi"
        ))
    finally:
        pub.close()
    if not result.success:
        return 1
    if rejected:
        print(f"{rejected} export(s) rejected this run: fix and re-deliver them (exit code 2)")
        return 2
    return 0


def _publication(as_of: str | None) -> Path:
    """published.duckdb, or the kept publication current at ``as_of`` (FileNotFoundError, ValueError)."""
    settings = from_env()
    if as_of is None:
        if not settings.published.exists():
            raise FileNotFoundError(f"no published database yet at {settings.published}: run `talent-pipeline run`")
        return settings.published
    from assets.publish import history
    from assets.publish.database import Paths

    return history.current_at(Paths(settings.warehouse_dir), history.parse_moment(as_of))


def explain(args) -> int:
    from assets.publish.explain import ExplainError, explain as explain_figure
    from assets.staging.warehouse import connect

    try:
        path = _publication(args.as_of)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cannot explain: {exc}", file=sys.stderr)
        return 1
    con = connect(path, read_only=True)
    try:
        print("\n".join(explain_figure(con, args.campaign, args.kpi, args.period, args.channel)))
    except ExplainError as exc:
        print(f"cannot explain: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    if args.as_of:
        print(f"(from {path.name}, the publication current at {args.as_of})")
    return 0


def query(sql: str, as_of: str | None = None) -> int:
    import duckdb

    from assets.staging.warehouse import connect

    try:
        path = _publication(as_of)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cannot query: {exc}", file=sys.stderr)
        return 1
    if as_of is not None:
        print(f"as of {as_of}: {path.name}", file=sys.stderr)
    con = connect(path, read_only=True)
    try:
        relation = con.sql(sql)
        if relation is not None:
            relation.show(max_width=200, max_rows=200)
    except duckdb.Error as exc:
        print(f"query failed: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    return 0


def entry() -> None:
    """The console script: ``main``, then leave without tearing down the interpreter.

    Everything is closed by then (warehouse and published connections, the Dagster
    instance, the writer lock). Python's own teardown of the imported modules
    (Great Expectations, scipy, Dagster) took 1.5-2.5 s of every run and does nothing
    a finished run needs. An exception or an argparse exit still ends the usual way.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
