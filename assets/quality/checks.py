"""The data-quality gate: bad data never reaches managers (write, audit, publish).

One Great Expectations suite per staged table and per published mart, kept as
code below (``SUITES``), plus cross-source reconciliations of the marts with
the staged rows (``RECONCILIATIONS``). Both are plain functions on frames:

- ``validate(table_name, frame, reference)`` runs a table's suite on a pandas
  frame and returns one ``ExpectationOutcome`` per expectation;
- ``reconcile(con)`` compares the marts with the staged rows in the warehouse.

The Dagster asset checks at the bottom are thin wrappers: each is blocking, so
a failure on a staged table stops the marts and a failure on a mart stops
``published_database`` in the same run. Every outcome, passed or not, is
written to ``audit.check_results`` and shown as check metadata.

Failure messages name the table, the expectation, the column, how many rows
fail and up to five examples with the file and line they came from. They never
show personal data: candidate keys, visitor ids and application keys are kept
out of examples (``PRIVATE``).

Great Expectations takes 6-10 s to import, so it is imported on first use and
its ephemeral context and pandas datasource are built once per process. GX has
no DuckDB or Polars datasource that works here, so frames are pandas, read
from DuckDB with only the columns a suite needs.
"""

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.quality import containment
from assets.quality import gx_runner
from assets.marts import provenance
from assets.staging import warehouse
from assets.staging.asset import reference_data, staged_applications, staged_reach, staged_sessions
from assets.vocabulary import APPLICATION_STAGES
from assets.marts.hiring import HIRE_EXCLUSIONS
from assets.marts.reach import REACH_KEY
from assets.marts.tables import MART_TABLES
from assets.vocabulary import AD_CHANNELS, ALL, CHANNELS, KPIS
from assets.vocabulary import STAGES as FUNNEL_STAGES
from assets.wrappers import STORE, settings_of

log = logging.getLogger(__name__)

# Set on import, in the main thread, before anything can import Great Expectations
# (assets.gx_runner, imported above, sets it too).
os.environ["GX_ANALYTICS_ENABLED"] = "false"

SUITE_CHECK = "expectation_suite"
RECONCILIATION_CHECK = "reconciles_with_staging"

# Values that identify a person (or hash one): never shown in an example or a message.
PRIVATE = frozenset({"candidate_key", "candidate_ref", "user_pseudo_id", "application_key"})
# Where an example row came from; file_hash is implied by source_file, so it is not repeated.
FILE_LOCATION = ("source_file", "line_number")
MAX_EXAMPLES = 5
# In a profiled frame (Suite.profile) each row stands for this many table rows.
WEIGHT = "_rows"
# A profiled column's group flag ("_<column>_is_null"): whether the group's values are null.
PROFILE_NULL_FLAG = "_is_null"
# String columns with few distinct values: read as pandas categoricals to save memory on large tables.
LOW_CARDINALITY = frozenset({
    "channel", "campaign_id", "period", "layout", "source_file", "file_hash", "currency", "stage", "country_code",
    "org_id", "organisation_name", "session_source", "session_medium", "session_campaign", "country",
})
# Rounding tolerance for EUR sums (marts round spend to cents once, staging per row).
EUR_TOLERANCE = 0.01

DATE, STRING, INTEGER, FLOAT, BOOLEAN = "date", "string", "integer", "float", "boolean"
# pandas dtypes a DuckDB or Polars column of each logical type arrives as.
# Strings use ExpectColumnValuesToBeOfType("str"): it accepts both pandas 3's
# str dtype and object columns of str, which ExpectColumnValuesToBeInTypeList does not.
_TYPE_EXPECTATION: dict[str, tuple[str, dict]] = {
    STRING: ("ExpectColumnValuesToBeOfType", {"type_": "str"}),
    DATE: (
        "ExpectColumnValuesToBeInTypeList",
        {"type_list": ["datetime64[us]", "datetime64[ms]", "datetime64[ns]", "datetime64[s]"]},
    ),
    INTEGER: (
        "ExpectColumnValuesToBeInTypeList",
        {"type_list": ["Int64Dtype", "Int32Dtype", "Int16Dtype", "int64", "int32", "int16"]},
    ),
    FLOAT: ("ExpectColumnValuesToBeInTypeList", {"type_list": ["float64", "Float64Dtype", "float32"]}),
    BOOLEAN: ("ExpectColumnValuesToBeInTypeList", {"type_list": ["bool", "BooleanDtype"]}),
}


# --- what a check returns --------------------------------------------------------


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation evaluated on one table: a row of audit.check_results."""

    table_name: str
    expectation: str  # GX expectation type, e.g. expect_column_values_to_be_between
    column_name: str | None
    rule: str  # what it asserts, in words: "impressions >= clicks"
    passed: bool
    failed_rows: int | None
    examples: tuple[str, ...]
    message: str
    check_name: str = ""
    # Rows a row-level failure took out of the staged table into staging.quarantine (assets/quality/containment.py).
    quarantined: int = 0
    # The failing rows' identities (file_hash, line_number, or a profile's group values), for containment.
    failing: object = field(default=None, compare=False, repr=False)
    containable: bool = False  # a row-level rule on a staged table: its failing rows can be quarantined

    @property
    def contained(self) -> bool:
        """A row-level failure whose rows left the staged table for the quarantine."""
        return not self.passed and self.containable and self.quarantined > 0


# --- reference values the suites need -----------------------------------------------


@dataclass(frozen=True)
class Reference:
    """Accepted values from the reference tables (ref.*)."""

    campaigns: pd.DataFrame  # campaign_id, start_date, end_date
    periods: pd.DataFrame  # campaign_id, period, start_date, end_date
    org_ids: frozenset[str]
    org_names: frozenset[str]
    currencies: frozenset[str]

    @property
    def campaign_ids(self) -> list[str]:
        return sorted(self.campaigns["campaign_id"].dropna())

    @property
    def campaign_periods(self) -> list[str]:
        """``campaign/period`` for every period, and ``campaign/all`` for each whole campaign."""
        scoped = [f"{r.campaign_id}/{r.period}" for r in self.periods.itertuples()]
        return sorted(scoped + [f"{c}/{ALL}" for c in self.campaign_ids])

    @classmethod
    def from_warehouse(cls, con) -> "Reference":
        orgs = con.sql("SELECT org_id, name FROM ref.organisations").fetchall()
        currencies = {r[0].upper() for r in con.sql("SELECT currency FROM ref.fx_rates").fetchall() if r[0]}
        return cls(
            campaigns=to_pandas(con, "SELECT campaign_id, start_date, end_date FROM ref.campaigns"),
            periods=to_pandas(con, "SELECT campaign_id, period, start_date, end_date FROM ref.campaign_periods"),
            org_ids=frozenset(r[0] for r in orgs),
            org_names=frozenset(r[1] for r in orgs),
            # The parsers treat EUR as rate 1.0 even when fx_rates.csv omits it.
            currencies=frozenset(currencies | {"EUR"}),
        )


@cache
def iso_country_codes() -> tuple[str, ...]:
    import pycountry

    return tuple(sorted(c.alpha_2 for c in pycountry.countries))


# --- suites as code ------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One GX expectation, on the table's rows or on a frame derived from them (``on``)."""

    expectation: str  # class name in great_expectations.expectations
    kwargs: dict
    rule: str  # what it asserts, in words
    on: str = "rows"
    show: tuple[str, ...] = ()  # columns that illustrate a failing row; default: the tested columns
    subject: str | None = None  # the column it is about (audit column_name); default: the first tested column

    @property
    def columns(self) -> tuple[str, ...]:
        k = self.kwargs
        cols = [k.get("column"), k.get("column_A"), k.get("column_B"), *k.get("column_list", ())]
        return tuple(c for c in cols if c)

    @property
    def column_name(self) -> str | None:
        if self.subject:
            return self.subject
        if "column_list" in self.kwargs:
            return ", ".join(self.kwargs["column_list"])
        return self.columns[0] if self.columns else None


