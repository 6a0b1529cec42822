"""The quality gate: a bad export stops publication, yesterday's file stays byte for byte, the audit says why."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from conftest import FIXTURES, VALID, cli_env, copy_publication, landing, query, talent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory, fixture_publication):
    mine = copy_publication(fixture_publication, tmp_path_factory.mktemp("gate"))
    first = mine.result
    assert first.returncode == 0, first.stdout + first.stderr
    return mine.root, mine.raw, mine.env


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("source, name, column, rule", [
    ("reach", "linkedin_negative_impressions.csv", "impressions", ">= 0"),
    ("reach", "linkedin_clicks_above_impressions.csv", "clicks", "clicks <= impressions"),
    ("hiring", "hiring_hire_before_application.xlsx", "hire_date", "hire_date >= applied_on"),
    ("hiring", "hiring_unknown_organisation.csv", "org_id", "the organisation is in the register"),
    ("reach", "linkedin_date_outside_periods.csv", "period", "a row with a campaign falls in one of its periods"),
    ("reach", "linkedin_currency_without_rate.csv", "currency", "has a rate in ref.fx_rates"),
])
def test_a_bad_row_is_quarantined_and_everything_else_publishes(published, source, name, column, rule):
    tmp, raw, env = published
    published_file = tmp / "warehouse" / "published.duckdb"
    before = digest(published_file)
    bad = raw / source / name
    shutil.copy(FIXTURES / source / name, bad)
    try:
        result = talent(env, "run")
        assert result.returncode == 0, result.stdout + result.stderr
        assert digest(published_file) != before
        issues = query(published_file, "SELECT line_number, column_name, rule, reason, value FROM data_issues "
                                       "WHERE file_name = ? AND scope = 'row'", [name])
        assert len(issues) == 1 and issues[0][1] == column and issues[0][2] == rule, issues
        assert "@" not in " ".join(str(v) for v in issues[0])
        loaded, quarantined, lines = query(published_file, "SELECT rows_loaded, rows_quarantined, data_lines "
                                                           "FROM exports WHERE file_name = ?", [name])[0]
        assert quarantined >= 1 and loaded + quarantined == lines
        # The audit names the rule(s) that row failed, each with the row it took out.
        contained = query(tmp / "warehouse" / "warehouse.duckdb",
                          "SELECT column_name, quarantined_rows FROM audit.check_results WHERE NOT passed AND "
                          "run_id = (SELECT max_by(run_id, checked_at) FROM audit.check_results)")
        assert (column, 1) in contained and all(n == 1 for _, n in contained), contained
    finally:
        bad.unlink()


def test_an_unknown_organisation_counts_once_the_register_gains_it(tmp_path):
    raw = landing(tmp_path, {**VALID, "hiring": [*VALID["hiring"], "hiring_unknown_organisation.csv"]})
    env = cli_env(tmp_path, raw, tmp_path / "warehouse")
    published_file = tmp_path / "warehouse" / "published.duckdb"
    org_hires = ("SELECT hires FROM hires_vs_target WHERE campaign_id = 'microbiome_signature' AND period = 'all' "
                 "AND organisation = 'Unknown Pharma Ltd'")
    assert talent(env, "run").returncode == 0
    assert query(published_file, org_hires) == []
    assert query(published_file, "SELECT count(*) FROM data_issues WHERE column_name = 'org_id'") == [(1,)]
    register = raw / "reference" / "organisations.csv"
    register.write_text(register.read_text() + "ORG009,Unknown Pharma Ltd,DK,Copenhagen,pharma,2020-01-01,\n")
    assert talent(env, "run").returncode == 0
    assert query(published_file, org_hires) == [(1,)]  # its German resident hired in period 1 counts
    assert query(published_file, "SELECT count(*) FROM data_issues WHERE column_name = 'org_id'") == [(0,)]


@pytest.mark.parametrize("variant, column", [
    ("reference_duplicate_org_id", "org_id"),
    ("reference_overlapping_periods", "start_date"),
])
def test_contradictory_reference_data_blocks_publication(published, variant, column):
    tmp, raw, env = published
    published_file = tmp / "warehouse" / "published.duckdb"
    before = digest(published_file)
    saved = {p.name: (raw / "reference" / p.name).read_bytes() for p in (FIXTURES / variant).iterdir()}
    for path in (FIXTURES / variant).iterdir():
        shutil.copy(path, raw / "reference" / path.name)
    try:
        result = talent(env, "run")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "NOT PUBLISHED" in result.stdout
        assert digest(published_file) == before
        failures = query(tmp / "warehouse" / "warehouse.duckdb",
                         "SELECT column_name, message FROM audit.check_results WHERE NOT passed AND "
                         "table_name = 'reference' AND run_id = (SELECT max_by(run_id, checked_at) "
                         "FROM audit.check_results)")
        assert [c for c, _ in failures] == [column] and ".csv line" in failures[0][1]
    finally:
        for name, content in saved.items():
            (raw / "reference" / name).write_bytes(content)


def test_a_failed_mart_check_blocks_publication_within_the_run(tmp_path, pipeline_env, monkeypatch):
    """The marts' checks run in one step but stay separate blocking checks: one failure stops publication,
    the other marts' checks still report, and the audit names the failure."""
    import dagster as dg

    from assets.quality import asset as checks

    real = checks.validate_table

    def funnel_fails(con, table_name, run_id=None):
        outcomes = real(con, table_name, run_id)
        if table_name != "marts.funnel":
            return outcomes
        return [*outcomes, checks.ExpectationOutcome(table_name, "expect_test_failure", "value", "made to fail",
                                                     False, 1, ("x",), "marts.funnel: made to fail")]

    monkeypatch.setattr(checks, "validate_table", funnel_fails)
    result = pipeline_env(landing(tmp_path, VALID))
    evaluations = {
        (e.asset_check_evaluation_data.asset_key.to_user_string(), e.asset_check_evaluation_data.check_name):
            e.asset_check_evaluation_data.passed
        for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    assert evaluations[("marts/funnel", checks.SUITE_CHECK)] is False
    assert evaluations[("marts/kpi_scorecard", checks.SUITE_CHECK)] is True
    assert evaluations[("marts/funnel", checks.RECONCILIATION_CHECK)] is True
    materialised = {e.asset_key.to_user_string() for e in result.all_events
                    if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION}
    assert "marts/funnel" in materialised and "published_database" not in materialised
    assert not pipeline_env.published.exists()
    assert query(pipeline_env.warehouse, "SELECT table_name, message FROM audit.check_results WHERE NOT passed") == [
        ("marts.funnel", "marts.funnel: made to fail")]
