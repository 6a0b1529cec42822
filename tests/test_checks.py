"""The data-quality gate on hand-made frames: a clean frame passes, each bad case fails by name and count."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date

import duckdb
import pandas as pd
import polars as pl
import pytest

from assets.ingest.contract import private_fields
from assets.marts import tables
from assets.marts.tables import MART_TABLES
from assets.quality import asset, audit, gx_adapter, reconciliation, recount, rules
from assets.quality import outcomes as outcomes_module
from assets.quality import profile as profiling
from assets.quality.reconciliation import reconcile
from assets.quality.rules import Reference
from assets.quality.suites import SUITES, suite_version, validate
from assets.staging import warehouse as wh
from assets.marts.build import build_marts
from assets.marts.inputs import read_inputs
from assets.marts.tables import write_marts
from assets.marts.provenance import build_audit

SQL_DIR = wh.SQL_DIR
CANDIDATE_KEYS = ("cand-hmac-0001", "cand-hmac-0002", "cand-hmac-0003")
VISITORS = ("visitor-123.456", "visitor-789.012")


@pytest.fixture(scope="session", autouse=True)
def great_expectations():
    """Imports GX and builds its context once for the whole session (6-10 s)."""
    gx_adapter.warm_up()


@pytest.fixture(scope="module")
def ref() -> Reference:
    return Reference(
        campaigns=pd.DataFrame({"campaign_id": ["c1", "c2"], "start_date": pd.to_datetime(["2020-01-01", "2011-01-01"]),
                                "end_date": pd.to_datetime(["2020-12-31", "2011-12-31"])}),
        periods=pd.DataFrame({"campaign_id": ["c1", "c1"], "period": ["p1", "p2"],
                              "start_date": pd.to_datetime(["2020-03-01", "2020-09-01"]),
                              "end_date": pd.to_datetime(["2020-03-31", "2020-09-30"])}),
        org_ids=frozenset({"O1", "O2"}),
        org_names=frozenset({"Org One", "Org Two"}),
        currencies=frozenset({"EUR", "DKK"}),
    )


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A frame with the table's columns and the dtypes DuckDB gives them."""
    columns = SUITES[table].columns
    out = pd.DataFrame({c: [r.get(c) for r in rows] for c in columns})
    for column, dtype in columns.items():
        if dtype == "DATE":
            out[column] = pd.to_datetime(out[column])
        elif dtype in ("BIGINT", "INTEGER"):
            out[column] = out[column].astype("Int64")
        elif dtype == "DOUBLE":
            out[column] = out[column].astype("float64")
        elif dtype == "BOOLEAN":
            out[column] = out[column].astype("boolean")
        else:
            out[column] = out[column].astype("str")
    return out


def reach_rows() -> list[dict]:
    base = {"channel": "linkedin", "campaign_id": "c1", "platform_campaign": "C1 | p1 | Lab", "ad_set": None,
            "platform_campaign_id": "1001", "impressions": 1000, "clicks": 10, "spend": 5.0, "currency": "EUR",
            "spend_eur": 5.0, "platform_reach": 800, "layout": "linkedin_campaign_performance",
            "source_file": "linkedin.csv", "file_hash": "h-li"}
    return [
        {**base, "date": date(2020, 3, 5), "period": "p1", "line_number": 6},
        {**base, "date": date(2020, 3, 6), "period": "p1", "line_number": 7},
        # Another campaign in the same ad account: staged, never attributed.
        {**base, "date": date(2020, 5, 1), "campaign_id": None, "period": None, "platform_campaign": "Always-On",
         "line_number": 8},
        {**base, "date": date(2020, 9, 2), "period": "p2", "channel": "google_ads", "platform_campaign": "C1 search",
         "platform_campaign_id": "555", "currency": "DKK", "spend": 100.0, "spend_eur": 13.41, "platform_reach": None,
         "layout": "google_ads_campaign_report", "source_file": "google.tsv", "file_hash": "h-go", "line_number": 4},
    ]


def session_rows() -> list[dict]:
    base = {"ga_session_id": 1, "session_source": "linkedin", "session_medium": "cpc", "session_campaign": "u1",
            "channel": "linkedin", "campaign_id": "c1", "landing_page": "/jobs", "country": "Germany",
            "engaged_session": 1, "layout": "ga4_sessions", "source_file": "sessions.csv", "file_hash": "h-s1"}
    return [
        {**base, "event_date": date(2020, 3, 2), "user_pseudo_id": VISITORS[0], "period": "p1", "line_number": 2},
        {**base, "event_date": date(2020, 3, 3), "user_pseudo_id": VISITORS[1], "period": "p1", "line_number": 3},
        # Campaign traffic outside every period: allowed, period stays null.
        {**base, "event_date": date(2020, 6, 3), "user_pseudo_id": VISITORS[1], "ga_session_id": 2, "period": None,
         "channel": "direct", "line_number": 4},
        # The same session again in an overlapping export: allowed.
        {**base, "event_date": date(2020, 3, 2), "user_pseudo_id": VISITORS[0], "period": "p1",
         "source_file": "sessions_overlap.csv", "file_hash": "h-s2", "line_number": 2},
    ]


def application_rows() -> list[dict]:
    base = {"job_title": "Data Scientist", "campaign_id": "c1", "channel": "linkedin", "layout": "ats_applications",
            "source_file": "ats.csv", "file_hash": "h-ats"}
    return [
        {**base, "application_key": "k1", "application_id": "A1", "org_id": "O1", "organisation_name": "Org One",
         "candidate_key": CANDIDATE_KEYS[0], "applied_on": date(2020, 3, 2), "period": "p1", "stage": "hired",
         "hire_date": date(2020, 4, 1), "country_code": "DE", "line_number": 2},
        {**base, "application_key": "k2", "application_id": "A2", "org_id": "O2", "organisation_name": "Org Two",
         "candidate_key": CANDIDATE_KEYS[1], "applied_on": date(2020, 3, 3), "period": "p1", "stage": "applied",
         "hire_date": None,
         "country_code": "SE", "channel": "referral", "line_number": 3},
        {**base, "application_key": "k3", "application_id": "A3", "org_id": "O1", "organisation_name": "Org One",
         "candidate_key": CANDIDATE_KEYS[2], "applied_on": date(2020, 9, 3), "period": "p2", "stage": "hired",
         "hire_date": date(2020, 9, 20), "country_code": "PL", "line_number": 4},
    ]


def failures(outcomes) -> list[outcomes_module.ExpectationOutcome]:
    return [o for o in outcomes if not o.passed]


