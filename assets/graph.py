"""The asset graph: thin Dagster wrappers around the plain functions of each room.

raw exports -> ingest (reference_data, staged_reach, staged_sessions,
staged_applications) -> checks -> marts -> published_database -> reports (assets/report/asset.py).
"""


import errno
from contextlib import contextmanager
from datetime import datetime, timezone

import dagster as dg
import duckdb

from assets.quality import gx_runner
from assets.publish import history
from assets.staging import noop
from assets.marts import provenance
from assets.publish import database
from assets.staging import ledger, restage, stage
from assets.staging.warehouse import connect, ensure_schema, load_reference
from assets.staging.parsers import STAGED_TABLE, RowParser, VisitorParser
from assets.marts import visitor_scopes
from assets.ingest.common import first_row
from assets.ingest.contract import private_fields
from assets.ingest.hiring import parse_hiring
from assets.ingest.reach import parse_reach
from assets.ingest.reference import Attribution, read_reference
from assets.marts.build import build_marts
from assets.marts.inputs import read_inputs
from assets.marts.tables import MART_TABLES, write_marts
from assets.report.asset import REPORT_ASSETS
from pipelines.resources import TalentStore

OWNERS = ["team:data"]
FULL_TAG = "talent/full"  # `talent-pipeline run --full`: rebuild what nights update incrementally
# Only transient I/O (a DuckDB lock held a moment too long, a busy or flaky
# disk) is retried, with exponential backoff. Bugs and bad data fail at once,
# and a failed data-quality check is a check result, so it is never retried.
MAX_RETRIES = 3
TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EIO, errno.ETIMEDOUT, errno.ESTALE}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        return True
    return isinstance(exc, TimeoutError) or (isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS)


@contextmanager
def warehouse(store: TalentStore, context=None):
    """The warehouse connection for one asset; transient I/O errors ask Dagster for a retry."""
    settings = store.settings()
    try:
        con = connect(settings.warehouse)
        try:
            ensure_schema(con)
            yield con, settings
        finally:
            con.close()
    except Exception as exc:
        if context is not None and is_transient(exc):
            wait = 2 ** (context.retry_number + 1)
            context.log.warning(f"transient I/O error, retrying in {wait} s: {exc}")
            raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=wait) from exc
        raise


def _attribution(con) -> Attribution:
    names = ("campaigns", "campaign_periods", "organisations", "kpi_targets", "fx_rates")
    return Attribution({n: con.sql(f"SELECT * FROM ref.{n}").pl() for n in names})


# Never shown in the UI: pseudonymous ids and keys are still personal data under GDPR.
NOT_PREVIEWED = private_fields() | {"file_hash"}


def _preview(con, sql: str) -> dg.MetadataValue:
    frame = con.sql(sql).pl()
    frame = frame.drop([c for c in frame.columns if c in NOT_PREVIEWED])
    return dg.MetadataValue.md(frame.to_pandas().to_markdown(index=False) if frame.height else "_no rows_")


def _column_schema(con, table: str) -> dg.TableSchema:
    schema, name = table.split(".")
    rows = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(c, t, description=d) for c, t, d in rows])


def _table_metadata(con, table: str) -> dict:
    """Row count, column schema and a five-row preview without personal data, for the UI."""
    return {
        "dagster/row_count": first_row(con.execute(f"SELECT count(*) FROM {table}"))[0],
        "dagster/column_schema": _column_schema(con, table),
        "preview": _preview(con, f"SELECT * FROM {table} LIMIT 5"),
    }


@dg.asset(
    group_name="ingest",
    kinds={"duckdb", "polars"},
    owners=OWNERS,
)
def reference_data(context: dg.AssetExecutionContext, store: TalentStore) -> dg.MaterializeResult:
    """Reference tables from data/raw/reference/: campaigns, periods, organisations, KPI targets, FX rates.

    Grain: one row per campaign / campaign period / organisation / target / currency.
    Changing any of them (or the PII key, or restage.STAGING_RULES_VERSION)
    re-stages every export, since staged rows carry attribution computed from them.
    """
    gx_runner.start()  # the first run step: GX's import, in its worker, overlaps the loads
    with warehouse(store, context) as (con, settings):
        folder = settings.raw_dir / "reference"
        reference = noop.reference_digest(folder, settings.key_fingerprint(), restage.STAGING_RULES_VERSION)
        # Before any landing folder is listed: a file landing during this run makes the next night run.
        noop.record_run_start(con, context.run.run_id, noop.inputs_fingerprint(settings.raw_dir, reference))
        frames = read_reference(folder)
        counts = load_reference(con, frames)
        provenance.record_reference_files(con, folder)  # their hashes: the register's "export", the publication's
        restaged = restage.reset_if_inputs_changed(con, reference)
        if restaged:
            context.log.info("reference data or PII key changed: every export will be parsed again")
        strays = ledger.account_reference_folder(con, folder, set(frames), context.run.run_id)
        for outcome in strays:
            context.log.warning(outcome.message)
    return dg.MaterializeResult(
        metadata={**{f"rows_{k}": v for k, v in counts.items()}, "restage_all": restaged}
    )


