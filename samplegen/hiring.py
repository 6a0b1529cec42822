"""Hiring exports (hiring/): Teamtailor-like ATS CSVs and the hiring template (.xlsx, and one cp1252 .csv).

ATS rows are written identically when one application sits in two
overlapping exports; the template is typed by hand (dates three ways as
text or as real Excel dates, free-text countries and sources, missing
e-mails).
"""

from __future__ import annotations

import io
import random
import re
from datetime import date, datetime
from pathlib import Path

from samplegen.applications import (
    ATS_ORGS,
    CSV_TEMPLATE_KEY,
    CSV_TEMPLATE_ORG,
    H1_2021,
    JOBS,
    OVERLAP_ORG,
    TEMPLATE_COUNTRY_TEXT,
    TEMPLATE_ORGS,
    Application,
    hiring_applications,
)
from samplegen.files import reproducible_zip, write_csv
from samplegen.world import ORG_NAME, ascii_spelling, hiring_rng

TEMPLATE_DOMESTIC_TEXT = ("Danmark", "SE", "Sverige", "Denmark", "Danmark")


def write_hiring(folder: Path, seed: int) -> dict[str, int]:
    """ATS exports for four organisations, hiring templates for three; returns rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = hiring_rng(seed)
    apps = hiring_applications(rng)
    _number_ats(apps)
    rows: dict[str, int] = {}
    for org_id in ATS_ORGS:
        for name, subset in _ats_exports(org_id, apps[org_id]).items():
            _write_ats(folder / name, subset, rng)
            rows[name] = len(subset)
    for org_id in TEMPLATE_ORGS:
        name = f"template_{_slug(ORG_NAME[org_id])}.xlsx"
        _write_template_xlsx(folder / name, apps[org_id], rng)
        rows[name] = len(apps[org_id])
    name = f"template_{_slug(ORG_NAME[CSV_TEMPLATE_ORG])}_2022.csv"
    _write_template_csv(folder / name, apps[CSV_TEMPLATE_KEY])
    rows[name] = len(apps[CSV_TEMPLATE_KEY])
    return rows


def _ats_exports(org_id: str, apps: list[Application]) -> dict[str, list[Application]]:
    """File name -> rows. ORG001 sends two exports whose 2021H1 rows overlap; the others one each."""
    slug = _slug(ORG_NAME[org_id])
    if org_id == OVERLAP_ORG:
        early = [a for a in apps if date(2020, 7, 1) <= a.applied.date() <= H1_2021[1]]
        late = [a for a in apps if H1_2021[0] <= a.applied.date() <= date(2021, 12, 31)]
        return {f"ats_{slug}_2020H2-2021H1.csv": early, f"ats_{slug}_2021.csv": late}
    years = sorted({a.applied.year for a in apps})
    return {f"ats_{slug}_{years[0]}-{years[-1]}.csv": apps}


_ATS_HEADER = ["id", "candidate_id", "job_id", "job_title", "department", "created_at", "changed_stage_at", "stage",
               "rejected_at", "referring_site", "referring_url", "sourced", "candidate_first_name",
               "candidate_last_name", "candidate_email", "candidate_country", "organisation"]


def _write_ats(path: Path, apps: list[Application], rng: random.Random) -> None:
    """Teamtailor-like applications export, UTF-8, comma, ISO timestamps in UTC."""
    records = [_ats_record(a, rng) for a in apps]
    body = [[record[column] for column in _ATS_HEADER] for record in records]
    write_csv(path, [_ATS_HEADER, *body], encoding="utf-8")


def _ats_record(a: Application, rng: random.Random) -> dict[str, str]:
    """One ATS row. Random choices are remembered on the application, so a row
    delivered in two overlapping exports is written identically both times."""
    ids = a.extra["ids"]
    site, url = _ats_referrer(a, ids["job"])
    if "sourced" not in a.extra:
        # Recruiters source candidates on LinkedIn; campaign applicants apply themselves.
        a.extra["sourced"] = a.source == "linkedin_organic" and rng.random() < 0.5
    return {
        "id": str(ids["id"]),
        "candidate_id": str(ids["candidate_id"]),
        "job_id": str(ids["job"]),
        "job_title": JOBS[a.job][0],
        "department": JOBS[a.job][1],
        "created_at": _iso(a.applied),
        "changed_stage_at": _iso(a.changed),
        "stage": a.stage,
        "rejected_at": _iso(a.changed) if a.stage == "rejected" else "",
        "referring_site": site,
        "referring_url": url,
        "sourced": "true" if a.extra["sourced"] else "false",
        "candidate_first_name": a.person.first,
        "candidate_last_name": a.person.last,
        "candidate_email": a.email_override or a.person.email,
        "candidate_country": a.person.country,
        "organisation": _org_as_written(a, rng),
    }


def _number_ats(apps: dict[str, list[Application]]) -> None:
    """ATS ids in application order, distinct per organisation (and across them, for readability)."""
    for k, org_id in enumerate(ATS_ORGS):
        base = (k + 4) * 1_000_000 + 100_000
        for i, a in enumerate(apps[org_id]):
            a.extra["ids"] = {
                "id": base + 7 * i + 3,
                "candidate_id": base // 10 + 11 * i + 5,
                "job": 2_000 + 100 * k + a.job,
            }


def _ats_referrer(a: Application, job_id: int) -> tuple[str, str]:
    """(referring_site, referring_url) for a source key."""
    job_url = f"https://talent.mediconvalley.com/jobs/{job_id}"
    if a.source.startswith("utm:"):
        utm = a.source[4:]
        site, source, medium = [
            ("linkedin.com", "linkedin", "cpc"),
            ("facebook.com", "facebook", "paid"),
            ("instagram.com", "instagram", "paid"),
            ("google.com", "google", "cpc"),
        ][(job_id + a.applied.day) % 4]
        return site, f"{job_url}?utm_source={source}&utm_medium={medium}&utm_campaign={utm}"
    return {
        "site": ("Microbiome Signature Project", job_url),
        "newsletter": ("Microbiome Signature Project newsletter", ""),
        "jobindex": ("jobindex.dk", f"https://www.jobindex.dk/jobannonce/{900_000 + job_id * 7}"),
        "linkedin_organic": ("linkedin.com", f"https://www.linkedin.com/jobs/view/{3_100_000_000 + job_id * 13}/"),
        "direct": ("", ""),
    }[a.source]


def _org_as_written(a: Application, rng: random.Random) -> str:
    """The organisation as staff type it: register name, all upper case or the org_id."""
    if "org_text" not in a.extra:
        roll = rng.random()
        name = ORG_NAME[a.org_id]
        a.extra["org_text"] = name if roll < 0.7 else name.upper() if roll < 0.85 else a.org_id
    return a.extra["org_text"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


_TEMPLATE_HEADER = ["Organisation", "Candidate reference", "Email", "Job title", "Application date", "Hire date",
                    "Country of residence", "Source"]


def _template_values(a: Application, index: int, org_prefix: str) -> dict:
    """A template row before date formatting: what a small organisation's HR would type."""
    if "country_text" in a.extra:
        country = a.extra["country_text"]
    else:
        options = [text for code, text in TEMPLATE_COUNTRY_TEXT if code == a.person.country]
        country = options[index % len(options)]
    if a.org_id == CSV_TEMPLATE_ORG:
        reference = f"{a.person.first} {a.person.last}"  # this HR writes names, hence the non-ASCII letters
    else:
        reference = f"{org_prefix}-{a.applied.year}-{index + 1:03d}"
    return {
        "Organisation": ORG_NAME[a.org_id],
        "Candidate reference": reference,
        "Email": "" if a.no_email else (a.email_override or a.person.email),
        "Job title": JOBS[a.job][0],
        "Application date": a.applied.date(),
        "Hire date": a.hire,
        "Country of residence": country,
        "Source": _template_source(a),
    }


