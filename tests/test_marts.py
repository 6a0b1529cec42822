"""The KPI rules of the data contract, on hand-made frames."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from assets.ingest.reference import Attribution
from assets.marts import provenance, tables, visitor_scopes
from assets.marts.build import build_marts
from assets.marts.funnel import cost_per_outcome, funnel, kpi_scorecard, stage_values
from assets.marts.hires import hires_over_time, hires_vs_target, time_to_hire
from assets.marts.hiring import international_hires
from assets.marts.inputs import MartInputs
from assets.marts.rollup import by_scope
from assets.staging.warehouse import ensure_schema, load_reference
from assets.vocabulary import ALL, CHANNELS

D = date


def make_inputs(reach=(), visitors=(), applications=(), organisations=None, targets=()) -> MartInputs:
    campaigns = pl.DataFrame(
        {"campaign_id": ["c1", "c2"], "name": ["Camp One", "Camp Two"],
         "start_date": [D(2020, 1, 1), D(2011, 1, 1)], "end_date": [D(2020, 12, 31), D(2011, 12, 31)],
         "budget_eur": [1.0, 2.0], "eu_grant_eur": [0.5, 1.0]}
    )
    periods = pl.DataFrame(
        {"campaign_id": ["c1", "c1", "c2"], "period": ["p1", "p2", "p1"],
         "start_date": [D(2020, 3, 1), D(2020, 9, 1), D(2011, 3, 1)],
         "end_date": [D(2020, 3, 31), D(2020, 9, 30), D(2011, 3, 31)], "utm_campaign": ["u1", "u2", "x1"]}
    )
    orgs = organisations if organisations is not None else pl.DataFrame(
        {"org_id": ["O1", "O2", "O3"], "name": ["Org One", "Org Two", "Late Org"], "country": ["DK", "SE", "DK"],
         "city": ["a", "b", "c"], "sector": ["x", "x", "x"],
         "talent_campaign_joined_on": [D(2019, 5, 1), D(2020, 12, 31), D(2021, 1, 1)],
         "established_in_region_on": [D(2020, 1, 1), D(2019, 12, 31), D(2021, 1, 1)]}
    )
    reach_schema = {"date": pl.Date, "channel": pl.String, "campaign_id": pl.String, "period": pl.String,
                    "platform_campaign": pl.String, "ad_set": pl.String, "platform_campaign_id": pl.String,
                    "impressions": pl.Int64, "clicks": pl.Int64, "spend_eur": pl.Float64, "load_seq": pl.Int64}
    visitor_schema = {"campaign_id": pl.String, "period": pl.String, "channel": pl.String,
                      "week_start": pl.Date, "user_pseudo_id": pl.String}
    app_schema = {"application_key": pl.String, "org_id": pl.String, "candidate_key": pl.String,
                  "applied_on": pl.Date, "hire_date": pl.Date, "country_code": pl.String,
                  "campaign_id": pl.String, "channel": pl.String, "load_seq": pl.Int64}
    target_schema = {"campaign_id": pl.String, "kpi": pl.String, "period": pl.String, "target": pl.Float64}
    return MartInputs(
        campaigns=campaigns, periods=periods, organisations=orgs,
        targets=pl.DataFrame(list(targets), schema=target_schema, orient="row"),
        reach=pl.DataFrame(list(reach), schema=reach_schema, orient="row"),
        visitors=pl.DataFrame(list(visitors), schema=visitor_schema, orient="row"),
        # Where each staged row came from (the hire register names it): one file, the line its load order.
        applications=staged_periods(
            pl.DataFrame(list(applications), schema=app_schema, orient="row").with_columns(
                organisation_name=pl.col("org_id"), source_file=pl.lit("ats.csv"), file_hash=pl.lit("h-ats"),
                line_number=pl.col("load_seq"),
            ),
            campaigns, periods,
        ),
    )


def staged_periods(apps: pl.DataFrame, campaigns: pl.DataFrame, periods: pl.DataFrame) -> pl.DataFrame:
    """Each application's period as staging attributes it: sql/attribution.sql period_of over these periods."""
    import duckdb

    con = duckdb.connect()
    try:
        ensure_schema(con)
        load_reference(con, {"campaigns": campaigns, "campaign_periods": periods})
        return Attribution(con).select(apps, "SELECT *, period_of(campaign_id, applied_on) AS period FROM {rows}")
    finally:
        con.close()


