"""The publication asset: write a candidate, audit it, swap it in (database.py, history.py), a thin wrapper."""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at definition time.

from datetime import datetime, timezone

import dagster as dg

from assets.ingest.common import first_row
from assets.marts.asset import MART_SPECS
from assets.publish import database, history
from assets.staging import noop
from assets.staging.rules_version import STAGING_RULES_VERSION
from assets.wrappers import OWNERS, STORE, settings_of, warehouse


@dg.asset(
    required_resource_keys={STORE},
    group_name="publish",
    kinds={"duckdb"},
    owners=OWNERS,
    deps=[spec.key for spec in MART_SPECS],
)
def published_database(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """published.duckdb: the managers' database, replaced whole and atomically after an audit.

    Runs only when every blocking check upstream passed (write, audit, publish).
    The replaced version is kept as published.previous.duckdb, and every publication under
    publications/ by its UTC time (assets/publish/history.py, with its retention).
    """
    settings = settings_of(context)
    with warehouse(settings, context) as con:
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
                "staging_rules_version": STAGING_RULES_VERSION,
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


PUBLISH_ASSETS = [published_database]
