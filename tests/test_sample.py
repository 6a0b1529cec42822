"""The sample generator: deterministic, streamed, and faithful to each vendor layout.

These tests read the generated files with plain Python (csv, gzip, openpyxl,
pyarrow), independently of the pipeline's parsers. The KPI figures the sample
is built to reproduce are checked by the pipeline's end-to-end test, not here.
"""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest

import samplegen as sample
from samplegen import generate_sample, visitors, write_extra_day

LINKEDIN_HEADER = [
    "Start Date (in UTC)", "Account Name", "Campaign Group Name", "Campaign Name", "Campaign ID", "Currency",
    "Total Spent", "Impressions", "Clicks", "Reach", "Clicks to Landing Page",
]
META_HEADER = [
    "Reporting starts", "Reporting ends", "Campaign name", "Ad set name", "Day", "Amount spent (EUR)",
    "Impressions", "Reach", "Frequency", "Link clicks", "Currency",
]
GOOGLE_HEADER = ["Day", "Campaign", "Campaign ID", "Currency code", "Cost", "Impr.", "Clicks", "Conversions"]
SESSION_HEADER = [
    "event_date", "user_pseudo_id", "ga_session_id", "session_source", "session_medium", "session_campaign",
    "landing_page", "country", "engaged_session",
]
ATS_HEADER = [
    "id", "candidate_id", "job_id", "job_title", "department", "created_at", "changed_stage_at", "stage",
    "rejected_at", "referring_site", "referring_url", "sourced", "candidate_first_name", "candidate_last_name",
    "candidate_email", "candidate_country", "organisation",
]
TEMPLATE_HEADER = [
    "Organisation", "Candidate reference", "Email", "Job title", "Application date", "Hire date",
    "Country of residence", "Source",
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate_sample(out)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _sessions(root: Path) -> pl.DataFrame:
    first = pl.read_parquet(root / "visitors" / "sessions_2020.parquet")
    rest = pl.read_csv(root / "visitors" / "sessions_2021.csv.gz", infer_schema=False)
    return pl.concat([first, rest.cast(first.schema)])


# --- determinism -------------------------------------------------------------------


def test_rerun_is_byte_identical(generated, tmp_path):
    root, _ = generated
    again = tmp_path / "again"
    generate_sample(again)
    first, second = _files(root), _files(again)
    assert sorted(first) == sorted(second)
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []


def test_another_seed_gives_other_sessions(generated, tmp_path):
    root, _ = generated
    other = tmp_path / "other"
    generate_sample(other, seed=7)
    name = "visitors/sessions_2021.csv.gz"
    assert (root / name).read_bytes() != (other / name).read_bytes()


def test_summary_lists_every_file_written(generated):
    root, summary = generated
    assert set(summary["rows"]) == set(_files(root))
    assert summary["files"] == len(summary["rows"])


# --- reference -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, header",
    [
        ("campaigns.csv", "campaign_id,name,start_date,end_date,budget_eur,eu_grant_eur"),
        ("campaign_periods.csv", "campaign_id,period,start_date,end_date,utm_campaign"),
        ("organisations.csv", "org_id,name,country,city,sector,talent_campaign_joined_on,established_in_region_on"),
        ("kpi_targets.csv", "campaign_id,kpi,period,target"),
        ("fx_rates.csv", "currency,eur_per_unit"),
    ],
)
def test_reference_files_are_utf8_with_their_header(generated, name, header):
    root, _ = generated
    text = (root / "reference" / name).read_bytes().decode("utf-8")
    assert not text.startswith("\ufeff")
    assert text.splitlines()[0] == header


def test_organisations_keep_non_ascii_city_names(generated):
    root, _ = generated
    cities = {r["city"] for r in csv.DictReader(io.StringIO((root / "reference/organisations.csv").read_text("utf-8")))}
    assert {"Malmö", "Hillerød"} <= cities


# --- reach ---------------------------------------------------------------------------------


def test_linkedin_has_four_title_lines_then_header(generated):
    root, _ = generated
    for n in (1, 2, 3):
        lines = (root / f"reach/linkedin_campaign_performance_p{n}.csv").read_text("utf-8").splitlines()
        titles = [next(csv.reader([line]))[0] for line in lines[:4]]
        assert titles[0] == "Campaign Performance Report (in UTC)"
        assert titles[1].startswith("Report Start: ") and titles[2].startswith("Report End: ")
        assert titles[3].startswith("Account: ")
        assert next(csv.reader([lines[4]])) == LINKEDIN_HEADER
        for row in csv.DictReader(lines[4:]):
            month, day, year = row["Start Date (in UTC)"].split("/")
            assert len(year) == 4 and not month.startswith("0") and not day.startswith("0")
            impressions = int(row["Impressions"])
            assert int(row["Clicks to Landing Page"]) <= int(row["Clicks"]) <= impressions
            assert int(row["Reach"]) <= impressions


