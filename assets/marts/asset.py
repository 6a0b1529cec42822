"""The marts asset: every KPI mart from one read of the staged tables (build.py), a thin wrapper."""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at definition time.

import dagster as dg

from assets.marts import provenance, visitor_scopes
from assets.marts.build import build_marts
from assets.marts.inputs import read_inputs
from assets.marts.tables import MART_TABLES, write_marts
from assets.staging.asset import reference_data, staged_applications, staged_reach, staged_sessions
from assets.wrappers import FULL_TAG, OWNERS, STORE, settings_of, table_metadata, warehouse

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


@dg.multi_asset(specs=MART_SPECS, required_resource_keys={STORE})
def marts(context: dg.AssetExecutionContext):
    """Every KPI mart, from one read of the staged tables (Polars transforms in assets/marts/)."""
    with warehouse(settings_of(context), context) as con:
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
            metadata = table_metadata(con, f"marts.{name}")
            if name == "kpi_scorecard":
                metadata["table_1"] = dg.MetadataValue.md(
                    frame.filter(frame["period"] == "all").to_pandas().to_markdown(index=False)
                )
            yield dg.MaterializeResult(asset_key=dg.AssetKey(["marts", name]), metadata=metadata)
        # Which run built these marts: publication refuses marts another run rebuilt in between.
        con.execute("CREATE OR REPLACE TABLE marts._build AS SELECT ? AS run_id, now() AS built_at",
                    [context.run.run_id])


MART_ASSETS = [marts]
