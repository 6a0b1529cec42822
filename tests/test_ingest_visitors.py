"""Visitor exports parsed in DuckDB SQL: channels, attribution, quarantine, line accounting."""

from __future__ import annotations

import gzip

import pytest

from assets.ingest.common import RejectedFile
from assets.ingest.visitors import parse_visitors
from conftest import FIXTURES

VISITORS = FIXTURES / "visitors"


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
    # ga_session_id is declared an identifier (contracts.toml): its value is never kept in quarantine.
    assert q == [(3, "event_date", "2020-13-45"), (4, "ga_session_id", None), (5, "user_pseudo_id", None)]


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


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_line_numbers_follow_the_file_over_many_row_groups(con, tmp_path, suffix):
    """Line numbers come from the order DuckDB keeps while reading in parallel: check them on 300k rows,
    inside a transaction as staging reads them (every 70,001st row quarantined)."""
    header = "event_date,user_pseudo_id,ga_session_id,session_source,session_medium,session_campaign," \
             "landing_page,country,engaged_session"
    body = [f"{'2020x' if n % 70001 == 0 else '20200905'},u{n % 977}.1,{n},google,organic,(organic),/jobs,Denmark,1"
            for n in range(2, 300_002)]
    text = "\n".join([header, *body]) + "\n"
    path = tmp_path / f"sessions{suffix}"
    if suffix == ".csv":
        path.write_text(text)
    elif suffix == ".csv.gz":
        path.write_bytes(gzip.compress(text.encode(), 1))
    else:
        (tmp_path / "s.csv").write_text(text)
        con.execute(f"COPY (SELECT * FROM read_csv('{tmp_path / 's.csv'}', all_varchar=true)) TO '{path}'")
    con.execute("BEGIN")
    load = parse_visitors(con, path)
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (300_000, 299_996, 4)
    assert con.execute("SELECT count(*) FROM _visitor_rows WHERE line_number <> ga_session_id").fetchall() == [(0,)]
    assert con.execute("SELECT list(line_number ORDER BY line_number) FROM _visitor_quarantine").fetchall() == [
        ([70001, 140002, 210003, 280004],)]
    con.execute("ROLLBACK")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_empty_lines_are_not_records_and_line_numbers_stay_physical(con, tmp_path, newline):
    """Empty lines (interior and trailing) are skipped like DuckDB skips them; quarantined rows keep their line."""
    lines = (VISITORS / "sessions_bad_values.csv").read_text().splitlines()
    # header, ok (2), blank (3), bad date (4), bad id (5), blank (6), blank (7), empty user (8), blank x2 at the end
    text = newline.join([lines[0], lines[1], "", lines[2], lines[3], "", "", lines[4], "", ""]) + newline
    path = tmp_path / "sessions_blank_lines.csv"
    path.write_bytes(text.encode())
    load = parse_visitors(con, path)
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (4, 1, 3)
    assert con.execute("SELECT line_number, column_name FROM _visitor_quarantine ORDER BY 1").fetchall() == [
        (4, "event_date"), (5, "ga_session_id"), (8, "user_pseudo_id")]
    assert con.execute("SELECT line_number FROM _visitor_rows").fetchall() == [(2,)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_an_empty_line_across_a_read_block_boundary_is_found(con, tmp_path, newline):
    """The line scan reads 4 MiB blocks: an empty line split between two blocks still counts as empty."""
    block = 1 << 22
    header = "event_date,user_pseudo_id,ga_session_id,session_source,session_medium,session_campaign," \
             "landing_page,country,engaged_session" + newline
    row = "20200905,u1.1,{n},google,organic,(organic),/jobs{pad},Denmark,1" + newline
    parts, size, n = [header], len(header), 0
    while size < block - 200:
        n += 1
        parts.append(row.format(n=n, pad=""))
        size += len(parts[-1])
    n += 1  # the last row before the empty line is padded so that the empty line starts where block 1 ends
    parts.append(row.format(n=n, pad="j" * (block - (len(newline) - 1) - size - len(row.format(n=n, pad="")))))
    before = "".join(parts)
    text = before + newline + "20200905,u1.1,x,google,organic,(organic),/jobs,Denmark,1" + newline
    assert text.encode()[block - 1:block + 1] == (newline.encode() if newline == "\r\n" else b"\n\n")
    path = tmp_path / "sessions_big.csv"
    path.write_bytes(text.encode())
    load = parse_visitors(con, path)
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (n + 1, n, 1)
    blank_line = before.count("\n") + 1
    assert con.execute("SELECT line_number FROM _visitor_quarantine").fetchall() == [(blank_line + 1,)]


def test_a_session_in_two_overlapping_periods_rejects_the_file(con):
    """Attribution must give a session one period: overlapping periods of a campaign fail line accounting."""
    load = parse_visitors(con, VISITORS / "sessions_valid.csv")
    assert load.rows_loaded == 5 and con.execute("SELECT count(*) FROM _visitor_rows").fetchall() == [(5,)]
    con.execute("INSERT INTO ref.campaign_periods VALUES "
                "('microbiome_signature', 'period_1b', DATE '2020-09-02', DATE '2020-09-30', 'msp_talent_p1b')")
    with pytest.raises(RejectedFile, match="overlapping periods") as err:
        parse_visitors(con, VISITORS / "sessions_valid.csv")
    assert "2 session(s)" in str(err.value)  # lines 3 and 6 (September 2020) fall in period_1 and period_1b
