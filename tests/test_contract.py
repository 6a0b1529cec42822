"""Exports the bundled sample does not show: declared contracts, strict types, scrubbed free text,
every landing file accounted for, and the reference data's own suite. One fixture per case."""

from __future__ import annotations

import shutil

import pytest

from assets.staging import stage
from assets.staging.ledger import account_reference_folder
from assets.staging.parsers import RowParser
from assets.ingest.common import RejectedFile
from assets.ingest.contract import EMAIL_MARKER, PHONE_MARKER, layouts, looks_personal, scrub
from assets.ingest.hiring import parse_hiring
from assets.ingest.landing import SUFFIXES
from assets.ingest.reach import parse_reach
from assets.ingest.visitors import parse_visitors
from assets.quality.reference_suite import validate_reference
from conftest import FIXTURES, TEST_KEY

REACH, VISITORS, HIRING = FIXTURES / "reach", FIXTURES / "visitors", FIXTURES / "hiring"


def test_every_declared_column_has_a_type_and_a_pii_class():
    declared = layouts()
    assert {lay.source for lay in declared.values()} == {"reach", "visitors", "hiring"}
    for lay in declared.values():
        assert lay.required, lay.name
        for column in lay.columns:
            assert column.type and column.pii, (lay.name, column.name)


@pytest.mark.parametrize("name, channel, currency, impressions, clicks", [
    ("meta_danish_headers.csv", "meta", "DKK", 10_000, 100),
    ("linkedin_swedish_headers.csv", "linkedin", "EUR", 1000, 10),
])
def test_localised_headers_are_read_by_their_aliases(attribution, name, channel, currency, impressions, clicks):
    parsed = parse_reach(REACH / name, attribution)
    assert parsed.quarantined == [] and len(parsed.rows) == 1
    row = parsed.rows[0]
    assert (row["channel"], row["currency"], row["impressions"], row["clicks"]) == (channel, currency, impressions,
                                                                                   clicks)


def test_an_id_typed_as_a_float_rejects_the_reach_export(attribution):
    with pytest.raises(RejectedFile) as exc:
        parse_reach(REACH / "linkedin_campaign_id_as_float.csv", attribution)
    assert (exc.value.line, exc.value.column) == (6, "Campaign ID") and "lossy" in exc.value.reason


@pytest.mark.parametrize("name, line, column", [
    ("sessions_id_as_float.csv", 3, "user_pseudo_id"),
    ("sessions_session_id_as_float.csv", 3, "ga_session_id"),
])
def test_a_visitor_id_in_a_float_form_rejects_the_file(con, name, line, column):
    with pytest.raises(RejectedFile) as exc:
        parse_visitors(con, VISITORS / name)
    assert (exc.value.line, exc.value.column) == (line, column) and "lossy" in exc.value.reason


def test_a_parquet_id_stored_as_double_rejects_the_file(con, tmp_path):
    path = tmp_path / "sessions_double_ids.parquet"
    con.execute(
        f"COPY (SELECT '20200901' AS event_date, 1197596843.1673515::DOUBLE AS user_pseudo_id, 1::BIGINT AS ga_session_id,"
        " 'linkedin' AS session_source, 'cpc' AS session_medium, 'msp_talent_p1' AS session_campaign,"
        f" '/jobs' AS landing_page, 'Germany' AS country, 1 AS engaged_session) TO '{path}' (FORMAT parquet)")
    with pytest.raises(RejectedFile) as exc:
        parse_visitors(con, path)
    assert exc.value.column == "user_pseudo_id" and "DOUBLE" in exc.value.reason


def test_a_seven_digit_date_is_quarantined_not_guessed(con, attribution):
    load = parse_visitors(con, VISITORS / "sessions_seven_digit_date.csv")
    assert (load.data_lines, load.rows_loaded, load.rows_quarantined) == (2, 1, 1)
    assert con.execute("SELECT line_number, column_name, value FROM _visitor_quarantine").fetchall() == [
        (3, "event_date", "2020091")]
    parsed = parse_hiring(HIRING / "ats_seven_digit_date.csv", attribution, TEST_KEY.encode())
    assert [(q.line_number, q.column) for q in parsed.quarantined] == [(3, "created_at")]


def test_personal_data_in_free_text_is_scrubbed_before_staging(con, attribution):
    parsed = parse_hiring(HIRING / "ats_email_in_job_title.csv", attribution, TEST_KEY.encode())
    title = parsed.rows[0]["job_title"]
    assert EMAIL_MARKER in title and PHONE_MARKER in title and not looks_personal(title)
    parse_visitors(con, VISITORS / "sessions_email_in_landing_page.csv", into=None)
    page = con.execute("SELECT landing_page FROM _visitor_rows").fetchall()[0][0]
    assert page == f"/jobs?ref={EMAIL_MARKER}"


