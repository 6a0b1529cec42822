"""The whole graph on the generated sample: the closing report's figures, computed by the pipeline.

The expected numbers are the data contract's (../shared/data-contract.md, "The figures
the bundled sample must reproduce"), not values read back from pipeline code.
"""

from __future__ import annotations

import re

import duckdb
import pytest

from conftest import query

pytestmark = pytest.mark.slow

CONTRACT_TABLE_1 = {  # kpi: (target, result)
    "organisations_established": (2, 5),
    "organisations_involved": (15, 27),
    "international_hires": (60, 102),
}
CONTRACT_IMPRESSIONS_MORE_THAN = 23_000_000
CONTRACT_UNIQUE_VISITORS = 33_632


def scorecard(run, kpi, period="all"):
    rows = query(run["published"], "SELECT target, result, met FROM kpi_scorecard "
                 "WHERE campaign_id = 'microbiome_signature' AND kpi = ? AND period = ?", [kpi, period])
    assert len(rows) == 1
    return rows[0]


def test_run_succeeds_and_publishes(sample_run):
    assert sample_run["first"].success
    assert sample_run["published"].exists()
    assert not sample_run["published"].with_suffix(".duckdb.wal").exists()


@pytest.mark.parametrize("kpi", list(CONTRACT_TABLE_1))
def test_table_1(sample_run, kpi):
    target, result, met = scorecard(sample_run, kpi)
    assert (target, result, met) == (*CONTRACT_TABLE_1[kpi], True)


def test_table_1_view_for_managers(sample_run):
    rows = query(sample_run["published"], "SELECT kpi, target, result FROM table_1 "
                 "WHERE campaign = 'Microbiome Signature Project'")
    assert [(int(t), r) for _, t, r in rows] == list(CONTRACT_TABLE_1.values())


def test_reach_and_unique_visitors(sample_run):
    assert scorecard(sample_run, "impressions")[1] > CONTRACT_IMPRESSIONS_MORE_THAN
    assert scorecard(sample_run, "unique_visitors")[1] == CONTRACT_UNIQUE_VISITORS


def test_returning_visitors_make_per_period_uniques_sum_to_more(sample_run):
    per_period = query(sample_run["published"], "SELECT sum(result) FROM kpi_scorecard WHERE campaign_id = "
                       "'microbiome_signature' AND kpi = 'unique_visitors' AND period <> 'all'")[0][0]
    assert per_period > CONTRACT_UNIQUE_VISITORS
    funnel_all = query(sample_run["published"], "SELECT value FROM funnel WHERE campaign_id = 'microbiome_signature' "
                       "AND period = 'all' AND channel = 'all' AND stage = 'unique_visitors'")
    assert funnel_all == [(CONTRACT_UNIQUE_VISITORS,)]


def test_traps_are_present_in_staging_and_excluded(sample_run):
    wh = sample_run["warehouse"]
    domestic = query(wh, "SELECT count(*) FROM staging.applications WHERE hire_date IS NOT NULL "
                     "AND country_code IN ('DK','SE') AND campaign_id IS NOT NULL")[0][0]
    non_campaign = query(wh, "SELECT count(*) FROM staging.applications WHERE hire_date IS NOT NULL "
                         "AND campaign_id IS NULL")[0][0]
    outside = query(wh, "SELECT count(*) FROM staging.applications a JOIN ref.campaigns c USING (campaign_id) "
                    "WHERE a.hire_date > c.end_date")[0][0]
    repeated = query(wh, "SELECT count(*) FROM (SELECT application_key FROM staging.applications "
                     "GROUP BY 1 HAVING count(DISTINCT file_hash) > 1)")[0][0]
    layouts = {r[0] for r in query(wh, "SELECT DISTINCT layout FROM staging.reach UNION ALL "
                                       "SELECT DISTINCT layout FROM staging.applications")}
    assert domestic > 0 and non_campaign > 0 and outside > 0 and repeated > 0
    assert layouts == {"linkedin_campaign_performance", "meta_ads_manager", "google_ads_campaign_report",
                       "ats_applications", "hiring_template"}


def test_every_file_is_accounted_for(sample_run):
    wh = sample_run["warehouse"]
    for source, table in (("reach", "staging.reach"), ("visitors", "staging.sessions"),
                          ("hiring", "staging.applications")):
        for file_hash, data_lines, loaded, quarantined in query(
            wh, "SELECT file_hash, data_lines, rows_loaded, rows_quarantined FROM ingest.file_ledger "
            "WHERE source = ? AND status = 'loaded'", [source]
        ):
            assert loaded + quarantined == data_lines
            assert query(wh, f"SELECT count(*) FROM {table} WHERE file_hash = ?", [file_hash]) == [(loaded,)]
    # Every file in a landing folder has one ledger outcome; the same LinkedIn export delivered
    # twice is loaded once and recorded once as a duplicate of it.
    files = sum(1 for p in sample_run["raw"].glob("*/*") if p.parent.name != "reference")
    ledger = query(wh, "SELECT count(*) FROM ingest.file_ledger WHERE source <> 'reference'")[0][0]
    assert ledger == files
    assert query(wh, "SELECT count(*) FROM ingest.file_ledger WHERE status = 'duplicate'")[0][0] >= 1


def test_second_run_parses_nothing_and_publishes_identical_numbers(sample_run):
    assert sample_run["second"].success
    assert sample_run["second"].files_parsed == [0, 0, 0]  # staged_reach, staged_sessions, staged_applications
    assert query(sample_run["published"], "SELECT * FROM kpi_scorecard ORDER BY ALL") == sample_run["first_numbers"]


def test_no_personal_data_reaches_duckdb(sample_run):
    """Names and e-mails from the raw hiring exports appear in no string column of either database."""
    import openpyxl
    import polars as pl

    secrets: set[str] = set()
    for path in (sample_run["raw"] / "hiring").iterdir():
        if path.suffix == ".xlsx":
            sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
            header, *rows = list(sheet.iter_rows(values_only=True))
            col = header.index("Email")
            secrets |= {str(r[col]).strip().lower() for r in rows if r[col]}
        elif path.suffix == ".csv":
            text = path.read_bytes().decode("utf-8", errors="ignore")
            secrets |= {m.lower() for m in re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text)}
            if text.startswith("id,candidate_id"):
                frame = pl.read_csv(path, infer_schema=False)
                secrets |= {n.lower() for n in frame["candidate_last_name"].drop_nulls() if len(n) > 3}
    assert len(secrets) > 50
    for db in (sample_run["warehouse"], sample_run["published"]):
        con = duckdb.connect(str(db), read_only=True)
        try:
            columns = con.execute("SELECT schema_name, table_name, column_name FROM duckdb_columns() "
                                  "WHERE data_type = 'VARCHAR' AND database_name = current_database() "
                                  "AND NOT internal").fetchall()
            for schema, table, column in columns:
                values = {str(v[0]).lower() for v in con.execute(
                    f'SELECT DISTINCT "{column}" FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL').fetchall()}
                leaked = {v for v in values if "@" in v or v in secrets}
                assert not leaked, f"{db.name}:{schema}.{table}.{column} holds personal data"
        finally:
            con.close()
