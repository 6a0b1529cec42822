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
