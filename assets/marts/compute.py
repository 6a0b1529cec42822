"""KPI marts: Polars transforms from staged rows to the numbers managers read.

Every function here is plain Polars on frames, so the KPI rules are tested on
hand-made data. The rules (../shared/data-contract.md, "KPI rules"):

- impressions, clicks: sums over de-duplicated reach rows of the scope;
- unique visitors: distinct user_pseudo_id over exactly the scope asked for,
  never a sum of smaller scopes;
- applications: distinct applications attributed to the campaign, applied
  inside the campaign window (period: applied inside the period);
- international hires: distinct candidates hired inside the campaign window
  by a participating organisation (joined on or before the campaign's end),
  resident outside Denmark and Sweden, attributed to the campaign. A hire's
  period is the period its application was made in (the wave that brought
  the candidate); hires from applications outside every period count only
  in 'all';
- organisations involved: joined on or before the campaign's end date;
- organisations established: established_in_region_on inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from assets.vocabulary import AD_CHANNELS, ALL, CHANNELS, DOMESTIC, KPIS, STAGE_KPI, STAGES

REACH_KEY = ("date", "channel", "platform_campaign", "ad_set", "platform_campaign_id")


@dataclass
class VisitorCounts:
    """Exact distinct-visitor counts at every scope the marts publish.

    ``scopes``: campaign_id, period, channel, value: one row per (period | 'all')
    x (channel | 'all') scope that has visitors, as ``_by_scope`` makes them;
    ``weeks``: campaign_id, week_start, unique_visitors.
    """

    scopes: pl.DataFrame
    weeks: pl.DataFrame


@dataclass
class MartInputs:
    """Staged rows and reference tables, as read from the warehouse.

    Visitors come either as distinct tuples (``visitors``, as hand-made in
    tests) or already counted in DuckDB (``visitor_counts``, from
    ``read_inputs``): ten million sessions are counted where they are stored.
    """

    campaigns: pl.DataFrame
    periods: pl.DataFrame
    organisations: pl.DataFrame
    targets: pl.DataFrame
    reach: pl.DataFrame  # staged reach rows with a load order column ``load_seq``
    visitors: pl.DataFrame | None  # distinct (campaign_id, period, channel, week_start, user_pseudo_id)
    applications: pl.DataFrame  # staged applications with ``load_seq``
    visitor_counts: VisitorCounts | None = None


def count_visitors(visitors: pl.DataFrame) -> VisitorCounts:
    """Distinct visitors per scope and per week, from (campaign_id, period, channel, week_start, user_pseudo_id)."""
    attributed = visitors.filter(pl.col("campaign_id").is_not_null())
    return VisitorCounts(
        scopes=_by_scope(attributed, pl.col("user_pseudo_id").n_unique(), True).with_columns(
            pl.col("value").cast(pl.Int64)
        ),
        weeks=attributed.group_by("campaign_id", "week_start").agg(
            pl.col("user_pseudo_id").n_unique().cast(pl.Int64).alias("unique_visitors")
        ),
    )


def visitor_counts(inputs: MartInputs) -> VisitorCounts:
    if inputs.visitor_counts is not None:
        return inputs.visitor_counts
    if inputs.visitors is None:
        raise ValueError("MartInputs has neither visitor tuples nor visitor counts")
    return count_visitors(inputs.visitors)


# --- de-duplication -----------------------------------------------------------


def dedupe_reach(reach: pl.DataFrame) -> pl.DataFrame:
    """One row per date x channel x platform campaign x ad set: the most recently loaded wins."""
    return (
        reach.filter(pl.col("campaign_id").is_not_null())
        .sort("load_seq")
        .unique(subset=list(REACH_KEY), keep="last", maintain_order=True)
    )


def dedupe_applications(apps: pl.DataFrame) -> pl.DataFrame:
    """One row per application: the same application in two exports counts once (latest export wins)."""
    return apps.sort("load_seq").unique(subset=["application_key"], keep="last", maintain_order=True)


# --- hires -------------------------------------------------------------------

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
    judged = _with_period(judged.with_columns(excluded_by=rule), inputs.periods, "applied_on")
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
    apps = dedupe_applications(inputs.applications) if apps is None else apps
    windows = inputs.campaigns.select("campaign_id", "start_date", "end_date")
    out = (
        apps.filter(pl.col("campaign_id").is_not_null())
        .join(windows, on="campaign_id", how="inner")
        .filter(pl.col("applied_on").is_between(pl.col("start_date"), pl.col("end_date")))
    )
    return _with_period(out, inputs.periods, "applied_on")


def _with_period(frame: pl.DataFrame, periods: pl.DataFrame, date_col: str) -> pl.DataFrame:
    """Adds ``period``: the campaign period containing ``date_col`` (null when none)."""
    if "period" in frame.columns:
        frame = frame.drop("period")
    keyed = frame.with_row_index("_row")
    matched = (
        keyed.select("_row", "campaign_id", date_col)
        .join(periods.select("campaign_id", "period", "start_date", "end_date"), on="campaign_id", how="inner")
        .filter(pl.col(date_col).is_between(pl.col("start_date"), pl.col("end_date")))
        .group_by("_row")
        .agg(pl.col("period").sort().first())
    )
    return keyed.join(matched, on="_row", how="left").drop("_row")


# --- scope helpers -------------------------------------------------------------


def _by_scope(frame: pl.DataFrame, agg: pl.Expr | list[pl.Expr], by_channel: bool,
              column: str = "channel", within: tuple[str, ...] = ()) -> pl.DataFrame:
    """Aggregates ``agg`` at (period, channel) and at each 'all' roll-up, each scope computed directly.

    ``column`` is the second dimension (channel unless told); a list of
    aggregates keeps their own names, a single one is called ``value``.
    ``within``: further columns to group by inside each scope (the export, for provenance).
    """
    parts = []
    channel = pl.col(column) if by_channel else pl.lit(ALL)
    grains = [(True, True), (True, False), (False, True), (False, False)] if by_channel else [(True, False), (False, False)]
    for per_period, per_channel in grains:
        f = frame.filter(pl.col("period").is_not_null()) if per_period else frame
        keys = [
            pl.col("campaign_id"),
            (pl.col("period") if per_period else pl.lit(ALL)).alias("period"),
            (channel if per_channel else pl.lit(ALL)).alias(column),
            *within,
        ]
        parts.append(f.group_by(keys).agg(agg.alias("value") if isinstance(agg, pl.Expr) else agg))
    return pl.concat(parts, how="vertical_relaxed")


def stage_values(inputs: MartInputs) -> pl.DataFrame:
    """campaign_id, period, channel, stage, value: each stage computed at each scope."""
    reach = dedupe_reach(inputs.reach)
    apps = dedupe_applications(inputs.applications)
    frames = [
        _by_scope(reach, pl.col("impressions").sum(), True).with_columns(stage=pl.lit("impressions")),
        _by_scope(reach, pl.col("clicks").sum(), True).with_columns(stage=pl.lit("clicks")),
        visitor_counts(inputs).scopes.with_columns(stage=pl.lit("unique_visitors")),
        _by_scope(campaign_applications(inputs, apps), pl.col("application_key").n_unique(), True).with_columns(
            stage=pl.lit("applications")
        ),
        _by_scope(international_hires(inputs, apps), pl.col("candidate_key").n_unique(), True).with_columns(
            stage=pl.lit("hires")
        ),
    ]
    return pl.concat(frames, how="vertical_relaxed").with_columns(pl.col("value").cast(pl.Int64))


# --- marts -----------------------------------------------------------------------


def funnel(inputs: MartInputs, values: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period x channel x stage, with step and overall conversion.

    Every campaign gets every (period incl. 'all') x (channel incl. 'all') x stage
    row; a stage a channel cannot have (impressions of direct traffic) is null,
    a stage with no data in a scope that can have it is 0.
    """
    values = stage_values(inputs) if values is None else values
    periods = inputs.periods.select("campaign_id", "period")
    grid_periods = pl.concat(
        [periods, inputs.campaigns.select("campaign_id").with_columns(period=pl.lit(ALL))], how="vertical_relaxed"
    )
    grid = (
        grid_periods.join(pl.DataFrame({"channel": list(CHANNELS) + [ALL]}), how="cross")
        .join(pl.DataFrame({"stage": list(STAGES), "stage_order": list(range(1, len(STAGES) + 1))}), how="cross")
    )
    out = grid.join(values, on=["campaign_id", "period", "channel", "stage"], how="left")
    paid_only = pl.col("stage").is_in(["impressions", "clicks"]) & ~pl.col("channel").is_in(list(AD_CHANNELS) + [ALL])
    out = out.with_columns(
        value=pl.when(paid_only).then(None).otherwise(pl.col("value").fill_null(0)).cast(pl.Int64)
    ).sort("campaign_id", "period", "channel", "stage_order")
    group = ["campaign_id", "period", "channel"]
    prev = pl.col("value").shift(1).over(group, order_by="stage_order")
    first = pl.col("value").first().over(group, order_by="stage_order")
    return out.with_columns(
        step_conversion=pl.when(pl.col("stage_order") > 1).then(_ratio(pl.col("value"), prev)),
        overall_conversion=pl.when(pl.col("stage_order") > 1).then(_ratio(pl.col("value"), first)),
    ).select(
        "campaign_id", "period", "channel", "stage", "stage_order", "value", "step_conversion", "overall_conversion"
    )


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den.is_not_null() & (den > 0) & num.is_not_null()).then(num / den).otherwise(None)


