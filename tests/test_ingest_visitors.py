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


def test_channel_rules_are_reference_data(con):
    """A rule the team adds to channel_rules.csv (here straight into ref.channel_rules) regroups sessions."""
    con.execute("INSERT INTO ref.channel_rules VALUES (5, 'referral', 'linkedin', '', 'LinkedIn as a referrer')")
    parse_visitors(con, VISITORS / "sessions_valid.csv")
    assert con.execute("SELECT channel FROM _visitor_rows WHERE line_number = 2").fetchall() == [("referral",)]


def test_a_utm_code_names_the_campaign_outside_its_window_too(con, tmp_path):
    """The campaign of a session: the one its utm code names, else the one whose window holds the date."""
    path = tmp_path / "s.csv"
    header = (VISITORS / "sessions_valid.csv").read_text().splitlines()[0]
    path.write_text(header + "\n20120401,u1,1,linkedin,cpc,msp_talent_p1,/jobs,Germany,1\n"
                    "20120401,u2,2,google,organic,(organic),/jobs,Germany,1\n"
                    "20150101,u3,3,google,organic,(organic),/jobs,Germany,1\n")
    parse_visitors(con, path)
    assert con.execute("SELECT line_number, campaign_id, period FROM _visitor_rows ORDER BY 1").fetchall() == [
        (2, "microbiome_signature", None), (3, "medicon_valley_world_class", "period_1"), (4, None, None)]


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


def test_a_short_record_after_an_empty_line_is_named_not_the_empty_line(con, tmp_path):
    lines = (VISITORS / "sessions_valid.csv").read_text().splitlines()
    path = tmp_path / "sessions_short_after_blank.csv"
    path.write_text("\n".join([lines[0], lines[1], "", lines[2], "20200905,u5.1,5,google"]) + "\n")
    with pytest.raises(RejectedFile) as err:
        parse_visitors(con, path)
    assert err.value.line == 5 and "4 cells where the header has 9" in str(err.value)


def test_non_utf8_visitor_export_is_rejected(con, tmp_path):
    path = tmp_path / "sessions_utf16.csv"
    path.write_bytes((VISITORS / "sessions_valid.csv").read_text().encode("utf-16"))
    with pytest.raises(RejectedFile, match="UTF-8"):
        parse_visitors(con, path)


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


# --- physical line numbers: every session below carries its own line number as ga_session_id ---------

def test_line_numbers_are_physical_with_crlf_empty_lines_and_quoted_cells(con):
    load = parse_visitors(con, VISITORS / "sessions_line_numbers_crlf.csv")
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (7, 6, 1)
    assert con.execute("SELECT line_number, ga_session_id, landing_page FROM _visitor_rows ORDER BY 1").fetchall() == [
        (2, 2, "/jobs"), (4, 4, "/jobs?team=lab,r&d"), (5, 5, "/jobs"), (8, 8, "/jobs"), (9, 9, '/say "hej"'),
        (12, 12, "/jobs")]
    assert con.execute("SELECT line_number, column_name, value FROM _visitor_quarantine").fetchall() == [
        (11, "event_date", "20201345")]


def test_a_record_spanning_two_lines_rejects_the_file_at_its_first_line(con):
    """Line accounting counts physical lines: a quoted newline joins two into one record, so the file is
    rejected (as reach and hiring files are) and the message names where the record starts."""
    with pytest.raises(RejectedFile) as err:
        parse_visitors(con, VISITORS / "sessions_embedded_newline.csv")
    assert err.value.line == 3 and "runs over 2 lines" in str(err.value)


def _self_numbered(rows: int, newline: str = "\n", blank_every: int = 0, bad_every: int = 0) -> tuple[str, list]:
    """A visitor CSV whose every session's ga_session_id is its physical line; empty lines every
    ``blank_every`` lines; an unreadable date every ``bad_every`` sessions. Returns (text, bad lines)."""
    header = "event_date,user_pseudo_id,ga_session_id,session_source,session_medium,session_campaign," \
             "landing_page,country,engaged_session"
    out, bad, line, made = [header], [], 1, 0
    while made < rows:
        line += 1
        if blank_every and line % blank_every == 0:
            out.append("")
            continue
        made += 1
        broken = bad_every and made % bad_every == 0
        bad += [line] if broken else []
        page = f'"/jobs/{line},apply"' if line % 3 == 0 else "/jobs"
        out.append(f"{'2020x' if broken else '20200905'},u{line % 977}.1,{line},google,organic,(organic),{page},"
                   "Denmark,1")
    return newline.join(out) + newline, bad


@pytest.mark.parametrize("suffix, newline", [(".csv", "\n"), (".csv", "\r\n"), (".csv.gz", "\r\n"), (".parquet", "")])
def test_staged_line_numbers_are_the_lines_each_row_names(con, tmp_path, suffix, newline):
    """300k sessions over many row groups, read on every thread inside a transaction as staging reads
    them: each staged line_number equals the line number the row carries, quarantined rows keep theirs."""
    path = tmp_path / f"sessions{suffix}"
    if suffix == ".parquet":  # no empty lines in Parquet: the line is the record's position + 2
        text, bad = _self_numbered(300_000, bad_every=70_001)
        (tmp_path / "s.csv").write_text(text)
        con.execute(f"COPY (SELECT * FROM read_csv('{tmp_path / 's.csv'}', all_varchar=true)) TO '{path}' "
                    "(ROW_GROUP_SIZE 20000)")
    else:
        text, bad = _self_numbered(300_000, newline, blank_every=49_999, bad_every=70_001)
        path.write_bytes(gzip.compress(text.encode(), 1) if suffix.endswith(".gz") else text.encode())
    assert con.execute("SELECT current_setting('threads')").fetchall()[0][0] > 1 or suffix == ".csv.gz"
    con.execute("BEGIN")
    load = parse_visitors(con, path)
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (300_000, 300_000 - len(bad), len(bad))
    assert con.execute("SELECT count(*) FROM _visitor_rows WHERE line_number <> ga_session_id").fetchall() == [(0,)]
    assert con.execute("SELECT list(line_number ORDER BY line_number) FROM _visitor_quarantine").fetchall() == [
        (bad,)]
    con.execute("ROLLBACK")


@pytest.mark.parametrize("disorder", [
    "CASE WHEN (row_number() OVER () - 1) % 2 = 0 THEN row_number() OVER () ELSE row_number() OVER () - 2 END",
    "CASE WHEN row_number() OVER () BETWEEN 100001 AND 102048 THEN row_number() OVER () + 2047 "
    "WHEN row_number() OVER () BETWEEN 102049 AND 104096 THEN row_number() OVER () - 2049 "
    "ELSE row_number() OVER () - 1 END",
], ids=["adjacent records swapped", "two vectors of 2,048 records swapped"])
def test_a_reader_that_changed_its_order_is_caught_not_trusted(con, tmp_path, monkeypatch, disorder):
    """If a DuckDB release numbered records out of file order, the sampled physical lines disagree with
    the staged rows and the file is rejected, never staged mis-numbered."""
    from assets.ingest import visitors

    text, _ = _self_numbered(120_000, blank_every=30_011)
    path = tmp_path / "sessions.csv"
    path.write_text(text)
    monkeypatch.setattr(visitors, "CSV_RECORD", disorder)
    with pytest.raises(RejectedFile, match="line numbering check failed") as err:
        parse_visitors(con, path)
    assert err.value.line is not None
