"""`talent-pipeline explain`: one published figure, the exports it is made of, and for hires the register.

Reads only the published database (kpi_scorecard, funnel, cost_per_outcome,
kpi_provenance, hire_register), so it explains exactly what managers query.
"""

from __future__ import annotations

import duckdb

from assets.marts.hiring import HIRE_EXCLUSIONS
from assets.vocabulary import ALL, KPIS

ALIASES = {"hires": "international_hires", "spend": "spend_eur", "visitors": "unique_visitors"}
EXPLAINED_KPIS = (*KPIS, "spend_eur")
FUNNEL_STAGE = {"international_hires": "hires"}


class ExplainError(ValueError):
    """What was asked for does not name a published figure."""


def _figure(con, campaign_id: str, kpi: str, period: str, channel: str) -> tuple[float | None, str, float | None]:
    """(figure, table it is published in, target) for the scope."""
    if kpi == "spend_eur":
        row = con.execute("SELECT spend_eur FROM cost_per_outcome WHERE campaign_id = ? AND period = ? "
                          "AND channel = ?", [campaign_id, period, channel]).fetchone()
        return (row[0] if row else None), "cost_per_outcome", None
    if channel == ALL:
        row = con.execute("SELECT result, target FROM kpi_scorecard WHERE campaign_id = ? AND kpi = ? AND period = ?",
                          [campaign_id, kpi, period]).fetchone()
        return (row[0], "kpi_scorecard", row[1]) if row else (None, "kpi_scorecard", None)
    row = con.execute("SELECT value FROM funnel WHERE campaign_id = ? AND stage = ? AND period = ? AND channel = ?",
                      [campaign_id, FUNNEL_STAGE.get(kpi, kpi), period, channel]).fetchone()
    return (row[0] if row else None), "funnel", None


def _campaign(con, campaign: str) -> tuple[str, str]:
    rows = con.execute("SELECT campaign_id, name FROM campaigns WHERE lower(campaign_id) = lower(?) "
                       "OR lower(name) = lower(?)", [campaign, campaign]).fetchall()
    if not rows:
        known = ", ".join(r[0] for r in con.execute("SELECT campaign_id FROM campaigns ORDER BY 1").fetchall())
        raise ExplainError(f"no campaign {campaign!r} in this publication (campaigns: {known})")
    return rows[0]


def _number(value) -> str:
    if value is None:
        return "NULL"
    return f"{value:,.2f}" if isinstance(value, float) and not float(value).is_integer() else f"{int(value):,}"


def explain(con: duckdb.DuckDBPyConnection, campaign: str, kpi: str, period: str = ALL,
            channel: str = ALL) -> list[str]:
    """The lines `explain` prints for one figure of the publication open on ``con``."""
    kpi = ALIASES.get(kpi, kpi)
    if kpi not in EXPLAINED_KPIS:
        raise ExplainError(f"unknown KPI {kpi!r}: one of {', '.join(EXPLAINED_KPIS)}")
    campaign_id, name = _campaign(con, campaign)
    figure, table, target = _figure(con, campaign_id, kpi, period, channel)
    if figure is None:
        raise ExplainError(f"{campaign_id}: no published {kpi} for period {period!r}, channel {channel!r} "
                           f"(in {table}; the campaign may have no exports of that source)")
    lines = [f"{name} ({campaign_id}) - {kpi}, period {period}, channel {channel}: {_number(figure)}"
             + (f" (target {_number(target)})" if target is not None else "") + f"   [{table}]"]
    parts = con.execute(
        "SELECT source_file, file_hash, rows_counted, contribution FROM kpi_provenance "
        "WHERE campaign_id = ? AND kpi = ? AND period = ? AND channel = ? ORDER BY contribution DESC, source_file",
        [campaign_id, kpi, period, channel],
    ).fetchall()
    total = sum(p[3] for p in parts)
    lines += ["", f"Contributing exports ({len(parts)}; contributions add up to {_number(total)}):",
              f"  {'contribution':>14}  {'rows':>8}  {'sha256':12}  export"]
    lines += [f"  {_number(c):>14}  {r:>8,}  {h[:12]}  {f}" for f, h, r, c in parts]
    if kpi == "international_hires":
        lines += _hires(con, campaign_id, period, channel)
    return lines


def _hires(con, campaign_id: str, period: str, channel: str) -> list[str]:
    where, params = ["campaign_id = ?"], [campaign_id]
    if period != ALL:
        where.append("period = ?")
        params.append(period)
    if channel != ALL:
        where.append("channel = ?")
        params.append(channel)
    columns = ("organisation, candidate_ref, applied_on, hire_date, coalesce(period, '-'), channel, country_code, "
               "source_file, line_number, excluded_by")
    rows = con.execute(f"SELECT {columns} FROM hire_register WHERE {' AND '.join(where)} "
                       "ORDER BY organisation, hire_date, source_file, line_number", params).fetchall()
    if period == ALL and channel == ALL:
        rows += con.execute(f"SELECT {columns} FROM hire_register WHERE campaign_id IS NULL "
                            "ORDER BY organisation, hire_date, source_file, line_number").fetchall()
    counted = [r for r in rows if r[-1] is None]
    excluded = [r for r in rows if r[-1] is not None]
    header = (f"  {'organisation':34} {'candidate':10} {'applied':10} {'hired':10} {'period':10} {'channel':10} "
              f"{'country':7} export:line")

    def line(r) -> str:
        return (f"  {r[0][:34]:34} {r[1]:10} {r[2]!s:10} {r[3]!s:10} {r[4]:10} {r[5]:10} {r[6]:7} "
                f"{r[7]}:{r[8]}")

    out = ["", f"Hires counted ({len(counted)} rows of the hire register):", header, *map(line, counted)]
    out += ["", f"Hires seen in the exports but not counted ({len(excluded)}):"]
    for rule, meaning in HIRE_EXCLUSIONS.items():
        mine = [r for r in excluded if r[-1] == rule]
        if mine:
            out += [f" {rule} ({len(mine)}): {meaning}", header, *map(line, mine)]
    return out
