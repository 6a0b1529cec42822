"""The quality gate: a bad export stops publication, yesterday's file stays byte for byte, the audit says why."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from conftest import FIXTURES, landing, query
from test_publish import VALID, cli_env, talent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate")
    raw = landing(tmp, VALID)
    env = cli_env(tmp, raw, tmp / "warehouse")
    first = talent(env, "run")
    assert first.returncode == 0, first.stdout + first.stderr
    return tmp, raw, env


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("source, name, table, column", [
    ("reach", "linkedin_negative_impressions.csv", "staging.reach", "impressions"),
    ("hiring", "hiring_hire_before_application.xlsx", "staging.applications", "hire_date"),
    ("hiring", "hiring_unknown_organisation.csv", "staging.applications", "org_id"),
])
def test_bad_export_blocks_publication_and_keeps_the_published_bytes(published, source, name, table, column):
    tmp, raw, env = published
    published_file = tmp / "warehouse" / "published.duckdb"
    before = digest(published_file)
    bad = raw / source / name
    shutil.copy(FIXTURES / source / name, bad)
    try:
        result = talent(env, "run")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "NOT PUBLISHED" in result.stdout and "failed checks:" in result.stdout
        assert digest(published_file) == before
        failures = query(tmp / "warehouse" / "warehouse.duckdb",
                         "SELECT column_name, failed_rows, message FROM audit.check_results "
                         "WHERE NOT passed AND table_name = ? AND run_id = (SELECT max_by(run_id, checked_at) "
                         "FROM audit.check_results)", [table])
        assert any(c == column and n >= 1 for c, n, _ in failures), failures
        assert all("@" not in (m or "") for _, _, m in failures)
    finally:
        bad.unlink()
    # Staged rows stay until the sender corrects them: a corrected re-export (same account and
    # report range, new content) replaces the bad rows and the next run publishes again.
    if source == "hiring":
        return
    corrected = (FIXTURES / "reach" / "linkedin_negative_impressions.csv").read_text().replace(",-500,", ",5000,")
    (raw / "reach" / "linkedin_corrected.csv").write_text(corrected)
    recovered = talent(env, "run")
    assert recovered.returncode == 0, recovered.stdout
    assert digest(published_file) != before


def test_a_failed_mart_check_blocks_publication_within_the_run(tmp_path, pipeline_env, monkeypatch):
    """The marts' checks run in one step but stay separate blocking checks: one failure stops publication,
    the other marts' checks still report, and the audit names the failure."""
    import dagster as dg

    from assets import checks

    real = checks.validate_table

    def funnel_fails(con, table_name):
        outcomes = real(con, table_name)
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
