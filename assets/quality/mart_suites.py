"""The suites of the published marts: value rules on every mart (schemas as in the DDL under sql/).

DuckDB enforces each mart's column types and key once the marts are created
from their DDL; these suites state what a type cannot: accepted values, ranges,
keys present and unique, and cross-column rules.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from assets.ddl import declared, is_numeric, keys
from assets.marts.hiring import HIRE_EXCLUSIONS
from assets.marts.tables import MART_TABLES
from assets.quality.rules import (
    SCOPED, Derived, Reference, Rule, Suite, at_least, between, in_set,
    non_negative, not_null, rows_where, scope_rules,
)
from assets.vocabulary import AD_CHANNELS, ALL, CHANNELS, KPIS
from assets.vocabulary import STAGES as FUNNEL_STAGES


def _within_campaign(rows: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    window = ref.campaigns.rename(columns={"start_date": "campaign_start", "end_date": "campaign_end"})
    return rows.merge(window, on="campaign_id", how="left")


# Columns, types, keys and NOT NULL as sql/marts.sql declares them (DuckDB enforces them on write).
MART_COLUMNS: dict[str, dict[str, str]] = {name: declared("marts.sql")[name] for name in MART_TABLES}
MART_KEYS: dict[str, tuple[str, ...]] = {name: keys("marts.sql")[name][0] for name in MART_TABLES}
MART_NOT_NULL: dict[str, tuple[str, ...]] = {name: keys("marts.sql")[name][1] for name in MART_TABLES}


def _mart_rules(name: str) -> Callable[[Reference], list[Rule]]:
    def rules(ref: Reference) -> list[Rule]:
        if name == "kpi_scorecard":
            return [in_set("kpi", KPIS), *scope_rules(ref), *non_negative("target", "result", "pct_of_target")]
        if name == "funnel":
            return [
                in_set("channel", [*CHANNELS, ALL]),
                in_set("stage", FUNNEL_STAGES),
                between("stage_order", 1, len(FUNNEL_STAGES)),
                *scope_rules(ref),
                *non_negative("value", "step_conversion", "overall_conversion"),
            ]
        if name == "hires_vs_target":
            return [
                in_set("organisation", [*ref.org_names, ALL], "is an organisation in the register or 'all'"),
                *scope_rules(ref),
                *non_negative("hires", "target", "pct_of_target"),
            ]
        if name == "hires_over_time":
            return [
                in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
                *non_negative("hires", "cumulative_hires", "target"),
                at_least("cumulative_hires", "hires"),
            ]
        if name == "time_to_hire":
            return [
                in_set("organisation", [*ref.org_names, ALL], "is an organisation in the register or 'all'"),
                *scope_rules(ref),
                between("hires", 1, None, "a row has at least one counted hire"),
                *non_negative("median_days_to_hire"),
                at_least("p75_days_to_hire", "median_days_to_hire", "p75_days_to_hire >= median_days_to_hire"),
            ]
        if name == "cost_per_outcome":
            return [
                in_set("channel", [*AD_CHANNELS, ALL]),
                *scope_rules(ref),
                *non_negative(*(c for c, t in MART_COLUMNS[name].items() if is_numeric(t))),
            ]
        if name == "weekly_reach":
            return [
                in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
                *non_negative("impressions", "clicks", "unique_visitors", "spend_eur"),
                at_least("impressions", "clicks", "clicks <= impressions", subject="clicks"),
            ]
        if name == "campaigns":
            return [
                at_least("end_date", "start_date"),
                *non_negative("budget_eur", "eu_grant_eur"),
                at_least("budget_eur", "eu_grant_eur", "eu_grant_eur <= budget_eur", subject="eu_grant_eur"),
            ]
        if name == "campaign_periods":
            return [
                in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
                at_least("end_date", "start_date"),
                at_least("start_date", "campaign_start", "the period starts inside its campaign's window",
                         on="within_campaign"),
                at_least("campaign_end", "end_date", "the period ends inside its campaign's window",
                         on="within_campaign", subject="end_date"),
            ]
        if name == "kpi_provenance":
            return [
                in_set("kpi", [*KPIS, "spend_eur"]),
                in_set("channel", [*CHANNELS, ALL]),
                *scope_rules(ref),
                *non_negative("rows_counted", "contribution"),
            ]
        if name == "hire_register":
            return [
                in_set("excluded_by", HIRE_EXCLUSIONS, "is a rule of marts.HIRE_EXCLUSIONS"),
                in_set("channel", CHANNELS),
                at_least("hire_date", "applied_on", "hire_date >= applied_on"),
                not_null("excluded_by", "a row not counted names the rule that excluded it", on="not_counted"),
            ]
        raise KeyError(name)

    return rules


_MART_DERIVED: dict[str, dict[str, Derived]] = {
    "kpi_scorecard": SCOPED,
    "funnel": SCOPED,
    "hires_vs_target": SCOPED,
    "time_to_hire": SCOPED,
    "cost_per_outcome": SCOPED,
    "kpi_provenance": SCOPED,
    "hire_register": {"not_counted": rows_where(lambda r: ~r["counted"].astype(bool), ("counted", "excluded_by"))},
    "campaign_periods": {"within_campaign": Derived(_within_campaign, ("campaign_id", "start_date", "end_date"))},
}

MART_SUITES: dict[str, Suite] = {
    f"marts.{name}": Suite(
        f"marts.{name}",
        MART_COLUMNS[name],
        not_null=(*MART_KEYS[name], *MART_NOT_NULL.get(name, ())),
        unique=MART_KEYS[name],
        location=MART_KEYS[name],
        rules=_mart_rules(name),
        derived=_MART_DERIVED.get(name, {}),
    )
    for name in MART_TABLES
}
