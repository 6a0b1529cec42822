"""Hiring layouts (ATS CSV, template .xlsx/.csv) and hiring bad-input cases."""

from __future__ import annotations

from datetime import date

import pytest

from assets.ingest.common import RejectedFile
from assets.ingest.hiring import attribute_applications, candidate_key, parse_hiring
from assets.ingest.reference import country_code
from conftest import FIXTURES

HIRING = FIXTURES / "hiring"
KEY = b"k"


def test_ats_rows_are_attributed_and_keep_no_personal_data(attribution):
    parsed = parse_hiring(HIRING / "ats_applications.csv", attribution, KEY)
    assert parsed.layout == "ats_applications" and len(parsed.rows) == parsed.data_lines == 6
    hired = parsed.rows[0]
    assert hired["stage"] == "hired" and hired["hire_date"] == date(2020, 12, 1)
    assert hired["applied_on"] == date(2020, 9, 10) and hired["country_code"] == "DE"
    assert hired["campaign_id"] == "microbiome_signature" and hired["channel"] == "linkedin"
    assert parsed.rows[3]["campaign_id"] is None  # jobindex.dk names no campaign
    for row in parsed.rows:
        text = " ".join(str(v) for v in row.values())
        assert "@" not in text and "Søren" not in text and "Hansen" not in text


def test_organisation_matched_by_name_any_case_or_by_id(attribution):
    rows = parse_hiring(HIRING / "ats_applications.csv", attribution, KEY).rows
    assert rows[4]["org_id"] == "ORG001"  # "NORDHAVN BIOLOGICS A/S"
    assert rows[5]["org_id"] == "ORG002"  # "ORG002"


def test_same_email_is_the_same_candidate_across_organisations(attribution):
    rows = parse_hiring(HIRING / "ats_applications.csv", attribution, KEY).rows
    # row 6 carries " Person1@Example.com ": normalised, it is person 1.
    assert rows[5]["candidate_key"] == rows[0]["candidate_key"]
    assert rows[5]["application_key"] != rows[0]["application_key"]


def test_candidate_key_is_keyed_hmac():
    assert candidate_key(b"a", "x@example.com", None) != candidate_key(b"b", "x@example.com", None)
    assert candidate_key(b"a", "X@Example.com ", None) == candidate_key(b"a", "x@example.com", None)
    assert "example" not in candidate_key(b"a", "x@example.com", None)


def test_template_xlsx_mixed_dates_and_country_languages(attribution):
    parsed = parse_hiring(HIRING / "hiring_template.xlsx", attribution, KEY)
    assert parsed.layout == "hiring_template" and len(parsed.rows) == 3
    a, b, c = parsed.rows
    assert (a["applied_on"], a["hire_date"], a["country_code"]) == (date(2021, 3, 5), date(2021, 6, 1), "DE")
    assert (b["applied_on"], b["hire_date"], b["country_code"], b["stage"]) == (date(2021, 3, 6), None, "SE", "applied")
    assert (c["country_code"], c["campaign_id"]) == ("IN", None)  # "Referral from employee"
    assert a["line_number"] == 2  # Excel row numbers


def test_template_cp1252_semicolon_csv(attribution):
    parsed = parse_hiring(HIRING / "hiring_template_cp1252.csv", attribution, KEY)
    row = parsed.rows[0]
    assert row["org_id"] == "ORG003" and row["country_code"] == "FR" and row["job_title"] == "Ingeniør"


def test_unmappable_country_is_quarantined_not_guessed(attribution):
    parsed = parse_hiring(HIRING / "hiring_unknown_country.csv", attribution, KEY)
    assert len(parsed.rows) == 1 and len(parsed.quarantined) == 1
    q = parsed.quarantined[0]
    assert (q.line_number, q.column, q.value) == (3, "candidate_country", "Scandinavia")


def test_unknown_organisation_is_staged_without_org_id_for_the_gate(attribution):
    row = parse_hiring(HIRING / "hiring_unknown_organisation.csv", attribution, KEY).rows[0]
    assert row["org_id"] is None and row["organisation_name"] == "Unknown Pharma Ltd"


def test_hire_before_application_is_staged_for_the_gate(attribution):
    row = parse_hiring(HIRING / "hiring_hire_before_application.xlsx", attribution, KEY).rows[0]
    assert row["hire_date"] < row["applied_on"]


