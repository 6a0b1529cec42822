"""Reach layouts and every reach bad-input case, one fixture file each."""

from __future__ import annotations

import pytest

from assets.ingest.common import RejectedFile
from assets.ingest.contract import parse_count, parse_number
from assets.ingest.reach import parse_reach
from conftest import FIXTURES

REACH = FIXTURES / "reach"


def test_linkedin_title_lines_are_skipped_and_landing_page_clicks_used(attribution):
    parsed = parse_reach(REACH / "linkedin_campaign_performance.csv", attribution)
    assert parsed.layout == "linkedin_campaign_performance"
    assert parsed.data_lines == 3 and len(parsed.rows) == 3 and not parsed.quarantined
    first = parsed.rows[0]
    assert first["line_number"] == 6  # 4 title lines + header
    assert (first["impressions"], first["clicks"], first["platform_reach"]) == (1000, 10, 800)
    assert first["campaign_id"] == "microbiome_signature" and first["period"] == "period_1"
    assert parsed.rows[1]["impressions"] == 2500  # "2,500"


def test_linkedin_row_of_an_unrelated_campaign_is_staged_unattributed(attribution):
    rows = parse_reach(REACH / "linkedin_campaign_performance.csv", attribution).rows
    brand = [r for r in rows if r["platform_campaign"] == "Employer Brand Always-On"]
    assert brand and brand[0]["campaign_id"] is None


@pytest.mark.parametrize("name, spend, impressions", [
    ("meta_decimal_comma.csv", 1234.56, 12345),
    ("meta_dot_thousands.csv", 1234.56, 12345),
])
def test_meta_european_numbers_and_bom(attribution, name, spend, impressions):
    parsed = parse_reach(REACH / name, attribution)
    assert parsed.layout == "meta_ads_manager"
    row = parsed.rows[0]
    assert row["spend"] == pytest.approx(spend) and row["impressions"] == impressions
    assert row["currency"] == "EUR" and row["ad_set"] in ("Lab roles", "Data roles")
    assert row["spend_eur"] == pytest.approx(spend)


def test_google_utf16_tabs_title_footer_and_dashes(attribution):
    parsed = parse_reach(REACH / "google_ads_utf16.tsv", attribution)
    assert parsed.layout == "google_ads_campaign_report"
    assert parsed.data_lines == 2 and len(parsed.rows) == 2  # the two Total: rows are footer, not data
    row = parsed.rows[0]
    assert (row["impressions"], row["clicks"], row["currency"]) == (12345, 123, "DKK")
    assert row["spend_eur"] == pytest.approx(1234.56 * 0.1341, rel=1e-3)
    assert row["platform_reach"] is None  # Google gives no reach


def test_google_csv_footer(attribution):
    parsed = parse_reach(REACH / "google_ads_footer.csv", attribution)
    assert parsed.data_lines == 1 and parsed.rows[0]["impressions"] == 10000


def test_cp1252_export_is_decoded_without_mojibake(attribution):
    parsed = parse_reach(REACH / "linkedin_cp1252.csv", attribution)
    assert parsed.rows[0]["platform_campaign"].endswith("København")


@pytest.mark.parametrize("name, line, column, words", [
    ("unknown_layout.csv", 1, None, "unknown layout"),
    ("linkedin_missing_column.csv", 5, "Clicks", "missing"),
    ("linkedin_unterminated_quote.csv", 6, "Campaign Name", "unterminated quote"),
    ("linkedin_undecodable.csv", 7, None, "not UTF-8 and not cp1252"),
    ("empty.csv", 1, None, "empty"),
])
def test_rejected_files_name_file_line_and_column(attribution, name, line, column, words):
    with pytest.raises(RejectedFile) as err:
        parse_reach(REACH / name, attribution)
    exc = err.value
    assert exc.path.endswith(name) and exc.line == line and exc.column == column
    assert words in str(exc) and name in str(exc)


@pytest.mark.parametrize("name, line, column, value, words", [
    ("linkedin_non_numeric_count.csv", 7, "Impressions", "lots", "not a number"),
    ("linkedin_day_first_dates.csv", 6, "Start Date (in UTC)", "13/9/2020", "not a date"),
])
def test_bad_rows_are_quarantined_with_reason_and_accounted(attribution, name, line, column, value, words):
    parsed = parse_reach(REACH / name, attribution)
    assert len(parsed.rows) + len(parsed.quarantined) == parsed.data_lines
    q = parsed.quarantined[0]
    assert (q.line_number, q.column, q.value) == (line, column, value) and words in q.reason


def test_rows_the_staged_suite_judges_are_staged_as_they_are(attribution):
    """A date outside every period and a currency without a rate are the staged suite's rules alone:
    the parser stages such rows (period or spend_eur empty) and the gate quarantines them."""
    outside = parse_reach(REACH / "linkedin_date_outside_periods.csv", attribution)
    assert [(r["campaign_id"], r["period"]) for r in outside.rows][0] == ("microbiome_signature", None)
    no_rate = parse_reach(REACH / "linkedin_currency_without_rate.csv", attribution).rows[0]
    assert (no_rate["currency"], no_rate["spend_eur"]) == ("SEK", None)


def test_negative_count_is_staged_for_the_quality_gate(attribution):
    # Negative impressions are readable numbers; the blocking check refuses them (issue: quality gate).
    parsed = parse_reach(REACH / "linkedin_negative_impressions.csv", attribution)
    assert parsed.rows[0]["impressions"] == -500


def test_header_only_file_loads_zero_rows(attribution):
    parsed = parse_reach(REACH / "linkedin_header_only.csv", attribution)
    assert parsed.data_lines == 0 and parsed.rows == []


@pytest.mark.parametrize("text, decimal, expected", [
    ("1 234,56", ",", 1234.56), ("1.234,56", ",", 1234.56), ("1\u00a0234,5", ",", 1234.5),
    ("1,234.56", ".", 1234.56), ("--", ".", None), ("", ",", None), ("-12", ".", -12.0),
])
def test_parse_number_locales(text, decimal, expected):
    assert parse_number(text, decimal) == expected


def test_parse_count_refuses_fractions():
    with pytest.raises(ValueError):
        parse_count("12.5")


def test_meta_with_comma_delimiter_reads_us_numbers(attribution):
    # English settings: ',' delimiter and '.' decimals. Read European, 1234.56 would become 123456.
    parsed = parse_reach(REACH / "meta_us_numbers.csv", attribution)
    assert [r["spend"] for r in parsed.rows] == [1234.56, 1234.56]
    assert [r["impressions"] for r in parsed.rows] == [12345, 12345]