def organisation_members(inputs: MartInputs) -> pl.DataFrame:
    """campaign_id, kpi, org_id: the register's organisations each organisation KPI counts.

    Involved: joined the talent campaign on or before the campaign's end; established:
    established in the region inside the campaign window.
    """
    pairs = inputs.campaigns.select("campaign_id", "start_date", "end_date").join(
        inputs.organisations.select("org_id", "talent_campaign_joined_on", "established_in_region_on"), how="cross"
    )
    return pl.concat([
        pairs.filter(pl.col("talent_campaign_joined_on") <= pl.col("end_date"))
        .select("campaign_id", kpi=pl.lit("organisations_involved"), org_id=pl.col("org_id")),
        pairs.filter(pl.col("established_in_region_on").is_between(pl.col("start_date"), pl.col("end_date")))
        .select("campaign_id", kpi=pl.lit("organisations_established"), org_id=pl.col("org_id")),
    ])


def organisation_kpis(inputs: MartInputs) -> pl.DataFrame:
    counts = organisation_members(inputs).group_by("campaign_id", "kpi").agg(result=pl.col("org_id").n_unique())
    grid = inputs.campaigns.select("campaign_id").join(
        pl.DataFrame({"kpi": ["organisations_involved", "organisations_established"]}), how="cross"
    )
    return grid.join(counts, on=["campaign_id", "kpi"], how="left").select(
        "campaign_id", "kpi", period=pl.lit(ALL), result=pl.col("result").fill_null(0).cast(pl.Int64)
    )