def only_failure(outcomes, expectation: str, column: str) -> outcomes_module.ExpectationOutcome:
    failed = failures(outcomes)
    matching = [o for o in failed if o.expectation == expectation and o.column_name == column]
    assert matching, f"no failed {expectation} on {column}; failures: {[o.message for o in failed]}"
    return matching[0]


def assert_no_personal_data(outcomes) -> None:
    for o in outcomes:
        text = o.message + " ".join(o.examples)
        for secret in (*CANDIDATE_KEYS, *VISITORS):
            assert secret not in text, o.message
        # No field the contract declares private is shown, whatever its value.
        assert not [c for c in private_fields() for e in o.examples if f"{c}=" in e], o.examples


# --- clean frames pass ------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, rows",
    [("staging.reach", reach_rows), ("staging.sessions", session_rows), ("staging.applications", application_rows)],
)
def test_clean_staged_frame_passes(ref, table, rows):
    outcomes = validate(table, frame(table, rows()), ref)
    assert failures(outcomes) == []
    assert len(outcomes) > len(SUITES[table].columns)  # one outcome per expectation, schema included
    assert {o.table_name for o in outcomes} == {table}


# --- staging.reach ------------------------------------------------------------------------


def test_negative_impressions(ref):
    rows = reach_rows()
    rows[0]["impressions"] = -500
    rows[0]["clicks"] = 0
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    failed = only_failure(outcomes, "expect_column_values_to_be_between", "impressions")
    assert failed.failed_rows == 1
    assert failed.examples == ("impressions=-500 (linkedin.csv line 6)",)
    assert failed.message.startswith("staging.reach.impressions: expect_column_values_to_be_between (>= 0): 1 of 4")


def test_clicks_above_impressions(ref):
    rows = reach_rows()
    rows[1]["clicks"] = 2000
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    failed = only_failure(outcomes, "expect_column_pair_values_a_to_be_greater_than_b", "clicks")
    assert failed.failed_rows == 1
    assert "clicks=2000" in failed.examples[0] and "linkedin.csv line 7" in failed.examples[0]
    assert len(failures(outcomes)) == 1


def test_platform_reach_above_impressions(ref):
    rows = reach_rows()
    rows[0]["platform_reach"] = 5000
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    failed = only_failure(outcomes, "expect_column_pair_values_a_to_be_greater_than_b", "platform_reach")
    assert failed.failed_rows == 1


def test_two_currencies_in_one_file(ref):
    rows = reach_rows()
    rows[1]["currency"] = "DKK"
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    failed = only_failure(outcomes, "expect_column_values_to_be_between", "currency")
    assert failed.failed_rows == 1
    assert failed.examples == ("currencies_in_file=2, currencies='DKK, EUR' (source_file='linkedin.csv')",)
    assert len(failures(outcomes)) == 1


def test_currency_without_rate(ref):
    rows = reach_rows()
    rows[3]["currency"] = "SEK"
    failed = only_failure(validate("staging.reach", frame("staging.reach", rows), ref),
                          "expect_column_values_to_be_in_set", "currency")
    assert failed.examples == ("currency='SEK' (google.tsv line 4)",)


def test_reach_row_with_campaign_but_no_period(ref):
    rows = reach_rows()
    rows[0]["period"] = None
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    failed = only_failure(outcomes, "expect_column_values_to_not_be_null", "period")
    assert failed.failed_rows == 1
    assert failed.examples == ("campaign_id='c1', date=2020-03-05 (linkedin.csv line 6)",)


def test_reach_date_outside_its_period(ref):
    rows = reach_rows()
    rows[0]["date"] = date(2020, 4, 15)
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    failed = only_failure(outcomes, "expect_column_pair_values_a_to_be_greater_than_b", "date")
    assert failed.failed_rows == 1
    assert "date=2020-04-15" in failed.examples[0]


def test_duplicate_reach_row_in_one_file(ref):
    rows = reach_rows()
    rows.append({**rows[0], "line_number": 9})
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    failed = only_failure(outcomes, "expect_compound_columns_to_be_unique",
                          "date, channel, platform_campaign, ad_set, platform_campaign_id, file_hash")
    assert failed.failed_rows == 2


def test_missing_column_and_wrong_type(ref):
    bad = frame("staging.reach", reach_rows()).drop(columns=["platform_reach"])
    bad["impressions"] = bad["impressions"].astype("float64")
    outcomes = validate("staging.reach", bad, ref)
    columns = only_failure(outcomes, "expect_table_columns_to_match_set", None)
    assert columns.examples == ("missing column 'platform_reach'",)
    # Column types are the DDL's (sql/warehouse.sql), enforced by DuckDB, not restated in a suite:
    # a value of the wrong type is refused before any suite could see it.
    assert not [r for r in SUITES["staging.reach"].all_rules(ref)
                if r.expectation in ("ExpectColumnValuesToBeOfType", "ExpectColumnValuesToBeInTypeList")]
    con = duckdb.connect()
    wh.ensure_schema(con)
    wrong = frame("staging.reach", reach_rows())
    wrong["impressions"] = "many"
    with pytest.raises(duckdb.ConversionException, match="many"):
        _load(con, "staging.reach", wrong)
    # Rules on the missing column fail with the reason instead of crashing the check.
    assert any("missing" in o.message for o in failures(outcomes) if o.column_name == "platform_reach")


# --- staging.applications ---------------------------------------------------------------------


def test_hire_before_application(ref):
    rows = application_rows()
    rows[0]["hire_date"] = date(2020, 2, 1)
    outcomes = validate("staging.applications", frame("staging.applications", rows), ref)
    failed = only_failure(outcomes, "expect_column_pair_values_a_to_be_greater_than_b", "hire_date")
    assert failed.failed_rows == 1
    assert failed.examples == ("hire_date=2020-02-01, applied_on=2020-03-02 (ats.csv line 2)",)
    assert_no_personal_data(outcomes)


def test_unknown_organisation_is_named(ref):
    rows = application_rows()
    rows[1]["org_id"] = None
    rows[1]["organisation_name"] = "Unknown Pharma Ltd"
    rows[2]["org_id"] = None
    rows[2]["organisation_name"] = "Unknown Pharma Ltd"
    outcomes = validate("staging.applications", frame("staging.applications", rows), ref)
    failed = only_failure(outcomes, "expect_column_values_to_not_be_null", "org_id")
    assert failed.failed_rows == 2
    # One example per organisation, located at its first row.
    assert failed.examples == ("organisation_name='Unknown Pharma Ltd' (ats.csv line 3)",)
    assert "staging.applications.org_id" in failed.message and "the organisation is in the register" in failed.message
    assert_no_personal_data(outcomes)