def kpi(frame, name, period="all", campaign="c1"):
    row = frame.filter((pl.col("kpi") == name) & (pl.col("period") == period) & (pl.col("campaign_id") == campaign))
    assert row.height == 1
    return row.row(0, named=True)


def hire(key, org="O1", cand=None, applied=D(2020, 3, 10), hired=D(2020, 5, 1), country="DE", campaign="c1",
         channel="linkedin", seq=1):
    return (key, org, cand or key, applied, hired, country, campaign, channel, seq)


def test_unique_visitors_are_distinct_per_scope_never_summed():
    visitors = [
        ("c1", "p1", "linkedin", D(2020, 3, 2), "A"), ("c1", "p2", "linkedin", D(2020, 9, 7), "A"),
        ("c1", "p2", "organic", D(2020, 9, 7), "A"), ("c1", "p2", "direct", D(2020, 9, 7), "B"),
    ]
    values = stage_values(make_inputs(visitors=visitors)).filter(pl.col("stage") == "unique_visitors")

    def value(period, channel):
        return values.filter((pl.col("period") == period) & (pl.col("channel") == channel))["value"].item()

    assert value("p1", "all") == 1 and value("p2", "all") == 2
    assert value("all", "all") == 2  # A returned in p2: 1 + 2 per period, 2 over the campaign
    assert value("all", "linkedin") == 1 and value("p2", "organic") == 1


def test_international_hire_rules():
    apps = [
        hire("ok1"),
        hire("ok2", country="IN", applied=D(2020, 9, 3), hired=D(2020, 10, 1)),
        hire("dk", country="DK"), hire("se", country="SE"),
        hire("not_campaign", campaign=None),
        hire("after_window", hired=D(2021, 1, 2)),
        hire("late_org", org="O3"),
        hire("twice", cand="ok1", org="O2"),  # the same candidate hired again: still one
        hire("between_periods", applied=D(2020, 6, 1), hired=D(2020, 7, 1)),
        ("not_hired", "O1", "n", D(2020, 3, 5), None, "DE", "c1", "linkedin", 1),
    ]
    inputs = make_inputs(applications=apps, targets=[("c1", "international_hires", None, 3.0)])
    score = kpi_scorecard(inputs)
    assert kpi(score, "international_hires")["result"] == 3  # ok1, ok2, between_periods
    assert kpi(score, "international_hires", "p1")["result"] == 1
    assert kpi(score, "international_hires", "p2")["result"] == 1
    assert kpi(score, "international_hires")["met"] is True
    assert kpi(score, "international_hires")["pct_of_target"] == 100.0


def test_applications_counted_once_across_exports_and_inside_the_window():
    apps = [
        ("a1", "O1", "x", D(2020, 3, 5), None, "DE", "c1", "linkedin", 1),
        ("a1", "O1", "x", D(2020, 3, 5), D(2020, 4, 1), "DE", "c1", "linkedin", 2),  # later export: now hired
        ("a2", "O1", "y", D(2019, 12, 1), None, "DE", "c1", "linkedin", 1),  # before the window
        ("a3", "O1", "z", D(2020, 3, 6), None, "DE", None, "referral", 1),  # not the campaign's
    ]
    inputs = make_inputs(applications=apps)
    score = kpi_scorecard(inputs)
    assert kpi(score, "applications")["result"] == 1
    assert kpi(score, "international_hires")["result"] == 1  # the later export's state wins


def test_organisation_kpis():
    score = kpi_scorecard(make_inputs())
    assert kpi(score, "organisations_involved")["result"] == 2  # joined on or before 2020-12-31
    assert kpi(score, "organisations_established")["result"] == 1  # 2020-01-01 inclusive; 2019-12-31 is not


def test_reach_duplicates_across_files_count_once_latest_wins():
    row = (D(2020, 3, 2), "meta", "c1", "p1", "u1 ads", "set", None)
    reach = [row + (100, 5, 10.0, 1), row + (120, 6, 12.0, 2),
             (D(2020, 3, 2), "linkedin", None, None, "brand", None, "9", 999, 9, 1.0, 3)]
    score = kpi_scorecard(make_inputs(reach=reach))
    assert kpi(score, "impressions")["result"] == 120 and kpi(score, "clicks")["result"] == 6