def _ingest(context, store: TalentStore, source: str, parser) -> dg.MaterializeResult:
    with warehouse(store, context) as (con, settings):
        summary = stage.ingest_source(con, source, settings.raw_dir / source, parser(con, settings),
                                        run_id=context.run.run_id)
        for f in summary.files:
            if f.status == "rejected":
                context.log.error(f"rejected {f.message}")
            elif f.status in ("loaded", "superseding"):
                context.log.info(
                    f"{f.path}: {f.layout}, {f.data_lines} data lines = {f.rows_loaded} loaded + "
                    f"{f.rows_quarantined} quarantined"
                )
        table = STAGED_TABLE[source]
        table_metadata = _table_metadata(con, table)
        quarantine = _preview(
            con,
            "SELECT source_file, line_number, column_name, value, reason FROM staging.quarantine "
            f"WHERE source = '{source}' ORDER BY source_file, line_number LIMIT 10",
        )
        rejected = [f"{f.message}" for f in summary.files if f.status == "rejected"]
    return dg.MaterializeResult(
        metadata={
            **summary.as_metadata(),
            **table_metadata,
            "rejected_files": dg.MetadataValue.md("\n".join(f"- {r}" for r in rejected) or "_none_"),
            "quarantine_preview": quarantine,
        }
    )


def _reach_parser(con, settings):
    attribution = _attribution(con)
    return RowParser("reach", lambda path: parse_reach(path, attribution))


def _hiring_parser(con, settings):
    attribution = _attribution(con)
    key = settings.pii_key.encode()
    return RowParser("hiring", lambda path: parse_hiring(path, attribution, key))


def _visitor_parser(con, settings):
    return VisitorParser()


@dg.asset(
    group_name="ingest",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    deps=[reference_data],
)
def staged_reach(context: dg.AssetExecutionContext, store: TalentStore) -> dg.MaterializeResult:
    """staging.reach: one row per date x channel x platform campaign (x ad set), from LinkedIn, Meta, Google Ads.

    Impressions, landing-page/link clicks, spend (own currency and EUR) and the
    platform's per-row reach. Each row keeps source_file, file_hash, line_number.
    """
    return _ingest(context, store, "reach", _reach_parser)


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    owners=OWNERS,
    deps=[reference_data],
)
def staged_sessions(context: dg.AssetExecutionContext, store: TalentStore) -> dg.MaterializeResult:
    """staging.sessions: one row per site session (user_pseudo_id x ga_session_id), GA4-style.

    Date, campaign (utm code, else the campaign window holding the date),
    period, channel (ad platform, organic, direct, referral), engagement.
    """
    return _ingest(context, store, "visitors", _visitor_parser)


@dg.asset(
    group_name="ingest",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    deps=[reference_data],
)
def staged_applications(context: dg.AssetExecutionContext, store: TalentStore) -> dg.MaterializeResult:
    """staging.applications: one row per application line of an ATS export or a hiring template.

    Keyed by application_key (the same application in two exports is one);
    candidate_key is an HMAC of the normalised e-mail. No name or e-mail is stored.
    """
    return _ingest(context, store, "hiring", _hiring_parser)


MART_SPECS = [
    dg.AssetSpec(
        key=dg.AssetKey(["marts", name]),
        group_name="marts",
        kinds={"polars", "duckdb"},
        owners=OWNERS,
        deps=[staged_reach, staged_sessions, staged_applications, reference_data],
        description=f"marts.{name}: see the COMMENT ON TABLE {name} in sql/marts.sql for its grain.",
    )
    for name in MART_TABLES
]


@dg.multi_asset(specs=MART_SPECS)
def marts(context: dg.AssetExecutionContext, store: TalentStore):
    """Every KPI mart, from one read of the staged tables (Polars transforms in assets/marts/)."""
    with warehouse(store, context) as (con, _settings):
        # The per-visitor table takes the new sessions alone; `run --full` rebuilds it from all of them.
        scopes = visitor_scopes.refresh(con, full=context.run.tags.get(FULL_TAG) == "true")
        context.log.info(f"staging.visitor_scopes {scopes.mode}: {scopes.files_added} export(s) added, "
                         f"{scopes.visitors:,} campaign x visitor rows")
        inputs = read_inputs(con)
        frames = build_marts(inputs)
        frames.update(provenance.build_audit(con, inputs, frames))
        write_marts(con, frames)  # into the tables sql/marts.sql declares: types, NOT NULL and keys enforced
        for name in MART_TABLES:
            frame = frames[name]
            metadata = _table_metadata(con, f"marts.{name}")
            if name == "kpi_scorecard":
                metadata["table_1"] = dg.MetadataValue.md(
                    frame.filter(frame["period"] == "all").to_pandas().to_markdown(index=False)
                )
            yield dg.MaterializeResult(asset_key=dg.AssetKey(["marts", name]), metadata=metadata)
        # Which run built these marts: publication refuses marts another run rebuilt in between.
        con.execute("CREATE OR REPLACE TABLE marts._build AS SELECT ? AS run_id, now() AS built_at",
                    [context.run.run_id])