def test_unknown_stage(ref):
    rows = application_rows()
    rows[1]["stage"] = "ghosted"
    failed = only_failure(validate("staging.applications", frame("staging.applications", rows), ref),
                          "expect_column_values_to_be_in_set", "stage")
    assert failed.failed_rows == 1
    assert failed.examples == ("stage='ghosted' (ats.csv line 3)",)


def test_bad_country_code(ref):
    rows = application_rows()
    rows[0]["country_code"] = "XX"
    rows[2]["country_code"] = "Germany"
    failed = only_failure(validate("staging.applications", frame("staging.applications", rows), ref),
                          "expect_column_values_to_be_in_set", "country_code")
    assert failed.failed_rows == 2
    assert failed.examples == ("country_code='XX' (ats.csv line 2)", "country_code='Germany' (ats.csv line 4)")


def test_hired_without_hire_date(ref):
    rows = application_rows()
    rows[0]["hire_date"] = None
    failed = only_failure(validate("staging.applications", frame("staging.applications", rows), ref),
                          "expect_column_values_to_not_be_null", "hire_date")
    assert failed.failed_rows == 1


def test_duplicate_application_in_one_file_shows_no_keys(ref):
    rows = application_rows()
    rows.append({**rows[0], "line_number": 5})
    outcomes = validate("staging.applications", frame("staging.applications", rows), ref)
    failed = only_failure(outcomes, "expect_compound_columns_to_be_unique", "application_key, file_hash")
    assert failed.failed_rows == 2
    assert failed.examples == ("application_id='A1', organisation_name='Org One' (ats.csv line 2)",)
    assert_no_personal_data(outcomes)


# --- staging.sessions ----------------------------------------------------------------------------


def test_duplicate_session_in_one_file_never_shows_the_visitor(ref):
    rows = session_rows()
    rows.append({**rows[0], "line_number": 9})
    outcomes = validate("staging.sessions", frame("staging.sessions", rows), ref)
    failed = only_failure(outcomes, "expect_compound_columns_to_be_unique",
                          "user_pseudo_id, ga_session_id, file_hash")
    assert failed.failed_rows == 2
    # What illustrates the duplicate is every shown column the contract does not declare private.
    values = {"user_pseudo_id": repr(VISITORS[0]), "ga_session_id": "1", "event_date": "2020-03-02"}
    shown = ", ".join(f"{c}={v}" for c, v in values.items() if c not in private_fields())
    assert failed.examples == (f"{shown} (sessions.csv line 2)",)
    assert_no_personal_data(outcomes)


def test_session_with_unknown_channel(ref):
    rows = session_rows()
    rows[0]["channel"] = "tiktok"
    failed = only_failure(validate("staging.sessions", frame("staging.sessions", rows), ref),
                          "expect_column_values_to_be_in_set", "channel")
    assert failed.examples == ("channel='tiktok' (sessions.csv line 2)",)


# --- marts -----------------------------------------------------------------------------------------


def funnel_rows() -> list[dict]:
    rows = []
    for period in ("p1", "p2", "all"):
        for order, stage_name in enumerate(("impressions", "clicks", "unique_visitors", "applications", "hires"), 1):
            rows.append({"campaign_id": "c1", "period": period, "channel": "all", "stage": stage_name,
                         "stage_order": order, "value": 10 - order, "step_conversion": 0.5 if order > 1 else None,
                         "overall_conversion": 0.1 if order > 1 else None})
    return rows


def test_clean_funnel_passes(ref):
    assert failures(validate("marts.funnel", frame("marts.funnel", funnel_rows()), ref)) == []


def test_duplicate_funnel_key(ref):
    rows = funnel_rows()
    rows.append(dict(rows[3]))
    outcomes = validate("marts.funnel", frame("marts.funnel", rows), ref)
    failed = only_failure(outcomes, "expect_compound_columns_to_be_unique", "campaign_id, period, channel, stage")
    assert failed.failed_rows == 2
    assert failed.examples == ("campaign_id='c1', period='p1', channel='all', stage='applications'",)
    assert failed.message.startswith("marts.funnel: expect_compound_columns_to_be_unique")


def test_funnel_period_the_campaign_does_not_have(ref):
    rows = funnel_rows()
    rows[0]["period"] = "p9"
    failed = only_failure(validate("marts.funnel", frame("marts.funnel", rows), ref),
                          "expect_column_values_to_be_in_set", "period")
    assert failed.failed_rows == 1
    assert "period='p9'" in failed.examples[0]


# --- reconciliation on a small warehouse built by the real marts code ---------------------------------


def _load(con, table: str, df: pd.DataFrame) -> None:
    con.register("_rows", df)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


@pytest.fixture
def warehouse(ref):
    """An in-memory warehouse: reference, staged rows (one reach row re-delivered in a later file), marts."""
    con = duckdb.connect()
    wh.ensure_schema(con)
    D = date
    wh.load_reference(con, {
        "campaigns": pl.DataFrame({"campaign_id": ["c1", "c2"], "name": ["Camp One", "Camp Two"],
                                   "start_date": [D(2020, 1, 1), D(2011, 1, 1)],
                                   "end_date": [D(2020, 12, 31), D(2011, 12, 31)],
                                   "budget_eur": [100.0, 50.0], "eu_grant_eur": [50.0, 25.0]}),
        "campaign_periods": pl.DataFrame({"campaign_id": ["c1", "c1"], "period": ["p1", "p2"],
                                          "start_date": [D(2020, 3, 1), D(2020, 9, 1)],
                                          "end_date": [D(2020, 3, 31), D(2020, 9, 30)], "utm_campaign": ["u1", "u2"]}),
        "organisations": pl.DataFrame({"org_id": ["O1", "O2"], "name": ["Org One", "Org Two"], "country": ["DK", "SE"],
                                       "city": ["a", "b"], "sector": ["x", "x"],
                                       "talent_campaign_joined_on": [D(2020, 1, 1), D(2020, 1, 1)],
                                       "established_in_region_on": [D(2020, 2, 1), D(2010, 1, 1)]}),
        "kpi_targets": pl.DataFrame({"campaign_id": ["c1"], "kpi": ["international_hires"], "period": [None],
                                     "target": [2.0]}, schema_overrides={"period": pl.String}),
        "fx_rates": pl.DataFrame({"currency": ["EUR", "DKK"], "eur_per_unit": [1.0, 0.1341]}),
    })
    reach = reach_rows()
    # A corrected re-delivery of the first row in a later file: the marts count it once, with the new value.
    reach.append({**reach[0], "impressions": 1200, "source_file": "linkedin_fix.csv", "file_hash": "h-li2",
                  "line_number": 6})
    _load(con, "staging.reach", frame("staging.reach", reach))
    _load(con, "staging.sessions", frame("staging.sessions", session_rows()))
    _load(con, "staging.applications", frame("staging.applications", application_rows()))
    for i, (file_hash, source) in enumerate([("h-li", "reach"), ("h-go", "reach"), ("h-li2", "reach"),
                                             ("h-s1", "visitors"), ("h-s2", "visitors"), ("h-ats", "hiring")]):
        con.execute("INSERT INTO ingest.file_ledger (file_hash, source, path, status, loaded_at) "
                    "VALUES (?, ?, ?, 'loaded', TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (?) MINUTE)",
                    [file_hash, source, f"/raw/{file_hash}", i])
    con.execute("CREATE TABLE ref.files AS SELECT 'organisations.csv' AS file_name, 'h-org' AS file_hash")
    inputs = read_inputs(con)
    built = build_marts(inputs)
    built.update(build_audit(con, inputs, built))
    write_marts(con, built)
    yield con
    con.close()


