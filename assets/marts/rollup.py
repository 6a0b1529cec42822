"""Roll-ups over period x channel: the one definition of the scopes the marts publish.

A scope is (a period | 'all') x (a channel | 'all') of a campaign. ``GRAINS`` lists them;
every scope is computed directly from its rows, never added up from smaller scopes, so a
distinct count stays exact. Per-period scopes leave out rows outside every period (they
count in the 'all' period only). The second dimension is the channel unless told
(``time_to_hire`` and ``hires_vs_target`` roll up over organisations the same way).

``by_scope`` computes them; assets/marts/visitor_scopes.py groups its (period, channel) bits
with it, for the counts and for each export's credits (what provenance publishes).
The reconciliation in assets/quality recounts the scopes apart from this, on purpose.
"""

from __future__ import annotations

import polars as pl

from assets.vocabulary import ALL

# (per period, per channel): False is that dimension's 'all' roll-up.
GRAINS = ((True, True), (True, False), (False, True), (False, False))


def by_scope(frame: pl.DataFrame, agg: pl.Expr | list[pl.Expr], column: str = "channel",
             within: tuple[str, ...] = ()) -> pl.DataFrame:
    """Aggregates ``agg`` at every scope of ``GRAINS``, each scope computed directly from its rows.

    ``column`` is the second dimension (channel unless told); a list of aggregates keeps their
    own names, a single one is called ``value``. ``within``: further columns to group by inside
    each scope (the export, for provenance).
    """
    parts = []
    for per_period, per_column in GRAINS:
        f = frame.filter(pl.col("period").is_not_null()) if per_period else frame
        keys = [
            pl.col("campaign_id"),
            (pl.col("period") if per_period else pl.lit(ALL)).alias("period"),
            (pl.col(column) if per_column else pl.lit(ALL)).alias(column),
            *within,
        ]
        parts.append(f.group_by(keys).agg(agg.alias("value") if isinstance(agg, pl.Expr) else agg))
    return pl.concat(parts, how="vertical_relaxed")


def scope_periods(campaigns: pl.DataFrame, periods: pl.DataFrame) -> pl.DataFrame:
    """campaign_id, period: every campaign's periods and its 'all' period, the rows of a mart's period grid."""
    return pl.concat(
        [periods.select("campaign_id", "period"), campaigns.select("campaign_id").with_columns(period=pl.lit(ALL))],
        how="vertical_relaxed",
    )