def test_campaign_without_exports_has_null_results_not_zero():
    score = kpi_scorecard(make_inputs(reach=[(D(2020, 3, 2), "meta", "c1", "p1", "u1", None, None, 1, 1, 1.0, 1)]))
    assert kpi(score, "impressions", campaign="c2")["result"] is None
    assert kpi(score, "organisations_involved", campaign="c2")["result"] == 0  # the register still answers
    assert kpi(score, "impressions", "p2")["result"] == 0  # c1 has reach data, none in p2


def test_funnel_conversions():
    reach = [(D(2020, 3, 2), "linkedin", "c1", "p1", "u1", None, None, 1000, 100, 50.0, 1)]
    visitors = [("c1", "p1", "linkedin", D(2020, 3, 2), u) for u in "ABCDEFGHIJ"]
    apps = [hire("h1"), ("a2", "O1", "q", D(2020, 3, 5), None, "DE", "c1", "linkedin", 1)]
    f = funnel(make_inputs(reach=reach, visitors=visitors, applications=apps))
    rows = f.filter((pl.col("campaign_id") == "c1") & (pl.col("period") == "p1") & (pl.col("channel") == "linkedin"))
    assert rows["value"].to_list() == [1000, 100, 10, 2, 1]
    assert rows["step_conversion"].to_list() == [None, 0.1, 0.1, 0.2, 0.5]
    overall = rows["overall_conversion"].to_list()
    assert overall[0] is None and overall[1:] == pytest.approx([0.1, 0.01, 0.002, 0.001])
    direct = f.filter((pl.col("campaign_id") == "c1") & (pl.col("period") == "all") & (pl.col("channel") == "direct"))
    assert direct["value"].to_list()[:2] == [None, None]  # direct traffic has no impressions


def test_hires_vs_target_and_over_time():
    apps = [hire("h1"), hire("h2", org="O2", hired=D(2020, 5, 4)), hire("h3", org="O2", applied=D(2020, 9, 2),
                                                                        hired=D(2020, 10, 1))]
    inputs = make_inputs(applications=apps, targets=[("c1", "international_hires", None, 4.0),
                                                      ("c1", "international_hires", "p1", 1.0)])
    hvt = hires_vs_target(inputs)
    total = hvt.filter((pl.col("campaign_id") == "c1") & (pl.col("period") == "all") & (pl.col("organisation") == "all"))
    assert total.select("hires", "target", "pct_of_target").row(0) == (3, 4.0, 75.0)
    p1_org2 = hvt.filter((pl.col("period") == "p1") & (pl.col("organisation") == "Org Two"))
    assert p1_org2["hires"].item() == 1
    assert "Late Org" not in hvt["organisation"].to_list()  # joined after the campaign ended
    weekly = hires_over_time(inputs).filter(pl.col("campaign_id") == "c1")
    assert weekly["cumulative_hires"].max() == 3 and weekly["hires"].sum() == 3
    assert weekly["week_start"].min() <= D(2020, 1, 1) and weekly["target"].unique().to_list() == [4.0]


def test_cost_per_outcome():
    reach = [(D(2020, 3, 2), "linkedin", "c1", "p1", "u1", None, None, 1000, 100, 500.0, 1)]
    visitors = [("c1", "p1", "linkedin", D(2020, 3, 2), u) for u in "ABCDE"]
    costs = cost_per_outcome(make_inputs(reach=reach, visitors=visitors, applications=[hire("h1")]))
    row = costs.filter((pl.col("period") == "all") & (pl.col("channel") == "linkedin")).row(0, named=True)
    assert (row["cost_per_click_eur"], row["cost_per_visitor_eur"], row["cost_per_hire_eur"]) == (5.0, 100.0, 500.0)