def test_reconciliation_passes_on_marts_built_from_staging(warehouse):
    outcomes = reconcile(warehouse)
    assert failures(outcomes) == []
    assert {o.table_name for o in outcomes} == {"marts.funnel", "marts.cost_per_outcome", "marts.hires_vs_target",
                                                "marts.kpi_provenance"}
    assert warehouse.sql("SELECT value FROM marts.funnel WHERE campaign_id = 'c1' AND period = 'all' "
                         "AND channel = 'all' AND stage = 'impressions'").fetchall() == [(3200,)]  # 1200 replaces 1000


@pytest.mark.parametrize("table", sorted(SUITES))
def test_every_suite_passes_on_the_built_warehouse(warehouse, table):
    assert failures(profiling.validate_table(warehouse, table)) == []


def test_reconciliation_mismatch_in_impressions(warehouse):
    warehouse.execute("UPDATE marts.funnel SET value = value + 7 WHERE campaign_id = 'c1' AND stage = 'impressions' "
                      "AND period = 'all' AND channel = 'all'")
    outcomes = reconcile(warehouse, "marts.funnel")
    failed = only_failure(outcomes, "expect_column_pair_values_to_be_equal", "impressions")
    assert failed.failed_rows == 1
    assert failed.examples == (
        "staged_impressions=3200, marts_impressions=3207 (campaign_id='c1', period='all', channel='all')",
    )
    assert len(failures(outcomes)) == 1


def test_reconciliation_spend_tolerates_rounding_only(warehouse):
    warehouse.execute("UPDATE marts.cost_per_outcome SET spend_eur = spend_eur + 0.004 WHERE channel = 'linkedin'")
    assert failures(reconcile(warehouse, "marts.cost_per_outcome")) == []
    warehouse.execute("UPDATE marts.cost_per_outcome SET spend_eur = spend_eur + 1 WHERE channel = 'all' "
                      "AND period = 'all'")
    failed = only_failure(reconcile(warehouse, "marts.cost_per_outcome"), "expect_column_values_to_be_between",
                          "spend_eur")
    assert failed.failed_rows == 1


def test_visitor_recount_is_exact_at_every_scope(warehouse):
    counted = recount.staged_visitor_scopes(warehouse)
    got = {(r.campaign_id, None if pd.isna(r.period) else r.period, r.channel): r.visitors
           for r in counted.itertuples()}
    assert got == {("c1", "p1", "linkedin"): 2, ("c1", "p1", "all"): 2, ("c1", "all", "linkedin"): 2,
                   ("c1", "all", "direct"): 1, ("c1", "all", "all"): 2, ("c1", None, "all"): 1}


def test_visitor_recount_beyond_one_mask_word(warehouse):
    """More than 64 (period, channel) pairs: the recount still equals a distinct count per scope."""
    rows = [{**session_rows()[0], "user_pseudo_id": f"v{i % 50}", "ga_session_id": i, "channel": f"ch{i % 70}",
             "period": ("p1", None)[i % 2], "event_date": (date(2020, 3, 5), date(2020, 6, 1))[i % 2],
             "line_number": i + 2} for i in range(140)]
    warehouse.execute("DELETE FROM staging.sessions")
    _load(warehouse, "staging.sessions", frame("staging.sessions", rows))
    got = {(r.campaign_id, None if pd.isna(r.period) else r.period, r.channel): r.visitors
           for r in recount.staged_visitor_scopes(warehouse).itertuples()}
    oracle = {}
    for period_sql, channel_sql, where in (("period", "channel", "period IS NOT NULL"),
                                           ("period", "'all'", "period IS NOT NULL"),
                                           ("'all'", "channel", "true"), ("'all'", "'all'", "true"),
                                           ("NULL", "'all'", "period IS NULL")):
        for c, p, ch, n in warehouse.execute(
            f"SELECT campaign_id, {period_sql}, {channel_sql}, count(DISTINCT user_pseudo_id) FROM staging.sessions "
            f"WHERE campaign_id IS NOT NULL AND {where} GROUP BY ALL"
        ).fetchall():
            oracle[(c, p, ch)] = n
    assert len({k[2] for k in got}) == 71 and got == oracle


def test_reconciliation_mismatch_in_unique_visitors(warehouse):
    warehouse.execute("UPDATE marts.funnel SET value = value + 1 WHERE campaign_id = 'c1' AND stage = 'unique_visitors' "
                      "AND period = 'p1' AND channel = 'linkedin'")
    failed = only_failure(reconcile(warehouse, "marts.funnel"), "expect_column_pair_values_to_be_equal",
                          "unique_visitors")
    assert failed.failed_rows == 1
    assert failed.examples == (
        "staged_unique_visitors=2, marts_unique_visitors=3 (campaign_id='c1', period='p1', channel='linkedin')",
    )


def test_reconciliation_whole_campaign_visitors_above_their_parts(warehouse):
    warehouse.execute("UPDATE marts.funnel SET value = 99 WHERE campaign_id = 'c1' AND stage = 'unique_visitors' "
                      "AND period = 'all' AND channel = 'all'")
    outcomes = reconcile(warehouse, "marts.funnel")
    bound = only_failure(outcomes, "expect_column_pair_values_a_to_be_greater_than_b", "unique_visitors")
    assert bound.examples == ("period_visitors_plus_outside=3, whole_campaign_visitors=99 (campaign_id='c1')",)


def test_reconciliation_more_hires_than_applications(warehouse):
    warehouse.execute("UPDATE marts.hires_vs_target SET hires = 5 WHERE organisation = 'Org One' AND period = 'p1'")
    failed = only_failure(reconcile(warehouse, "marts.hires_vs_target"),
                          "expect_column_pair_values_a_to_be_greater_than_b", "hires")
    assert failed.examples == (
        "staged_applications=1, hires=5 (campaign_id='c1', period='p1', organisation='Org One')",
    )


