"""The reference data's own blocking suite: the campaign team's files must be consistent.

Wrong reference data makes every number wrong (an org_id listed twice under
two names attributes hires to whichever comes first; overlapping periods
count a session twice), so no quarantine can contain it: a failure blocks
publication and yesterday's file stays. Each rule is a Great Expectations
expectation on the reference frames as read from the files, with their file
name and line, so a failure names file, line, column and the conflicting
values:

- unique ``org_id``; unique organisation names (case-insensitive, trimmed);
- unique ``campaign_id``; start <= end for campaigns and periods;
- unique (campaign, period); periods inside their campaign's window and not
  overlapping one another; ``utm_campaign`` codes unique across campaigns;
- KPI targets naming known campaigns, periods (or 'all') and KPIs;
- one positive FX rate per currency;
- channel rules: a channel of the vocabulary, one rule per rule_order, patterns
  that DuckDB's regular expressions compile, and a last rule that matches every
  source and medium (so every row gets a channel).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from assets.quality.gx_adapter import run_rules as _run_rules
from assets.quality.rules import FILE_LOCATION, Rule, at_least, between, in_set, not_null
from assets.ingest.reference import read_reference
from assets.vocabulary import ALL, CHANNELS, KPIS

TABLE = "reference"


def _frames(folder: Path) -> dict[str, pd.DataFrame]:
    frames = {name: frame.to_pandas() for name, frame in read_reference(folder, with_lines=True).items()}
    for frame in frames.values():
        for column in frame.columns:
            if frame[column].dtype == object or str(frame[column].dtype) == "str":
                frame[column] = frame[column].astype(object)
    return frames


def _overlaps(periods: pd.DataFrame) -> pd.DataFrame:
    """Each period beside the first other period of its campaign that shares a day with it (or null)."""
    out = periods.copy()
    other = []
    for _, p in periods.iterrows():
        same = periods[(periods["campaign_id"] == p["campaign_id"]) & (periods["line_number"] != p["line_number"])
                       & (periods["start_date"] <= p["end_date"]) & (periods["end_date"] >= p["start_date"])]
        other.append(None if same.empty else f"{same.iloc[0]['period']} (line {same.iloc[0]['line_number']})")
    out["overlaps_with"] = pd.Series(other, index=out.index, dtype=object)
    return out


def _codes(periods: pd.DataFrame) -> pd.DataFrame:
    coded = periods[periods["utm_campaign"].notna()].copy()
    coded["code"] = coded["utm_campaign"].str.strip().str.lower()
    coded["campaigns_with_code"] = coded.groupby("code")["campaign_id"].transform("nunique")
    return coded


def _windows(periods: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    window = campaigns[["campaign_id", "start_date", "end_date"]].drop_duplicates("campaign_id").rename(
        columns={"start_date": "campaign_start", "end_date": "campaign_end"})
    return periods.merge(window, on="campaign_id", how="left")


def _targets(targets: pd.DataFrame) -> pd.DataFrame:
    period = targets["period"].where(targets["period"].notna(), ALL)  # an empty period means the whole campaign
    return targets.assign(campaign_period=targets["campaign_id"].astype(str) + "/" + period.astype(str))


def _pattern_error(pattern) -> str | None:
    """Why DuckDB (RE2) cannot compile a rule's pattern, or None (an empty pattern matches anything)."""
    if pattern is None or pd.isna(pattern) or pattern == "":
        return None
    try:
        duckdb.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None


def _channel_rules(rules: pd.DataFrame) -> pd.DataFrame:
    out = rules.copy()
    for column in ("source_pattern", "medium_pattern"):
        out[f"{column}_error"] = pd.Series([_pattern_error(p) for p in rules[column]], index=rules.index, dtype=object)
    return out


def _blank(value) -> bool:
    return value is None or pd.isna(value) or value == ""


def _last_channel_rule(rules: pd.DataFrame) -> pd.DataFrame:
    """The rule with the highest rule_order, and whether it leaves a source or medium without a channel."""
    if rules.empty:
        return pd.DataFrame({"rule_order": [None], "channel": [None], "source_pattern": [None],
                             "medium_pattern": [None], "source_file": ["channel_rules.csv"], "line_number": [None],
                             "catch_all_problem": ["channel_rules.csv has no rule"]}, dtype=object)
    last = rules[rules["rule_order"] == rules["rule_order"].max()].copy()
    last["catch_all_problem"] = pd.Series(
        [None if _blank(s) and _blank(m) else "the last rule has a pattern: a source no rule matches gets no channel"
         for s, m in zip(last["source_pattern"], last["medium_pattern"])], index=last.index, dtype=object)
    return last


