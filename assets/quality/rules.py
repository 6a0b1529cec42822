"""The suites' rule language: a Rule is one Great Expectations expectation, a Suite a table's rules.

A suite states a table's value rules: keys, accepted values, ranges and
cross-column rules, on the table's rows or on a frame derived from them
(``Derived``). It does not restate column types: the staged tables are
created from sql/warehouse.sql and the marts from the DDL in sql/, so DuckDB
enforces every column's type. It does require every column (the schema rule).

Reference values (campaigns, periods, organisations, currencies) come from
``Reference``, read from ref.* in the warehouse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

from assets.quality.frames import to_pandas
from assets.vocabulary import ALL

# Where an example row came from; file_hash is implied by source_file, so it is not repeated.
FILE_LOCATION = ("source_file", "line_number")
# In a profiled frame (Suite.profile) each row stands for this many table rows.
WEIGHT = "_rows"
# A profiled column's group flag ("_<column>_is_null"): whether the group's values are null.
PROFILE_NULL_FLAG = "_is_null"


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

    def fingerprint(self) -> str:
        """SHA-256 of all a suite can read here: both frames (a derived frame may join their dates) and the sets."""
        digest = hashlib.sha256()
        for frame in (self.campaigns, self.periods):
            digest.update(repr(frame.to_dict(orient="split")).encode())
        for values in (self.org_ids, self.org_names, self.currencies):
            digest.update(repr(sorted(values, key=repr)).encode())
        return digest.hexdigest()

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


# --- rules and suites -------------------------------------------------------------


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
    columns: dict[str, str]  # column -> DuckDB type, read from the DDL (assets/ddl.py); DuckDB enforces it
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
        """Columns the value rules read; the schema rule only needs a sample of the table."""
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


# --- derived frames shared by several suites ---------------------------------------


def rows_where(predicate: Callable[[pd.DataFrame], pd.Series], needs: tuple[str, ...]) -> Derived:
    """The rows ``predicate`` selects, with only the columns the rules on them read (large tables)."""

    def build(rows: pd.DataFrame, _ref: Reference) -> pd.DataFrame:
        keep = dict.fromkeys((*needs, *FILE_LOCATION, "file_hash", WEIGHT,
                              *(c for c in rows.columns if c.endswith(PROFILE_NULL_FLAG))))
        return rows.loc[predicate(rows), [c for c in keep if c in rows.columns]]

    return Derived(build, needs)


def _campaign_period(rows: pd.DataFrame, _ref: Reference) -> pd.DataFrame:
    return rows.assign(campaign_period=rows["campaign_id"].astype(str) + "/" + rows["period"].astype(str))


def scope_rules(ref: Reference, on: str = "scoped") -> list[Rule]:
    """A row's campaign is known, and its period is one of that campaign's or 'all' (needs ``SCOPED``)."""
    return [
        in_set("campaign_id", ref.campaign_ids, "is a campaign in ref.campaigns"),
        Rule("ExpectColumnValuesToBeInSet", {"column": "campaign_period", "value_set": ref.campaign_periods},
             "is one of the campaign's periods or 'all'", on=on, show=("campaign_id", "period"), subject="period"),
    ]


SCOPED = {"scoped": Derived(_campaign_period, ("campaign_id", "period"))}