# --- records and wiring --------------------------------------------------------------------------------


def test_every_outcome_is_recorded(ref):
    con = duckdb.connect()
    wh.ensure_schema(con)
    rows = reach_rows()
    rows[0]["impressions"] = -1
    outcomes = validate("staging.reach", frame("staging.reach", rows), ref)
    audit.record(con, outcomes, "run-1", asset.SUITE_CHECK)
    stored = con.execute("SELECT count(*), count(*) FILTER (WHERE NOT passed), "
                         "max(examples) FILTER (WHERE column_name = 'impressions' AND NOT passed) "
                         "FROM audit.check_results WHERE run_id = 'run-1'").fetchall()
    assert stored == [(len(outcomes), len(failures(outcomes)), "impressions=-1 (linkedin.csv line 6)")]
    markdown = audit.outcomes_markdown(outcomes)
    assert markdown.splitlines()[0] == "| expectation | column | rule | passed | failed rows | examples |"
    assert "**NO**" in markdown.splitlines()[2]  # failures first


def test_checks_are_blocking_and_cover_every_table():
    import dagster as dg

    from pipelines.resources import TalentStore

    specs = [spec for check in asset.CHECKS for spec in check.check_specs]
    # Every suite and reconciliation blocks; the quarantine reports only warn.
    assert all(spec.blocking == (spec.name != asset.QUARANTINE_CHECK) for spec in specs)
    warned = {spec.asset_key.to_user_string() for spec in specs if spec.name == asset.QUARANTINE_CHECK}
    assert warned == {"staged_reach", "staged_sessions", "staged_applications"}
    suites = {spec.asset_key.to_user_string() for spec in specs if spec.name == asset.SUITE_CHECK}
    assert suites == {"reference_data", "staged_reach", "staged_sessions", "staged_applications",
                      *(f"marts/{name}" for name in MART_TABLES)}
    defs = dg.Definitions(asset_checks=asset.CHECKS, resources={"store": TalentStore()})
    assert {s.key for s in specs} == set(defs.resolve_asset_graph().asset_check_keys)


def _live_columns(con, schema: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = ? "
        "ORDER BY table_name, ordinal_position", [schema]
    ).fetchall():
        out.setdefault(table, {})[column] = dtype
    return out


def test_suites_follow_the_sql_schemas():
    """The suites' columns are those of the tables the warehouse really has (its schema, then the marts)."""
    con = duckdb.connect()
    wh.ensure_schema(con)
    con.execute("USE marts")
    tables.create_tables(con)
    staged = _live_columns(con, "staging")
    for table in ("reach", "sessions", "applications"):
        assert SUITES[f"staging.{table}"].columns == staged[table], table
    marts = _live_columns(con, "marts")
    for name in MART_TABLES:
        assert SUITES[f"marts.{name}"].columns == marts[name], name
        key = con.execute("SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = 'marts' "
                          "AND table_name = ? AND constraint_type = 'PRIMARY KEY'", [name]).fetchone()[0]
        assert SUITES[f"marts.{name}"].unique == tuple(key), name


def test_staged_files_are_validated_once_and_bad_rows_are_quarantined(warehouse):
    first = profiling.validate_table(warehouse, "staging.reach")
    assert failures(first) == [] and first[0].expectation != "incremental_validation"
    again = profiling.validate_table(warehouse, "staging.reach")
    assert [o.expectation for o in again] == ["incremental_validation"] and again[0].passed
    # A new file with a bad row among good ones: the bad row fails its rule and is quarantined with the
    # file, line, column and rule; the good rows stay; the ledger's counts move; nothing stays pending.
    good = {**reach_rows()[1], "source_file": "bad.csv", "file_hash": "h-bad", "line_number": 8}
    bad = {**reach_rows()[0], "impressions": -5, "source_file": "bad.csv", "file_hash": "h-bad", "line_number": 9}
    _load(warehouse, "staging.reach", frame("staging.reach", [good, bad]))
    warehouse.execute("INSERT INTO ingest.file_ledger (file_hash, source, path, status, loaded_at, data_lines, "
                      "rows_loaded, rows_quarantined) VALUES ('h-bad', 'reach', '/raw/bad.csv', 'loaded', "
                      "TIMESTAMP '2024-02-01', 2, 2, 0)")
    result = profiling.validate_table(warehouse, "staging.reach", run_id="r1")
    outcome = only_failure(result, "expect_column_values_to_be_between", "impressions")
    assert outcome.failed_rows == 1 and "bad.csv line 9" in outcome.examples[0]
    assert outcome.contained and outcome.quarantined == 1
    assert asset.check_result(result).passed  # contained: it does not block
    assert warehouse.execute("SELECT source_file, line_number, column_name, value, rule, run_id "
                             "FROM staging.quarantine").fetchall() == [("bad.csv", 9, "impressions", "-5", ">= 0", "r1")]
    assert warehouse.execute("SELECT line_number FROM staging.reach WHERE file_hash = 'h-bad'").fetchall() == [(8,)]
    assert warehouse.execute("SELECT rows_loaded, rows_quarantined FROM ingest.file_ledger "
                             "WHERE file_hash = 'h-bad'").fetchall() == [(1, 1)]
    assert [o.expectation for o in profiling.validate_table(warehouse, "staging.reach")] == ["incremental_validation"]