def test_visitor_counts_in_duckdb_equal_the_polars_rules():
    """read_inputs counts visitors in DuckDB with bit masks; the counts are those of count_visitors.

    Many periods and a long window, so that masks take several 64-bit words; sessions
    outside every period, several campaigns, visitors seen in many scopes.
    """
    import random

    import duckdb

    rng = random.Random(7)
    periods = [f"p{i:02d}" for i in range(14)] + [None]
    channels = list(CHANNELS)
    rows = []
    for n in range(4000):
        campaign = rng.choice(["c1", "c2", "c3", None])
        user = f"u{rng.randrange(900)}"
        for _ in range(rng.randint(1, 4)):
            day = D(2019, 1, 7) + timedelta(days=rng.randrange(700))
            rows.append((campaign, rng.choice(periods) if campaign != "c3" else None, rng.choice(channels), day, user))
    sessions = pl.DataFrame(rows, schema={"campaign_id": pl.String, "period": pl.String, "channel": pl.String,
                                          "event_date": pl.Date, "user_pseudo_id": pl.String}, orient="row")
    con = duckdb.connect()
    con.register("sessions_frame", sessions.to_arrow())
    con.execute("CREATE TABLE sessions AS SELECT * FROM sessions_frame")
    counted = visitor_scopes.count_once(con, "sessions")
    tuples = sessions.with_columns(week_start=pl.col("event_date").dt.truncate("1w")).select(
        "campaign_id", "period", "channel", "week_start", "user_pseudo_id").unique()
    expected = visitor_scopes.count_visitors(tuples)
    weeks_per_campaign = counted.weeks.group_by("campaign_id").len()["len"].max()
    assert counted.weeks["unique_visitors"].max() > 0 and weeks_per_campaign > 64  # one campaign, two mask words
    assert counted.scopes.sort(pl.all()).equals(expected.scopes.sort(pl.all()))
    assert counted.weeks.sort(pl.all()).equals(expected.weeks.sort(pl.all()))


def test_time_to_hire_is_measured_on_the_counted_hires():
    """Median and 75th percentile of days from application to hire, on exactly the hires the KPI counts."""
    import duckdb

    apps = [
        hire("h1", applied=D(2020, 3, 2), hired=D(2020, 3, 12)),
        hire("h2", applied=D(2020, 3, 5), hired=D(2020, 4, 4)),
        hire("h3", org="O2", applied=D(2020, 3, 20), hired=D(2020, 6, 8)),
        hire("h4", org="O2", applied=D(2020, 9, 2), hired=D(2020, 9, 9)),
        hire("h5", applied=D(2020, 6, 1), hired=D(2020, 7, 1)),  # applied outside every period: only in 'all'
        hire("dk", applied=D(2020, 3, 3), hired=D(2020, 3, 4), country="DK"),  # domestic: not counted
        hire("late", org="O3", applied=D(2020, 3, 3), hired=D(2020, 3, 5)),  # joined after the campaign
        hire("again", cand="h1", applied=D(2020, 9, 1), hired=D(2020, 12, 1)),  # h1 hired twice: first hire
    ]
    inputs = make_inputs(applications=apps)
    counted = international_hires(inputs).with_columns(
        days=(pl.col("hire_date") - pl.col("applied_on")).dt.total_days()
    )
    tth = time_to_hire(inputs)
    # The scopes and head counts are hires_vs_target's, wherever it has hires.
    hvt = hires_vs_target(inputs).filter(pl.col("hires") > 0)
    assert sorted(tth.select("campaign_id", "period", "organisation", "hires").rows()) == sorted(
        hvt.select("campaign_id", "period", "organisation", "hires").rows()
    )
    # Quantiles: DuckDB's quantile_cont (linear interpolation) over the counted rows of each scope.
    con = duckdb.connect()
    con.register("counted", counted.select("campaign_id", "period", "organisation", "days").to_arrow())
    expected = con.sql("""
        SELECT campaign_id, coalesce(period, 'all') AS period, coalesce(organisation, 'all') AS organisation,
               quantile_cont(days, 0.5), quantile_cont(days, 0.75)
        FROM counted GROUP BY GROUPING SETS ((campaign_id, period, organisation), (campaign_id, period),
                                            (campaign_id, organisation), (campaign_id))
        HAVING period IS NOT NULL OR GROUPING(period) = 1
    """).fetchall()
    got = tth.select("campaign_id", "period", "organisation", "median_days_to_hire", "p75_days_to_hire").rows()
    assert sorted(got) == sorted(expected)
    whole = tth.filter((pl.col("period") == "all") & (pl.col("organisation") == "all")).row(0, named=True)
    assert whole["hires"] == 5  # h1..h5; the domestic, late-organisation and repeat hires are left out