def validate_reference(folder: Path) -> list:
    """Every reference rule on the files in ``folder``: one ExpectationOutcome per expectation."""
    f = _frames(folder)
    orgs = f["organisations"].assign(name_key=f["organisations"]["name"].str.strip().str.lower())
    fx = f["fx_rates"].assign(currency_key=f["fx_rates"]["currency"].str.strip().str.upper())
    periods, campaigns = f["campaign_periods"], f["campaigns"]
    known_periods = [f"{c}/{p}" for c, p in zip(periods["campaign_id"], periods["period"])]
    known_periods += [f"{c}/{ALL}" for c in campaigns["campaign_id"]]
    frames = {
        "organisations": lambda: orgs,
        "campaigns": lambda: campaigns,
        "campaign_periods": lambda: periods,
        "period_windows": lambda: _windows(periods, campaigns),
        "period_overlaps": lambda: _overlaps(periods),
        "utm_codes": lambda: _codes(periods),
        "kpi_targets": lambda: _targets(f["kpi_targets"]),
        "fx_rates": lambda: fx,
        "channel_rules": lambda: _channel_rules(f["channel_rules"]),
        "last_channel_rule": lambda: _last_channel_rule(f["channel_rules"]),
    }
    rules: list[Rule] = [
        Rule("ExpectColumnValuesToBeUnique", {"column": "org_id"}, "org_id is unique in the register",
             on="organisations", show=("org_id", "name")),
        not_null("org_id", "every organisation has an org_id", on="organisations", show=("name",)),
        not_null("name", "every organisation has a name", on="organisations", show=("org_id",)),
        Rule("ExpectColumnValuesToBeUnique", {"column": "name_key"},
             "organisation names are unique (case-insensitive, trimmed)", on="organisations",
             show=("name", "org_id"), subject="name"),
        Rule("ExpectColumnValuesToBeUnique", {"column": "campaign_id"}, "campaign_id is unique",
             on="campaigns", show=("campaign_id", "name")),
        at_least("end_date", "start_date", "a campaign starts on or before it ends", on="campaigns",
                 show=("campaign_id", "start_date", "end_date"), subject="end_date"),
        not_null("start_date", "a campaign has a start date", on="campaigns", show=("campaign_id",)),
        not_null("end_date", "a campaign has an end date", on="campaigns", show=("campaign_id",)),
        Rule("ExpectCompoundColumnsToBeUnique", {"column_list": ["campaign_id", "period"]},
             "(campaign_id, period) is unique", on="campaign_periods", show=("campaign_id", "period")),
        not_null("period", "every period has a name", on="campaign_periods", show=("campaign_id",)),
        not_null("start_date", "every period has a start date", on="campaign_periods", show=("campaign_id", "period")),
        not_null("end_date", "every period has an end date", on="campaign_periods", show=("campaign_id", "period")),
        at_least("end_date", "start_date", "a period starts on or before it ends", on="campaign_periods",
                 show=("campaign_id", "period", "start_date", "end_date"), subject="end_date"),
        in_set("campaign_id", campaigns["campaign_id"].dropna(), "the period's campaign is in campaigns.csv",
               on="campaign_periods", show=("campaign_id", "period")),
        at_least("start_date", "campaign_start", "a period starts inside its campaign's window",
                 on="period_windows", show=("campaign_id", "period", "start_date", "campaign_start"),
                 subject="start_date"),
        at_least("campaign_end", "end_date", "a period ends inside its campaign's window", on="period_windows",
                 show=("campaign_id", "period", "end_date", "campaign_end"), subject="end_date"),
        Rule("ExpectColumnValuesToBeNull", {"column": "overlaps_with"},
             "a campaign's periods do not overlap", on="period_overlaps",
             show=("campaign_id", "period", "start_date", "end_date", "overlaps_with"), subject="start_date"),
        between("campaigns_with_code", 1, 1, "a utm_campaign code names one campaign", on="utm_codes",
                show=("utm_campaign", "campaign_id", "period"), subject="utm_campaign"),
        in_set("kpi", KPIS, on="kpi_targets", show=("campaign_id", "kpi")),
        in_set("campaign_id", campaigns["campaign_id"].dropna(), "the target's campaign is in campaigns.csv",
               on="kpi_targets", show=("campaign_id", "kpi")),
        Rule("ExpectColumnValuesToBeInSet", {"column": "campaign_period", "value_set": sorted(set(known_periods))},
             "the target's period is one of its campaign's periods or 'all'", on="kpi_targets",
             show=("campaign_id", "period", "kpi"), subject="period"),
        Rule("ExpectColumnValuesToBeUnique", {"column": "currency_key"}, "one rate per currency",
             on="fx_rates", show=("currency", "eur_per_unit"), subject="currency"),
        Rule("ExpectColumnValuesToBeBetween", {"column": "eur_per_unit", "min_value": 0, "strict_min": True},
             "the rate is positive", on="fx_rates", show=("currency", "eur_per_unit")),
        not_null("eur_per_unit", "every currency has a rate", on="fx_rates", show=("currency",)),
        Rule("ExpectColumnValuesToBeUnique", {"column": "rule_order"}, "one channel rule per rule_order",
             on="channel_rules", show=("rule_order", "channel")),
        not_null("channel", "every channel rule names a channel", on="channel_rules", show=("rule_order",)),
        in_set("channel", CHANNELS, "the rule's channel is one of the vocabulary's", on="channel_rules",
               show=("rule_order", "channel")),
        Rule("ExpectColumnValuesToBeNull", {"column": "source_pattern_error"},
             "the rule's source_pattern is a valid regular expression", on="channel_rules",
             show=("rule_order", "source_pattern", "source_pattern_error"), subject="source_pattern"),
        Rule("ExpectColumnValuesToBeNull", {"column": "medium_pattern_error"},
             "the rule's medium_pattern is a valid regular expression", on="channel_rules",
             show=("rule_order", "medium_pattern", "medium_pattern_error"), subject="medium_pattern"),
        Rule("ExpectColumnValuesToBeNull", {"column": "catch_all_problem"},
             "the last channel rule has no pattern: every source and medium gets a channel",
             on="last_channel_rule", show=("rule_order", "channel", "source_pattern", "medium_pattern"),
             subject="rule_order"),
    ]
    locations = {on: FILE_LOCATION for on in frames}
    return _run_rules(TABLE, frames, rules, locations)
