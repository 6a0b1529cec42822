"""Reconciliation of the marts with the staged rows they were built from.

Each reconciled figure is compared with its recount from the staged rows
(assets/quality/recount.py: plain sums and ``count(DISTINCT ...)`` per scope,
written apart from the marts' counting). ``reconcile(con)`` runs every
reconciliation's rules in Great Expectations: one outcome per rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from assets.marts import provenance
from assets.quality.frames import to_pandas
from assets.quality.gx_adapter import run_rules
from assets.quality.outcomes import ExpectationOutcome
from assets.quality.recount import APPS_DEDUPED, REACH_DEDUPED, remember, scopes_sql, staged_visitor_scopes
from assets.quality.rules import Rule, at_least, between, equal
from assets.vocabulary import ALL

log = logging.getLogger(__name__)

# Rounding tolerance for EUR sums (marts round spend to cents once, staging per row).
EUR_TOLERANCE = 0.01


def _reach_frame(con) -> pd.DataFrame:
    return to_pandas(con, f"""
        WITH staged AS ({scopes_sql(REACH_DEDUPED, "sum(impressions) AS i, sum(clicks) AS c, sum(spend_eur) AS s")}),
        funnel AS (
            SELECT campaign_id, period, channel,
                   max(value) FILTER (WHERE stage = 'impressions') AS i,
                   max(value) FILTER (WHERE stage = 'clicks') AS c
            FROM marts.funnel WHERE stage IN ('impressions', 'clicks') GROUP BY ALL
        ),
        cost AS (SELECT campaign_id, period, channel, spend_eur AS s FROM marts.cost_per_outcome)
        SELECT campaign_id, period, channel,
               coalesce(st.i, 0)::BIGINT AS staged_impressions, coalesce(f.i, 0)::BIGINT AS marts_impressions,
               coalesce(st.c, 0)::BIGINT AS staged_clicks, coalesce(f.c, 0)::BIGINT AS marts_clicks,
               round(coalesce(st.s, 0), 2) AS staged_spend_eur, coalesce(co.s, 0) AS marts_spend_eur,
               coalesce(co.s, 0) - coalesce(st.s, 0) AS spend_eur_difference
        FROM staged st
        FULL JOIN funnel f USING (campaign_id, period, channel)
        FULL JOIN cost co USING (campaign_id, period, channel)
        ORDER BY ALL
    """)


# Frames built once per reconcile() call, and frames started early (prefetch_visitor_recount),
# keyed by (connection, builder).
_SHARED: dict[tuple[int, str], pd.DataFrame] = {}
_PREFETCHED: dict[tuple[int, str], Future] = {}
# Connections whose reconcile() was asked for a full visitor recount (nothing carried forward).
_FULL: set[int] = set()


def _shared(con, build: Callable) -> pd.DataFrame:
    key = (id(con), build.__name__)
    if key not in _SHARED:
        started = _PREFETCHED.pop(key, None)
        _SHARED[key] = started.result() if started is not None else build(con)
    return _SHARED[key]


def _visitor_recount(con) -> pd.DataFrame:
    return staged_visitor_scopes(con, full=id(con) in _FULL)


def prefetch_visitor_recount(con, full: bool = False) -> Callable[[], None]:
    """Starts the visitor recount now, on a cursor of its own in a thread; returns what ends it.

    At ten million sessions the recount is seconds of DuckDB work: started before
    the mart suites, it runs while Great Expectations validates them in its
    worker. The funnel reconciliation then takes its result (or its error).
    """
    cursor = con.cursor()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="visitor-recount")
    future = pool.submit(staged_visitor_scopes, cursor, full=full)
    key = (id(con), _visitor_recount.__name__)
    _PREFETCHED[key] = future

    def finish() -> None:
        unused = _PREFETCHED.pop(key, None) is not None
        try:
            error = future.exception()  # waits: the cursor must be idle before the connection closes
            if error is not None and unused:
                log.warning("visitor recount failed before any reconciliation used it: %s", error)
        finally:
            cursor.close()
            pool.shutdown()

    return finish


def _visitors_frame(con) -> pd.DataFrame:
    staged = _shared(con, _visitor_recount)
    con.register("_staged_visitors", staged[staged["period"].notna()])
    try:
        return to_pandas(con, """
            WITH funnel AS (SELECT campaign_id, period, channel, value AS v FROM marts.funnel
                            WHERE stage = 'unique_visitors')
            SELECT campaign_id, period, channel,
                   coalesce(s.visitors, 0)::BIGINT AS staged_unique_visitors,
                   coalesce(f.v, 0)::BIGINT AS marts_unique_visitors
            FROM _staged_visitors s FULL JOIN funnel f USING (campaign_id, period, channel)
            ORDER BY ALL
        """)
    finally:
        con.unregister("_staged_visitors")


def _visitor_bound_frame(con) -> pd.DataFrame:
    """Per campaign: whole-campaign visitors, and what they can be at most (periods + outside every period)."""
    staged = _shared(con, _visitor_recount)
    con.register("_staged_outside", staged[staged["period"].isna()])
    try:
        return to_pandas(con, f"""
            WITH uv AS (SELECT campaign_id, period, value FROM marts.funnel
                        WHERE stage = 'unique_visitors' AND channel = '{ALL}'),
            outside AS (SELECT campaign_id, visitors AS n FROM _staged_outside)
            SELECT c.campaign_id,
                   coalesce((SELECT value FROM uv WHERE uv.campaign_id = c.campaign_id AND uv.period = '{ALL}'), 0)
                     AS whole_campaign_visitors,
                   coalesce((SELECT sum(value) FROM uv WHERE uv.campaign_id = c.campaign_id AND uv.period <> '{ALL}'), 0)
                     + coalesce((SELECT n FROM outside o WHERE o.campaign_id = c.campaign_id), 0)
                     AS period_visitors_plus_outside
            FROM ref.campaigns c ORDER BY 1
        """)
    finally:
        con.unregister("_staged_outside")


def _hires_frame(con) -> pd.DataFrame:
    """Funnel hires beside the staged applications they can come from (the same scope)."""
    return to_pandas(con, f"""
        WITH apps AS ({APPS_DEDUPED}),
        attributed AS (SELECT * FROM apps WHERE campaign_id IS NOT NULL),  -- period: staged (sql/attribution.sql)
        bound AS ({scopes_sql("SELECT * FROM attributed", "count(DISTINCT application_key) AS n")}),
        hires AS (SELECT campaign_id, period, channel, value FROM marts.funnel WHERE stage = 'hires')
        SELECT h.campaign_id, h.period, h.channel, coalesce(h.value, 0)::BIGINT AS hires,
               coalesce(b.n, 0)::BIGINT AS staged_applications
        FROM hires h LEFT JOIN bound b USING (campaign_id, period, channel)
        ORDER BY ALL
    """)


def _org_hires_frame(con) -> pd.DataFrame:
    """hires_vs_target per organisation beside that organisation's staged applications of the scope."""
    return to_pandas(con, f"""
        WITH apps AS ({APPS_DEDUPED}),
        attributed AS (SELECT a.*, o.name AS organisation FROM apps a JOIN ref.organisations o USING (org_id)
                       WHERE a.campaign_id IS NOT NULL),
        bound AS ({scopes_sql("SELECT * FROM attributed", "count(DISTINCT application_key) AS n", by="organisation")})
        SELECT h.campaign_id, h.period, h.organisation, h.hires, coalesce(b.n, 0)::BIGINT AS staged_applications
        FROM marts.hires_vs_target h LEFT JOIN bound b USING (campaign_id, period, organisation)
        WHERE h.organisation <> '{ALL}'
        ORDER BY ALL
    """)


