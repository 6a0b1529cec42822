"""The quality room's Dagster wiring: blocking asset checks, thin wrappers over plain functions.

The only module of assets/quality/ that imports Dagster. Each check is
blocking: a failure on a staged table stops the marts and a failure on a mart
stops ``published_database`` in the same run. Every outcome, passed or not,
is written to ``audit.check_results`` (assets/quality/audit.py) and shown as
check metadata.

Great Expectations takes 6-10 s to import, so it is imported on first use
(assets/quality/gx_runner.py) and its context is built once per process.
"""

import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace

import dagster as dg

from assets.marts.tables import MART_TABLES
from assets.quality import containment
from assets.quality.audit import outcomes_markdown, record
from assets.quality.outcomes import ExpectationOutcome
from assets.quality.profile import validate_table
from assets.quality.reconciliation import RECONCILIATIONS, prefetch_visitor_recount, reconcile
from assets.staging import warehouse
from assets.staging.asset import reference_data, staged_applications, staged_reach, staged_sessions
from assets.wrappers import FULL_TAG, STORE, settings_of

# Set on import, in the main thread, before anything can import Great Expectations.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

SUITE_CHECK = "expectation_suite"
RECONCILIATION_CHECK = "reconciles_with_staging"


def check_result(outcomes: Sequence[ExpectationOutcome], key: dg.AssetCheckKey | None = None) -> dg.AssetCheckResult:
    """Passes when every expectation passed or its failing rows were quarantined (contained)."""
    failures = [o for o in outcomes if not o.passed]
    return dg.AssetCheckResult(
        asset_key=key.asset_key if key else None,
        check_name=key.name if key else None,
        passed=all(o.contained for o in failures),
        severity=dg.AssetCheckSeverity.ERROR,
        description="\n".join(o.message for o in failures[:10]) or None,
        metadata={
            "expectations": len(outcomes),
            "failed_expectations": len(failures),
            "contained_expectations": sum(o.contained for o in failures),
            "rows_quarantined": sum(o.quarantined for o in failures),
            "results": dg.MetadataValue.md(outcomes_markdown(outcomes)),
        },
    )


# --- Dagster asset checks: thin wrappers ------------------------------------------------------


# Threads that run read-only checks ahead: one builds its frames while another's wait on the GX worker.
AHEAD_THREADS = 2


class _Ahead:
    """Read-only checks started at once, each on a cursor of its own, in AHEAD_THREADS threads."""

    def __init__(self):
        self.futures: dict[dg.AssetCheckKey, Future] = {}
        self.taken: set[dg.AssetCheckKey] = set()
        self._pool = ThreadPoolExecutor(max_workers=AHEAD_THREADS, thread_name_prefix="check-ahead")

    def start(self, con, runs: list[tuple[dg.AssetCheckKey, Callable]], run_id, settings, full: bool) -> None:
        def on_cursor(run: Callable):
            cursor = con.cursor()
            try:
                return run(cursor, run_id, settings, full)
            finally:
                cursor.close()

        for key, run in runs:
            self.futures[key] = self._pool.submit(on_cursor, run)

    def result(self, key: dg.AssetCheckKey):
        self.taken.add(key)
        return self.futures[key].result()

    def close(self, log) -> None:
        """Waits for the checks still running (their cursors must be idle before the connection closes)
        and logs the errors that no result was taken from (the step already failed on another one)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for key, future in self.futures.items():
            if key not in self.taken and not future.cancelled() and future.exception() is not None:
                log.error(f"{key.name} on {key.asset_key.to_user_string()} also failed: {future.exception()!r}")


def _quality_gate(name: str, checks: list[tuple[dg.AssetCheckSpec, str, Callable]],
                  prepare: Callable | None = None, ahead: Collection[str] = ()) -> dg.AssetChecksDefinition:
    """Blocking checks evaluated in one step: ``checks`` is (spec, check name, run(con, run_id, settings,
    full) -> outcomes), ``full`` from the run's FULL_TAG (``talent-pipeline run --full``).

    Each check is still its own result on its own asset in the UI and in
    audit.check_results; running them in one step (one connection, one pass of
    Dagster's step bookkeeping, which costs about 0.25 s a step in its SQLite
    event log) keeps a night short. A failed check blocks what is downstream of
    its asset; an exception fails the step, which blocks it too (the gate fails closed).
    ``prepare(con, selected, full)`` may start work early and returns what ends it (or None).
    Checks named in ``ahead`` only read: they all start at once, on cursors of their own in
    AHEAD_THREADS threads, so one builds its frames while another waits on the GX worker; their
    results are still recorded and yielded in order, here.
    """
    jobs = {spec.key: (check_name, run) for spec, check_name, run in checks}

    @dg.multi_asset_check(specs=[spec for spec, _, _ in checks], can_subset=True, name=name,
                          required_resource_keys={STORE})
    def gate(context: dg.AssetCheckExecutionContext):
        selected = context.selected_asset_check_keys
        settings = settings_of(context)
        full = context.run.tags.get(FULL_TAG) == "true"
        with ExitStack() as cleanup:  # each callback runs, last first, even when one before it raised
            con = warehouse.connect(settings.warehouse, memory_limit=settings.duckdb_memory_limit)
            cleanup.callback(con.close)
            warehouse.ensure_schema(con)
            finish = prepare(con, selected, full) if prepare is not None else None
            if finish is not None:
                cleanup.callback(finish)
            runs = [(key, run) for key, (check_name, run) in jobs.items() if key in selected and check_name in ahead]
            early = _Ahead() if runs else None
            if early is not None:
                cleanup.callback(early.close, context.log)  # registered before any check starts
                early.start(con, runs, context.run.run_id, settings, full)
            for key, (check_name, run) in jobs.items():
                if key not in selected:
                    continue
                if early is not None and key in early.futures:
                    produced = early.result(key)
                else:
                    produced = run(con, context.run.run_id, settings, full)
                if isinstance(produced, dict):  # a warning-severity report (containment), not a suite
                    metadata = dict(produced["metadata"])
                    metadata["by_file_and_reason"] = dg.MetadataValue.md(metadata["by_file_and_reason"])
                    if not produced["passed"]:
                        context.log.warning(produced["description"])
                    yield dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name,
                                              passed=produced["passed"], severity=dg.AssetCheckSeverity.WARN,
                                              description=produced["description"], metadata=metadata)
                    continue
                outcomes = [replace(o, check_name=check_name) for o in produced]
                record(con, outcomes, context.run.run_id, check_name)
                if getattr(produced, "after", None) is not None:
                    produced.after(con)
                for o in outcomes:
                    if o.contained:
                        context.log.warning(o.message)
                    elif not o.passed:
                        context.log.error(o.message)
                yield check_result(outcomes, key)

    return gate


def _suite_check(asset, table: str, blocks: str) -> tuple[dg.AssetCheckSpec, str, Callable]:
    """The blocking check of one table's expectation suite."""
    return (dg.AssetCheckSpec(
        SUITE_CHECK, asset=asset, blocking=True,
        description=f"The expectation suite of {table}: columns, keys, accepted values, "
        f"ranges and cross-column rules (assets/quality/staged_suites.py, mart_suites.py). Blocks {blocks}.",
    ), SUITE_CHECK, lambda con, run_id=None, _settings=None, full=False: validate_table(con, table, run_id, full))