@dataclass(frozen=True)
class Derived:
    """A frame derived from the rows, for rules GX cannot state on the rows themselves."""

    build: Callable[[pd.DataFrame, Reference], pd.DataFrame]
    needs: tuple[str, ...]  # columns of the rows it reads
    location: tuple[str, ...] | None = None  # how its rows are located, when not like the table's


@dataclass(frozen=True)
class Suite:
    table: str
    columns: dict[str, str]  # column -> logical type
    not_null: tuple[str, ...]
    unique: tuple[str, ...]  # compound key
    location: tuple[str, ...]  # columns that say where a failing row is
    rules: Callable[[Reference], list[Rule]]
    derived: dict[str, Derived] = field(default_factory=dict)
    unique_show: tuple[str, ...] = ()  # what illustrates a duplicate when the key itself is private
    # High-cardinality columns of a large table. In the warehouse its rows are validated as their
    # profile: one row per distinct combination of the other columns the rules read, with these
    # reduced to whether they are null (and one of their values), weighted by WEIGHT. Every row-wise
    # rule gives the same verdict, failing-row count and examples as on the rows themselves.
    profile: tuple[str, ...] = ()

    def all_rules(self, ref: Reference) -> list[Rule]:
        schema = [
            Rule("ExpectTableColumnsToMatchSet", {"column_set": list(self.columns), "exact_match": False},
                 "has every required column", on="schema"),
        ]
        for column, logical in self.columns.items():
            name, kwargs = _TYPE_EXPECTATION[logical]
            schema.append(Rule(name, {"column": column, **kwargs}, f"is of type {logical}", on="schema"))
        keys = [Rule("ExpectColumnValuesToNotBeNull", {"column": c}, "is not null") for c in self.not_null]
        if len(self.unique) == 1:
            keys.append(Rule("ExpectColumnValuesToBeUnique", {"column": self.unique[0]}, "is unique"))
        elif self.unique:
            keys.append(
                Rule("ExpectCompoundColumnsToBeUnique", {"column_list": list(self.unique)},
                     f"({', '.join(self.unique)}) is unique", show=(*self.unique, *self.unique_show))
            )
        return schema + keys + self.rules(ref)

    def needed_columns(self, ref: Reference) -> list[str]:
        """Columns the value rules read; the schema rules only need a sample of the table."""
        needed = set(self.location) | set(self.not_null) | set(self.unique)
        for r in self.all_rules(ref):
            if r.on == "rows":
                needed |= set(r.columns) | set(r.show)
        for d in self.derived.values():
            needed |= set(d.needs)
        return [c for c in self.columns if c in needed]


def not_null(column: str, rule: str = "is not null", on: str = "rows", show: tuple[str, ...] = ()) -> Rule:
    return Rule("ExpectColumnValuesToNotBeNull", {"column": column}, rule, on=on, show=show)


def in_set(column: str, values: Iterable, rule: str | None = None, on: str = "rows", show=()) -> Rule:
    values = sorted(set(values), key=str)
    if rule is None:
        rule = f"is one of {', '.join(map(str, values))}" if len(values) <= 12 else f"is one of {len(values)} values"
    return Rule("ExpectColumnValuesToBeInSet", {"column": column, "value_set": values}, rule, on=on, show=show)


def non_negative(*columns: str) -> list[Rule]:
    return [Rule("ExpectColumnValuesToBeBetween", {"column": c, "min_value": 0}, ">= 0") for c in columns]


def between(column: str, low, high, rule: str | None = None, on: str = "rows", show=(), subject=None) -> Rule:
    return Rule(
        "ExpectColumnValuesToBeBetween", {"column": column, "min_value": low, "max_value": high},
        rule or f"between {low} and {high}", on=on, show=show, subject=subject,
    )


def at_least(a: str, b: str, rule: str | None = None, on: str = "rows", show=(), subject=None) -> Rule:
    """a >= b on every row where both are present."""
    return Rule(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": a, "column_B": b, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
        rule or f"{a} >= {b}", on=on, show=show, subject=subject,
    )


def equal(a: str, b: str, rule: str, on: str, show=(), subject=None) -> Rule:
    return Rule(
        "ExpectColumnPairValuesToBeEqual", {"column_A": a, "column_B": b, "ignore_row_if": "neither"},
        rule, on=on, show=show, subject=subject,
    )


# Derived frames.


def _rows_where(predicate: Callable[[pd.DataFrame], pd.Series], needs: tuple[str, ...]) -> Derived:
    """The rows ``predicate`` selects, with only the columns the rules on them read (large tables)."""

    def build(rows: pd.DataFrame, _ref: Reference) -> pd.DataFrame:
        keep = dict.fromkeys((*needs, *FILE_LOCATION, "file_hash", WEIGHT,
                              *(c for c in rows.columns if c.endswith(PROFILE_NULL_FLAG))))
        return rows.loc[predicate(rows), [c for c in keep if c in rows.columns]]

    return Derived(build, needs)


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


def _campaign_period(rows: pd.DataFrame, _ref: Reference) -> pd.DataFrame:
    return rows.assign(campaign_period=rows["campaign_id"].astype(str) + "/" + rows["period"].astype(str))


