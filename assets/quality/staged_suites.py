"""The suites of the staged tables (schemas as in sql/warehouse.sql): the one statement of each row rule.

The parsers stage rows these rules reject (a date outside every period, a
currency without a rate, an unknown stage, ...); the gate quarantines them
(assets/quality/containment.py).
"""

from __future__ import annotations

import pandas as pd

from assets.ddl import declared
from assets.marts.reach import REACH_KEY
from assets.quality.rules import (
    FILE_LOCATION, PROFILE_NULL_FLAG, WEIGHT, Derived, Reference, Rule, Suite,
    at_least, between, in_set, iso_country_codes, non_negative, not_null, rows_where,
)
from assets.vocabulary import AD_CHANNELS, APPLICATION_STAGES, CHANNELS

# Columns and types as sql/warehouse.sql declares them (DuckDB enforces the types on insert).
REACH_COLUMNS = declared("warehouse.sql")["staging.reach"]
SESSION_COLUMNS = declared("warehouse.sql")["staging.sessions"]
APPLICATION_COLUMNS = declared("warehouse.sql")["staging.applications"]
_STAGED_NOT_NULL = ("layout", "source_file", "file_hash", "line_number")


def _period_bounds(date_column: str) -> Derived:
    """Rows with a period, beside that period's start and end (null when the campaign has no such period)."""

    def build(rows: pd.DataFrame, ref: Reference) -> pd.DataFrame:
        keep = ["campaign_id", "period", date_column, *FILE_LOCATION, "file_hash",
                *(c for c in rows.columns if c == WEIGHT or c.endswith(PROFILE_NULL_FLAG))]
        dated = rows.loc[rows["period"].notna(), keep]
        bounds = ref.periods.rename(columns={"start_date": "period_start", "end_date": "period_end"})
        return dated.merge(bounds, on=["campaign_id", "period"], how="left")

    return Derived(build, ("campaign_id", "period", date_column, *FILE_LOCATION))


def _currencies_per_file(rows: pd.DataFrame, _ref: Reference) -> pd.DataFrame:
    files = rows.groupby("file_hash", sort=True)
    return pd.DataFrame(
        {
            "file_hash": files["file_hash"].first(),
            "source_file": files["source_file"].first(),
            "currencies_in_file": files["currency"].nunique(),
            "currencies": files["currency"].agg(lambda s: ", ".join(sorted(s.dropna().unique()))),
        }
    ).reset_index(drop=True)


def _inside_period_rules(date_column: str) -> list[Rule]:
    return [
        not_null("period_start", "the campaign has this period", on="period_bounds", show=("campaign_id", "period")),
        at_least(date_column, "period_start", f"{date_column} is on or after its period's start",
                 on="period_bounds", show=(date_column, "period", "period_start"), subject=date_column),
        at_least("period_end", date_column, f"{date_column} is on or before its period's end",
                 on="period_bounds", show=(date_column, "period", "period_end"), subject=date_column),
    ]


def _reach_rules(ref: Reference) -> list[Rule]:
    return [
        in_set("channel", AD_CHANNELS),
        in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
        in_set("currency", ref.currencies, "has a rate in ref.fx_rates"),
        *non_negative("impressions", "clicks", "spend", "spend_eur", "platform_reach"),
        at_least("impressions", "clicks", "clicks <= impressions", subject="clicks"),
        # Only on attributed rows: platform reach is never published, and a campaign outside
        # the talent programme in the same ad account should not hold back the managers' figures.
        at_least("impressions", "platform_reach", "platform_reach <= impressions (attributed rows with reach)",
                 on="with_campaign", subject="platform_reach"),
        not_null("period", "a row with a campaign falls in one of its periods", on="with_campaign",
                 show=("campaign_id", "date")),
        *_inside_period_rules("date"),
        between("currencies_in_file", 1, 1, "one currency per file", on="per_file",
                show=("currencies_in_file", "currencies"), subject="currency"),
    ]


def _session_rules(ref: Reference) -> list[Rule]:
    return [
        in_set("channel", CHANNELS),
        in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
        in_set("engaged_session", [0, 1]),
        not_null("campaign_id", "a session with a period has a campaign", on="with_period", show=("period",)),
        *_inside_period_rules("event_date"),
    ]


def _application_rules(ref: Reference) -> list[Rule]:
    return [
        not_null("org_id", "the organisation is in the register", show=("organisation_name",)),
        in_set("org_id", ref.org_ids, "is an org_id in ref.organisations", show=("org_id", "organisation_name")),
        in_set("stage", APPLICATION_STAGES),
        in_set("channel", CHANNELS),
        in_set("country_code", iso_country_codes(), "is an ISO 3166-1 alpha-2 code"),
        in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
        at_least("hire_date", "applied_on", "hire_date >= applied_on"),
        not_null("hire_date", "a hired application has a hire date", on="hired", show=("stage",)),
    ]


STAGED_SUITES: dict[str, Suite] = {
    "staging.reach": Suite(
        "staging.reach",
        REACH_COLUMNS,
        not_null=("date", "channel", "platform_campaign", "impressions", "clicks", "currency", *_STAGED_NOT_NULL),
        unique=(*REACH_KEY, "file_hash"),
        location=FILE_LOCATION,
        rules=_reach_rules,
        derived={
            "with_campaign": rows_where(lambda r: r["campaign_id"].notna(),
                                        ("campaign_id", "period", "date", "impressions", "platform_reach")),
            "period_bounds": _period_bounds("date"),
            "per_file": Derived(_currencies_per_file, ("file_hash", "source_file", "currency"),
                                location=("source_file",)),
        },
    ),
    "staging.sessions": Suite(
        "staging.sessions",
        SESSION_COLUMNS,
        not_null=("event_date", "user_pseudo_id", "ga_session_id", "channel", *_STAGED_NOT_NULL),
        # The same session may be in two files (overlapping exports): unique within a file.
        unique=("user_pseudo_id", "ga_session_id", "file_hash"),
        unique_show=("event_date",),
        location=FILE_LOCATION,
        rules=_session_rules,
        profile=("user_pseudo_id", "ga_session_id", "line_number"),
        derived={
            "with_period": rows_where(lambda r: r["period"].notna(), ("campaign_id", "period")),
            "period_bounds": _period_bounds("event_date"),
        },
    ),
    "staging.applications": Suite(
        "staging.applications",
        APPLICATION_COLUMNS,
        not_null=("application_key", "organisation_name", "candidate_key", "applied_on", "stage", "country_code",
                  "channel", *_STAGED_NOT_NULL),
        unique=("application_key", "file_hash"),
        unique_show=("application_id", "organisation_name"),
        location=FILE_LOCATION,
        rules=_application_rules,
        derived={"hired": rows_where(lambda r: r["stage"] == "hired", ("stage", "hire_date"))},
    ),
}
