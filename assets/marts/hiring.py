"""Which applications and hires count: the one home of the international-hires rule.

The rules (../shared/data-contract.md, "KPI rules"):

- applications: distinct applications attributed to the campaign, applied inside the
  campaign window (period: applied inside the period);
- international hires: distinct candidates hired inside the campaign window by a
  participating organisation (joined on or before the campaign's end), resident outside
  Denmark and Sweden, attributed to the campaign. A hire's period is the period its
  application was made in (the wave that brought the candidate); hires from applications
  outside every period count only in 'all'.

The period of an application is staging.applications.period, attributed in
sql/attribution.sql (``period_of``: applied_on inside a period of its campaign).
"""

from __future__ import annotations

import polars as pl

from assets.marts.inputs import MartInputs
from assets.vocabulary import DOMESTIC


def dedupe_applications(apps: pl.DataFrame) -> pl.DataFrame:
    """One row per application: the same application in two exports counts once (latest export wins)."""
    return apps.sort("load_seq").unique(subset=["application_key"], keep="last", maintain_order=True)


# Why a hire seen in an export is not counted, in the order the rules apply (the hire register's
# excluded_by). The first rule that fails names the row; a row that passes all of them is counted.
HIRE_EXCLUSIONS = {
    "duplicate": "duplicate of an earlier export: the same application was already judged from an earlier export",
    "superseded": "a later export of the same application records no hire",
    "not_attributed": "not attributed to the campaign (no source, referring URL or template Source names it)",
    "outside_window": "hire date outside the campaign window",
    "organisation_not_participating": "organisation not in the register, or joined after the campaign's end",
    "domestic": "domestic: resident in Denmark or Sweden",
    "repeat_hire": "candidate already counted for this campaign (their first hire counts)",
}


def classify_hires(inputs: MartInputs, apps: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every staged hire row (one per export line), with ``counted`` and ``excluded_by``: the one home of the rule.

    An application is judged once, on its latest loaded version (``dedupe_applications``:
    a corrected record wins), and that verdict goes to its first hire row in load order;
    its hire rows in later exports are ``duplicate``. The application's campaign,
    organisation, dates, period and channel are those of the judged version; the
    row keeps its own source_file, file_hash, line_number and load_seq. Counted rows:
    distinct candidates hired inside the campaign window by a participating
    organisation, resident outside Denmark and Sweden, attributed to the campaign;
    a candidate hired twice counts once (their first hire). ``international_hires``
    is the counted rows.
    """
    staged = inputs.applications
    apps = dedupe_applications(staged) if apps is None else apps
    seen = staged.filter(pl.col("hire_date").is_not_null())
    judged = pl.concat([
        apps.filter(pl.col("hire_date").is_not_null()).with_columns(superseded=pl.lit(False)),
        dedupe_applications(seen.join(apps.filter(pl.col("hire_date").is_not_null()), on="application_key",
                                      how="anti")).with_columns(superseded=pl.lit(True)),
    ], how="vertical_relaxed")
    windows = inputs.campaigns.select("campaign_id", "start_date", "end_date")
    orgs = inputs.organisations.select("org_id", pl.col("name").alias("registered_name"), "talent_campaign_joined_on")
    judged = judged.join(windows, on="campaign_id", how="left").join(orgs, on="org_id", how="left")
    rule = (
        pl.when(pl.col("superseded")).then(pl.lit("superseded"))
        .when(pl.col("campaign_id").is_null() | pl.col("start_date").is_null()).then(pl.lit("not_attributed"))
        .when(~pl.col("hire_date").is_between(pl.col("start_date"), pl.col("end_date"))).then(pl.lit("outside_window"))
        .when(pl.col("talent_campaign_joined_on").is_null() | (pl.col("talent_campaign_joined_on") > pl.col("end_date")))
        .then(pl.lit("organisation_not_participating"))
        .when(pl.col("country_code").is_in(DOMESTIC)).then(pl.lit("domestic"))
    )
    judged = judged.with_columns(excluded_by=rule)
    # A candidate hired twice counts once: keep their first hire.
    first_hires = (
        judged.filter(pl.col("excluded_by").is_null()).sort("hire_date", "application_key")
        .unique(subset=["campaign_id", "candidate_key"], keep="first", maintain_order=True)
        .select("application_key", first_hire=pl.lit(True))
    )
    judged = judged.join(first_hires, on="application_key", how="left").with_columns(
        excluded_by=pl.when(pl.col("excluded_by").is_null() & pl.col("first_hire").is_null())
        .then(pl.lit("repeat_hire")).otherwise(pl.col("excluded_by")),
        organisation=pl.coalesce("registered_name", "organisation_name"),
    )
    rows = seen.select("application_key", "source_file", "file_hash", "line_number", "load_seq").join(
        judged.drop("source_file", "file_hash", "line_number", "load_seq"), on="application_key", how="inner"
    )
    first_row = pl.col("load_seq") == pl.col("load_seq").min().over("application_key")
    excluded_by = pl.when(first_row).then(pl.col("excluded_by")).otherwise(pl.lit("duplicate"))
    return rows.with_columns(excluded_by=excluded_by).with_columns(
        counted=pl.col("excluded_by").is_null()
    ).sort("load_seq")


def international_hires(inputs: MartInputs, apps: pl.DataFrame | None = None) -> pl.DataFrame:
    """Qualifying hire rows (one per campaign x candidate), with campaign, period, channel and organisation."""
    return classify_hires(inputs, apps).filter(pl.col("counted"))


def campaign_applications(inputs: MartInputs, apps: pl.DataFrame | None = None) -> pl.DataFrame:
    """The applications the applications KPI counts (attributed, applied inside the window), with their period."""
    apps = dedupe_applications(inputs.applications) if apps is None else apps
    windows = inputs.campaigns.select("campaign_id", "start_date", "end_date")
    out = (
        apps.filter(pl.col("campaign_id").is_not_null())
        .join(windows, on="campaign_id", how="inner")
        .filter(pl.col("applied_on").is_between(pl.col("start_date"), pl.col("end_date")))
    )
    return out