def _within_campaign(rows: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    window = ref.campaigns.rename(columns={"start_date": "campaign_start", "end_date": "campaign_end"})
    return rows.merge(window, on="campaign_id", how="left")


def _inside_period_rules(date_column: str) -> list[Rule]:
    return [
        not_null("period_start", "the campaign has this period", on="period_bounds", show=("campaign_id", "period")),
        at_least(date_column, "period_start", f"{date_column} is on or after its period's start",
                 on="period_bounds", show=(date_column, "period", "period_start"), subject=date_column),
        at_least("period_end", date_column, f"{date_column} is on or before its period's end",
                 on="period_bounds", show=(date_column, "period", "period_end"), subject=date_column),
    ]


def _scope_rules(ref: Reference, on: str = "scoped") -> list[Rule]:
    return [
        in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
        Rule("ExpectColumnValuesToBeInSet", {"column": "campaign_period", "value_set": ref.campaign_periods},
             "is one of the campaign's periods or 'all'", on=on, show=("campaign_id", "period"), subject="period"),
    ]


_SCOPED = {"scoped": Derived(_campaign_period, ("campaign_id", "period"))}


# Staged tables (schemas as in sql/warehouse.sql).

REACH_COLUMNS = {
    "date": DATE, "channel": STRING, "campaign_id": STRING, "period": STRING, "platform_campaign": STRING,
    "ad_set": STRING, "platform_campaign_id": STRING, "impressions": INTEGER, "clicks": INTEGER, "spend": FLOAT,
    "currency": STRING, "spend_eur": FLOAT, "platform_reach": INTEGER, "layout": STRING, "source_file": STRING,
    "file_hash": STRING, "line_number": INTEGER,
}
SESSION_COLUMNS = {
    "event_date": DATE, "user_pseudo_id": STRING, "ga_session_id": INTEGER, "session_source": STRING,
    "session_medium": STRING, "session_campaign": STRING, "channel": STRING, "campaign_id": STRING,
    "period": STRING, "landing_page": STRING, "country": STRING, "engaged_session": INTEGER, "layout": STRING,
    "source_file": STRING, "file_hash": STRING, "line_number": INTEGER,
}
APPLICATION_COLUMNS = {
    "application_key": STRING, "application_id": STRING, "org_id": STRING, "organisation_name": STRING,
    "candidate_key": STRING, "job_title": STRING, "applied_on": DATE, "stage": STRING, "hire_date": DATE,
    "country_code": STRING, "campaign_id": STRING, "period": STRING, "channel": STRING, "layout": STRING,
    "source_file": STRING,
    "file_hash": STRING, "line_number": INTEGER,
}
_STAGED_NOT_NULL = ("layout", "source_file", "file_hash", "line_number")


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


# Published marts (schemas as in sql/published.sql; test_checks.py keeps them in step).

MART_COLUMNS: dict[str, dict[str, str]] = {
    "kpi_scorecard": {"campaign_id": STRING, "kpi": STRING, "period": STRING, "target": FLOAT, "result": INTEGER,
                      "pct_of_target": FLOAT, "met": BOOLEAN},
    "funnel": {"campaign_id": STRING, "period": STRING, "channel": STRING, "stage": STRING, "stage_order": INTEGER,
               "value": INTEGER, "step_conversion": FLOAT, "overall_conversion": FLOAT},
    "hires_vs_target": {"campaign_id": STRING, "period": STRING, "organisation": STRING, "hires": INTEGER,
                        "target": FLOAT, "pct_of_target": FLOAT},
    "hires_over_time": {"campaign_id": STRING, "week_start": DATE, "hires": INTEGER, "cumulative_hires": INTEGER,
                        "target": FLOAT},
    "time_to_hire": {"campaign_id": STRING, "period": STRING, "organisation": STRING, "hires": INTEGER,
                     "median_days_to_hire": FLOAT, "p75_days_to_hire": FLOAT},
    "cost_per_outcome": {"campaign_id": STRING, "period": STRING, "channel": STRING, "spend_eur": FLOAT,
                         "clicks": INTEGER, "unique_visitors": INTEGER, "applications": INTEGER, "hires": INTEGER,
                         "cost_per_click_eur": FLOAT, "cost_per_visitor_eur": FLOAT,
                         "cost_per_application_eur": FLOAT, "cost_per_hire_eur": FLOAT},
    "weekly_reach": {"campaign_id": STRING, "week_start": DATE, "impressions": INTEGER, "clicks": INTEGER,
                     "unique_visitors": INTEGER, "spend_eur": FLOAT},
    "campaigns": {"campaign_id": STRING, "name": STRING, "start_date": DATE, "end_date": DATE, "budget_eur": FLOAT,
                  "eu_grant_eur": FLOAT},
    "campaign_periods": {"campaign_id": STRING, "period": STRING, "start_date": DATE, "end_date": DATE,
                         "utm_campaign": STRING},
    "kpi_provenance": {"campaign_id": STRING, "kpi": STRING, "period": STRING, "channel": STRING,
                       "source_file": STRING, "file_hash": STRING, "rows_counted": INTEGER, "contribution": FLOAT},
    "hire_register": {"campaign_id": STRING, "organisation": STRING, "org_id": STRING, "candidate_ref": STRING,
                      "applied_on": DATE, "hire_date": DATE, "period": STRING, "channel": STRING,
                      "country_code": STRING, "source_file": STRING, "file_hash": STRING, "line_number": INTEGER,
                      "counted": BOOLEAN, "excluded_by": STRING},
}
MART_KEYS: dict[str, tuple[str, ...]] = {
    "kpi_scorecard": ("campaign_id", "kpi", "period"),
    "funnel": ("campaign_id", "period", "channel", "stage"),
    "hires_vs_target": ("campaign_id", "period", "organisation"),
    "hires_over_time": ("campaign_id", "week_start"),
    "time_to_hire": ("campaign_id", "period", "organisation"),
    "cost_per_outcome": ("campaign_id", "period", "channel"),
    "weekly_reach": ("campaign_id", "week_start"),
    "campaigns": ("campaign_id",),
    "campaign_periods": ("campaign_id", "period"),
    "kpi_provenance": ("campaign_id", "kpi", "period", "channel", "file_hash"),
    "hire_register": ("file_hash", "line_number"),
}
MART_NOT_NULL: dict[str, tuple[str, ...]] = {
    "hires_vs_target": ("hires",),
    "hires_over_time": ("hires", "cumulative_hires"),
    "time_to_hire": ("hires", "median_days_to_hire", "p75_days_to_hire"),
    "weekly_reach": ("impressions", "clicks", "unique_visitors"),
    "campaigns": ("name", "start_date", "end_date"),
    "campaign_periods": ("start_date", "end_date"),
    "funnel": ("stage_order",),
    "kpi_provenance": ("source_file", "rows_counted", "contribution"),
    "hire_register": ("organisation", "candidate_ref", "applied_on", "hire_date", "channel", "source_file",
                      "counted"),
}


def _mart_rules(name: str) -> Callable[[Reference], list[Rule]]:
    def rules(ref: Reference) -> list[Rule]:
        if name == "kpi_scorecard":
            return [in_set("kpi", KPIS), *_scope_rules(ref), *non_negative("target", "result", "pct_of_target")]
        if name == "funnel":
            return [
                in_set("channel", [*CHANNELS, ALL]),
                in_set("stage", FUNNEL_STAGES),
                between("stage_order", 1, len(FUNNEL_STAGES)),
                *_scope_rules(ref),
                *non_negative("value", "step_conversion", "overall_conversion"),
            ]
        if name == "hires_vs_target":
            return [
                in_set("organisation", [*ref.org_names, ALL], "is an organisation in the register or 'all'"),
                *_scope_rules(ref),
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
                *_scope_rules(ref),
                between("hires", 1, None, "a row has at least one counted hire"),
                *non_negative("median_days_to_hire"),
                at_least("p75_days_to_hire", "median_days_to_hire", "p75_days_to_hire >= median_days_to_hire"),
            ]
        if name == "cost_per_outcome":
            return [
                in_set("channel", [*AD_CHANNELS, ALL]),
                *_scope_rules(ref),
                *non_negative(*(c for c, t in MART_COLUMNS[name].items() if t in (INTEGER, FLOAT))),
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
                *_scope_rules(ref),
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
    "kpi_scorecard": _SCOPED,
    "funnel": _SCOPED,
    "hires_vs_target": _SCOPED,
    "time_to_hire": _SCOPED,
    "cost_per_outcome": _SCOPED,
    "kpi_provenance": _SCOPED,
    "hire_register": {"not_counted": _rows_where(lambda r: ~r["counted"].astype(bool), ("counted", "excluded_by"))},
    "campaign_periods": {"within_campaign": Derived(_within_campaign, ("campaign_id", "start_date", "end_date"))},
}

SUITES: dict[str, Suite] = {
    "staging.reach": Suite(
        "staging.reach",
        REACH_COLUMNS,
        not_null=("date", "channel", "platform_campaign", "impressions", "clicks", "currency", *_STAGED_NOT_NULL),
        unique=(*REACH_KEY, "file_hash"),
        location=FILE_LOCATION,
        rules=_reach_rules,
        derived={
            "with_campaign": _rows_where(lambda r: r["campaign_id"].notna(),
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
            "with_period": _rows_where(lambda r: r["period"].notna(), ("campaign_id", "period")),
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
        derived={"hired": _rows_where(lambda r: r["stage"] == "hired", ("stage", "hire_date"))},
    ),
    **{
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
    },
}


# --- running a suite with Great Expectations ----------------------------------------


def warm_up() -> None:
    """Imports Great Expectations in this process now rather than on the first check."""
    gx_runner.warm_up()


def _run_gx(frame: pd.DataFrame, rules: Sequence[Rule]) -> dict[int, object]:
    """Validates ``frame`` against ``rules``: a gx_runner.Result, or the error that kept a rule from being
    built, keyed by the rule's position."""
    # A profile's failing rows are weighted, so every failing index is needed (a profile is small).
    # Staged rows that fail are quarantined, so every failing index is needed there too.
    complete = WEIGHT in frame.columns or "file_hash" in frame.columns
    results = gx_runner.run(frame, [(r.expectation, r.kwargs) for r in rules], complete=complete)
    return dict(enumerate(results))


def _snake(class_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in class_name).lstrip("_")


def _fmt(value) -> str:
    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.10g}"
    return repr(value) if isinstance(value, str) else str(value)


def _examples(frame: pd.DataFrame, indices: Sequence, show: Sequence[str], location: Sequence[str]) -> list[str]:
    """Up to five distinct illustrations of failing rows, each with where the first one is."""
    where = [c for c in location if c in frame.columns and c not in PRIVATE]
    implied = {"file_hash"} if "source_file" in where else set()
    shown = [c for c in show if c in frame.columns and c not in PRIVATE and c not in where and c not in implied]
    out: dict[str, str] = {}
    for i in indices:
        if i not in frame.index:
            continue
        row = frame.loc[i]
        values = ", ".join(f"{c}={_fmt(row[c])}" for c in shown)
        if values and values in out:
            continue
        if list(where) == list(FILE_LOCATION):
            place = f"{row['source_file']} line {_fmt(row['line_number'])}"
        else:
            place = ", ".join(f"{c}={_fmt(row[c])}" for c in where)
        text = f"{values} ({place})" if values and place else values or place
        if text:
            out[values or text] = text
        if len(out) == MAX_EXAMPLES:
            break
    return list(out.values())


def _outcome(table: str, rule: Rule, result, frame: pd.DataFrame | None, location: Sequence[str],
             error: str | None = None) -> ExpectationOutcome:
    expectation = _snake(rule.expectation)
    column = rule.column_name
    subject = f"{table}.{column}" if column and "," not in column else table
    if error is None and result is not None and result.exception_info.get("raised_exception"):
        error = (result.exception_info.get("exception_message") or "").splitlines()[0] or "evaluation failed"
    if error is not None:
        return ExpectationOutcome(table, expectation, column, rule.rule, False, None, (),
                                  f"{subject}: {expectation} ({rule.rule}) could not be evaluated: {error}")
    res = result.result or {}
    failed = res.get("unexpected_count")
    total = res.get("element_count")
    indices = res.get("partial_unexpected_index_list") or []
    if not result.success and frame is not None and rule.on != "schema" and "file_hash" in frame.columns:
        every = res.get("unexpected_index_list")
        every = indices if every is None else every
        failing = frame.loc[frame.index.isin(every)]
    else:
        failing = None
    if frame is not None and WEIGHT in frame.columns and total is not None:
        # A profile row stands for WEIGHT table rows: count those, not the profile's rows.
        indices = res.get("unexpected_index_list") or []
        total = int(frame[WEIGHT].sum())
        if failed is not None:
            failed = int(frame.loc[frame.index.isin(indices), WEIGHT].sum())
    if rule.on == "shared_keys":
        total = None  # only the rows that share a key were read; the table's size is not known here
    if result.success:
        scope = (f" on all {total:,} rows" if total is not None
                 else ": no two rows share a key" if rule.on == "shared_keys" else "")
        return ExpectationOutcome(table, expectation, column, rule.rule, True, failed if failed is not None else 0,
                                  (), f"{subject}: {expectation} ({rule.rule}) passed{scope}")
    if failed is not None:
        examples = _examples(frame, indices, rule.show or rule.columns, location)
        what = f"{failed:,} of {total:,} rows fail" if total is not None else f"{failed:,} rows fail"
    else:
        # Table-level expectations (columns, dtypes) report what they observed, not rows.
        observed = res.get("observed_value")
        if rule.expectation == "ExpectTableColumnsToMatchSet":
            missing = sorted(set(rule.kwargs["column_set"]) - set(observed or []))
            examples = [f"missing column {m!r}" for m in missing[:MAX_EXAMPLES]]
            failed = None
        else:
            examples = [f"observed type {observed}"]
        what = "fails"
    shown = f"; e.g. {'; '.join(examples)}" if examples else ""
    return ExpectationOutcome(table, expectation, column, rule.rule, False, failed, tuple(examples),
                              f"{subject}: {expectation} ({rule.rule}): {what}{shown}",
                              failing=failing, containable=failing is not None and failed is not None)


def _run_rules(table: str, frames: dict[str, Callable[[], pd.DataFrame]], rules: Sequence[Rule],
               locations: dict[str, tuple[str, ...]]) -> list[ExpectationOutcome]:
    """Runs each rule on its frame; a frame that cannot be built fails its rules with the reason."""
    outcomes: dict[int, ExpectationOutcome] = {}
    for on in dict.fromkeys(r.on for r in rules):
        batch = [(i, r) for i, r in enumerate(rules) if r.on == on]
        location = locations.get(on, ())
        try:
            frame = frames[on]()
            missing = sorted({c for _, r in batch for c in r.columns} - set(frame.columns))
            runnable = [(i, r) for i, r in batch if not set(r.columns) & set(missing)]
            results = _run_gx(frame, [r for _, r in runnable]) if runnable else {}
        except Exception as exc:  # noqa: BLE001 - a broken frame is a failed check, not a crash
            for i, r in batch:
                outcomes[i] = _outcome(table, r, None, None, location, error=f"{type(exc).__name__}: {exc}")
            continue
        for k, (i, r) in enumerate(runnable):
            result = results.get(k, "no result")
            if isinstance(result, str):
                outcomes[i] = _outcome(table, r, None, None, location, error=result)
            else:
                outcomes[i] = _outcome(table, r, result, frame, location)
        for i, r in batch:
            if i not in outcomes:
                absent = [c for c in r.columns if c in missing]
                outcomes[i] = _outcome(table, r, None, None, location, error=f"column(s) {absent} missing")
    return [outcomes[i] for i in range(len(rules))]


def _is_key_rule(rule: Rule) -> bool:
    return rule.on == "rows" and rule.expectation in ("ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique")


def validate(table_name: str, frame: pd.DataFrame, reference: Reference,
             schema_frame: pd.DataFrame | None = None,
             key_frame: pd.DataFrame | None = None) -> list[ExpectationOutcome]:
    """Runs ``table_name``'s suite on ``frame``: one outcome per expectation, in suite order.

    ``frame`` needs the columns the value rules read (``SUITES[t].needed_columns``),
    or is their profile (``profile_frames``, weighted by WEIGHT);
    ``schema_frame`` (default: ``frame``) is checked for every column and its type.
    A sample of a DuckDB table serves: its dtypes come from the column types.
    ``key_frame`` (with a profile) holds the rows whose key another row shares: the
    key rule runs on them, which fails exactly the rows it fails on the whole table.
    """
    suite = SUITES[table_name]
    if not frame.index.is_unique:
        frame = frame.reset_index(drop=True)
    schema = frame if schema_frame is None else schema_frame
    frames: dict[str, Callable[[], pd.DataFrame]] = {"rows": lambda: frame, "schema": lambda: schema}
    locations = {"rows": suite.location, "schema": ()}
    for name, derived in suite.derived.items():
        frames[name] = lambda d=derived: d.build(frame, reference)
        locations[name] = suite.location if derived.location is None else derived.location
    rules = suite.all_rules(reference)
    if key_frame is not None:
        rules = [replace(r, on="shared_keys") if _is_key_rule(r) else r for r in rules]
        frames["shared_keys"] = lambda: key_frame.reset_index(drop=True)
        locations["shared_keys"] = suite.location
    return _run_rules(table_name, frames, rules, locations)


# --- reconciliation of marts with staging ------------------------------------------------

# Attributed reach rows de-duplicated exactly as assets/marts/compute.py dedupe_reach does
# (latest load wins per date x channel x platform campaign x ad set), written
# again in SQL so that the reconciliation does not share the code it checks.
_REACH_DEDUPED = f"""
SELECT s.campaign_id, s.period, s.channel, s.impressions, s.clicks, s.spend_eur
FROM staging.reach s JOIN ingest.file_ledger l USING (file_hash)
WHERE s.campaign_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY {', '.join(f's.{c}' for c in REACH_KEY)}
                           ORDER BY l.loaded_at DESC, s.file_hash DESC, s.line_number DESC) = 1
"""
# One application per application_key, latest export wins (assets/marts/compute.py dedupe_applications).
_APPS_DEDUPED = """
SELECT s.application_key, s.org_id, s.applied_on, s.campaign_id, s.channel
FROM staging.applications s JOIN ingest.file_ledger l USING (file_hash)
QUALIFY row_number() OVER (PARTITION BY s.application_key
                           ORDER BY l.loaded_at DESC, s.file_hash DESC, s.line_number DESC) = 1
"""


def _scopes(source: str, aggregates: str) -> str:
    """``aggregates`` of ``source`` at every funnel scope: (period | all) x (channel | all)."""
    parts = []
    for period, channel in (("period", "channel"), ("period", f"'{ALL}'"), (f"'{ALL}'", "channel"),
                            (f"'{ALL}'", f"'{ALL}'")):
        where = "WHERE period IS NOT NULL" if period == "period" else ""
        parts.append(
            f"SELECT campaign_id, {period} AS period, {channel} AS channel, {aggregates} "
            f"FROM ({source}) {where} GROUP BY ALL"
        )
    return " UNION ALL ".join(parts)


def _reach_frame(con) -> pd.DataFrame:
    return to_pandas(con, f"""
        WITH staged AS ({_scopes(_REACH_DEDUPED, "sum(impressions) AS i, sum(clicks) AS c, sum(spend_eur) AS s")}),
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


def _staged_visitor_scopes(con) -> pd.DataFrame:
    """Distinct staged visitors of every scope, recounted from staging.sessions in one pass.

    campaign_id, period, channel, visitors: one row per (period | 'all') x (channel | 'all')
    scope with visitors, and period = NULL, channel = 'all' for the campaign's visitors seen
    outside every period. Each (period, channel) pair in the sessions gets a bit; each
    (campaign, visitor) becomes one row with the bits of the pairs it was seen in, and rows
    with the same bits are counted together. A scope's visitors are those whose bits meet the
    scope's pairs: exact, one pass over the sessions (a distinct count per scope took four),
    and written apart from the marts' own counting, which it checks.
    """
    pairs = con.execute(
        "SELECT DISTINCT period, channel FROM staging.sessions WHERE campaign_id IS NOT NULL ORDER BY ALL"
    ).fetchall()
    if not pairs:
        return pd.DataFrame(columns=["campaign_id", "period", "channel", "visitors"])
    words = range((len(pairs) - 1) // 64 + 1)
    bits = pd.DataFrame({"period": [p for p, _ in pairs], "channel": [c for _, c in pairs],
                         "bit": range(len(pairs))})
    con.register("_visitor_pair_bits", bits)
    try:
        masks = con.execute(
            "SELECT campaign_id, "
            + ", ".join(f"w{w}" for w in words)
            + ", count(*) AS n FROM (SELECT s.campaign_id, "
            + ", ".join(f"bit_or(CASE WHEN b.bit // 64 = {w} THEN 1::UBIGINT << (b.bit % 64)::UBIGINT "
                        f"ELSE 0::UBIGINT END) AS w{w}" for w in words)
            + " FROM staging.sessions s JOIN _visitor_pair_bits b "
            "ON s.period IS NOT DISTINCT FROM b.period AND s.channel = b.channel "
            "WHERE s.campaign_id IS NOT NULL GROUP BY s.campaign_id, s.user_pseudo_id) GROUP BY ALL"
        ).fetchall()
    finally:
        con.unregister("_visitor_pair_bits")
    periods = sorted({p for p, _ in pairs if p is not None})
    channels = sorted({c for _, c in pairs})

    def members(period, channel) -> int:
        """The bits of the (period, channel) pairs that a scope is made of, as one integer."""
        return sum(1 << i for i, (p, c) in enumerate(pairs)
                   if (period == ALL or p == period) and (channel == ALL or c == channel))

    scopes = [(p, c, members(p, c)) for p, c in pairs if p is not None]
    scopes += [(p, ALL, members(p, ALL)) for p in periods]
    scopes += [(ALL, c, members(ALL, c)) for c in channels]
    scopes += [(ALL, ALL, members(ALL, ALL)), (None, ALL, members(None, ALL))]
    counts: dict[tuple, int] = {}
    for row in masks:
        campaign_id, n = row[0], row[-1]
        seen = sum(int(word) << (64 * w) for w, word in enumerate(row[1:-1]))
        for period, channel, wanted in scopes:
            if seen & wanted:
                counts[(campaign_id, period, channel)] = counts.get((campaign_id, period, channel), 0) + n
    return pd.DataFrame([(*k, v) for k, v in sorted(counts.items(), key=lambda kv: tuple(map(str, kv[0])))],
                        columns=["campaign_id", "period", "channel", "visitors"])


# Frames built once per reconcile() call, and frames started early (prefetch_visitor_recount),
# keyed by (connection, builder).
_SHARED: dict[tuple[int, str], pd.DataFrame] = {}
_PREFETCHED: dict[tuple[int, str], Future] = {}


def _shared(con, build: Callable) -> pd.DataFrame:
    key = (id(con), build.__name__)
    if key not in _SHARED:
        started = _PREFETCHED.pop(key, None)
        _SHARED[key] = started.result() if started is not None else build(con)
    return _SHARED[key]


def prefetch_visitor_recount(con) -> Callable[[], None]:
    """Starts the visitor recount now, on a cursor of its own in a thread; returns what ends it.

    At ten million sessions the recount is seconds of DuckDB work: started before
    the mart suites, it runs while Great Expectations validates them in its
    worker. The funnel reconciliation then takes its result (or its error).
    """
    cursor = con.cursor()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="visitor-recount")
    future = pool.submit(_staged_visitor_scopes, cursor)
    key = (id(con), _staged_visitor_scopes.__name__)
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
    staged = _shared(con, _staged_visitor_scopes)
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
    staged = _shared(con, _staged_visitor_scopes)
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
        WITH apps AS ({_APPS_DEDUPED}),
        attributed AS (SELECT a.*, p.period FROM apps a
                       LEFT JOIN ref.campaign_periods p
                         ON p.campaign_id = a.campaign_id AND a.applied_on BETWEEN p.start_date AND p.end_date
                       WHERE a.campaign_id IS NOT NULL),
        bound AS ({_scopes("SELECT * FROM attributed", "count(DISTINCT application_key) AS n")}),
        hires AS (SELECT campaign_id, period, channel, value FROM marts.funnel WHERE stage = 'hires')
        SELECT h.campaign_id, h.period, h.channel, coalesce(h.value, 0)::BIGINT AS hires,
               coalesce(b.n, 0)::BIGINT AS staged_applications
        FROM hires h LEFT JOIN bound b USING (campaign_id, period, channel)
        ORDER BY ALL
    """)


def _org_hires_frame(con) -> pd.DataFrame:
    """hires_vs_target per organisation beside that organisation's staged applications of the scope."""
    return to_pandas(con, f"""
        WITH apps AS ({_APPS_DEDUPED}),
        attributed AS (SELECT a.*, p.period, o.name AS organisation FROM apps a
                       JOIN ref.organisations o USING (org_id)
                       LEFT JOIN ref.campaign_periods p
                         ON p.campaign_id = a.campaign_id AND a.applied_on BETWEEN p.start_date AND p.end_date
                       WHERE a.campaign_id IS NOT NULL),
        bound AS (
            SELECT campaign_id, period, organisation, count(DISTINCT application_key) AS n
            FROM attributed WHERE period IS NOT NULL GROUP BY ALL
            UNION ALL
            SELECT campaign_id, '{ALL}', organisation, count(DISTINCT application_key) FROM attributed GROUP BY ALL
        )
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


def reconcile(con, table_name: str | None = None) -> list[ExpectationOutcome]:
    """Cross-source reconciliations of the marts with the staged rows (all, or one mart's).

    Two reconciliations may compare the same frame (reach: funnel and cost_per_outcome),
    and two frames may share a recount (visitors): each is built once per call (``_shared``).
    """
    outcomes = []
    _SHARED.clear()
    try:
        for rec in RECONCILIATIONS:
            if table_name is not None and rec.table != table_name:
                continue
            outcomes += _run_rules(
                rec.table,
                {r.on: (lambda b=rec.frame: _shared(con, b)) for r in rec.rules},
                rec.rules,
                {r.on: rec.location for r in rec.rules},
            )
    finally:
        _SHARED.clear()
    return outcomes


# --- reading the warehouse, recording outcomes ------------------------------------------------


def to_pandas(con, sql: str, categorical: Iterable[str] = ()) -> pd.DataFrame:
    """A query's result as pandas, through Arrow.

    DuckDB's own ``.df()`` builds Python string objects: on 5M sessions it took
    40 s and 5.9 GB. Arrow keeps strings in Arrow buffers (pandas 3 str dtype):
    4 s and 1.8 GB. ``categorical`` string columns (few distinct values, such as
    the 64-character file_hash) become pandas categoricals, which shrinks the
    frame about fourfold. Integer columns with nulls become nullable Int64, dates datetime64.
    """
    import pyarrow as pa

    nullable = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.int16(): pd.Int16Dtype(),
                pa.bool_(): pd.BooleanDtype()}
    table = con.sql(sql).to_arrow_table()
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in categorical and pa.types.is_string(column.type):
            column = column.dictionary_encode()
        mapper = nullable.get if column.null_count else None
        columns[name] = column.to_pandas(date_as_object=False, types_mapper=mapper)
    return pd.DataFrame(columns)


def _present_columns(con, table_name: str) -> set[str]:
    schema_name, table = table_name.split(".")
    return {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema_name, table],
        ).fetchall()
    }


def table_frames(con, table_name: str, reference: Reference,
                 where: str = "true") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows with the columns the suite reads, a 1,000-row sample with every column for the schema rules)."""
    suite = SUITES[table_name]
    present = _present_columns(con, table_name)
    columns = [c for c in suite.needed_columns(reference) if c in present]
    select = ", ".join(f'"{c}"' for c in columns) or "1 AS no_columns"
    rows = to_pandas(con, f"SELECT {select} FROM {table_name} WHERE {where}", categorical=LOW_CARDINALITY)
    sample = to_pandas(con, f"SELECT * FROM {table_name} LIMIT 1000")
    return rows, sample


# Staged rows are validated once per file load: a night validates what it loaded, not the
# history; rows that fail a row-level rule leave for the quarantine (assets/quality/containment.py), and a
# file stays pending only while a failure could not be contained.
# Any change to this module (the suites) validates everything again.
SUITE_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
# Bounded memory: pandas frames for GX stay near this many rows (about 0.7 GB of sessions).
CHUNK_ROWS = 2_000_000
# Chunks split on a column of each table's key, so a key is never split across chunks.
# Reach and applications have per-file rules (one currency per file), so they split by file;
# sessions split by visitor, since a single visitor file can hold tens of millions of rows.
PARTITION_COLUMN = {
    "staging.reach": "file_hash",
    "staging.sessions": "user_pseudo_id",
    "staging.applications": "file_hash",
}


def _pending_files(con, table_name: str) -> list[tuple[str, datetime]]:
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.validated_files (table_name VARCHAR, file_hash VARCHAR, "
        "loaded_at TIMESTAMP, suite_version VARCHAR, validated_at TIMESTAMP)"
    )
    return con.execute(
        f"""
        SELECT l.file_hash, l.loaded_at FROM ingest.file_ledger l
        WHERE l.status = 'loaded' AND l.file_hash IN (SELECT DISTINCT file_hash FROM {table_name})
          AND NOT EXISTS (SELECT 1 FROM audit.validated_files v
                          WHERE v.table_name = ? AND v.file_hash = l.file_hash AND v.loaded_at = l.loaded_at
                            AND v.suite_version = ?)
        ORDER BY l.loaded_at
        """,
        [table_name, SUITE_VERSION],
    ).fetchall()


def _merge(table_name: str, chunks: list[list[ExpectationOutcome]]) -> list[ExpectationOutcome]:
    """One outcome per expectation from the outcomes of each chunk."""
    if len(chunks) == 1:
        return chunks[0]
    merged = []
    for parts in zip(*chunks):
        first = parts[0]
        failing = [o for o in parts if not o.passed]
        if not failing:
            merged.append(replace(first, failed_rows=0, message=f"{first.message} (in {len(parts)} chunks)"))
            continue
        counts = [o.failed_rows for o in failing if o.failed_rows is not None]
        failed = sum(counts) if counts else None
        examples = tuple(e for o in failing for e in o.examples)[:MAX_EXAMPLES]
        subject = f"{table_name}.{first.column_name}" if first.column_name and "," not in first.column_name \
            else table_name
        what = f"{failed:,} rows fail" if failed is not None else "fails"
        frames = [o.failing for o in failing if o.failing is not None]
        merged.append(replace(
            first, passed=False, failed_rows=failed, examples=examples,
            failing=pd.concat(frames, ignore_index=True) if frames else None,
            containable=all(o.containable for o in failing),
            message=f"{subject}: {first.expectation} ({first.rule}): {what} "
                    f"(in {len(failing)} of {len(parts)} chunks); e.g. {'; '.join(examples)}",
        ))
    return merged


def profile_frames(con, table_name: str, reference: Reference,
                   where: str = "true") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(the rows' profile, the rows whose key another row shares, a schema sample) of a profiled table.

    The profile has one row per distinct combination of the columns the rules
    read, the suite's ``profile`` columns reduced to null or not (keeping their
    smallest value, and the first line_number), with WEIGHT rows behind it: ten
    million sessions become tens of thousands of rows, computed by DuckDB where
    they are stored, so Great Expectations judges every value without moving them.
    """
    suite = SUITES[table_name]
    present = _present_columns(con, table_name)
    columns = [c for c in suite.needed_columns(reference) if c in present]
    select, flags = [], []
    for c in columns:
        if c in suite.profile:
            # A group's rows are all null or all not: keep one value (a placeholder for a private one).
            withheld = f"CASE WHEN bool_or(\"{c}\" IS NOT NULL) THEN '(withheld)' END AS \"{c}\""
            select.append(withheld if c in PRIVATE else f'min("{c}") AS "{c}"')
            flags.append(f'("{c}" IS NULL) AS "_{c}{PROFILE_NULL_FLAG}"')
        else:
            select.append(f'"{c}"')
    # In the order of each group's first row, so that examples are the first failing rows, as on the rows.
    profile = to_pandas(
        con,
        f"SELECT {', '.join(select + flags)}, count(*) AS {WEIGHT} FROM {table_name} WHERE {where} "
        f"GROUP BY ALL ORDER BY min(rowid)",
        categorical=LOW_CARDINALITY,
    )
    # The null flags stay: with the other grouped columns they find a failing group's rows again.
    key = ", ".join(f'"{c}"' for c in suite.unique)
    shown = [c for c in dict.fromkeys((*suite.unique, *suite.unique_show, *suite.location)) if c in present]
    # Rows whose key hash repeats are the candidates (grouping integers is quicker than the string
    # keys); the window over those few rows keeps exactly the rows whose key repeats.
    shared = to_pandas(
        con,
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in shown)} FROM {table_name} "
        f"WHERE {where} AND hash({key}) IN (SELECT hash({key}) AS h FROM {table_name} WHERE {where} "
        f"GROUP BY h HAVING count(*) > 1) "
        f"QUALIFY count(*) OVER (PARTITION BY {key}) > 1 ORDER BY rowid",
        categorical=LOW_CARDINALITY,
    )
    sample = to_pandas(con, f"SELECT * FROM {table_name} LIMIT 1000")
    return profile, shared, sample


def validate_table(con, table_name: str, run_id: str | None = None) -> list[ExpectationOutcome]:
    """A table's suite on what it holds (a staged table: on the files loaded since their last passing
    validation). A staged row that fails a row-level rule is quarantined (assets/quality/containment.py)."""
    reference = Reference.from_warehouse(con)
    if table_name not in PARTITION_COLUMN:
        rows, sample = table_frames(con, table_name, reference)
        return validate(table_name, rows, reference, schema_frame=sample)
    pending = _pending_files(con, table_name)
    if not pending:
        return [ExpectationOutcome(
            table_name, "incremental_validation", None, "every staged file passed this suite version", True, 0, (),
            f"{table_name}: no file loaded since its last passing validation; nothing new to validate",
        )]
    hashes = ", ".join(f"'{h}'" for h, _ in pending)
    if SUITES[table_name].profile:
        profile, shared, sample = profile_frames(con, table_name, reference, f"file_hash IN ({hashes})")
        outcomes = validate(table_name, profile, reference, schema_frame=sample, key_frame=shared)
        outcomes = _contain(con, table_name, outcomes, f"file_hash IN ({hashes})", run_id)
        _mark_validated(con, table_name, pending, outcomes)
        return outcomes
    total = con.execute(f"SELECT count(*) FROM {table_name} WHERE file_hash IN ({hashes})").fetchall()[0][0]
    parts = max(1, -(-total // CHUNK_ROWS))
    column = PARTITION_COLUMN[table_name]
    chunks = []
    for part in range(parts):
        where = f"file_hash IN ({hashes})" + (f" AND hash({column}) % {parts} = {part}" if parts > 1 else "")
        rows, sample = table_frames(con, table_name, reference, where)
        chunks.append(validate(table_name, rows, reference, schema_frame=sample))
        del rows
    outcomes = _contain(con, table_name, _merge(table_name, chunks), f"file_hash IN ({hashes})", run_id)
    _mark_validated(con, table_name, pending, outcomes)
    return outcomes


def _contain(con, table_name: str, outcomes, where: str, run_id: str | None) -> list[ExpectationOutcome]:
    return containment.contain(con, table_name, outcomes, where, run_id, WEIGHT, PROFILE_NULL_FLAG)


def _mark_validated(con, table_name: str, pending, outcomes: Sequence[ExpectationOutcome]) -> None:
    """Files whose rows passed (what failed a row-level rule having left for the quarantine) are not
    validated again (until the suite changes)."""
    if all(o.passed or o.contained for o in outcomes):
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        con.executemany(
            "INSERT INTO audit.validated_files VALUES (?, ?, ?, ?, ?)",
            [[table_name, h, loaded_at, SUITE_VERSION, now] for h, loaded_at in pending],
        )


def record(con, outcomes: Sequence[ExpectationOutcome], run_id: str | None, check_name: str) -> None:
    """Appends one audit.check_results row per expectation (one INSERT: executemany costs ~30 ms a check)."""
    import pyarrow as pa

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = pa.table({
        "run_id": pa.array([run_id] * len(outcomes), pa.string()),
        "checked_at": pa.array([now] * len(outcomes), pa.timestamp("us")),
        "table_name": pa.array([o.table_name for o in outcomes], pa.string()),
        "check_name": pa.array([check_name] * len(outcomes), pa.string()),
        "expectation": pa.array([o.expectation for o in outcomes], pa.string()),
        "column_name": pa.array([o.column_name for o in outcomes], pa.string()),
        "passed": pa.array([o.passed for o in outcomes], pa.bool_()),
        "failed_rows": pa.array([o.failed_rows for o in outcomes], pa.int64()),
        "examples": pa.array(["; ".join(o.examples) or None for o in outcomes], pa.string()),
        "message": pa.array([o.message for o in outcomes], pa.string()),
        "quarantined_rows": pa.array([o.quarantined for o in outcomes], pa.int64()),
    })
    con.register("_check_outcomes", rows)
    try:
        con.execute("INSERT INTO audit.check_results BY NAME SELECT * FROM _check_outcomes")
    finally:
        con.unregister("_check_outcomes")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def outcomes_markdown(outcomes: Sequence[ExpectationOutcome]) -> str:
    """Failures first, then the rest: expectation | column | rule | passed | failed rows | examples."""
    lines = ["| expectation | column | rule | passed | failed rows | examples |", "|---|---|---|---|---|---|"]
    for o in sorted(outcomes, key=lambda o: o.passed):
        failed = "" if o.failed_rows is None else f"{o.failed_rows:,}"
        lines.append(
            f"| {_cell(o.expectation)} | {_cell(o.column_name or '')} | {_cell(o.rule)} | "
            f"{'yes' if o.passed else '**NO**'} | {failed} | {_cell('; '.join(o.examples))} |"
        )
    return "\n".join(lines)


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


def _quality_gate(name: str, checks: list[tuple[dg.AssetCheckSpec, str, Callable]],
                  prepare: Callable | None = None) -> dg.AssetChecksDefinition:
    """Blocking checks evaluated in one step: ``checks`` is (spec, check name, run(con) -> outcomes).

    Each check is still its own result on its own asset in the UI and in
    audit.check_results; running them in one step (one connection, one pass of
    Dagster's step bookkeeping, which costs about 0.25 s a step in its SQLite
    event log) keeps a night short. A failed check blocks what is downstream of
    its asset; an exception fails the step, which blocks it too (the gate fails closed).
    ``prepare(con, selected)`` may start work early and returns what ends it (or None).
    """
    jobs = {spec.key: (check_name, run) for spec, check_name, run in checks}

    @dg.multi_asset_check(specs=[spec for spec, _, _ in checks], can_subset=True, name=name,
                          required_resource_keys={STORE})
    def gate(context: dg.AssetCheckExecutionContext):
        selected = context.selected_asset_check_keys
        settings = settings_of(context)
        con = warehouse.connect(settings.warehouse, memory_limit=settings.duckdb_memory_limit)
        finish = None
        try:
            warehouse.ensure_schema(con)
            finish = prepare(con, selected) if prepare is not None else None
            for key, (check_name, run) in jobs.items():
                if key not in selected:
                    continue
                produced = run(con, context.run.run_id, settings)
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
                for o in outcomes:
                    if o.contained:
                        context.log.warning(o.message)
                    elif not o.passed:
                        context.log.error(o.message)
                yield check_result(outcomes, key)
        finally:
            try:
                if finish is not None:
                    finish()
            finally:
                con.close()

    return gate


def _suite_check(asset, table: str, blocks: str) -> tuple[dg.AssetCheckSpec, str, Callable]:
    """The blocking check of one table's expectation suite."""
    return (dg.AssetCheckSpec(
        SUITE_CHECK, asset=asset, blocking=True,
        description=f"The expectation suite of {table}: columns and types, keys, accepted values, "
        f"ranges and cross-column rules (assets/quality/checks.py SUITES). Blocks {blocks}.",
    ), SUITE_CHECK, lambda con, run_id=None, _settings=None: validate_table(con, table, run_id))


QUARANTINE_CHECK = "rows_quarantined"


def _quarantine_check(asset, source: str) -> tuple[dg.AssetCheckSpec, str, Callable]:
    """A warning (never blocking) that lists what the published numbers leave out of a source."""
    return (dg.AssetCheckSpec(
        QUARANTINE_CHECK, asset=asset, blocking=False,
        description=f"Rows of {source} exports held in staging.quarantine (published as data_issues): each "
        "counts nowhere. Warns while any are held; never blocks.",
    ), QUARANTINE_CHECK, lambda con, run_id=None, _settings=None: containment.quarantine_report(con, source, run_id))


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
            description=f"{table} agrees with the staged rows it was built from (assets/quality/checks.py "
            "RECONCILIATIONS). Blocks publication.",
        ), RECONCILIATION_CHECK, lambda con, run_id=None, _settings=None, t=table: reconcile(con, t)))
    return out


def _prefetch_for_marts(con, selected) -> Callable[[], None] | None:
    funnel = dg.AssetCheckKey(_MART_KEYS["funnel"], RECONCILIATION_CHECK)
    return prefetch_visitor_recount(con) if funnel in selected else None


_MART_KEYS = {name: dg.AssetKey(["marts", name]) for name in MART_TABLES}
def _reference_checks() -> list[tuple[dg.AssetCheckSpec, str, Callable]]:
    """The reference data's suite (assets/quality/reference_suite.py): it blocks everything downstream."""
    def run(con, run_id=None, settings=None):
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
    _quality_gate("marts_quality_gate", _mart_checks(), prepare=_prefetch_for_marts),
]