def kpi_scorecard(inputs: MartInputs, values: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x KPI x period ('all' = whole campaign): target, result, % and met.

    Export-based KPIs of a campaign with no exports of that source are null,
    not zero: "no data" and "nothing happened" are different answers.
    """
    values = stage_values(inputs) if values is None else values
    stage_to_kpi = STAGE_KPI
    totals = values.filter(pl.col("channel") == ALL).with_columns(
        kpi=pl.col("stage").replace_strict(stage_to_kpi)
    ).select("campaign_id", "kpi", "period", pl.col("value").alias("result"))
    periods = pl.concat(
        [inputs.periods.select("campaign_id", "period"), inputs.campaigns.select("campaign_id").with_columns(period=pl.lit(ALL))],
        how="vertical_relaxed",
    )
    grid = periods.join(pl.DataFrame({"kpi": list(stage_to_kpi.values())}), how="cross")
    has_source = _campaigns_with_data(inputs)
    export_kpis = (
        grid.join(totals, on=["campaign_id", "kpi", "period"], how="left")
        .join(has_source, on=["campaign_id", "kpi"], how="left")
        .with_columns(
            result=pl.when(pl.col("has_data").fill_null(False)).then(pl.col("result").fill_null(0)).otherwise(None)
        )
        .drop("has_data")
    )
    scores = pl.concat([export_kpis, organisation_kpis(inputs)], how="diagonal_relaxed")
    targets = inputs.targets.with_columns(pl.col("period").fill_null(ALL)).select(
        "campaign_id", "kpi", "period", "target"
    )
    out = scores.join(targets, on=["campaign_id", "kpi", "period"], how="left")
    return out.with_columns(
        pct_of_target=pl.when(pl.col("target") > 0).then((pl.col("result") / pl.col("target") * 100).round(1)),
        met=pl.when(pl.col("target").is_not_null() & pl.col("result").is_not_null()).then(
            pl.col("result") >= pl.col("target")
        ),
    ).select("campaign_id", "kpi", "period", "target", "result", "pct_of_target", "met").sort(
        "campaign_id", pl.col("kpi").replace_strict({k: i for i, k in enumerate(KPIS)}), "period"
    )


def _campaigns_with_data(inputs: MartInputs) -> pl.DataFrame:
    def campaigns(frame: pl.DataFrame, kpis: list[str]) -> pl.DataFrame:
        ids = frame.filter(pl.col("campaign_id").is_not_null()).select("campaign_id").unique()
        return ids.join(pl.DataFrame({"kpi": kpis}), how="cross").with_columns(has_data=pl.lit(True))

    return pl.concat(
        [
            campaigns(inputs.reach, ["impressions", "clicks"]),
            campaigns(visitor_counts(inputs).scopes, ["unique_visitors"]),
            campaigns(inputs.applications, ["applications", "international_hires"]),
        ]
    ).unique()


def hires_vs_target(inputs: MartInputs, hires: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period x participating organisation, plus organisation = 'all'.

    Targets are set per campaign and period, so only the 'all' organisation row has one.
    """
    hires = international_hires(inputs) if hires is None else hires
    periods = pl.concat(
        [inputs.periods.select("campaign_id", "period"), inputs.campaigns.select("campaign_id").with_columns(period=pl.lit(ALL))],
        how="vertical_relaxed",
    )
    involved = inputs.campaigns.select("campaign_id", "end_date").join(
        inputs.organisations.select(pl.col("name").alias("organisation"), "talent_campaign_joined_on"), how="cross"
    ).filter(pl.col("talent_campaign_joined_on") <= pl.col("end_date")).select("campaign_id", "organisation")
    per_org = pl.concat(
        [
            hires.filter(pl.col("period").is_not_null()).group_by("campaign_id", "period", "organisation").len("hires"),
            hires.group_by("campaign_id", "organisation").len("hires").with_columns(period=pl.lit(ALL)),
        ],
        how="diagonal_relaxed",
    )
    totals = pl.concat(
        [
            hires.filter(pl.col("period").is_not_null()).group_by("campaign_id", "period").agg(
                pl.col("candidate_key").n_unique().alias("hires")
            ),
            hires.group_by("campaign_id").agg(pl.col("candidate_key").n_unique().alias("hires")).with_columns(
                period=pl.lit(ALL)
            ),
        ],
        how="diagonal_relaxed",
    ).with_columns(organisation=pl.lit(ALL))
    org_grid = periods.join(involved, on="campaign_id", how="inner")
    org_rows = org_grid.join(per_org, on=["campaign_id", "period", "organisation"], how="left")
    all_rows = periods.with_columns(organisation=pl.lit(ALL)).join(
        totals, on=["campaign_id", "period", "organisation"], how="left"
    )
    targets = (
        inputs.targets.filter(pl.col("kpi") == "international_hires")
        .with_columns(pl.col("period").fill_null(ALL), organisation=pl.lit(ALL))
        .select("campaign_id", "period", "organisation", "target")
    )
    out = pl.concat([all_rows, org_rows], how="diagonal_relaxed").with_columns(
        pl.col("hires").fill_null(0).cast(pl.Int64)
    )
    out = out.join(targets, on=["campaign_id", "period", "organisation"], how="left")
    return out.with_columns(
        pct_of_target=pl.when(pl.col("target") > 0).then((pl.col("hires") / pl.col("target") * 100).round(1))
    ).select("campaign_id", "period", "organisation", "hires", "target", "pct_of_target").sort(
        "campaign_id", "period", pl.col("organisation") != ALL, "organisation"
    )


def hires_over_time(inputs: MartInputs, hires: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x week (Monday) of its window: hires that week and cumulative, with the target."""
    hires = international_hires(inputs) if hires is None else hires
    weekly = hires.group_by("campaign_id", pl.col("hire_date").dt.truncate("1w").alias("week_start")).agg(
        pl.col("candidate_key").n_unique().alias("hires")
    )
    weeks = []
    for c in inputs.campaigns.iter_rows(named=True):
        start = c["start_date"] - timedelta(days=c["start_date"].weekday())
        weeks.append(
            pl.DataFrame({"week_start": pl.date_range(start, c["end_date"], "1w", eager=True)}).with_columns(
                campaign_id=pl.lit(c["campaign_id"])
            )
        )
    target = inputs.targets.filter((pl.col("kpi") == "international_hires") & pl.col("period").is_null()).select(
        "campaign_id", "target"
    )
    out = (
        pl.concat(weeks)
        .join(weekly, on=["campaign_id", "week_start"], how="left")
        .with_columns(pl.col("hires").fill_null(0).cast(pl.Int64))
        .sort("campaign_id", "week_start")
        .with_columns(cumulative_hires=pl.col("hires").cum_sum().over("campaign_id"))
        .join(target, on="campaign_id", how="left")
    )
    return out.select("campaign_id", "week_start", "hires", "cumulative_hires", "target")


# Quantiles of days to hire: linear interpolation between the two nearest ranks (for the p-quantile of n
# sorted values, position p * (n - 1)), as DuckDB's quantile_cont and numpy's default compute them.
QUANTILE_INTERPOLATION = "linear"


def time_to_hire(inputs: MartInputs, hires: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period (and 'all') x hiring organisation (and 'all') with a counted hire.

    Days from application to hire of exactly the hires the international-hires
    KPI counts (``international_hires``: one per candidate, their first
    qualifying hire), so ``hires`` equals hires_vs_target's for every scope
    with at least one hire. A hire's period is its application's, as there.
    """
    hires = international_hires(inputs) if hires is None else hires
    days = hires.with_columns(days=(pl.col("hire_date") - pl.col("applied_on")).dt.total_days())
    aggs = [
        pl.col("candidate_key").n_unique().alias("hires"),
        pl.col("days").quantile(0.5, interpolation=QUANTILE_INTERPOLATION).alias("median_days_to_hire"),
        pl.col("days").quantile(0.75, interpolation=QUANTILE_INTERPOLATION).alias("p75_days_to_hire"),
    ]
    out = _by_scope(days, aggs, True, column="organisation")
    return out.with_columns(pl.col("hires").cast(pl.Int64)).select(
        "campaign_id", "period", "organisation", "hires", "median_days_to_hire", "p75_days_to_hire"
    ).sort("campaign_id", "period", pl.col("organisation") != ALL, "organisation")


def weekly_reach(inputs: MartInputs) -> pl.DataFrame:
    """One row per campaign x week with impressions, clicks and the week's distinct visitors."""
    reach = dedupe_reach(inputs.reach).with_columns(week_start=pl.col("date").dt.truncate("1w"))
    r = reach.group_by("campaign_id", "week_start").agg(
        pl.col("impressions").sum(), pl.col("clicks").sum(), pl.col("spend_eur").sum()
    )
    v = visitor_counts(inputs).weeks
    out = r.join(v, on=["campaign_id", "week_start"], how="full", coalesce=True)
    return out.with_columns(
        pl.col("impressions").fill_null(0).cast(pl.Int64),
        pl.col("clicks").fill_null(0).cast(pl.Int64),
        pl.col("unique_visitors").fill_null(0).cast(pl.Int64),
        pl.col("spend_eur").fill_null(0.0).round(2),
    ).select("campaign_id", "week_start", "impressions", "clicks", "unique_visitors", "spend_eur").sort(
        "campaign_id", "week_start"
    )


def cost_per_outcome(inputs: MartInputs, values: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per campaign x period x ad channel (and 'all'): spend in EUR and cost per outcome."""
    values = stage_values(inputs) if values is None else values
    reach = dedupe_reach(inputs.reach)
    spend = _by_scope(reach, pl.col("spend_eur").sum(), True).rename({"value": "spend_eur"})
    wide = values.pivot(on="stage", index=["campaign_id", "period", "channel"], values="value")
    for stage in STAGES:
        if stage not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Int64).alias(stage))
    out = spend.join(wide, on=["campaign_id", "period", "channel"], how="left").filter(
        pl.col("channel").is_in(list(AD_CHANNELS) + [ALL])
    )
    def cost(col: str) -> pl.Expr:
        return pl.when(pl.col(col) > 0).then((pl.col("spend_eur") / pl.col(col)).round(2))

    return out.with_columns(pl.col("spend_eur").round(2)).select(
        "campaign_id",
        "period",
        "channel",
        "spend_eur",
        pl.col("clicks").fill_null(0).cast(pl.Int64),
        pl.col("unique_visitors").fill_null(0).cast(pl.Int64),
        pl.col("applications").fill_null(0).cast(pl.Int64),
        pl.col("hires").fill_null(0).cast(pl.Int64),
        cost("clicks").alias("cost_per_click_eur"),
        cost("unique_visitors").alias("cost_per_visitor_eur"),
        cost("applications").alias("cost_per_application_eur"),
        cost("hires").alias("cost_per_hire_eur"),
    ).sort("campaign_id", "period", "channel")


# What the warehouse keeps in marts.* and publication copies: build_marts's tables, then the
# audit trail beside them (assets/marts/provenance.py build_audit).
AUDIT_TABLES = ("kpi_provenance", "hire_register")
MART_TABLES = (
    "kpi_scorecard",
    "funnel",
    "hires_vs_target",
    "hires_over_time",
    "time_to_hire",
    "cost_per_outcome",
    "weekly_reach",
    "campaigns",
    "campaign_periods",
    *AUDIT_TABLES,
)


def build_marts(inputs: MartInputs) -> dict[str, pl.DataFrame]:
    """Every published mart, computed from one set of inputs."""
    apps = dedupe_applications(inputs.applications)
    values = stage_values(inputs)
    hires = international_hires(inputs, apps)
    return {
        "kpi_scorecard": kpi_scorecard(inputs, values),
        "funnel": funnel(inputs, values),
        "hires_vs_target": hires_vs_target(inputs, hires),
        "hires_over_time": hires_over_time(inputs, hires),
        "time_to_hire": time_to_hire(inputs, hires),
        "cost_per_outcome": cost_per_outcome(inputs, values),
        "weekly_reach": weekly_reach(inputs),
        "campaigns": inputs.campaigns.select(
            "campaign_id", "name", "start_date", "end_date", "budget_eur", "eu_grant_eur"
        ).sort("campaign_id"),
        "campaign_periods": inputs.periods.select(
            "campaign_id", "period", "start_date", "end_date", "utm_campaign"
        ).sort("campaign_id", "start_date"),
    }


# --- reading the warehouse -----------------------------------------------------------

# Load order: exports in the order the ledger loaded them (loaded_at, the hash breaking ties),
# rows by line. De-duplication keeps the latest; provenance credits a unit to the first export.
FILE_ORDER = "l.loaded_at, l.file_hash"
LOAD_ORDER = f"{FILE_ORDER}, s.line_number"


def read_inputs(con) -> MartInputs:
    """Loads what the marts need from the warehouse, already narrowed in DuckDB.

    Visitors arrive counted from staging.visitor_scopes (assets/marts/visitor_scopes.py), brought
    up to the staged sessions first: every distinct count the marts publish, exact, without
    moving sessions out of DuckDB or reading a night's old sessions again.
    """
    from assets.marts import visitor_scopes

    visitor_scopes.refresh(con)
    load_order = f"row_number() OVER (ORDER BY {LOAD_ORDER}) AS load_seq"
    return MartInputs(
        campaigns=con.sql("SELECT * FROM ref.campaigns").pl(),
        periods=con.sql("SELECT * FROM ref.campaign_periods").pl(),
        organisations=con.sql("SELECT * FROM ref.organisations").pl(),
        targets=con.sql("SELECT * FROM ref.kpi_targets").pl(),
        reach=con.sql(
            f"SELECT s.*, {load_order} FROM staging.reach s JOIN ingest.file_ledger l USING (file_hash)"
        ).pl(),
        visitors=None,
        applications=con.sql(
            f"SELECT s.*, {load_order} FROM staging.applications s JOIN ingest.file_ledger l USING (file_hash)"
        ).pl(),
        visitor_counts=visitor_scopes.counts(con),
    )


def count_visitors_in_duckdb(con, sessions: str = "staging.sessions") -> VisitorCounts:
    """``count_visitors`` of the attributed sessions in table ``sessions``, through per-visitor bit masks.

    The same masks and counting as the maintained staging.visitor_scopes
    (assets/marts/visitor_scopes.py), built once in temporary tables.
    """
    from assets.marts import visitor_scopes

    return visitor_scopes.count_once(con, sessions)