# The counted international hires recounted from the staged rows in plain SQL, apart from the marts'
# Polars (the data contract's rule), then days from application to hire with DuckDB's quantile_cont.
PLAIN_TIME_TO_HIRE = """
    WITH apps AS (  -- the same application in two exports counts once: the latest loaded wins
        SELECT * FROM (
            SELECT s.*, row_number() OVER (PARTITION BY s.application_key
                                           ORDER BY l.loaded_at DESC, s.file_hash DESC, s.line_number DESC) AS newest
            FROM staging.applications s JOIN ingest.file_ledger l USING (file_hash)
        ) WHERE newest = 1
    ),
    qualifying AS (  -- hired inside the window, by a participating organisation, resident outside DK and SE
        SELECT a.campaign_id, a.candidate_key, a.application_key, a.applied_on, a.hire_date, o.name AS organisation
        FROM apps a JOIN ref.campaigns c USING (campaign_id) JOIN ref.organisations o USING (org_id)
        WHERE a.hire_date BETWEEN c.start_date AND c.end_date AND o.talent_campaign_joined_on <= c.end_date
          AND a.country_code NOT IN ('DK', 'SE')
    ),
    counted AS (  -- a candidate counts once per campaign: their first hire
        SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY campaign_id, candidate_key
                                                    ORDER BY hire_date, application_key) AS nth FROM qualifying)
        WHERE nth = 1
    ),
    dated AS (
        SELECT *, hire_date - applied_on AS days,
               (SELECT min(p.period) FROM ref.campaign_periods p
                WHERE p.campaign_id = counted.campaign_id AND counted.applied_on BETWEEN p.start_date AND p.end_date)
                 AS application_period
        FROM counted
    )
    SELECT campaign_id, coalesce(application_period, 'all'), coalesce(organisation, 'all'), count(*),
           quantile_cont(days, 0.5), quantile_cont(days, 0.75)
    FROM dated
    GROUP BY GROUPING SETS ((campaign_id, application_period, organisation), (campaign_id, application_period),
                            (campaign_id, organisation), (campaign_id))
    HAVING application_period IS NOT NULL OR grouping(application_period) = 1
    ORDER BY ALL
"""