@dataclass(frozen=True)
class Reconciliation:
    table: str
    frame: Callable  # con -> pandas frame, one row per compared scope
    rules: tuple[Rule, ...]
    location: tuple[str, ...]


_SCOPE = ("campaign_id", "period", "channel")
RECONCILIATIONS: tuple[Reconciliation, ...] = (
    Reconciliation("marts.funnel", _reach_frame, (
        equal("staged_impressions", "marts_impressions",
              "impressions equal the de-duplicated staged reach rows of the scope", on="reach", subject="impressions"),
        equal("staged_clicks", "marts_clicks", "clicks equal the de-duplicated staged reach rows of the scope",
              on="reach", subject="clicks"),
    ), _SCOPE),
    Reconciliation("marts.cost_per_outcome", _reach_frame, (
        between("spend_eur_difference", -EUR_TOLERANCE, EUR_TOLERANCE,
                f"spend_eur equals the de-duplicated staged spend_eur of the scope (within {EUR_TOLERANCE} EUR)",
                on="reach", show=("staged_spend_eur", "marts_spend_eur"), subject="spend_eur"),
    ), _SCOPE),
    Reconciliation("marts.funnel", _visitors_frame, (
        equal("staged_unique_visitors", "marts_unique_visitors",
              "unique visitors equal the distinct staged visitors of the scope", on="visitors",
              subject="unique_visitors"),
    ), _SCOPE),
    Reconciliation("marts.funnel", _visitor_bound_frame, (
        at_least("period_visitors_plus_outside", "whole_campaign_visitors",
                 "whole-campaign visitors <= sum of per-period visitors + visitors outside every period",
                 on="visitor_bound", subject="unique_visitors"),
    ), ("campaign_id",)),
    Reconciliation("marts.funnel", _hires_frame, (
        at_least("staged_applications", "hires",
                 "hires <= the scope's distinct staged applications (attributed, de-duplicated)", on="hires",
                 subject="hires"),
    ), _SCOPE),
    Reconciliation("marts.kpi_provenance", lambda con: to_pandas(con, provenance.TRACED_FIGURES_SQL), (
        between("difference", -0.005, 0.005,
                "the contributions of the exports add up to the published figure (spend to the cent)",
                on="traced", show=("published_in", "figure", "contributions"), subject="contribution"),
    ), ("campaign_id", "kpi", "period", "channel")),
    Reconciliation("marts.hires_vs_target", _org_hires_frame, (
        at_least("staged_applications", "hires",
                 "an organisation's hires <= its distinct staged applications of the scope", on="org_hires",
                 subject="hires"),
    ), ("campaign_id", "period", "organisation")),
)