def _template_source(a: Application) -> str:
    """The template's free-text Source, as HR types it; campaign ones name a utm code or the campaign."""
    if a.source.startswith("utm:"):
        utm = a.source[4:]
        return ("LinkedIn {}", "Facebook ad {}", "Google Ads {}", "LinkedIn {}")[a.job % 4].format(utm)
    return {
        "site": "microbiome_signature job portal",
        "newsletter": "Microbiome Signature Project newsletter",
        "referral": "Referral from employee",
        "own_site": "Own website",
    }[a.source]


def _domestic_texts(apps: list[Application]) -> None:
    """Spreads the domestic spellings over one export's domestic rows, hires first."""
    domestic = sorted((a for a in apps if a.person.country in ("DK", "SE")), key=lambda a: a.stage != "hired")
    for n, a in enumerate(domestic):
        text = TEMPLATE_DOMESTIC_TEXT[n % len(TEMPLATE_DOMESTIC_TEXT)]
        # Keep the spelling truthful: a Danish resident is never written 'Sverige'.
        if (a.person.country == "DK") != (text in ("Danmark", "Denmark")):
            text = {"DK": ("Danmark", "Denmark")[n % 2], "SE": ("Sverige", "SE")[n % 2]}[a.person.country]
        a.extra["country_text"] = a.extra.get("country_text", text)