def test_a_mart_left_as_it_was_carries_its_verdict_until_its_rows_or_its_suite_change(warehouse):
    """A mart's suite runs in full on rows it has not passed; rows that passed this suite version (recorded
    by the gate after it recorded the outcomes: the check itself only reads) carry that verdict, naming the
    run, until a row, the reference data (its accepted values, or the dates a derived frame joins) or
    FULL_EVERY changes it, and never on --full."""
    table = "marts.funnel"

    def validated_in_full(outcomes) -> bool:
        return len(outcomes) > 1 and "identical_content" not in {o.expectation for o in outcomes}

    first = profiling.validate_table(warehouse, table, run_id="r1")
    assert failures(first) == [] and validated_in_full(first)
    assert validated_in_full(profiling.validate_table(warehouse, table, run_id="r1b"))  # nothing kept yet
    first.after(warehouse)
    carried = profiling.validate_table(warehouse, table, run_id="r2")
    assert [(o.expectation, o.passed) for o in carried] == [("identical_content", True)]
    assert "in run r1 at " in carried[0].message and not hasattr(carried, "after")
    assert validated_in_full(profiling.validate_table(warehouse, table, run_id="r3", full=True))
    assert [o.expectation for o in profiling.validate_table(warehouse, "marts.campaigns")] != ["identical_content"]

    warehouse.execute(f"UPDATE {audit.VALIDATED_CONTENT} SET validated_at = validated_at - INTERVAL 8 DAY")
    aged = profiling.validate_table(warehouse, table, run_id="r4")
    assert validated_in_full(aged)
    aged.after(warehouse)
    assert [o.expectation for o in profiling.validate_table(warehouse, table)] == ["identical_content"]

    warehouse.execute("INSERT INTO ref.campaign_periods VALUES ('c1', 'p3', DATE '2020-11-01', DATE '2020-11-30', "
                      "'u3')")  # new reference data: the suite's accepted periods, so its version, change
    assert validated_in_full(profiling.validate_table(warehouse, table, run_id="r5"))
    warehouse.execute("DELETE FROM ref.campaign_periods WHERE period = 'p3'")
    assert [o.expectation for o in profiling.validate_table(warehouse, table)] == ["identical_content"]

    periods = "marts.campaign_periods"  # its suite joins the campaigns' dates, which no accepted value names
    profiling.validate_table(warehouse, periods, run_id="r5b").after(warehouse)
    assert [o.expectation for o in profiling.validate_table(warehouse, periods)] == ["identical_content"]
    warehouse.execute("UPDATE ref.campaigns SET start_date = DATE '2020-04-01' WHERE campaign_id = 'c1'")
    moved = profiling.validate_table(warehouse, periods, run_id="r5c")
    assert [o.rule for o in failures(moved)] == ["the period starts inside its campaign's window"]
    warehouse.execute("UPDATE ref.campaigns SET start_date = DATE '2020-01-01' WHERE campaign_id = 'c1'")

    warehouse.execute(f"UPDATE {table} SET value = value + 1 WHERE campaign_id = 'c1' AND period = 'all' "
                      "AND channel = 'all' AND stage = 'impressions'")
    changed = profiling.validate_table(warehouse, table, run_id="r6")
    assert failures(changed) == [] and validated_in_full(changed)
    changed.after(warehouse)

    warehouse.execute(f"UPDATE {table} SET value = -1 WHERE stage = 'clicks'")
    failed = profiling.validate_table(warehouse, table, run_id="r7")
    assert failures(failed)
    failed.after(warehouse)  # a failing suite is never carried
    assert failures(profiling.validate_table(warehouse, table, run_id="r8")) == failures(failed)
    assert warehouse.execute(f"SELECT list(run_id ORDER BY validated_at) FROM {audit.VALIDATED_CONTENT} "
                             "WHERE table_name = ?", [table]).fetchall() == [(["r1", "r4", "r6"],)]


def test_a_schema_failure_is_not_contained_and_blocks(warehouse):
    warehouse.execute("ALTER TABLE staging.reach DROP COLUMN platform_reach")
    result = profiling.validate_table(warehouse, "staging.reach")
    assert not asset.check_result(result).passed
    assert warehouse.execute("SELECT count(*) FROM staging.quarantine").fetchall() == [(0,)]


def _bad_sessions() -> list[dict]:
    """Clean sessions, several per profile row, and bad ones of every kind the session suite knows."""
    rows = [{**r, "line_number": r["line_number"] + 10 * k} for k in range(3) for r in session_rows()
            if r["file_hash"] == "h-s1"]
    for r in rows[3:]:  # clean copies are new sessions, not duplicate keys
        r["ga_session_id"] = 100 + r["line_number"]
    good = session_rows()[0]
    rows += [
        {**good, "ga_session_id": 501, "channel": "myspace", "event_date": date(2020, 3, 20), "line_number": 51},
        {**good, "ga_session_id": 502, "channel": "myspace", "line_number": 52},
        {**good, "ga_session_id": 503, "engaged_session": 7, "line_number": 53},
        {**good, "ga_session_id": 504, "event_date": date(2020, 4, 2), "line_number": 54},  # after p1 ends
        {**good, "ga_session_id": 505, "campaign_id": None, "line_number": 55},  # a period without its campaign
        {**good, "line_number": 56},  # the first session again: a shared key
    ]
    return rows


def test_profiled_validation_judges_like_the_rows(warehouse, ref):
    """The warehouse validates sessions on their profile; every verdict, count and example equals the rows'."""
    rows = _bad_sessions()
    by_rows = validate("staging.sessions", frame("staging.sessions", rows), ref)
    warehouse.execute("DELETE FROM staging.sessions")
    _load(warehouse, "staging.sessions", frame("staging.sessions", rows))
    profile, shared, _sample = profiling.profile_frames(warehouse, "staging.sessions", ref)
    assert len(profile) < len(rows) and profile[rules.WEIGHT].sum() == len(rows)
    by_profile = profiling.validate_table(warehouse, "staging.sessions")
    # Containment finds the failing rows again through the profile: exactly the lines the rows' own
    # validation fails are quarantined, and the sessions left pass.
    failing_lines = set()
    for o in failures(by_rows):
        failing_lines |= set(o.failing["line_number"].astype(int))
    quarantined = {r[0] for r in warehouse.execute("SELECT line_number FROM staging.quarantine").fetchall()}
    assert quarantined == failing_lines and len(quarantined) >= 6
    assert failures(validate("staging.sessions", warehouse.sql("SELECT * FROM staging.sessions").df(), ref)) == []
    assert {o.column_name for o in failures(by_rows)} >= {"channel", "engaged_session", "event_date", "campaign_id",
                                                          "user_pseudo_id, ga_session_id, file_hash"}
    keyed = {(o.expectation, o.column_name, o.rule): o for o in by_rows}
    assert [(o.expectation, o.column_name, o.rule) for o in by_profile] == list(keyed)
    for o in by_profile:
        expected = keyed[(o.expectation, o.column_name, o.rule)]
        assert (o.passed, o.failed_rows) == (expected.passed, expected.failed_rows), o.message
        assert o.examples == expected.examples, o.message


def test_chunked_validation_counts_like_one_pass(warehouse, monkeypatch):
    rows = reach_rows()
    rows[0]["impressions"] = -1
    dup = rows * 2  # every row twice in its file: each one a duplicate key
    warehouse.execute("DELETE FROM staging.reach")
    _load(warehouse, "staging.reach", frame("staging.reach", dup))
    whole = only_failure(validate("staging.reach", frame("staging.reach", dup), rules.Reference.from_warehouse(warehouse)),
                         "expect_column_values_to_be_between", "impressions")
    monkeypatch.setattr(profiling, "CHUNK_ROWS", 2)
    chunked = only_failure(profiling.validate_table(warehouse, "staging.reach"),
                           "expect_column_values_to_be_between", "impressions")
    assert chunked.failed_rows == whole.failed_rows == 2
    assert "chunks" in chunked.message