QUARANTINE_CHECK = "rows_quarantined"


def _quarantine_check(asset, source: str) -> tuple[dg.AssetCheckSpec, str, Callable]:
    """A warning (never blocking) that lists what the published numbers leave out of a source."""
    return (dg.AssetCheckSpec(
        QUARANTINE_CHECK, asset=asset, blocking=False,
        description=f"Rows of {source} exports held in staging.quarantine (published as data_issues): each "
        "counts nowhere. Warns while any are held; never blocks.",
    ), QUARANTINE_CHECK,
        lambda con, run_id=None, _settings=None, _full=False: containment.quarantine_report(con, source, run_id))


def _staged_checks() -> list[tuple[dg.AssetCheckSpec, str, Callable]]:
    """The suite of each staged table (it blocks the marts) and its quarantine warning."""
    out = []
    for asset, table in ((staged_reach, "staging.reach"), (staged_sessions, "staging.sessions"),
                         (staged_applications, "staging.applications")):
        out.append(_suite_check(asset, table, "everything downstream"))
        out.append(_quarantine_check(asset, containment.SOURCE_OF[table]))
    return out


def _mart_checks() -> list[tuple[dg.AssetCheckSpec, str, Callable]]:
    """Every mart's suite and the reconciliations of the marts with staging: they block publication."""
    out = [_suite_check(key, f"marts.{name}", "publication") for name, key in _MART_KEYS.items()]
    for table in dict.fromkeys(r.table for r in RECONCILIATIONS):
        out.append((dg.AssetCheckSpec(
            RECONCILIATION_CHECK, asset=_MART_KEYS[table.split(".")[1]], blocking=True,
            description=f"{table} agrees with the staged rows it was built from (assets/quality/reconciliation.py "
            "RECONCILIATIONS). Blocks publication.",
        ), RECONCILIATION_CHECK, lambda con, run_id=None, _settings=None, full=False, t=table: reconcile(con, t, full)))
    return out


def _prefetch_for_marts(con, selected, full: bool) -> Callable[[], None] | None:
    funnel = dg.AssetCheckKey(_MART_KEYS["funnel"], RECONCILIATION_CHECK)
    return prefetch_visitor_recount(con, full) if funnel in selected else None


_MART_KEYS = {name: dg.AssetKey(["marts", name]) for name in MART_TABLES}


def _reference_checks() -> list[tuple[dg.AssetCheckSpec, str, Callable]]:
    """The reference data's suite (assets/quality/reference_suite.py): it blocks everything downstream."""
    def run(con, run_id=None, settings=None, _full=False):
        from assets.quality.reference_suite import validate_reference

        return validate_reference(settings.raw_dir / "reference")

    return [(dg.AssetCheckSpec(
        SUITE_CHECK, asset=reference_data, blocking=True,
        description="The reference data's suite: unique ids, names, periods and utm codes, periods inside their "
        "campaign and not overlapping, start <= end, targets naming known campaigns, periods and KPIs, one "
        "positive FX rate per currency (assets/quality/reference_suite.py). Blocks everything downstream.",
    ), SUITE_CHECK, run)]


CHECKS: list = [
    _quality_gate("reference_quality_gate", _reference_checks()),
    _quality_gate("staged_quality_gate", _staged_checks()),
    # The mart suites only read; the reconciliations keep a recount and the staged suites quarantine rows.
    _quality_gate("marts_quality_gate", _mart_checks(), prepare=_prefetch_for_marts, ahead={SUITE_CHECK}),
]