@pytest.mark.slow
def test_time_to_hire_of_the_published_sample_equals_a_plain_recount(sample_published):
    import duckdb

    con = duckdb.connect(str(sample_published.warehouse), read_only=True)
    try:
        con.execute(f"ATTACH '{sample_published.published}' AS published (READ_ONLY)")
        expected = con.sql(PLAIN_TIME_TO_HIRE).fetchall()
        published = con.sql("SELECT campaign_id, period, organisation, hires, median_days_to_hire, p75_days_to_hire "
                            "FROM published.time_to_hire ORDER BY ALL").fetchall()
        kpi = con.sql("SELECT campaign_id, result FROM published.kpi_scorecard WHERE kpi = 'international_hires' "
                      "AND period = 'all' AND result > 0 ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert len(published) > 10
    assert published == expected
    # Its whole-campaign head count is the KPI's (102 for the bundled sample).
    assert [(c, n) for c, p, o, n, *_ in published if (p, o) == ("all", "all")] == kpi


# --- the declared mart tables (sql/marts.sql) ------------------------------------------------


def _marts_of(inputs: MartInputs) -> dict[str, pl.DataFrame]:
    """Every mart of ``inputs``; kpi_provenance (which needs the warehouse) empty, as its declared table is."""
    import duckdb

    frames = build_marts(inputs)
    frames["hire_register"] = provenance.hire_register(inputs)
    scratch = duckdb.connect()
    tables.create_tables(scratch)
    frames["kpi_provenance"] = scratch.sql("FROM kpi_provenance").pl()
    scratch.close()
    return frames


@pytest.fixture
def mart_warehouse():
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    apps = [hire("h1"), hire("h2", org="O2", applied=D(2020, 9, 3), hired=D(2020, 10, 1), seq=2),
            hire("dk", country="DK", seq=3)]
    reach = [(D(2020, 3, 2), "linkedin", "c1", "p1", "u1", None, None, 1000, 100, 50.0, 1)]
    visitors = [("c1", "p1", "linkedin", D(2020, 3, 2), u) for u in "ABC"]
    frames = _marts_of(make_inputs(reach=reach, visitors=visitors, applications=apps))
    yield con, frames
    con.close()


def test_marts_are_written_into_their_declared_tables(mart_warehouse):
    con, frames = mart_warehouse
    counts = tables.write_marts(con, frames)
    assert counts == {name: frames[name].height for name in tables.MART_TABLES}
    assert counts["funnel"] > 0 and counts["hire_register"] == 3
    declared = con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() "
                           "WHERE schema_name = 'marts' ORDER BY table_name, column_index").fetchall()
    assert declared == [(t, c, d) for t, cols in sorted(tables.declared().items()) for c, d in cols.items()]
    keys = dict(con.execute("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                            "WHERE schema_name = 'marts' AND constraint_type = 'PRIMARY KEY'").fetchall())
    assert set(keys) == set(tables.MART_TABLES)  # every mart has its grain as its key
    assert keys["funnel"] == ["campaign_id", "period", "channel", "stage"]
    # Written again, the tables are replaced, not appended to.
    tables.write_marts(con, frames)
    assert con.execute("SELECT count(*) FROM marts.funnel").fetchall() == [(counts["funnel"],)]


def test_a_duplicate_key_fails_the_build_and_keeps_the_marts_before_it(mart_warehouse):
    import duckdb

    con, frames = mart_warehouse
    tables.write_marts(con, frames)
    before = con.execute("SELECT count(*) FROM marts.hires_vs_target").fetchall()
    twice = {**frames, "hires_vs_target": pl.concat([frames["hires_vs_target"], frames["hires_vs_target"].head(1)])}
    with pytest.raises(duckdb.ConstraintException, match="marts.hires_vs_target: .*[Dd]uplicate key"):
        tables.write_marts(con, twice)
    assert con.execute("SELECT count(*) FROM marts.hires_vs_target").fetchall() == before  # rolled back


def test_a_null_where_the_declaration_allows_none_fails(mart_warehouse):
    import duckdb

    con, frames = mart_warehouse
    unnamed = frames["hire_register"].with_columns(organisation=pl.lit(None, dtype=pl.String))
    with pytest.raises(duckdb.ConstraintException, match="marts.hire_register: .*NOT NULL"):
        tables.write_marts(con, {**frames, "hire_register": unnamed})


def test_a_frame_unlike_its_declaration_fails_before_it_is_written(mart_warehouse):
    con, frames = mart_warehouse
    hvt, funnel_rows = frames["hires_vs_target"], frames["funnel"]
    for name, wrong, message in [
        ("hires_vs_target", hvt.with_columns(pl.col("hires").cast(pl.Float64)), "hires is DOUBLE, declared BIGINT"),
        ("hires_vs_target", hvt.with_columns(pl.col("hires").cast(pl.String)), "hires is VARCHAR, declared BIGINT"),
        ("funnel", funnel_rows.with_columns(pl.col("stage_order").cast(pl.Int64)), "is BIGINT, declared INTEGER"),
        ("hires_vs_target", hvt.drop("pct_of_target"), "column pct_of_target is declared but not computed"),
        ("hires_vs_target", hvt.with_columns(extra=pl.lit(1)), "column extra is computed but not declared"),
    ]:
        with pytest.raises(TypeError, match=f"marts.{name} does not match marts.sql: .*{message}"):
            tables.write_marts(con, {**frames, name: wrong})
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall() == [(0,)]
    with pytest.raises(ValueError, match="marts to write"):
        tables.write_marts(con, {k: v for k, v in frames.items() if k != "funnel"})


def test_every_mart_is_declared_in_marts_sql():
    assert list(tables.declared()) == sorted(tables.MART_TABLES)
    assert tables.columns("kpi_scorecard") == ["campaign_id", "kpi", "period", "target", "result", "pct_of_target",
                                               "met"]


# --- roll-ups ------------------------------------------------------------------------------------


def test_the_roll_up_computes_every_scope_from_its_rows():
    rows = pl.DataFrame(
        [("c1", "p1", "linkedin", "A"), ("c1", "p1", "meta", "A"), ("c1", "p2", "meta", "B"),
         ("c1", None, "meta", "C"), ("c1", None, "direct", "A"), ("c2", "p1", "direct", "D")],
        schema={"campaign_id": pl.String, "period": pl.String, "channel": pl.String, "user": pl.String},
        orient="row",
    )
    polars = by_scope(rows, pl.col("user").n_unique()).with_columns(pl.col("value").cast(pl.Int64))
    assert len(polars.rows()) == len({(c, p, ch) for c, p, ch, _ in polars.rows()})  # one row per scope
    scopes = {(c, p, ch) for c, p, ch, _ in polars.rows()}
    assert {("c1", ALL, "direct"), ("c1", "p1", ALL), ("c1", ALL, ALL), ("c2", "p1", "direct")} <= scopes
    assert ("c1", None, "meta") not in scopes  # outside every period: only in the 'all' period
    assert dict(((c, p, ch), v) for c, p, ch, v in polars.rows())[("c1", ALL, "meta")] == 3  # A, B, C: distinct