def test_the_worker_process_judges_like_this_process(ref):
    """Great Expectations in its worker process (as in a run) gives the outcomes it gives in-process."""
    from assets.quality import gx_runner

    rows = reach_rows()
    rows[0]["impressions"] = -1
    rows[1]["currency"] = "XXX"
    here = validate("staging.reach", frame("staging.reach", rows), ref)
    gx_runner.start()
    try:
        there = validate("staging.reach", frame("staging.reach", rows), ref)
        # Still the pool it started (a dead worker would have been dropped for in-process validation),
        # with its worker in another process.
        workers = list(gx_runner._POOL._processes)
        assert workers and os.getpid() not in workers
    finally:
        gx_runner.stop()
    assert gx_runner._POOL is None
    assert there == here and {o.column_name for o in failures(there)} >= {"impressions", "currency"}


def test_a_prefetched_visitor_recount_is_the_recount(warehouse, monkeypatch):
    calls = []
    real = recount.staged_visitor_scopes

    def counted(con, full=False):
        calls.append(con)
        return real(con, full)

    monkeypatch.setattr(reconciliation, "staged_visitor_scopes", counted)
    finish = reconciliation.prefetch_visitor_recount(warehouse)
    try:
        outcomes = reconcile(warehouse, "marts.funnel")
    finally:
        finish()
    assert failures(outcomes) == [] and reconciliation._PREFETCHED == {}
    assert len(calls) == 1 and calls[0] is not warehouse  # counted once, on the prefetch's own cursor
    warehouse.execute("UPDATE marts.funnel SET value = value + 1 WHERE stage = 'unique_visitors' "
                      "AND period = 'p1' AND channel = 'linkedin'")
    finish = reconciliation.prefetch_visitor_recount(warehouse)
    try:
        failed = only_failure(reconcile(warehouse, "marts.funnel"), "expect_column_pair_values_to_be_equal",
                              "unique_visitors")
    finally:
        finish()
    assert failed.failed_rows == 1


def test_suite_version_is_the_declared_rules_not_the_bytes(ref):
    """A comment or docstring changes no suite version; a rule, a derived frame's code or a reference value does."""
    import importlib.util
    import inspect

    from assets.quality import staged_suites

    source = inspect.getsource(staged_suites)

    def version_of(text: str) -> str:
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader("_staged_suites_copy", loader=None))
        exec(compile(text, "_staged_suites_copy.py", "exec"), module.__dict__)
        return suite_version(module.STAGED_SUITES["staging.sessions"], ref)

    today = suite_version(SUITES["staging.sessions"], ref)
    assert version_of(source) == today
    commented = ("# A comment that moves every line.\n" + source).replace(
        "def _session_rules(ref: Reference) -> list[Rule]:\n",
        "def _session_rules(ref: Reference) -> list[Rule]:\n    # A comment inside the rules.\n").replace(
        '"""Rows with a period, beside', '"""Reworded: rows with a period, beside').replace(
        "    def build(rows: pd.DataFrame, ref: Reference) -> pd.DataFrame:\n",
        "    def build(rows: pd.DataFrame, ref: Reference) -> pd.DataFrame:\n        \"\"\"A new docstring.\"\"\"\n")
    assert commented.count("A comment") == 2 and "A new docstring" in commented
    assert version_of(commented) == today
    for before, after in (('in_set("engaged_session", [0, 1])', 'in_set("engaged_session", [0, 1, 2])'),
                          ('"a session with a period has a campaign"', '"a session in a period has a campaign"'),
                          ('lambda r: r["period"].notna()', 'lambda r: r["period"].isna()'),
                          ('unique_show=("event_date",)', 'unique_show=("event_date", "channel")')):
        assert before in source
        assert version_of(source.replace(before, after)) != today, after
    # A rule's accepted values come from the reference: a new campaign is a new version of the suite.
    more = replace(ref, campaigns=pd.concat([ref.campaigns, ref.campaigns.assign(campaign_id="c3")]))
    assert suite_version(SUITES["staging.sessions"], more) != today
    # Each table has its own: a sessions rule changes nothing for reach.
    assert suite_version(SUITES["staging.reach"], ref) != today