def test_linkedin_p1_carries_the_traps(generated):
    root, _ = generated
    lines = (root / "reach/linkedin_campaign_performance_p1.csv").read_text("utf-8").splitlines()
    rows = list(csv.DictReader(lines[4:]))
    days = {r["Start Date (in UTC)"] for r in rows}
    assert {"8/30/2020", "8/31/2020"} <= days
    assert any(r["Campaign Name"] == "Employer Brand Always-On" for r in rows)


def test_linkedin_copy_is_the_same_bytes(generated):
    root, _ = generated
    assert (root / "reach/LinkedIn export (copy).csv").read_bytes() == (
        root / "reach/linkedin_campaign_performance_p2.csv"
    ).read_bytes()


@pytest.mark.parametrize("n, thousands", [(1, " "), (2, "."), (3, ".")])
def test_meta_has_bom_semicolons_and_european_numbers(generated, n, thousands):
    root, _ = generated
    raw = (root / f"reach/meta_ads_p{n}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == META_HEADER
    spend = [r[5] for r in rows[1:]]
    assert all("," in s and "." not in s[-3:] for s in spend)
    # The thousands separator of this export's settings shows in spend and impressions.
    assert any(thousands in s for s in spend)
    assert any(thousands in r[6] for r in rows[1:])


def test_google_p1_is_utf16_with_tabs_and_footers(generated):
    root, _ = generated
    raw = (root / "reach/google_ads_p1.tsv").read_bytes()
    assert raw.startswith(b"\xff\xfe")
    lines = raw[2:].decode("utf-16-le").splitlines()
    assert lines[0] == "Campaign report"
    assert lines[1] == "September 1, 2020 - November 30, 2020"
    assert lines[2].split("\t") == GOOGLE_HEADER
    footers = [line.split("\t")[0] for line in lines if line.startswith("Total:")]
    assert footers == ["Total: Account", "Total: Search", "Total: Campaigns"]
    assert lines[-1].startswith("Total: Campaigns")


@pytest.mark.parametrize("n", [2, 3])
def test_google_p2_p3_are_utf8_csv_with_quoted_us_numbers(generated, n):
    root, _ = generated
    text = (root / f"reach/google_ads_p{n}.csv").read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Campaign report"]
    assert rows[2] == GOOGLE_HEADER
    body = [r for r in rows[3:] if not r[0].startswith("Total:")]
    assert all(r[3] == "DKK" for r in body)
    assert any('"' + r[4] + '"' in text and "," in r[4] for r in body)  # '1,234.56' arrives quoted
    assert {r[0] for r in rows if r[0].startswith("Total:")} == {"Total: Account", "Total: Search", "Total: Campaigns"}


# --- visitors -------------------------------------------------------------------------------


def test_session_files_have_the_ga4_columns(generated):
    root, _ = generated
    schema = pq.read_schema(root / "visitors/sessions_2020.parquet")
    assert schema.names == SESSION_HEADER
    assert str(schema.field("ga_session_id").type) == "int64"
    assert str(schema.field("event_date").type) == "string"
    assert str(schema.field("user_pseudo_id").type) == "string"
    with gzip.open(root / "visitors/sessions_2021.csv.gz", "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split(",") == SESSION_HEADER


def test_gzip_header_carries_no_clock(generated):
    root, _ = generated
    raw = (root / "visitors/sessions_2021.csv.gz").read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # mtime


def test_sessions_are_unique_and_match_the_summary(generated):
    root, summary = generated
    sessions = _sessions(root)
    assert sessions.height == summary["sessions"]
    assert sessions.select("user_pseudo_id", "ga_session_id").n_unique() == sessions.height
    assert sessions["user_pseudo_id"].n_unique() == summary["unique_visitors"]
    assert sessions["event_date"].str.len_chars().unique().to_list() == [8]
    assert set(sessions["engaged_session"].unique().to_list()) <= {0, 1}


def test_sessions_are_split_by_year_and_stay_inside_the_periods(generated):
    root, _ = generated
    first = pl.read_parquet(root / "visitors/sessions_2020.parquet")
    assert first["event_date"].str.starts_with("2020").all()
    rest = pl.read_csv(root / "visitors/sessions_2021.csv.gz", infer_schema=False)
    assert rest["event_date"].str.starts_with("2021").all()
    days = pl.concat([first["event_date"], rest["event_date"]]).str.to_date("%Y%m%d")
    inside = pl.lit(False)
    for period in sample.MSP_PERIODS:
        inside = inside | pl.col("d").is_between(period.start, period.end)
    assert pl.DataFrame({"d": days}).select(inside.all()).item()


def test_chunked_generation_streams_and_scales(tmp_path, monkeypatch):
    # Small chunks force the multi-chunk path the 10-million-session run takes.
    monkeypatch.setattr(visitors, "CHUNK_USERS", 1_000)
    summary = generate_sample(tmp_path, sessions=9_000)
    sessions = _sessions(tmp_path)
    assert sessions.height == 9_000
    assert sessions["user_pseudo_id"].n_unique() == summary["unique_visitors"] == round(
        sample.BASE_USERS * 9_000 / sample.BASE_SESSIONS
    )
    assert sessions.select("user_pseudo_id", "ga_session_id").n_unique() == 9_000
    assert pq.ParquetFile(tmp_path / "visitors/sessions_2020.parquet").metadata.num_row_groups > 1


def _visitor_counts(folder) -> tuple[int, int]:
    """(sessions, distinct visitors) read back from the written visitor files."""
    import polars as pl

    frames = [pl.read_parquet(p).select("user_pseudo_id") for p in folder.glob("visitors/*.parquet")]
    frames += [pl.read_csv(p, columns=["user_pseudo_id"], infer_schema=False) for p in folder.glob("visitors/*.csv.gz")]
    sessions = pl.concat(frames)
    return sessions.height, sessions["user_pseudo_id"].n_unique()


def test_scale_multiplies_sessions_only(tmp_path):
    generate_sample(tmp_path / "x1", scale=1)
    generate_sample(tmp_path / "x2", scale=2)
    one, two = _visitor_counts(tmp_path / "x1"), _visitor_counts(tmp_path / "x2")
    assert two == (2 * one[0], 2 * one[1])
    for path in (tmp_path / "x1").glob("[rh]*/*"):  # reach and hiring do not grow
        assert path.read_bytes() == (tmp_path / "x2" / path.relative_to(tmp_path / "x1")).read_bytes()


# --- hiring ---------------------------------------------------------------------------------


def test_ats_exports_have_the_teamtailor_header(generated):
    root, _ = generated
    files = sorted((root / "hiring").glob("ats_*.csv"))
    assert len(files) == 5  # four organisations, one of them with two exports
    for path in files:
        rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"))))
        assert rows[0] == ATS_HEADER
        stages = {r[7] for r in rows[1:]}
        assert stages <= {"applied", "screening", "interview", "offer", "hired", "rejected"}
        assert all(r[5] <= r[6] for r in rows[1:])  # never changed before created (same ISO format)


def test_overlapping_ats_exports_repeat_rows_identically(generated):
    root, _ = generated
    early = next((root / "hiring").glob("ats_*_2020H2-2021H1.csv"))
    late = next((root / "hiring").glob("ats_*_2021.csv"))
    a = {r["id"]: r for r in csv.DictReader(io.StringIO(early.read_text("utf-8")))}
    b = {r["id"]: r for r in csv.DictReader(io.StringIO(late.read_text("utf-8")))}
    shared = set(a) & set(b)
    assert 30 <= len(shared) <= 50
    assert any(a[i]["stage"] == "hired" for i in shared)
    assert all(a[i] == b[i] for i in shared)


def test_templates_have_the_hires_sheet(generated):
    root, _ = generated
    files = sorted((root / "hiring").glob("template_*.xlsx"))
    assert len(files) == 3
    kinds = set()
    for path in files:
        book = openpyxl.load_workbook(path)
        sheet = book["Hires"]
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == TEMPLATE_HEADER
        kinds |= {type(r[4]).__name__ for r in rows[1:]}
    assert kinds == {"str", "datetime"}  # dates typed as text and as real Excel dates


def test_template_csv_is_cp1252_with_semicolons(generated):
    root, _ = generated
    path = next((root / "hiring").glob("template_*_2022.csv"))
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw.decode("cp1252")), delimiter=";"))
    assert rows[0] == TEMPLATE_HEADER
    assert any(ch in raw.decode("cp1252") for ch in "æøåé")
    assert all(r[4].count(".") == 2 for r in rows[1:])  # dd.mm.yyyy


# --- an incremental night ------------------------------------------------------------------


def test_extra_day_adds_new_files_for_that_day_only(generated, tmp_path):
    root, _ = generated
    night = tmp_path / "night"
    paths = write_extra_day(night, date(2021, 11, 15), sessions=500)
    assert [p.name for p in paths] == ["linkedin_campaign_performance_20211115.csv", "sessions_20211115.csv.gz"]
    lines = paths[0].read_text("utf-8").splitlines()
    assert next(csv.reader([lines[4]])) == LINKEDIN_HEADER
    assert {next(csv.reader([line]))[0] for line in lines[5:]} == {"11/15/2021"}
    extra = pl.read_csv(paths[1], infer_schema=False)
    assert extra.columns == SESSION_HEADER
    assert extra.height == 500 and extra["event_date"].unique().to_list() == ["20211115"]
    base_users = set(_sessions(root)["user_pseudo_id"].to_list())
    assert base_users.isdisjoint(extra["user_pseudo_id"].to_list())
    again = write_extra_day(tmp_path / "again", date(2021, 11, 15), sessions=500)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]
