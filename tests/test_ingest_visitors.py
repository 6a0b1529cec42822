"""Visitor exports parsed in DuckDB SQL: channels, attribution, quarantine, line accounting."""

from __future__ import annotations

import gzip
import shutil

import duckdb
import pytest

from assets import staging
from assets.ingest.common import RejectedFile
from assets.ingest.reference import read_reference
from assets.ingest.visitors import parse_visitors
from conftest import FIXTURES

VISITORS = FIXTURES / "visitors"


@pytest.fixture
def con():
    c = duckdb.connect()
    staging.ensure_schema(c)
    staging.load_reference(c, read_reference(FIXTURES / "reference"))
    yield c
    c.close()


def test_sessions_get_channel_campaign_and_period(con):
    load = parse_visitors(con, VISITORS / "sessions_valid.csv")
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (5, 5, 0)
    rows = con.execute(
        "SELECT line_number, channel, campaign_id, period FROM _visitor_rows ORDER BY line_number"
    ).fetchall()
    assert rows == [
        (2, "linkedin", "microbiome_signature", "period_1"),
        (3, "direct", "microbiome_signature", "period_1"),
        (4, "organic", "microbiome_signature", "period_2"),
        (5, "meta", "microbiome_signature", "period_2"),
        (6, "referral", "microbiome_signature", "period_1"),
    ]


def test_parquet_and_gzip_give_the_same_rows(con, tmp_path):
    gz = tmp_path / "sessions.csv.gz"
    gz.write_bytes(gzip.compress((VISITORS / "sessions_valid.csv").read_bytes()))
    parquet = tmp_path / "sessions.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv('{VISITORS / 'sessions_valid.csv'}', all_varchar=true)) TO '{parquet}'")
    results = []
    for path in (VISITORS / "sessions_valid.csv", gz, parquet):
        parse_visitors(con, path)
        results.append(con.execute("SELECT * EXCLUDE (line_number) FROM _visitor_rows ORDER BY ALL").fetchall())
    assert results[0] == results[1] == results[2]


def test_bad_values_are_quarantined_with_line_and_column(con):
    load = parse_visitors(con, VISITORS / "sessions_bad_values.csv")
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (4, 1, 3)
    q = con.execute("SELECT line_number, column_name, value FROM _visitor_quarantine ORDER BY 1").fetchall()
    assert q == [(3, "event_date", "2020-13-45"), (4, "ga_session_id", "x"), (5, "user_pseudo_id", None)]


@pytest.mark.parametrize("name, line, column, words", [
    ("sessions_unterminated_quote.csv", 3, None, "unterminated quote"),
    ("sessions_missing_column.csv", 1, "engaged_session", "missing"),
    ("sessions_truncated.csv.gz", None, None, "compressed"),
])
def test_rejected_visitor_files(con, name, line, column, words):
    with pytest.raises(RejectedFile) as err:
        parse_visitors(con, VISITORS / name)
    exc = err.value
    assert (exc.line, exc.column) == (line, column) and words in str(exc) and name in str(exc)


def test_non_utf8_visitor_export_is_rejected(con, tmp_path):
    path = tmp_path / "sessions_utf16.csv"
    path.write_bytes((VISITORS / "sessions_valid.csv").read_text().encode("utf-16"))
    with pytest.raises(RejectedFile, match="UTF-8"):
        parse_visitors(con, path)