def test_year_ranges_are_not_phone_numbers():
    assert scrub("Scientist 2020-2022, grade 12") == "Scientist 2020-2022, grade 12"
    assert scrub("call 070-123 45 67") == f"call {PHONE_MARKER}"


def _land(tmp_path, source: str, names: list[str], folder=None):
    raw = tmp_path / source
    raw.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy((folder or FIXTURES / source) / name, raw / name)
    return raw


class _NeverParsed:
    """A parser for folders whose files are all judged by name: none may reach it."""

    def stage(self, con, table, facts):
        raise AssertionError(f"{facts.path.name} must not be parsed")


@pytest.mark.parametrize("source", ["reach", "visitors", "hiring"])
def test_every_file_in_a_landing_folder_gets_an_outcome(con, tmp_path, source):
    stray = FIXTURES / "stray" / source
    raw = _land(tmp_path, source, sorted(p.name for p in stray.iterdir()), folder=stray)

    summary = stage.ingest_source(con, source, raw, _NeverParsed())
    outcomes = {f.path.split("/")[-1]: (f.status, f.message) for f in summary.files}
    assert set(outcomes) == {p.name for p in stray.iterdir()}
    for name, (status, message) in outcomes.items():
        assert status in ("rejected", "ignored") and name in message
        if status == "rejected":
            assert "unexpected file type" in message and ", ".join(SUFFIXES[source]) in message
    ledger = con.execute("SELECT status, count(*) FROM ingest.file_ledger WHERE source = ? GROUP BY 1 ORDER BY 1",
                         [source]).fetchall()
    assert sum(n for _, n in ledger) == len(outcomes)
    again = stage.ingest_source(con, source, raw, _NeverParsed())
    assert {f.status for f in again.files} == {"unchanged"}


def test_two_files_that_stage_nothing_never_supersede_each_other(con, tmp_path, attribution):
    raw = _land(tmp_path, "hiring", ["ats_nothing_staged_nordhavn.csv", "ats_nothing_staged_lund.csv"])
    summary = stage.ingest_source(con, "hiring", raw,
                                  RowParser("hiring", lambda path: parse_hiring(path, attribution, TEST_KEY.encode())))
    assert [f.status for f in summary.files] == ["loaded", "loaded"]
    assert con.execute("SELECT status, data_lines, rows_loaded, rows_quarantined FROM ingest.file_ledger "
                       "ORDER BY path").fetchall() == [("loaded", 1, 0, 1), ("loaded", 1, 0, 1)]
    assert con.execute("SELECT count(*) FROM staging.quarantine").fetchall() == [(2,)]


@pytest.mark.parametrize("variant, column, conflicting", [
    ("reference_duplicate_org_id", "org_id", ("organisations.csv line 2", "organisations.csv line 5",
                                             "Nordhavn Biologics Holding A/S")),
    ("reference_overlapping_periods", "start_date", ("campaign_periods.csv line 2", "campaign_periods.csv line 5",
                                                    "period_1b")),
    ("reference_channel_rule_unknown_channel", "channel", ("channel_rules.csv line 3", "tiktok")),
    ("reference_channel_rule_bad_pattern", "source_pattern", ("channel_rules.csv line 3", "(?<=fb)book")),
    ("reference_channel_rule_order_twice", "rule_order", ("channel_rules.csv line 2", "channel_rules.csv line 3",
                                                          "'linkedin'", "'meta'")),
    ("reference_channel_rules_without_catch_all", "rule_order", ("channel_rules.csv line 7", "no pattern")),
])
def test_reference_data_that_contradicts_itself_fails_its_suite(tmp_path, variant, column, conflicting):
    folder = tmp_path / "reference"
    shutil.copytree(FIXTURES / "reference", folder)
    for path in (FIXTURES / variant).iterdir():
        shutil.copy(path, folder / path.name)
    clean = validate_reference(FIXTURES / "reference")
    assert [o.message for o in clean if not o.passed] == []
    failed = [o for o in validate_reference(folder) if not o.passed]
    assert [o.column_name for o in failed] == [column]
    text = failed[0].message
    assert all(c in text for c in conflicting), text


def test_a_stray_file_in_the_reference_folder_is_recorded(con, tmp_path):
    folder = tmp_path / "reference"
    shutil.copytree(FIXTURES / "reference", folder)
    shutil.copy(FIXTURES / "stray" / "reference" / "notes.txt", folder / "notes.txt")
    (folder / "campaigns_old.csv").write_text("campaign_id\n")
    known = {p.stem for p in (FIXTURES / "reference").iterdir()}
    outcomes = account_reference_folder(con, folder, known, "r1")
    assert sorted((f.path.split("/")[-1], f.status) for f in outcomes) == [
        ("campaigns_old.csv", "rejected"), ("notes.txt", "rejected")]
    assert con.execute("SELECT count(*) FROM ingest.file_ledger WHERE source = 'reference'").fetchall() == [(2,)]
    assert account_reference_folder(con, folder, known, "r2") == []