_VISITOR_FRAMES = (_visitors_frame, _visitor_bound_frame)


def reconcile(con, table_name: str | None = None, full: bool = False) -> list[ExpectationOutcome]:
    """Cross-source reconciliations of the marts with the staged rows (all, or one mart's).

    Two reconciliations may compare the same frame (reach: funnel and cost_per_outcome),
    and two frames may share a recount (visitors): each is built once per call (``_shared``).
    A visitor recount that both visitor reconciliations pass is kept (assets/quality/recount.py
    ``remember``): the next night adds the visitors of the exports a campaign gained, recounts the
    campaigns whose counted exports changed and carries the others, unless ``full``.
    """
    outcomes = []
    visitor_outcomes = []
    _SHARED.clear()
    if full:
        _FULL.add(id(con))
    try:
        for rec in RECONCILIATIONS:
            if table_name is not None and rec.table != table_name:
                continue
            produced = run_rules(
                rec.table,
                {r.on: (lambda b=rec.frame: _shared(con, b)) for r in rec.rules},
                rec.rules,
                {r.on: rec.location for r in rec.rules},
            )
            outcomes += produced
            if rec.frame in _VISITOR_FRAMES:
                visitor_outcomes += produced
        recount = _SHARED.get((id(con), _visitor_recount.__name__))
        expected = sum(len(r.rules) for r in RECONCILIATIONS if r.frame in _VISITOR_FRAMES)
        if recount is not None and len(visitor_outcomes) == expected and all(o.passed for o in visitor_outcomes):
            remember(con, recount)
    finally:
        _SHARED.clear()
        _FULL.discard(id(con))
    return outcomes
