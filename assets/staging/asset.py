"""The ingest assets: reference data and the three staged tables, thin wrappers around assets/staging/.

raw exports -> reference_data, staged_reach, staged_sessions, staged_applications -> the staged
quality gate (assets/quality/) -> marts (assets/marts/asset.py).
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at definition time.

import dagster as dg

from assets.ingest.hiring import parse_hiring
from assets.ingest.reach import parse_reach
from assets.ingest.reference import Attribution, read_reference
from assets.marts import provenance
from assets.quality import gx_runner
from assets.settings import Settings
from assets.staging import ledger, noop, restage, stage
from assets.staging.parsers import STAGED_TABLE, RowParser, VisitorParser
from assets.staging.rules_version import STAGING_RULES_VERSION
from assets.staging.warehouse import load_reference
from assets.wrappers import OWNERS, STORE, preview, settings_of, table_metadata, warehouse


def _attribution(con) -> Attribution:
    return Attribution(con)  # the ref.* tables and sql/attribution.sql's macros of this warehouse


@dg.asset(
    required_resource_keys={STORE},
    group_name="ingest",
    kinds={"duckdb", "polars"},
    owners=OWNERS,
)
def reference_data(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Reference tables from data/raw/reference/: campaigns, periods, organisations, KPI targets, FX rates,
    channel rules; and the attribution macros over them (sql/attribution.sql).

    Grain: one row per campaign / campaign period / organisation / target / currency / channel rule.
    Changing any of them (or the PII key, or rules_version.STAGING_RULES_VERSION)
    re-stages every export, since staged rows carry attribution computed from them.
    """
    gx_runner.start()  # the first run step: GX's import, in its worker, overlaps the loads
    settings = settings_of(context)
    folder = settings.raw_dir / "reference"
    with warehouse(settings, context) as con:
        reference = noop.reference_digest(folder, settings.key_fingerprint(), STAGING_RULES_VERSION)
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


def _ingest(context, settings: Settings, source: str, parser) -> dg.MaterializeResult:
    with warehouse(settings, context) as con:
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
        metadata = table_metadata(con, table)
        quarantine = preview(
            con,
            "SELECT source_file, line_number, column_name, value, reason FROM staging.quarantine "
            f"WHERE source = '{source}' ORDER BY source_file, line_number LIMIT 10",
        )
        rejected = [f"{f.message}" for f in summary.files if f.status == "rejected"]
    return dg.MaterializeResult(
        metadata={
            **summary.as_metadata(),
            **metadata,
            "rejected_files": dg.MetadataValue.md("\n".join(f"- {r}" for r in rejected) or "_none_"),
            "quarantine_preview": quarantine,
        }
    )


# What the three staged tables share: their group, owners, resource and upstream asset.
_STAGED = dict(group_name="ingest", owners=OWNERS, required_resource_keys={STORE}, deps=[reference_data])


def _reach_parser(con, settings: Settings):
    attribution = _attribution(con)
    return RowParser("reach", lambda path: parse_reach(path, attribution))


def _hiring_parser(con, settings: Settings):
    attribution = _attribution(con)
    key = settings.pii_key.encode()
    return RowParser("hiring", lambda path: parse_hiring(path, attribution, key))


def _visitor_parser(con, settings: Settings):
    return VisitorParser()


@dg.asset(kinds={"duckdb", "python"}, **_STAGED)
def staged_reach(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """staging.reach: one row per date x channel x platform campaign (x ad set), from LinkedIn, Meta, Google Ads.

    Impressions, landing-page/link clicks, spend (own currency and EUR) and the
    platform's per-row reach. Each row keeps source_file, file_hash, line_number.
    """
    return _ingest(context, settings_of(context), "reach", _reach_parser)


@dg.asset(kinds={"duckdb"}, **_STAGED)
def staged_sessions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """staging.sessions: one row per site session (user_pseudo_id x ga_session_id), GA4-style.

    Date, campaign (utm code, else the campaign window holding the date),
    period, channel (ad platform, organic, direct, referral), engagement.
    """
    return _ingest(context, settings_of(context), "visitors", _visitor_parser)


@dg.asset(kinds={"duckdb", "python"}, **_STAGED)
def staged_applications(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """staging.applications: one row per application line of an ATS export or a hiring template.

    Keyed by application_key (the same application in two exports is one);
    candidate_key is an HMAC of the normalised e-mail. No name or e-mail is stored.
    """
    return _ingest(context, settings_of(context), "hiring", _hiring_parser)


STAGING_ASSETS = [reference_data, staged_reach, staged_sessions, staged_applications]