@pytest.mark.parametrize("name, column, words", [
    ("hiring_missing_column.xlsx", "Hire date", "misses"),
    ("hiring_truncated.xlsx", None, "not a readable .xlsx"),
])
def test_rejected_hiring_files(attribution, name, column, words):
    with pytest.raises(RejectedFile) as err:
        parse_hiring(HIRING / name, attribution, KEY)
    assert err.value.column == column and words in str(err.value) and name in str(err.value)


@pytest.mark.parametrize("text, code", [
    ("Germany", "DE"), ("Tyskland", "DE"), ("DE", "DE"), ("Danmark", "DK"), ("Sverige", "SE"),
    ("Frankrike", "FR"), ("Frankrig", "FR"), ("Indien", "IN"), ("Holland", "NL"), ("usa", "US"),
    ("Scandinavia", None), ("", None),
])
def test_country_names_in_english_danish_swedish(text, code):
    assert country_code(text) == code


def _application(attribution, *texts: str | None, applied_on: date = date(2020, 9, 10)) -> dict:
    row = {"source_text": " ".join(t for t in texts if t), "applied_on": applied_on}
    attribute_applications([row], attribution)
    return row


# The channel rules are the reference table's (channel_rules.csv), the same for sessions and
# applications: an ad platform is the channel of paid traffic only (a link carrying the campaign's
# utm code or a paid medium, an ad click id, an ad named); an unpaid visit from it is a referral.
@pytest.mark.parametrize("texts, channel", [
    (("linkedin.com", "https://x/?utm_campaign=msp_talent_p1"), "linkedin"),
    (("LinkedIn msp_talent_p2",), "linkedin"),
    (("linkedin.com", "https://www.linkedin.com/jobs/view/3100000013/"), "referral"),
    (("facebook.com", "https://x/?fbclid=IwAR0abc"), "meta"),
    (("Facebook ad msp_talent_p1",), "meta"),
    (("facebook.com", None), "referral"),
    (("google.com", "https://x/?utm_source=google&utm_medium=cpc"), "google_ads"),
    (("Google Ads campaign",), "google_ads"),
    (("google.com", None), "organic"),
    ((None, None), "direct"),
    (("jobindex.dk", None), "referral"),
])
def test_application_channel(attribution, texts, channel):
    assert _application(attribution, *texts)["channel"] == channel


@pytest.mark.parametrize("source, medium, url", [
    ("linkedin", "cpc", "https://x/?utm_source=linkedin&utm_medium=cpc"),
    ("facebook", "paid", "https://x/?utm_source=facebook&utm_medium=paid"),
    ("google", "cpc", "https://x/?utm_source=google&utm_medium=cpc"),
    ("google", "organic", "https://x/?utm_source=google&utm_medium=organic"),
    ("linkedin.com", "referral", "https://x/?utm_source=linkedin.com&utm_medium=referral"),
    ("newsletter", "email", "https://x/?utm_source=newsletter&utm_medium=email"),
])
def test_a_session_and_an_application_from_the_same_source_get_the_same_channel(attribution, source, medium, url):
    session = attribution.con.execute("SELECT channel_of(?, ?)", [source, medium]).fetchall()[0][0]
    assert _application(attribution, "site.example", url)["channel"] == session


def test_an_application_gets_the_period_its_date_falls_in(attribution):
    assert _application(attribution, "LinkedIn msp_talent_p1", applied_on=date(2021, 3, 2))["period"] == "period_2"
    assert _application(attribution, "LinkedIn msp_talent_p1", applied_on=date(2021, 1, 2))["period"] is None
    assert _application(attribution, "jobindex.dk", applied_on=date(2021, 3, 2))["period"] is None


def test_shifted_row_is_quarantined_without_its_values(attribution):
    """An unquoted comma in a name shifts the e-mail into the country column: never read, never kept."""
    parsed = parse_hiring(HIRING / "ats_unquoted_comma_shift.csv", attribution, KEY)
    assert len(parsed.rows) == 1 and len(parsed.quarantined) == 1
    q = parsed.quarantined[0]
    assert (q.line_number, q.column, q.value) == (3, None, None) and "cells where the header has" in q.reason


def test_a_value_that_looks_like_an_email_is_never_quarantined_as_is():
    from assets.ingest.contract import safe_value

    assert "@" not in safe_value("someone@example.com")
    assert safe_value("Scandinavia") == "Scandinavia"


def test_workbook_with_several_hiring_sheets_is_rejected_not_half_read(attribution):
    with pytest.raises(RejectedFile, match="several sheets hold hiring data"):
        parse_hiring(HIRING / "hiring_two_sheets.xlsx", attribution, KEY)