@dg.asset(
    group_name="publish",
    kinds={"duckdb"},
    owners=OWNERS,
    deps=[spec.key for spec in MART_SPECS],
)
def published_database(context: dg.AssetExecutionContext, store: TalentStore) -> dg.MaterializeResult:
    """published.duckdb: the managers' database, replaced whole and atomically after an audit.

    Runs only when every blocking check upstream passed (write, audit, publish).
    The replaced version is kept as published.previous.duckdb, and every publication under
    publications/ by its UTC time (assets/publish/history.py, with its retention).
    """
    with warehouse(store, context) as (con, settings):
        paths = database.Paths(settings.warehouse_dir)
        built_by = first_row(con.execute("SELECT run_id FROM marts._build"))[0]
        if built_by != context.run.run_id:
            # Another run rebuilt the marts after this run's checks passed (or this run did not
            # build them): publishing now could ship numbers no check of this run has seen.
            raise dg.Failure(
                description=f"marts were built by run {built_by}, not by this run: not publishing; "
                "the previous publication stays. Materialise the marts and publication in one run."
            )
        stale = database.clean_stale_candidates(settings.warehouse_dir)
        if stale:
            context.log.warning(f"removed candidates left by an interrupted run: {stale}")
        facts = first_row(con.execute(
            "SELECT (SELECT count(*) FROM ingest.file_ledger WHERE status = 'loaded'), "
            "(SELECT count(*) FROM staging.reach) + (SELECT count(*) FROM staging.sessions) "
            "+ (SELECT count(*) FROM staging.applications), (SELECT count(*) FROM staging.quarantine)"
        ))
        candidate = paths.candidate()
        published_at = datetime.now(timezone.utc).replace(tzinfo=None)
        counts = database.build_candidate(
            con,
            candidate,
            {
                "published_at": published_at,
                "run_id": context.run.run_id,
                "files_loaded": facts[0],
                "rows_staged": facts[1],
                "rows_quarantined": facts[2],
                "pii_key_fingerprint": settings.key_fingerprint(),
                "staging_rules_version": restage.STAGING_RULES_VERSION,
            },
        )
        problems = database.audit_candidate(candidate, con)
        if problems:
            candidate.unlink(missing_ok=True)
            raise dg.Failure(
                description="published candidate failed its audit; the previous publication stays",
                metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))},
            )
        kept, expired = history.publish(candidate, paths, published_at, context.run.run_id, settings.retention_days)
        if expired:
            context.log.info(f"retention removed {len(expired)} kept publication(s): {[p.name for p in expired]}")
        noop.record_publication(con, context.run.run_id)
        summary = _run_summary(con, facts)
    return dg.MaterializeResult(
        metadata={
            "summary": summary,
            "path": dg.MetadataValue.path(str(paths.published)),
            "kept_as": dg.MetadataValue.path(str(kept)),
            "storage_version": database.STORAGE_VERSION,
            **{f"rows_{k}": v for k, v in counts.items()},
        }
    )


def _run_summary(con, facts) -> dg.MetadataValue:
    """What this publication is built from and what it says, as markdown for the asset page."""
    table_1 = con.sql(
        "SELECT campaign_id, kpi, target, result, pct_of_target, met FROM marts.kpi_scorecard "
        "WHERE period = 'all' AND result IS NOT NULL ORDER BY campaign_id, kpi"
    ).pl()
    rejected = con.execute(
        "SELECT path, message FROM ingest.file_ledger WHERE status = 'rejected' ORDER BY loaded_at DESC LIMIT 10"
    ).fetchall()
    lines = [
        f"**{facts[0]} export files** in the ledger, **{facts[1]:,} staged rows**, "
        f"**{facts[2]:,} quarantined rows**.",
        "",
        table_1.to_pandas().to_markdown(index=False),
    ]
    if rejected:
        lines += ["", "Rejected exports (not in these numbers):"] + [f"- {m}" for _, m in rejected]
    return dg.MetadataValue.md("\n".join(lines))


ASSETS = [reference_data, staged_reach, staged_sessions, staged_applications, marts, published_database, *REPORT_ASSETS]