def test_a_night_recounts_the_campaigns_whose_sessions_changed_and_carries_the_rest(warehouse):
    """After a passing reconciliation, unchanged campaigns carry their verified counts; a campaign that only
    gained a visitor export adds the visitors new to each scope; one whose counted exports changed is
    recounted from all its sessions; ``full`` recounts everything."""
    assert failures(reconcile(warehouse)) == []
    kept = warehouse.execute(f"SELECT count(*) FROM {recount.COUNTS_TABLE}").fetchall()[0][0]
    assert kept == len(recount.staged_visitor_scopes(warehouse, full=True)) > 0
    assert recount.staged_visitor_scopes(warehouse).attrs["recounted"] == ()  # nothing changed: all carried
    # Carried means not read again: a kept count that were wrong would stay wrong until a full recount.
    warehouse.execute(f"UPDATE {recount.COUNTS_TABLE} SET visitors = 99 WHERE period = 'p1' AND channel = 'linkedin'")
    carried = only_failure(reconcile(warehouse, "marts.funnel"), "expect_column_pair_values_to_be_equal",
                           "unique_visitors")
    assert carried.examples == (
        "staged_unique_visitors=99, marts_unique_visitors=2 (campaign_id='c1', period='p1', channel='linkedin')",)
    assert failures(reconcile(warehouse, "marts.funnel", full=True)) == []  # recounted, and kept again
    # A new visitor export with a new visitor of c1, and a known one in a scope new to it (p2, direct) and
    # in one it had (the 'all' period): c1 adds the visitors new to each scope, and the marts (not rebuilt
    # here) no longer agree with it.
    # A second export the same night repeats the new visitor and brings one seen only outside every period.
    new = {**session_rows()[0], "user_pseudo_id": "visitor-new", "source_file": "sessions_3.csv", "file_hash": "h-s3"}
    back = {**session_rows()[1], "event_date": date(2020, 9, 2), "period": "p2", "channel": "direct",
            "source_file": "sessions_3.csv", "file_hash": "h-s3", "line_number": 3}
    again = {**new, "source_file": "sessions_4.csv", "file_hash": "h-s4", "line_number": 2}
    outside = {**session_rows()[2], "user_pseudo_id": "visitor-outside", "source_file": "sessions_4.csv",
               "file_hash": "h-s4", "line_number": 3}
    _load(warehouse, "staging.sessions", frame("staging.sessions", [new, back, again, outside]))
    warehouse.execute("INSERT INTO ingest.file_ledger (file_hash, source, path, status, loaded_at, rows_loaded) "
                      "VALUES ('h-s3', 'visitors', '/raw/h-s3', 'loaded', TIMESTAMP '2024-03-01', 2), "
                      "('h-s4', 'visitors', '/raw/h-s4', 'loaded', TIMESTAMP '2024-03-01 01:00', 2)")
    night = recount.staged_visitor_scopes(warehouse)
    assert night.attrs["added"] == ("c1",) and night.attrs["recounted"] == ()
    full = recount.staged_visitor_scopes(warehouse, full=True)
    assert len(night) == len(full)  # one row per scope, none doubled by the addition
    def as_counts(counted):
        return {(r.campaign_id, None if pd.isna(r.period) else r.period, r.channel): r.visitors
                for r in counted.itertuples()}

    assert as_counts(night) == as_counts(full)
    assert {(r.period, r.channel): r.visitors for r in night.itertuples() if r.period == "all"} == {
        ("all", "linkedin"): 3, ("all", "direct"): 2, ("all", "all"): 4}
    assert [r.visitors for r in night.itertuples() if pd.isna(r.period)] == [2]  # outside every period
    assert {(r.period, r.channel): r.visitors for r in night.itertuples() if r.period == "p2"} == {
        ("p2", "direct"): 1, ("p2", "all"): 1}
    failed = only_failure(reconcile(warehouse, "marts.funnel"), "expect_column_pair_values_to_be_equal",
                          "unique_visitors")
    assert "staged_unique_visitors=4, marts_unique_visitors=2" in failed.examples[0]
    # Rows leaving a counted export (quarantined: its ledger rows_loaded moves) are a change too.
    warehouse.execute("DELETE FROM staging.sessions WHERE file_hash IN ('h-s3', 'h-s4', 'h-s2')")
    warehouse.execute("DELETE FROM ingest.file_ledger WHERE file_hash IN ('h-s3', 'h-s4')")
    assert recount.staged_visitor_scopes(warehouse).attrs["recounted"] == ("c1",)  # h-s2 left staging
    warehouse.execute("DELETE FROM staging.sessions WHERE file_hash = 'h-s1' AND line_number = 3")
    warehouse.execute("UPDATE ingest.file_ledger SET rows_loaded = 2 WHERE file_hash = 'h-s1'")
    night = recount.staged_visitor_scopes(warehouse)
    assert night.attrs["recounted"] == ("c1",) and as_counts(night) == as_counts(
        recount.staged_visitor_scopes(warehouse, full=True))


def test_the_carried_recount_is_renewed_weekly_and_on_new_reference_data(warehouse, monkeypatch):
    assert failures(reconcile(warehouse)) == []
    assert recount.staged_visitor_scopes(warehouse).attrs["full"] is False
    warehouse.execute(f"UPDATE {recount.INPUTS_TABLE} SET full_at = full_at - INTERVAL 8 DAY")
    assert recount.staged_visitor_scopes(warehouse).attrs["full"] is True
    assert failures(reconcile(warehouse)) == []
    assert recount.staged_visitor_scopes(warehouse).attrs["full"] is False
    warehouse.execute("CREATE TABLE IF NOT EXISTS ingest.reference_version (version VARCHAR)")
    warehouse.execute("INSERT INTO ingest.reference_version VALUES ('a new reference')")
    assert recount.staged_visitor_scopes(warehouse).attrs["full"] is True


@pytest.mark.parametrize("fails", ["", "c", "b", "bc"])
def test_read_only_checks_run_ahead_on_cursors_yield_in_order_and_fail_closed(tmp_path, fails):
    """The marts gate's suites run ahead in threads (asset._Ahead); what the UI and the audit get is
    unchanged: every result in its order (``a`` finishes last), and an error, in a check run ahead (c)
    or on the gate's own connection while the others still run (b), still fails the gate's step; an
    error of a check run ahead that no result was taken from is logged, not lost (bc)."""
    import threading
    import time

    import dagster as dg

    from assets.wrappers import STORE
    from pipelines.resources import TalentStore

    @dg.asset(name="probe_table")
    def probe_table() -> None:
        return None

    seen, finished = {}, []

    def check(name: str):
        def run(con, run_id=None, settings=None, full=False):
            seen[name] = (threading.current_thread().name, con)
            assert con.execute("SELECT count(*) FROM audit.check_results").fetchall()[0][0] >= 0
            if name == "a":
                time.sleep(0.5)  # c, started with it, is done long before: the order is the checks', not theirs
            finished.append(name)
            if name in fails:
                raise RuntimeError(f"check {name} could not be evaluated")
            return [outcomes_module.ExpectationOutcome("probe", "expect_probe", None, name, True, 0, (), name)]
        return (dg.AssetCheckSpec(name, asset=probe_table, blocking=True), name, run)

    gate = asset._quality_gate("probe_gate", [check("a"), check("b"), check("c")], ahead={"a", "c"})
    store = TalentStore(warehouse_dir=str(tmp_path / "warehouse"))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([probe_table, gate], resources={STORE: store}, raise_on_error=False, instance=instance)

    assert seen["b"][0] == threading.current_thread().name  # in order, on the gate's own connection
    assert seen["a"][0].startswith("check-ahead") and seen["c"][0].startswith("check-ahead")
    assert seen["a"][1] is not seen["b"][1] and seen["c"][1] is not seen["b"][1]  # cursors of their own
    assert finished.index("c") < finished.index("a")
    evaluations = [(e.event_specific_data.check_name, e.event_specific_data.passed) for e in result.all_events
                   if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    expected = {"": ["a", "b", "c"], "c": ["a", "b"], "b": ["a"], "bc": ["a"]}[fails]
    assert evaluations == [(name, True) for name in expected]  # the failed check and those after it: none
    if fails:
        assert not result.success
        assert [e.step_key for e in result.get_step_failure_events()] == ["probe_gate"]
        assert sorted(finished) == ["a", "b", "c"]  # the ones run ahead were waited for, not cut off
        also = [e.user_message for e in instance.all_logs(result.run_id) if "also failed" in e.user_message]
        assert also == (["c on probe_table also failed: RuntimeError('check c could not be evaluated')"]
                        if fails == "bc" else [])
    else:
        assert result.success
    con = wh.connect(tmp_path / "warehouse" / "warehouse.duckdb", read_only=True)
    try:
        recorded = [r[0] for r in con.execute("SELECT DISTINCT check_name FROM audit.check_results ORDER BY 1")
                    .fetchall()]
    finally:
        con.close()
    assert recorded == expected