def _write_template_xlsx(path: Path, apps: list[Application], rng: random.Random) -> None:
    """Sheet 'Hires' with dates typed three ways as text, some as real Excel dates."""
    from openpyxl import Workbook

    _domestic_texts(apps)
    book = Workbook()
    sheet = book.active
    sheet.title = "Hires"
    sheet.append(_TEMPLATE_HEADER)
    prefix = "".join(w[0] for w in _slug(ORG_NAME[apps[0].org_id]).split("_")).upper()
    for i, a in enumerate(apps):
        values = _template_values(a, i, prefix)
        if rng.random() < 0.15:
            values["Organisation"] = values["Organisation"].upper()
        for column in ("Application date", "Hire date"):
            values[column] = _typed_date(rng, values[column])
        sheet.append([values[c] for c in _TEMPLATE_HEADER])
    for letter, width in zip("ABCDEFGH", (34, 22, 34, 34, 16, 16, 20, 42)):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.properties.creator = "HR"
    book.save(buffer)
    path.write_bytes(reproducible_zip(buffer.getvalue()))


def _typed_date(rng: random.Random, day: date | None):
    """A template date as HR enters it: ISO, dd-mm-yyyy, dd.mm.yyyy text, or a real Excel date cell."""
    if day is None:
        return None
    style = rng.randrange(4)
    if style == 3:
        return day  # a real date cell
    return (day.isoformat(), day.strftime("%d-%m-%Y"), day.strftime("%d.%m.%Y"))[style]


def _write_template_csv(path: Path, apps: list[Application]) -> None:
    """The same template saved by Excel as 'CSV (semicolon)' on a Danish Windows: cp1252, ';', dd.mm.yyyy."""
    _domestic_texts(apps)
    body = []
    for i, a in enumerate(apps):
        values = _template_values(a, i, "HMC")
        values["Application date"] = values["Application date"].strftime("%d.%m.%Y")
        values["Hire date"] = values["Hire date"].strftime("%d.%m.%Y") if values["Hire date"] else ""
        body.append([values[c] for c in _TEMPLATE_HEADER])
    write_csv(path, [_TEMPLATE_HEADER, *body], encoding="cp1252", delimiter=";", lineterminator="\r\n")


def _slug(name: str) -> str:
    """File-name slug of an organisation: ASCII, lower case, no legal form."""
    name = re.sub(r"\b(A/S|ApS|AB)$", "", name).strip()
    return re.sub(r"[^a-z0-9]+", "_", ascii_spelling(name).lower()).strip("_")
