"""The quality gate: a bad export stops publication, yesterday's file stays byte for byte, the audit says why."""

from __future__ import annotations

import hashlib
import shutil
import types

import pytest

from conftest import FIXTURES, VALID, Publication, copy_publication, landing, query, talent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory, fixture_publication):
    mine = copy_publication(fixture_publication, tmp_path_factory.mktemp("gate"))
    first = mine.result
    assert first.returncode == 0, first.stdout + first.stderr
    return mine.root, mine.raw, mine.env


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


BAD_ROWS = [  # one small fixture per case, each with one bad row: (source, file, column, rule it breaks)
    ("reach", "linkedin_negative_impressions.csv", "impressions", ">= 0"),
    ("reach", "linkedin_clicks_above_impressions.csv", "clicks", "clicks <= impressions"),
    ("hiring", "hiring_hire_before_application.xlsx", "hire_date", "hire_date >= applied_on"),
    ("hiring", "hiring_unknown_organisation.csv", "org_id", "the organisation is in the register"),
    ("reach", "linkedin_date_outside_periods.csv", "period", "a row with a campaign falls in one of its periods"),
    ("reach", "linkedin_currency_without_rate.csv", "currency", "has a rate in ref.fx_rates"),
]


# The LinkedIn fixtures name one account and the same report dates, so landed together each would be
# a corrected re-export of the one before (superseded, its row no longer quarantined but withdrawn):
# one run per LinkedIn fixture, and the two hiring fixtures join the first.
RUNS = [
    ("linkedin_negative_impressions.csv", "hiring_hire_before_application.xlsx", "hiring_unknown_organisation.csv"),
    ("linkedin_clicks_above_impressions.csv",),
    ("linkedin_date_outside_periods.csv",),
    ("linkedin_currency_without_rate.csv",),
]


@pytest.fixture(scope="module")
def quarantine_runs(tmp_path_factory, fixture_publication):
    """The bad-row fixtures land on copies of the fixture publication, several to a run (RUNS).

    Each case reads its own file's outcome from its run (data_issues and exports by file name) and
    that run's audit; no two fixtures of one run break the same rule, so every audit row still
    counts one case's row. Four runs instead of six (issue 13).
    """
    source_of = {name: source for source, name, _column, _rule in BAD_ROWS}
    runs = {}
    for i, names in enumerate(RUNS):
        mine = copy_publication(fixture_publication, tmp_path_factory.mktemp(f"quarantine{i}"))
        before = digest(mine.published)
        for name in names:
            shutil.copy(FIXTURES / source_of[name] / name, mine.raw / source_of[name] / name)
        result = talent(mine.env, "run")
        contained = query(mine.root / "warehouse" / "warehouse.duckdb",
                          "SELECT column_name, quarantined_rows FROM audit.check_results WHERE NOT passed AND "
                          "run_id = (SELECT max_by(run_id, checked_at) FROM audit.check_results)")
        run = types.SimpleNamespace(publication=Publication(mine.root, mine.raw, mine.env, result, mine.seconds),
                                    names=names, before=before, contained=contained)
        runs.update((name, run) for name in names)
    return runs


def test_every_bad_fixture_is_read_by_exactly_one_run(quarantine_runs):
    assert sorted(quarantine_runs) == sorted(name for _s, name, _c, _r in BAD_ROWS)
    assert sum(len(names) for names in RUNS) == len(BAD_ROWS)
    column_of = {name: column for _s, name, column, _r in BAD_ROWS}
    for names in RUNS:  # so a case's audit row in its run can only be its own fixture's
        assert len({column_of[name] for name in names}) == len(names), names


@pytest.mark.parametrize("source, name, column, rule", BAD_ROWS)
def test_a_bad_row_is_quarantined_and_everything_else_publishes(quarantine_runs, source, name, column, rule):
    quarantine_run = quarantine_runs[name]  # the run that read this fixture
    result = quarantine_run.publication.result
    published_file = quarantine_run.publication.published
    assert result.returncode == 0, result.stdout + result.stderr
    assert digest(published_file) != quarantine_run.before
    issues = query(published_file, "SELECT line_number, column_name, rule, reason, value FROM data_issues "
                                   "WHERE file_name = ? AND scope = 'row'", [name])
    assert len(issues) == 1 and issues[0][1] == column and issues[0][2] == rule, issues
    assert "@" not in " ".join(str(v) for v in issues[0])
    loaded, quarantined, lines = query(published_file, "SELECT rows_loaded, rows_quarantined, data_lines "
                                                       "FROM exports WHERE file_name = ?", [name])[0]
    assert quarantined >= 1 and loaded + quarantined == lines
    # The audit names the rule(s) that row failed, each with the row it took out.
    contained = quarantine_run.contained
    assert (column, 1) in contained and all(n == 1 for _, n in contained), contained


def test_an_unknown_organisation_counts_once_the_register_gains_it(tmp_path, quarantine_runs):
    # The run that read hiring_unknown_organisation.csv (beside two other cases' files): a copy of what it left.
    mine = copy_publication(quarantine_runs["hiring_unknown_organisation.csv"].publication, tmp_path / "publication")
    raw, env, published_file = mine.raw, mine.env, mine.published
    org_hires = ("SELECT hires FROM hires_vs_target WHERE campaign_id = 'microbiome_signature' AND period = 'all' "
                 "AND organisation = 'Unknown Pharma Ltd'")
    assert mine.result.returncode == 0
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

    def funnel_fails(con, table_name, run_id=None, full=False):
        outcomes = real(con, table_name, run_id, full)
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