@pytest.mark.parametrize("value, decimal, expected", [
    ("1 234,56", ",", 1234.56), ("1.234,56", ",", 1234.56), ("1,234.56", ".", 1234.56), ("12,345", ".", 12345.0),
    ("45.50", ".", 45.5), ("--", ".", None),
])
def test_numbers_read_by_the_layouts_separators(value, decimal, expected):
    from assets.ingest.contract import parse_number

    assert parse_number(value, decimal) == expected


@pytest.mark.parametrize("value, decimal", [("1.234,56", "."), ("1,234.56", ","), ("12,34,5", "."), ("1.2.3", ",")])
def test_numbers_in_another_settings_format_are_refused_not_misread(value, decimal):
    from assets.ingest.contract import BadValue, parse_number

    with pytest.raises(BadValue) as exc:
        parse_number(value, decimal)
    assert value not in str(exc.value)  # a reason never repeats the cell (it may be personal)


def test_an_ambiguous_count_is_refused():
    from assets.ingest.contract import BadValue, parse_count

    assert parse_count("1.000", ",") == 1000
    with pytest.raises(BadValue):
        parse_count("1.000", ".")


def test_identifiers_in_float_renderings_are_lossy():
    from assets.ingest.contract import LossyValue, parse_identifier

    assert parse_identifier("1197596843.1673515099") == "1197596843.1673515099"  # GA4 text id
    for value, numeric in ((1.2345678901234567e19, False), (17.5, False), ("12345.0", True), ("1.2E+9", False)):
        with pytest.raises(LossyValue):
            parse_identifier(value, numeric)


def test_a_date_followed_by_anything_but_a_time_is_not_a_date():
    from assets.ingest.contract import BadValue, parse_date

    assert str(parse_date("9/1/2020 00:00", ["%-m/%-d/%Y"])) == "2020-09-01"
    with pytest.raises(BadValue):
        parse_date("2021-03-05 garbage", ["%Y-%m-%d"])


@pytest.mark.parametrize("text", ["ring 12345678", "ring 1234 5678", "ring 0701234567", "ring +46 70 123 45 67"])
def test_danish_and_swedish_phone_numbers_are_scrubbed(text):
    assert scrub(text) == f"ring {PHONE_MARKER}"


def test_empty_tokens_are_no_visitor_id_and_flags_are_0_or_1(con, tmp_path):
    path = tmp_path / "sessions_tokens.csv"
    header = (VISITORS / "sessions_valid.csv").read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "20200901,null,1,linkedin,cpc,msp_talent_p1,/jobs,Germany,1\n"
                    "20200901,--,2,linkedin,cpc,msp_talent_p1,/jobs,Germany,1\n"
                    "20200901,1.1,3,linkedin,cpc,msp_talent_p1,/jobs,Germany,+1\n"
                    "20200901,1.2,4,linkedin,cpc,msp_talent_p1,/jobs,Germany,1\n")
    load = parse_visitors(con, path)
    assert (load.rows_loaded, load.rows_quarantined) == (1, 3)
    assert [r[0] for r in con.execute("SELECT column_name FROM _visitor_quarantine ORDER BY line_number").fetchall()] \
        == ["user_pseudo_id", "user_pseudo_id", "engaged_session"]


def test_an_account_name_with_a_dash_is_not_the_report_span(attribution, tmp_path):
    text = (REACH / "linkedin_campaign_performance.csv").read_text()
    september = text.replace('"Account: Medicon Valley Alliance (503123456)"',
                             '"Account: Medicon Valley - Talent 2020"')
    october = september.replace("Report Start: 9/1/2020", "Report Start: 10/1/2020").replace(
        "Report End: 9/3/2020", "Report End: 10/3/2020")
    keys = []
    for name, body in (("sep.csv", september), ("oct.csv", october)):
        (tmp_path / name).write_text(body)
        keys.append(parse_reach(tmp_path / name, attribution).export_key)
    assert keys[0] != keys[1]


def test_a_gzipped_reach_export_is_read(attribution, tmp_path):
    import gzip

    path = tmp_path / "linkedin.csv.gz"
    path.write_bytes(gzip.compress((REACH / "linkedin_campaign_performance.csv").read_bytes(), mtime=0))
    plain = parse_reach(REACH / "linkedin_campaign_performance.csv", attribution)
    assert [r["impressions"] for r in parse_reach(path, attribution).rows] == [r["impressions"] for r in plain.rows]


def test_a_rejected_file_taken_out_of_the_folder_is_no_longer_an_issue(con, tmp_path):
    raw = _land(tmp_path, "reach", ["notes.txt"], folder=FIXTURES / "stray" / "reach")

    assert [f.status for f in stage.ingest_source(con, "reach", raw, _NeverParsed()).files] == ["rejected"]
    (raw / "notes.txt").unlink()
    stage.ingest_source(con, "reach", raw, _NeverParsed())
    assert con.execute("SELECT status, message FROM ingest.file_ledger").fetchall()[0][0] == "removed"
