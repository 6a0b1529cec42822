"""Deterministic generator of the bundled sample exports (``data/raw/``).

Writes what the campaign team, the ad platforms, the campaign site's analytics
and the participating organisations would send, in their real layouts and
with their real quirks (title lines, BOMs, UTF-16, cp1252, ``;`` delimiters,
decimal commas, footers, duplicated deliveries), so the pipeline is exercised
by the same mess it meets in production.

The sample is built to reproduce the Microbiome Signature Project's closing
report under the KPI rules of ``/work/shared/data-contract.md``: 5
organisations established, 27 involved, 102 international hires, more than
23 million impressions and 33,632 unique visitors. Traps (domestic hires,
non-campaign sources, hires outside the window, rows outside every period,
...) sit next to the counted rows and must not change those figures.

Everything comes from seeded generators (``random.Random`` / numpy
``default_rng``), never from global state or the clock, so the same
arguments give byte-identical files. Visitor sessions are generated and
written chunk by chunk, so memory stays flat however many sessions are asked
for.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

# --- reference data -----------------------------------------------------------

MSP = "microbiome_signature"
MVWC = "medicon_valley_world_class"
MSP_START, MSP_END = date(2019, 10, 1), date(2022, 9, 30)

CAMPAIGNS = [
    (MSP, "Microbiome Signature Project", MSP_START, MSP_END, 4118560, 2059280),
    (MVWC, "Medicon Valley World Class", date(2011, 11, 1), date(2014, 10, 31), 3234093, 1617045),
]


@dataclass(frozen=True)
class Period:
    campaign_id: str
    period: str
    start: date
    end: date
    utm: str

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


PERIODS = [
    Period(MSP, "period_1", date(2020, 9, 1), date(2020, 11, 30), "msp_talent_p1"),
    Period(MSP, "period_2", date(2021, 3, 1), date(2021, 5, 31), "msp_talent_p2"),
    Period(MSP, "period_3", date(2021, 9, 1), date(2021, 11, 30), "msp_talent_p3"),
    # The earlier campaign has a period but no exports anywhere: the pipeline
    # must report it with zeros, not drop it.
    Period(MVWC, "period_1", date(2012, 3, 1), date(2012, 5, 31), "mvwc_talent_1"),
]
MSP_PERIODS = PERIODS[:3]

# org_id, name, country, city, sector, talent_campaign_joined_on, established_in_region_on.
# 27 joined on or before 2022-09-30, 7 after (one on the boundary 2022-10-01).
# 5 established inside the window (both ends inclusive, one on each end);
# 2019-09-30, 2022-10-01 and 2023-03-15 are the just-outside traps.
ORGANISATIONS = [
    ("ORG001", "Nordhavn Biologics A/S", "DK", "Copenhagen", "biotech", "2019-10-15", "1998-05-01"),
    ("ORG002", "Lund Microbiome AB", "SE", "Lund", "biotech", "2019-11-04", "2019-10-01"),
    ("ORG003", "Øresund Pharma A/S", "DK", "Ballerup", "pharma", "2019-12-02", "1994-03-01"),
    ("ORG004", "Malmö Clinical Research Centre", "SE", "Malmö", "hospital", "2020-01-13", "2003-09-01"),
    ("ORG005", "Hørsholm Microbial Cultures ApS", "DK", "Hørsholm", "biotech", "2020-02-03", "2011-06-15"),
    ("ORG006", "Helsingborg Gut Diagnostics AB", "SE", "Helsingborg", "medtech", "2020-03-09", "2020-11-09"),
    ("ORG007", "Roskilde Precision Probiotics ApS", "DK", "Roskilde", "biotech", "2022-10-01", "2016-04-01"),
    ("ORG008", "Hillerød Bioprocess A/S", "DK", "Hillerød", "pharma", "2020-04-20", "1992-01-01"),
    ("ORG009", "Copenhagen Institute of Host-Microbe Biology", "DK", "Copenhagen", "academia", "2019-10-01",
     "2004-01-01"),
    ("ORG010", "Lund University Microbiome Centre", "SE", "Lund", "academia", "2019-10-22", "1995-09-01"),
    ("ORG011", "Aarhus Enzyme Technologies A/S", "DK", "Aarhus", "biotech", "2020-05-18", "2001-02-01"),
    ("ORG012", "Kongens Lyngby Biosensors ApS", "DK", "Kongens Lyngby", "medtech", "2020-06-08", "2021-06-01"),
    ("ORG013", "Malmö Nutrigenomics AB", "SE", "Malmö", "biotech", "2020-08-24", "2019-09-30"),
    ("ORG014", "Søborg Peptide Therapeutics A/S", "DK", "Søborg", "pharma", "2020-09-14", "2009-10-01"),
    ("ORG015", "Lomma Fermentation AB", "SE", "Lomma", "biotech", "2020-10-05", "2014-05-01"),
    ("ORG016", "Bagsværd Metabolic Research A/S", "DK", "Bagsværd", "pharma", "2020-11-23", "1999-11-01"),
    ("ORG017", "Skåne Biobank AB", "SE", "Lund", "hospital", "2021-01-11", "2007-01-01"),
    ("ORG018", "Odense Microbiota Analytics ApS", "DK", "Odense", "biotech", "2021-02-15", "2022-09-30"),
    ("ORG019", "Måløv Vaccine Sciences A/S", "DK", "Måløv", "pharma", "2021-03-22", "1997-06-01"),
    ("ORG020", "Helsingør Marine Bioactives ApS", "DK", "Helsingør", "biotech", "2021-04-26", "2012-08-01"),
    ("ORG021", "Ystad Agri-Microbe AB", "SE", "Ystad", "biotech", "2021-05-31", "2022-10-01"),
    ("ORG022", "Capital Region Clinical Microbiology Unit", "DK", "Copenhagen", "hospital", "2021-06-21", "1993-01-01"),
    ("ORG023", "Lund Protein Design AB", "SE", "Lund", "biotech", "2021-08-30", "2017-03-01"),
    ("ORG024", "Køge Fermentation Works A/S", "DK", "Køge", "biotech", "2021-09-13", "2005-04-01"),
    ("ORG025", "Malmö Digital Pathology AB", "SE", "Malmö", "medtech", "2021-10-18", "2015-09-01"),
    ("ORG026", "Herlev Immunology ApS", "DK", "Herlev", "biotech", "2021-11-29", "2020-02-17"),
    ("ORG027", "Kristianstad Food Microbiology AB", "SE", "Kristianstad", "biotech", "2022-01-24", "2008-06-01"),
    ("ORG028", "Copenhagen Bioinformatics Collective ApS", "DK", "Copenhagen", "biotech", "2022-06-13", "2018-11-01"),
    ("ORG029", "Glostrup Microbial Diagnostics A/S", "DK", "Glostrup", "medtech", "2023-11-20", "2013-05-01"),
    ("ORG030", "Landskrona Probiotic Labs AB", "SE", "Landskrona", "biotech", "2023-01-16", "2023-03-15"),
    ("ORG031", "Aarhus Microbial Ecology Institute", "DK", "Aarhus", "academia", "2023-02-01", "1996-01-01"),
    ("ORG032", "Helsingborg Medtech Sensors AB", "SE", "Helsingborg", "medtech", "2023-03-06", "2006-01-01"),
    ("ORG033", "Trelleborg Bioprocessing AB", "SE", "Trelleborg", "pharma", "2023-05-02", "2000-01-01"),
    ("ORG034", "Greve Skin Microbiome ApS", "DK", "Greve", "biotech", "2023-09-04", "2014-10-01"),
]
ORG_NAME = {o[0]: o[1] for o in ORGANISATIONS}

KPI_TARGETS = [
    (MSP, "organisations_established", "", 2),
    (MSP, "organisations_involved", "", 15),
    (MSP, "international_hires", "", 60),
    (MSP, "international_hires", "period_1", 20),
    (MSP, "international_hires", "period_2", 20),
    (MSP, "international_hires", "period_3", 20),
    (MSP, "impressions", "", 23000000),
    (MSP, "unique_visitors", "", 30000),
    (MVWC, "international_hires", "", 40),
    (MVWC, "organisations_involved", "", 10),
]
FX_RATES = [("EUR", "1.0"), ("DKK", "0.1341"), ("SEK", "0.0876")]

# --- reach design ----------------------------------------------------------------

# Impressions attributed to microbiome_signature inside its periods. The
# quarantine traps and the always-on campaign come on top and are not needed
# to pass 23 million.
TOTAL_IMPRESSIONS = 23_418_392
PLATFORM_SHARE = {"linkedin": 0.44, "meta": 0.36, "google": 0.20}
PERIOD_SHARE = (0.30, 0.36, 0.34)
LINKEDIN_ACCOUNT = "Medicon Valley Alliance"
LINKEDIN_ACCOUNT_ID = 503123456
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")

# --- visitor design --------------------------------------------------------------

BASE_USERS = 33_632
BASE_SESSIONS = 60_538  # ~1.8 sessions per user
CHUNK_USERS = 110_000  # ~200k sessions per chunk
# Which periods a user visits: 32% come back in a second or third period, so
# per-period unique visitors add up to far more than the campaign's.
PERIOD_PATTERNS = ((0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 1, 2))
PERIOD_PATTERN_P = (0.22, 0.23, 0.23, 0.10, 0.10, 0.04, 0.08)
# source, medium, session_campaign ("utm" = the period's code), share, engagement rate
SOURCES = (
    ("linkedin", "cpc", "utm", 0.27, 0.58),
    ("facebook", "paid", "utm", 0.11, 0.45),
    ("instagram", "paid", "utm", 0.06, 0.40),
    ("google", "cpc", "utm", 0.13, 0.66),
    ("google", "organic", "(organic)", 0.15, 0.70),
    ("bing", "organic", "(organic)", 0.02, 0.68),
    ("(direct)", "(none)", "(direct)", 0.17, 0.62),
    ("mediconvalley.com", "referral", "(referral)", 0.04, 0.72),
    ("lifesciencesweden.se", "referral", "(referral)", 0.02, 0.70),
    ("workindenmark.dk", "referral", "(referral)", 0.02, 0.66),
    ("euraxess.ec.europa.eu", "referral", "(referral)", 0.01, 0.64),
)
LANDING_PAGES = (
    ("/", 0.22), ("/jobs", 0.20), ("/jobs/research-scientist-microbiome", 0.12),
    ("/jobs/bioinformatician", 0.09), ("/jobs/laboratory-technician", 0.07),
    ("/life-in-medicon-valley", 0.10), ("/microbiome-signature", 0.08),
    ("/relocation-guide", 0.08), ("/events/talent-day", 0.04),
)
COUNTRIES = (
    ("Denmark", 0.17), ("Sweden", 0.11), ("Germany", 0.10), ("India", 0.09), ("United Kingdom", 0.05),
    ("Spain", 0.05), ("Italy", 0.05), ("France", 0.04), ("Netherlands", 0.04), ("Poland", 0.04),
    ("United States", 0.04), ("China", 0.03), ("Portugal", 0.02), ("Greece", 0.02), ("Norway", 0.02),
    ("Finland", 0.015), ("Iran", 0.015), ("Brazil", 0.015), ("Turkey", 0.015), ("Pakistan", 0.01),
    ("Romania", 0.01), ("Egypt", 0.01),
)
SESSION_SCHEMA = pa.schema(
    [
        ("event_date", pa.string()),
        ("user_pseudo_id", pa.string()),
        ("ga_session_id", pa.int64()),
        ("session_source", pa.string()),
        ("session_medium", pa.string()),
        ("session_campaign", pa.string()),
        ("landing_page", pa.string()),
        ("country", pa.string()),
        ("engaged_session", pa.int64()),
    ]
)
# user_pseudo_id's first part is a bijection of the user's index (odd
# multiplier modulo 2**33), so ids never collide, at any scale and across
# generate_sample and write_extra_day (which uses indexes from 2**32 up).
_ID_MOD = 1 << 33
_ID_MUL = 5_754_853_343
_ID_ADD = 1_234_567_891
_EXTRA_USERS_BASE = 1 << 32
_EPOCH = date(1970, 1, 1)

# --- hiring design ------------------------------------------------------------------

WINDOW_LAST_JOIN = MSP_END
ATS_ORGS = ("ORG001", "ORG002", "ORG003", "ORG004")
TEMPLATE_ORGS = ("ORG005", "ORG006", "ORG007")
OVERLAP_ORG = "ORG001"  # delivers two ATS exports with overlapping date ranges
CSV_TEMPLATE_ORG = "ORG005"  # also sends a cp1252 .csv version of its template
CSV_TEMPLATE_KEY = f"{CSV_TEMPLATE_ORG}_2022"  # the plan key of the rows in that .csv
H1_2021 = (date(2021, 1, 1), date(2021, 6, 30))


@dataclass(frozen=True)
class HiringPlan:
    """How many applications of each kind one export holds.

    ``ok`` are the counted hires per period (international, attributed, hire
    date inside the window, organisation joined in time); the other kinds are
    the traps next to them.
    """

    ok: tuple[int, int, int] = (0, 0, 0)
    domestic: int = 0
    non_campaign: int = 0
    late: int = 0
    joined_after: int = 0
    not_hired: int = 0


# 104 counted hire rows, 102 distinct candidates (two are hired twice).
HIRING_PLANS = {
    "ORG001": HiringPlan(ok=(10, 8, 12), domestic=6, non_campaign=3, not_hired=170),
    "ORG002": HiringPlan(ok=(9, 8, 7), domestic=6, non_campaign=3, late=2, not_hired=140),
    "ORG003": HiringPlan(ok=(6, 7, 7), domestic=5, non_campaign=3, late=1, not_hired=120),
    "ORG004": HiringPlan(ok=(4, 5, 5), domestic=3, non_campaign=2, late=1, not_hired=80),
    "ORG005": HiringPlan(ok=(3, 3, 0), domestic=2, non_campaign=1, not_hired=30),
    "ORG005_2022": HiringPlan(ok=(0, 0, 4), domestic=1, non_campaign=1, late=1, not_hired=15),
    "ORG006": HiringPlan(ok=(2, 2, 2), domestic=2, non_campaign=2, not_hired=24),
    "ORG007": HiringPlan(joined_after=4, not_hired=12),
}
OVERLAP_NOT_HIRED = 32  # ORG001's 2021H1 non-hired rows; with its 8 P2 hires, 40 rows in both exports

# Template free-text countries, cycled so every spelling appears.
TEMPLATE_COUNTRY_TEXT = (
    ("DE", "Germany"), ("DE", "Tyskland"), ("DE", "DE"), ("IN", "Indien"), ("IN", "India"),
    ("FR", "Frankrike"), ("FR", "Frankrig"), ("ES", "Spanien"), ("PL", "Polen"), ("IT", "Italien"),
    ("CN", "Kina"), ("NL", "Holland"), ("US", "USA"),
)
TEMPLATE_DOMESTIC_TEXT = ("Danmark", "SE", "Sverige", "Denmark", "Danmark")
ATS_INTERNATIONAL = ("DE", "IN", "FR", "ES", "PL", "IT", "CN", "NL", "US", "GB", "PT", "GR", "IR", "BR", "TR", "NO")

FIRST_NAMES = {
    "DK": ("Søren", "Mette", "Lars", "Freja", "Rasmus", "Ida", "Mikkel", "Astrid", "Jens", "Sofie"),
    "SE": ("Åsa", "Johan", "Karin", "Björn", "Linnéa", "Erik", "Maja", "Oskar", "Elin", "Göran"),
    "DE": ("Anna", "Jürgen", "Lena", "Matthias", "Jörg", "Katrin", "Felix", "Sabine"),
    "IN": ("Priya", "Arjun", "Ananya", "Rahul", "Kavya", "Vikram", "Sneha", "Rohan"),
    "FR": ("Renée", "Hélène", "Julien", "Camille", "François", "Élodie", "Mathieu"),
    "ES": ("José", "Lucía", "Mateo", "Inés", "Álvaro", "Carmen", "Sofía"),
    "PL": ("Łukasz", "Agnieszka", "Piotr", "Zofia", "Tomasz", "Katarzyna"),
    "IT": ("Giulia", "Marco", "Chiara", "Luca", "Francesca", "Nicolò"),
    "CN": ("Wei", "Xin", "Jing", "Hao", "Li", "Yan"),
    "NL": ("Daan", "Sanne", "Joost", "Femke", "Bram", "Anouk"),
    "US": ("Emily", "Michael", "Sarah", "David", "Jessica", "Ryan"),
    "GB": ("Oliver", "Charlotte", "Harry", "Amelia", "George", "Emma"),
    "PT": ("João", "Beatriz", "Tiago", "Inês"),
    "GR": ("Nikos", "Eleni", "Giorgos", "Maria"),
    "IR": ("Reza", "Sara", "Amir", "Leila"),
    "BR": ("Lucas", "Fernanda", "Gabriel", "Camila"),
    "TR": ("Emre", "Zeynep", "Mehmet", "Elif"),
    "NO": ("Ola", "Ingrid", "Håkon", "Sigrid"),
}
LAST_NAMES = {
    "DK": ("Jensen", "Nielsen", "Kjærgaard", "Sørensen", "Møller", "Rasmussen", "Østergaard", "Christensen"),
    "SE": ("Lindqvist", "Andersson", "Ström", "Bergström", "Åkesson", "Nilsson", "Håkansson", "Persson"),
    "DE": ("Schmidt", "Müller", "Schneider", "Fischer", "Weiß", "Becker", "Krüger", "Hoffmann"),
    "IN": ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Mehta", "Rao"),
    "FR": ("Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Fontaine"),
    "ES": ("García", "Martínez", "López", "Fernández", "Sánchez", "Muñoz"),
    "PL": ("Kowalski", "Wiśniewska", "Nowak", "Zieliński", "Wójcik", "Lewandowska"),
    "IT": ("Rossi", "Bianchi", "Romano", "Colombo", "Ricci", "Esposito"),
    "CN": ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang"),
    "NL": ("de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit"),
    "US": ("Johnson", "Miller", "Davis", "Wilson", "Anderson", "Taylor"),
    "GB": ("Smith", "Jones", "Williams", "Brown", "Evans", "Walker"),
    "PT": ("Silva", "Santos", "Ferreira", "Pereira"),
    "GR": ("Papadopoulos", "Georgiou", "Nikolaidis", "Dimitriou"),
    "IR": ("Hosseini", "Karimi", "Ahmadi", "Rezaei"),
    "BR": ("Oliveira", "Souza", "Costa", "Almeida"),
    "TR": ("Yılmaz", "Kaya", "Demir", "Şahin"),
    "NO": ("Hansen", "Johansen", "Olsen", "Larsen"),
}
JOBS = (
    ("Research Scientist, Microbiome", "R&D"),
    ("Senior Scientist, Bioinformatics", "Data Science"),
    ("Laboratory Technician", "R&D"),
    ("QA Specialist", "Quality Assurance"),
    ("Clinical Research Associate", "Clinical Operations"),
    ("Data Scientist", "Data Science"),
    ("Process Engineer, Fermentation", "Manufacturing"),
    ("Regulatory Affairs Specialist", "Regulatory Affairs"),
    ("Postdoc, Gut Microbiology", "R&D"),
    ("Medical Writer", "Clinical Operations"),
)
NOT_HIRED_STAGES = (("rejected", 0.50), ("applied", 0.14), ("screening", 0.12), ("interview", 0.14), ("offer", 0.10))
# Fixed archive metadata so the .xlsx files are byte-identical on rerun.
_XLSX_TIME = (2022, 10, 1, 0, 0, 0)
_XLSX_STAMP = "2022-10-01T00:00:00Z"


# =====================================================================================
# Public API
# =====================================================================================


def generate_sample(out_dir: Path, seed: int = 20190101, scale: int = 1, sessions: int | None = None) -> dict:
    """Writes reach/, visitors/, hiring/, reference/ under out_dir.

    Returns a small summary (files written and data rows per file, unique
    visitors, sessions, attributed impressions). Deterministic for a given
    (seed, scale, sessions): byte-identical files on rerun. ``scale``
    multiplies visitor users and sessions; ``sessions`` sets the session
    count directly (users follow in proportion). Nothing else scales.
    """
    out_dir = Path(out_dir)
    n_sessions = sessions if sessions is not None else BASE_SESSIONS * scale
    n_users = max(1, min(n_sessions, round(BASE_USERS * n_sessions / BASE_SESSIONS)))
    rows: dict[str, int] = {}
    for name, count in write_reference(out_dir / "reference").items():
        rows[f"reference/{name}"] = count
    reach_rows, impressions = write_reach(out_dir / "reach", seed)
    rows.update({f"reach/{k}": v for k, v in reach_rows.items()})
    visitor_rows = write_visitors(out_dir / "visitors", seed, n_users, n_sessions)
    rows.update({f"visitors/{k}": v for k, v in visitor_rows.items()})
    rows.update({f"hiring/{k}": v for k, v in write_hiring(out_dir / "hiring", seed).items()})
    return {
        "files": len(rows),
        "rows": rows,
        "unique_visitors": n_users,
        "sessions": n_sessions,
        "impressions_microbiome_signature": impressions,
    }


def write_extra_day(out_dir: Path, day: date, seed: int = 1, sessions: int = 20000) -> list[Path]:
    """Writes one more night's exports for ``day`` into an existing sample folder.

    One LinkedIn reach CSV holding that single day and one visitors .csv.gz
    with that day's sessions, under new file names (named for the day).
    Visitors are new users whose ids cannot collide with the base sample's.
    Used by the benchmark of an incremental night.
    """
    out_dir = Path(out_dir)
    period = _period_for_extra_day(day)
    rng = random.Random(f"extra-reach-{seed}-{day.isoformat()}")
    reach = out_dir / "reach" / f"linkedin_campaign_performance_{day:%Y%m%d}.csv"
    reach.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (label, share) in enumerate(_LINKEDIN_CAMPAIGNS):
        impressions = int(38_000 * share * rng.uniform(0.8, 1.2))
        rows.append(_linkedin_row(rng, day, period, i, label, impressions))
    _write_linkedin(reach, day, day, rows)

    visitors = out_dir / "visitors" / f"sessions_{day:%Y%m%d}.csv.gz"
    visitors.parent.mkdir(parents=True, exist_ok=True)
    n_users = max(1, min(sessions, round(BASE_USERS * sessions / BASE_SESSIONS)))
    if n_users > (1 << 20):
        raise ValueError(f"write_extra_day: at most {1 << 20} users per day, {sessions} sessions asks for {n_users}")
    np_rng = np.random.default_rng([seed, day.toordinal(), 11])
    first_user = _EXTRA_USERS_BASE + (day.toordinal() % 4096) * (1 << 20)
    slot_user = np.arange(n_users, dtype=np.int64)
    counts = _spread_sessions(np_rng, n_users, sessions)
    sess_user = np.repeat(slot_user, counts)
    sess_day = np.full(sessions, (day - _EPOCH).days, dtype=np.int64)
    sess_period = np.zeros(sessions, dtype=np.int64)
    frame = _session_frame(np_rng, first_user, n_users, sess_user, sess_day, sess_period, [period.utm])
    with _gzip_writer(visitors) as gz:
        gz.write(_csv_bytes(frame.drop("_period"), header=True))
    return [reach, visitors]


# =====================================================================================
# Reference
# =====================================================================================


def write_reference(folder: Path) -> dict[str, int]:
    """The campaign team's five reference CSVs; returns data rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "campaigns.csv": (
            ["campaign_id", "name", "start_date", "end_date", "budget_eur", "eu_grant_eur"],
            [[c, n, s.isoformat(), e.isoformat(), b, g] for c, n, s, e, b, g in CAMPAIGNS],
        ),
        "campaign_periods.csv": (
            ["campaign_id", "period", "start_date", "end_date", "utm_campaign"],
            [[p.campaign_id, p.period, p.start.isoformat(), p.end.isoformat(), p.utm] for p in PERIODS],
        ),
        "organisations.csv": (
            ["org_id", "name", "country", "city", "sector", "talent_campaign_joined_on", "established_in_region_on"],
            [list(o) for o in ORGANISATIONS],
        ),
        "kpi_targets.csv": (["campaign_id", "kpi", "period", "target"], [list(t) for t in KPI_TARGETS]),
        "fx_rates.csv": (["currency", "eur_per_unit"], [list(r) for r in FX_RATES]),
    }
    for name, (header, body) in tables.items():
        _write_csv(folder / name, [header, *body], encoding="utf-8")
    return {name: len(body) for name, (_, body) in tables.items()}


# =====================================================================================
# Reach
# =====================================================================================

_LINKEDIN_CAMPAIGNS = (("Lab roles", 0.55), ("Data & bioinformatics", 0.45))
_META_AD_SETS = (("Life scientists EU 25-45", 0.58), ("Lookalike site visitors", 0.42))
_GOOGLE_CAMPAIGNS = (("Jobs", 0.6), ("Relocation", 0.4))


def write_reach(folder: Path, seed: int) -> tuple[dict[str, int], int]:
    """LinkedIn, Meta and Google Ads exports, one per platform and period.

    Returns (data rows per file, impressions attributed to microbiome_signature
    inside its periods). Per-row impressions are drawn with weekday and launch
    effects, then rounded so the attributed total is exactly TOTAL_IMPRESSIONS.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"reach-{seed}")
    totals = _platform_period_totals()
    rows: dict[str, int] = {}
    attributed = 0
    for i, period in enumerate(MSP_PERIODS):
        n = i + 1
        linkedin = _linkedin_rows(rng, period, totals[("linkedin", i)])
        attributed += sum(r["impressions"] for r in linkedin)
        extra = _linkedin_traps(rng, period) if i == 0 else []
        path = folder / f"linkedin_campaign_performance_p{n}.csv"
        _write_linkedin(path, period.start, period.end, sorted(linkedin + extra, key=lambda r: (r["day"], r["order"])))
        rows[path.name] = len(linkedin) + len(extra)

        meta = _meta_rows(rng, period, totals[("meta", i)])
        attributed += sum(r["impressions"] for r in meta)
        path = folder / f"meta_ads_p{n}.csv"
        _write_meta(path, period, meta, thousands=" " if i == 0 else ".")
        rows[path.name] = len(meta)

        google = _google_rows(rng, period, i, totals[("google", i)])
        attributed += sum(r["impressions"] for r in google)
        path = folder / (f"google_ads_p{n}.tsv" if i == 0 else f"google_ads_p{n}.csv")
        _write_google(path, period, google, utf16_tabs=(i == 0))
        rows[path.name] = len(google)

    # The same file delivered twice: the pipeline must load it once.
    copy = folder / "LinkedIn export (copy).csv"
    shutil.copyfile(folder / "linkedin_campaign_performance_p2.csv", copy)
    rows[copy.name] = rows["linkedin_campaign_performance_p2.csv"]
    return rows, attributed


def _platform_period_totals() -> dict[tuple[str, int], int]:
    """Impressions per (platform, period index), summing exactly to TOTAL_IMPRESSIONS."""
    keys = [(p, i) for p in PLATFORM_SHARE for i in range(3)]
    weights = [PLATFORM_SHARE[p] * PERIOD_SHARE[i] for p, i in keys]
    return dict(zip(keys, _allocate(TOTAL_IMPRESSIONS, weights)))


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to weights summing exactly to total (largest remainder)."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    out = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def _day_weights(rng: random.Random, days: list[date], shares: tuple[tuple[str, float], ...]) -> list[float]:
    """Relative impressions per (day, entity): weekends are quieter, launches louder."""
    weights = []
    for k, day in enumerate(days):
        base = (1.0, 1.0, 1.0, 1.0, 0.95, 0.7, 0.65)[day.weekday()] * (1.4 if k < 14 else 1.0)
        for _, share in shares:
            weights.append(base * share * rng.lognormvariate(0.0, 0.18))
    return weights


def _linkedin_rows(rng: random.Random, period: Period, total: int) -> list[dict]:
    """Two campaigns a day; LinkedIn gives no ad sets."""
    days = period.days
    amounts = _allocate(total, _day_weights(rng, days, _LINKEDIN_CAMPAIGNS))
    rows = []
    for k, day in enumerate(days):
        for j, (label, _) in enumerate(_LINKEDIN_CAMPAIGNS):
            rows.append(_linkedin_row(rng, day, period, j, label, amounts[2 * k + j]))
    return rows


def _linkedin_row(rng: random.Random, day: date, period: Period, j: int, label: str, impressions: int) -> dict:
    clicks = _clicks(rng, impressions)
    return {
        "day": day,
        "order": j,
        "group": f"Microbiome Signature Talent {period.start.year}",
        "campaign": f"MSP Talent | {period.utm} | {label}",
        "campaign_id": 187_400_000 + 100 * int(period.utm[-1]) + j,
        "spent": round(impressions * rng.uniform(24.0, 34.0) / 1000, 2),
        "impressions": impressions,
        "clicks": clicks,
        "reach": _reach(rng, impressions),
        "landing": int(clicks * rng.uniform(0.62, 0.93)),
    }


def _linkedin_traps(rng: random.Random, period: Period) -> list[dict]:
    """Rows the pipeline must not count toward the campaign.

    Two warm-up days before period_1 starts (quarantined: date outside every
    period) and an always-on employer-brand campaign three days a week (no
    utm code, so attributed to no campaign).
    """
    rows = [
        _linkedin_row(rng, day, period, 0, "Lab roles", rng.randint(3_000, 6_000))
        for day in (date(2020, 8, 30), date(2020, 8, 31))
    ]
    for day in period.days:
        if day.weekday() in (0, 2, 4):
            impressions = rng.randint(4_000, 9_000)
            clicks = _clicks(rng, impressions)
            rows.append(
                {
                    "day": day,
                    "order": 9,
                    "group": "Employer Brand",
                    "campaign": "Employer Brand Always-On",
                    "campaign_id": 180_000_001,
                    "spent": round(impressions * rng.uniform(18.0, 26.0) / 1000, 2),
                    "impressions": impressions,
                    "clicks": clicks,
                    "reach": _reach(rng, impressions),
                    "landing": int(clicks * rng.uniform(0.6, 0.9)),
                }
            )
    return rows


def _clicks(rng: random.Random, impressions: int) -> int:
    # Kept just inside the 0.4-1.5% CTR band so rounding never leaves it.
    return round(impressions * rng.uniform(0.0042, 0.0148))


def _reach(rng: random.Random, impressions: int) -> int:
    """Platform reach of one row: unique people, so at most the impressions (frequency 1.08-1.9)."""
    return max(1, int(impressions / rng.uniform(1.08, 1.9)))


def _write_linkedin(path: Path, start: date, end: date, rows: list[dict]) -> None:
    """Campaign Manager's Campaign Performance Report: four title lines, US dates, CRLF."""
    titles = [
        ["Campaign Performance Report (in UTC)"],
        [f"Report Start: {_us_date(start)}"],
        [f"Report End: {_us_date(end)}"],
        [f"Account: {LINKEDIN_ACCOUNT} ({LINKEDIN_ACCOUNT_ID})"],
    ]
    header = ["Start Date (in UTC)", "Account Name", "Campaign Group Name", "Campaign Name", "Campaign ID",
              "Currency", "Total Spent", "Impressions", "Clicks", "Reach", "Clicks to Landing Page"]
    body = [
        [_us_date(r["day"]), LINKEDIN_ACCOUNT, r["group"], r["campaign"], r["campaign_id"], "EUR",
         f"{r['spent']:.2f}", r["impressions"], r["clicks"], r["reach"], r["landing"]]
        for r in rows
    ]
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(titles)
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *body])
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def _us_date(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _meta_rows(rng: random.Random, period: Period, total: int) -> list[dict]:
    """One campaign, two ad sets a day, spend in EUR."""
    days = period.days
    amounts = _allocate(total, _day_weights(rng, days, _META_AD_SETS))
    rows = []
    for k, day in enumerate(days):
        for j, (label, _) in enumerate(_META_AD_SETS):
            impressions = amounts[2 * k + j]
            reach = _reach(rng, impressions)
            rows.append(
                {
                    "day": day,
                    "campaign": f"MSP Talent - {period.utm} - Awareness",
                    "ad_set": label,
                    # Meta CPMs for narrow professional audiences: enough that
                    # launch days pass 1,000 EUR and show the thousands separator.
                    "spent": round(impressions * rng.uniform(30.0, 55.0) / 1000, 2),
                    "impressions": impressions,
                    "reach": reach,
                    "frequency": impressions / reach,
                    "clicks": _clicks(rng, impressions),
                }
            )
    return rows


def _write_meta(path: Path, period: Period, rows: list[dict], thousands: str) -> None:
    """Ads Manager with European settings: BOM, ';', decimal comma, space or dot thousands."""
    header = ["Reporting starts", "Reporting ends", "Campaign name", "Ad set name", "Day", "Amount spent (EUR)",
              "Impressions", "Reach", "Frequency", "Link clicks", "Currency"]
    body = [
        [period.start.isoformat(), period.end.isoformat(), r["campaign"], r["ad_set"], r["day"].isoformat(),
         _european(r["spent"], thousands, 2), _european(r["impressions"], thousands, 0),
         _european(r["reach"], thousands, 0), _european(r["frequency"], thousands, 2),
         _european(r["clicks"], thousands, 0), "EUR"]
        for r in rows
    ]
    _write_csv(path, [header, *body], encoding="utf-8-sig", delimiter=";")


def _european(value: float, thousands: str, decimals: int) -> str:
    """1234.56 -> '1 234,56' or '1.234,56'."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", thousands)


def _google_rows(rng: random.Random, period: Period, index: int, total: int) -> list[dict]:
    """Two search campaigns a day, cost in DKK; ``index`` numbers the campaign ids per period."""
    days = period.days
    amounts = _allocate(total, _day_weights(rng, days, _GOOGLE_CAMPAIGNS))
    rows = []
    for k, day in enumerate(days):
        for j, (label, _) in enumerate(_GOOGLE_CAMPAIGNS):
            impressions = amounts[2 * k + j]
            clicks = _clicks(rng, impressions)
            conversions = int(clicks * rng.uniform(0.0, 0.05))
            rows.append(
                {
                    "day": day,
                    "campaign": f"MSP Talent | Search | {period.utm} | {label}",
                    "campaign_id": 13_579_000_000 + 10 * (index + 1) + j,
                    "cost": round(clicks * rng.uniform(10.0, 25.0), 2),
                    "impressions": impressions,
                    "clicks": clicks,
                    "conversions": conversions,
                }
            )
    return rows


def _write_google(path: Path, period: Period, rows: list[dict], utf16_tabs: bool) -> None:
    """Google Ads UI report: two title lines, DKK, US thousands, '--' for none, 'Total:' footers."""
    span = f"{_long_date(period.start)} - {_long_date(period.end)}"
    header = ["Day", "Campaign", "Campaign ID", "Currency code", "Cost", "Impr.", "Clicks", "Conversions"]
    body = [
        [r["day"].isoformat(), r["campaign"], r["campaign_id"], "DKK", f"{r['cost']:,.2f}", f"{r['impressions']:,}",
         f"{r['clicks']:,}", r["conversions"] or "--"]
        for r in rows
    ]
    cost = sum(r["cost"] for r in rows)
    impressions = sum(r["impressions"] for r in rows)
    clicks = sum(r["clicks"] for r in rows)
    conversions = sum(r["conversions"] for r in rows)
    totals = ["--", "--", "DKK", f"{cost:,.2f}", f"{impressions:,}", f"{clicks:,}", conversions]
    footer = [[label, *totals] for label in ("Total: Account", "Total: Search", "Total: Campaigns")]
    lines = [["Campaign report"], [span], header, *body, *footer]
    if utf16_tabs:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter="\t", lineterminator="\r\n").writerows(lines)
        path.write_bytes(b"\xff\xfe" + buffer.getvalue().encode("utf-16-le"))
    else:
        _write_csv(path, lines, encoding="utf-8")


def _long_date(day: date) -> str:
    # Month names from a table, not strftime('%B'), which follows the locale.
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _period_for_extra_day(day: date) -> Period:
    """The period containing day, else the nearest one (a night after the last period still names it)."""
    for p in MSP_PERIODS:
        if p.start <= day <= p.end:
            return p
    return min(MSP_PERIODS, key=lambda p: min(abs((day - p.start).days), abs((day - p.end).days)))


# =====================================================================================
# Visitors
# =====================================================================================


def write_visitors(folder: Path, seed: int, n_users: int, n_sessions: int) -> dict[str, int]:
    """GA4-style session exports, streamed chunk by chunk.

    period_1 goes to sessions_2020.parquet (one row group per chunk), periods
    2 and 3 to sessions_2021.csv.gz. Users are cut into chunks of
    CHUNK_USERS; each chunk gets its exact share of the sessions and its own
    seeded generator, so memory is flat and the output depends only on
    (seed, n_users, n_sessions).
    """
    folder.mkdir(parents=True, exist_ok=True)
    utms = [p.utm for p in MSP_PERIODS]
    parquet_path, csv_path = folder / "sessions_2020.parquet", folder / "sessions_2021.csv.gz"
    written = {parquet_path.name: 0, csv_path.name: 0}
    writer = pq.ParquetWriter(parquet_path, SESSION_SCHEMA, compression="zstd")
    try:
        with _gzip_writer(csv_path) as gz:
            header = True
            for chunk, (first, last) in enumerate(_user_chunks(n_users)):
                share = n_sessions * last // n_users - n_sessions * first // n_users
                rng = np.random.default_rng([seed, 7, chunk])
                sess_user, sess_day, sess_period = _chunk_sessions(rng, last - first, share)
                frame = _session_frame(rng, first, last - first, sess_user, sess_day, sess_period, utms)
                p1 = frame.filter(pl.col("_period") == 0).drop("_period")
                rest = frame.filter(pl.col("_period") != 0).drop("_period")
                if p1.height:
                    writer.write_table(p1.to_arrow().cast(SESSION_SCHEMA))
                    written[parquet_path.name] += p1.height
                if rest.height:
                    gz.write(_csv_bytes(rest, header=header))
                    header = False
                    written[csv_path.name] += rest.height
            if header:  # no period 2/3 sessions at all: still a readable file with its header
                gz.write(_csv_bytes(pl.from_arrow(SESSION_SCHEMA.empty_table()), header=True))
    finally:
        writer.close()
    return written


def _user_chunks(n_users: int) -> list[tuple[int, int]]:
    return [(s, min(s + CHUNK_USERS, n_users)) for s in range(0, n_users, CHUNK_USERS)]


def _chunk_sessions(rng: np.random.Generator, n_users: int, n_sessions: int):
    """(user, day since epoch, period index) of every session of one chunk of users.

    Every user gets one session in each period they visit; the remaining
    sessions go to (user, period) slots with gamma weights, so a few heavy
    returners sit next to many one-visit users.
    """
    patterns = np.zeros((len(PERIOD_PATTERNS), 3), dtype=bool)
    for k, pattern in enumerate(PERIOD_PATTERNS):
        patterns[k, list(pattern)] = True
    member = patterns[rng.choice(len(PERIOD_PATTERNS), size=n_users, p=PERIOD_PATTERN_P)]
    slot_user, slot_period = np.nonzero(member)
    excess = len(slot_user) - n_sessions
    if excess > 0:
        # Only when sessions are barely more than users: drop second and third
        # periods of some users so each still has exactly one session or more.
        later = np.flatnonzero(np.r_[False, slot_user[1:] == slot_user[:-1]])
        keep = np.ones(len(slot_user), dtype=bool)
        keep[later[-excess:]] = False
        slot_user, slot_period = slot_user[keep], slot_period[keep]
    counts = _spread_sessions(rng, len(slot_user), n_sessions)
    sess_user = np.repeat(slot_user.astype(np.int64), counts)
    sess_period = np.repeat(slot_period.astype(np.int64), counts)
    sess_day = np.empty(n_sessions, dtype=np.int64)
    for p, period in enumerate(MSP_PERIODS):
        at = np.flatnonzero(sess_period == p)
        days, prob = _period_day_distribution(period)
        sess_day[at] = rng.choice(days, size=len(at), p=prob)
    return sess_user, sess_day, sess_period


def _spread_sessions(rng: np.random.Generator, n_slots: int, n_sessions: int) -> np.ndarray:
    """Sessions per slot: one each, the rest spread with heavy-tailed weights; sums to n_sessions."""
    extra = n_sessions - n_slots
    counts = np.ones(n_slots, dtype=np.int64)
    if extra > 0:
        weights = rng.gamma(0.6, size=n_slots)
        counts += np.bincount(rng.choice(n_slots, size=extra, p=weights / weights.sum()), minlength=n_slots)
    return counts


def _period_day_distribution(period: Period) -> tuple[np.ndarray, np.ndarray]:
    """Days of a period (days since epoch) and their session probabilities: quieter weekends, a launch bump."""
    days = np.array([(d - _EPOCH).days for d in period.days], dtype=np.int64)
    weekday = (1.0, 1.05, 1.0, 0.95, 0.85, 0.6, 0.65)
    weights = np.array([weekday[d.weekday()] * (1.3 if k < 14 else 1.0) for k, d in enumerate(period.days)])
    return days, weights / weights.sum()


def _session_frame(
    rng: np.random.Generator,
    first_user: int,
    n_users: int,
    sess_user: np.ndarray,
    sess_day: np.ndarray,
    sess_period: np.ndarray,
    utms: list[str],
) -> pl.DataFrame:
    """One GA4-style row per session, in session start order, plus a helper ``_period`` column.

    ``ga_session_id`` is the session's start (unix seconds), as GA4 does,
    made unique per user; ``user_pseudo_id`` is '<random-looking id>.<first
    visit timestamp>'. Country is per user; source, page and engagement per
    session.
    """
    n = len(sess_user)
    # Daytime-heavy start times, kept clear of midnight so nudging a clash
    # by a few seconds never moves a session to another day.
    seconds = np.clip(rng.normal(13 * 3600, 4 * 3600, size=n), 0, 86_000).astype(np.int64)
    start = sess_day * 86_400 + seconds
    order = np.lexsort((start, sess_user))
    sess_user, start, sess_period = sess_user[order], start[order], sess_period[order]
    same_user = np.r_[False, sess_user[1:] == sess_user[:-1]]
    while True:
        clash = same_user & np.r_[False, start[1:] <= start[:-1]]
        if not clash.any():
            break
        start[clash] = start[np.flatnonzero(clash) - 1] + 1
    first_visit = start[np.flatnonzero(~same_user)]  # sorted by user, then start: the first row is the first visit
    user_index = np.arange(n_users, dtype=np.int64) + first_user
    scrambled = (user_index.astype(np.uint64) * np.uint64(_ID_MUL) + np.uint64(_ID_ADD)) % np.uint64(_ID_MOD)
    id_part = 1_000_000_000 + scrambled
    user_country = rng.choice(len(COUNTRIES), size=n_users, p=_probabilities(COUNTRIES))
    source = rng.choice(len(SOURCES), size=n, p=[s[3] for s in SOURCES])
    engaged = (rng.random(n) < np.array([s[4] for s in SOURCES])[source]).astype(np.int64)
    page = rng.choice(len(LANDING_PAGES), size=n, p=_probabilities(LANDING_PAGES))
    campaigns = [utm if s[2] == "utm" else s[2] for s in SOURCES for utm in utms]
    frame = pl.DataFrame(
        {
            "_id": id_part.astype(np.int64)[sess_user],
            "_first": first_visit[sess_user],
            "_country": user_country[sess_user],
            "_start": start,
            "_period": sess_period,
            "_source": source,
            "_page": page,
            "engaged_session": engaged,
        }
    )
    frame = frame.select(
        pl.from_epoch("_start", time_unit="s").dt.strftime("%Y%m%d").alias("event_date"),
        pl.concat_str([pl.col("_id").cast(pl.String), pl.lit("."), pl.col("_first").cast(pl.String)]).alias(
            "user_pseudo_id"
        ),
        pl.col("_start").alias("ga_session_id"),
        _lookup(pl.col("_source"), [s[0] for s in SOURCES]).alias("session_source"),
        _lookup(pl.col("_source"), [s[1] for s in SOURCES]).alias("session_medium"),
        _lookup(pl.col("_source") * len(utms) + pl.col("_period"), campaigns).alias("session_campaign"),
        _lookup(pl.col("_page"), [p[0] for p in LANDING_PAGES]).alias("landing_page"),
        _lookup(pl.col("_country"), [c[0] for c in COUNTRIES]).alias("country"),
        pl.col("engaged_session"),
        pl.col("_period"),
    )
    return frame.sort("ga_session_id", "user_pseudo_id", maintain_order=True)


def _lookup(index: pl.Expr, values: list[str]) -> pl.Expr:
    """Index -> label; generation works on small integers, labels are attached once per chunk."""
    return index.replace_strict(list(range(len(values))), values, return_dtype=pl.String)


def _probabilities(pairs) -> np.ndarray:
    weights = np.array([w for _, w in pairs], dtype=float)
    return weights / weights.sum()


def _csv_bytes(frame: pl.DataFrame, header: bool) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=header)
    return buffer.getvalue()


@contextmanager
def _gzip_writer(path: Path) -> Iterator[gzip.GzipFile]:
    """A gzip stream whose header holds no clock (mtime=0) and no file name, for byte-identical reruns."""
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
        yield gz


# =====================================================================================
# Hiring
# =====================================================================================


@dataclass
class Person:
    first: str
    last: str
    email: str
    country: str


@dataclass
class Application:
    """One application as the generator sees it, before any export layout."""

    org_id: str
    person: Person
    applied: datetime
    changed: datetime
    stage: str
    hire: date | None
    # 'utm:<code>', 'site' or 'newsletter' are attributed to the campaign;
    # 'jobindex', 'linkedin_organic', 'direct', 'referral', 'own_site' are not.
    source: str
    job: int
    email_override: str | None = None  # a differently written e-mail of the same person
    no_email: bool = False
    extra: dict = field(default_factory=dict)


class People:
    """Fake candidates with unique e-mails (example.* domains), names per country."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.emails: set[str] = set()

    def new(self, country: str, cp1252: bool = False) -> Person:
        pool = country if country in FIRST_NAMES else "GB"
        while True:
            first = self.rng.choice(FIRST_NAMES[pool])
            last = self.rng.choice(LAST_NAMES[pool])
            if not cp1252 or _cp1252_safe(first + last):
                break
        stem = f"{_ascii(first)}.{_ascii(last)}".lower().replace(" ", "")
        domain = self.rng.choice(("example.com", "example.org", "example.net"))
        email, n = f"{stem}@{domain}", 1
        while email in self.emails:
            n += 1
            email = f"{stem}{n}@{domain}"
        self.emails.add(email)
        return Person(first, last, email, country)


_ASCII_EXTRA = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ł": "l", "Ł": "L", "ı": "i"}
)


def _ascii(text: str) -> str:
    """E-mail and file-name spelling of a name: 'Søren Kjærgaard' -> 'Soren Kjaergaard'."""
    # Letters NFKD does not decompose into ASCII.
    text = text.translate(_ASCII_EXTRA)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _cp1252_safe(text: str) -> bool:
    try:
        text.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


def write_hiring(folder: Path, seed: int) -> dict[str, int]:
    """ATS exports for four organisations, hiring templates for three; returns rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"hiring-{seed}")
    apps = _hiring_applications(rng)
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


def _hiring_applications(rng: random.Random) -> dict[str, list[Application]]:
    """Every application per export key (org_id, or ORG005_2022 for the .csv template).

    The two candidates hired twice are made here: one at ORG002 then
    ORG003, one at ORG004 then ORG005 (in its 2022 .csv), the second time
    with the e-mail written differently.
    """
    people = People(rng)
    apps: dict[str, list[Application]] = {}
    for key, plan in HIRING_PLANS.items():
        org_id = key.split("_")[0]
        apps[key] = _plan_applications(rng, people, key, org_id, plan)
    _hire_twice(apps["ORG002"], apps["ORG003"], period=2, variant=lambda e: "  " + e.title() + " ")
    _hire_twice(apps["ORG004"], apps[CSV_TEMPLATE_KEY], period=2, variant=lambda e: e.upper())
    for key in apps:
        apps[key].sort(key=lambda a: a.applied)
    return apps


def _hire_twice(first_org: list[Application], second_org: list[Application], period: int, variant) -> None:
    """Makes the second org's last counted hire in ``period`` the same person as a counted hire of the first org.

    The person is one a template can spell (its country has a template
    spelling, its name fits cp1252), since the second hire may be reported
    in the cp1252 template.
    """
    spelled = {code for code, _ in TEMPLATE_COUNTRY_TEXT}
    first = next(
        a
        for a in first_org
        if a.extra.get("kind") == "ok" and a.person.country in spelled and _cp1252_safe(a.person.first + a.person.last)
    )
    second = [a for a in second_org if a.extra.get("kind") == "ok" and a.extra.get("period") == period][-1]
    second.person = first.person
    second.email_override = variant(first.person.email)
    second.no_email = False


def _plan_applications(
    rng: random.Random, people: People, key: str, org_id: str, plan: HiringPlan
) -> list[Application]:
    """All applications of one export key, following its HiringPlan.

    Counted hires apply inside a period and are hired 3-16 weeks later; each
    trap breaks exactly one condition of the international-hires rule
    (domestic resident, non-campaign source, hire after the window,
    organisation joined too late), so it tests that condition alone.
    """
    template = org_id in TEMPLATE_ORGS
    # Its HR writes candidate names into the template, and one of its exports is cp1252.
    cp1252 = org_id == CSV_TEMPLATE_ORG
    out: list[Application] = []

    def person(domestic: bool) -> Person:
        if domestic:
            return people.new(rng.choice(("DK", "SE")), cp1252)
        if template:
            code, _ = TEMPLATE_COUNTRY_TEXT[len(out) % len(TEMPLATE_COUNTRY_TEXT)]
            return people.new(code, cp1252)
        return people.new(rng.choice(ATS_INTERNATIONAL), cp1252)

    for p, count in enumerate(plan.ok):
        for _ in range(count):
            applied, hire = _hire_dates(rng, key, org_id, p)
            out.append(_hired(rng, org_id, person(False), applied, hire, f"utm:{MSP_PERIODS[p].utm}", "ok", p))
    for _ in range(plan.joined_after):
        p = rng.randrange(3)
        applied, hire = _hire_dates(rng, key, org_id, p)
        out.append(_hired(rng, org_id, person(False), applied, hire, f"utm:{MSP_PERIODS[p].utm}", "joined_after", p))
    for _ in range(plan.domestic):
        p = 2 if key.endswith("_2022") else rng.choice((0, 2) if org_id == OVERLAP_ORG else (0, 1, 2))
        applied, hire = _hire_dates(rng, key, org_id, p)
        out.append(_hired(rng, org_id, person(True), applied, hire, f"utm:{MSP_PERIODS[p].utm}", "domestic", p))
    for _ in range(plan.non_campaign):
        p = 2 if key.endswith("_2022") else rng.choice((0, 2) if org_id == OVERLAP_ORG else (0, 1, 2))
        applied, hire = _hire_dates(rng, key, org_id, p)
        source = "referral" if template else rng.choice(("jobindex", "linkedin_organic"))
        out.append(_hired(rng, org_id, person(False), applied, hire, source, "non_campaign", p))
    for _ in range(plan.late):
        # Stale campaign links still bring applicants in summer 2022; they
        # start after the window closed.
        applied = _random_day(rng, date(2022, 7, 1), date(2022, 8, 31))
        hire = _random_day(rng, max(applied + timedelta(days=21), date(2022, 10, 3)), applied + timedelta(days=112))
        source = rng.choice(("utm:msp_talent_p3", "newsletter"))
        out.append(_hired(rng, org_id, person(False), applied, hire, source, "late", None))
    out.extend(_not_hired(rng, people, key, org_id, plan.not_hired, template, cp1252, len(out)))
    if template:
        _template_quirks(rng, key, out)
    return out


def _hire_dates(rng: random.Random, key: str, org_id: str, p: int) -> tuple[date, date]:
    """Application day inside period p, hire 3-16 weeks later, within each export's own constraints."""
    period = MSP_PERIODS[p]
    first, last = period.start, period.end
    if org_id == OVERLAP_ORG and p == 1:
        # These rows sit in both of ORG001's exports; the earlier one was
        # taken on 2021-06-30, so the hire must already have happened.
        last = date(2021, 4, 30)
        applied = _random_day(rng, first, last)
        return applied, _random_day(rng, applied + timedelta(days=21), min(applied + timedelta(days=112), H1_2021[1]))
    if key.endswith("_2022"):
        # The 2022 template reports hires made in 2022.
        applied = _random_day(rng, date(2021, 10, 1), last)
        earliest = max(applied + timedelta(days=21), date(2022, 1, 3))
        return applied, _random_day(rng, earliest, applied + timedelta(days=112))
    applied = _random_day(rng, first, last)
    return applied, _random_day(rng, applied + timedelta(days=21), applied + timedelta(days=112))


def _hired(rng, org_id, person, applied: date, hire: date, source, kind, period) -> Application:
    return Application(
        org_id=org_id,
        person=person,
        applied=_at(rng, applied),
        changed=_at(rng, hire),
        stage="hired",
        hire=hire,
        source=source,
        job=rng.randrange(len(JOBS)),
        extra={"kind": kind, "period": period},
    )


def _not_hired(rng, people, key, org_id, count, template, cp1252, offset) -> list[Application]:
    """Applications that end in any stage but hired; 85% inside a period, ~85% attributed."""
    out = []
    overlap = OVERLAP_NOT_HIRED if org_id == OVERLAP_ORG else 0
    stages, weights = zip(*NOT_HIRED_STAGES)
    for i in range(count):
        in_h1 = i < overlap
        applied, p = _not_hired_day(rng, key, org_id, in_h1)
        stage = rng.choices(stages, weights)[0]
        changed = applied + timedelta(days=0 if stage == "applied" else rng.randint(2, 45))
        if in_h1:
            changed = min(changed, H1_2021[1])
        applied_at = _at(rng, applied)
        changed_at = applied_at if stage == "applied" else _at(rng, changed)
        attributed = rng.random() < (0.9 if p is not None else 0.6)
        if attributed:
            if p is not None and rng.random() < 0.85:
                source = f"utm:{MSP_PERIODS[p].utm}"
            else:
                source = rng.choice(("site", "newsletter"))
        else:
            source = rng.choice(("referral", "own_site") if template else ("jobindex", "linkedin_organic", "direct"))
        if template:
            code, _ = TEMPLATE_COUNTRY_TEXT[(offset + i) % len(TEMPLATE_COUNTRY_TEXT)]
            country = code if rng.random() < 0.8 else rng.choice(("DK", "SE"))
        else:
            country = rng.choice(ATS_INTERNATIONAL) if rng.random() < 0.75 else rng.choice(("DK", "SE"))
        out.append(
            Application(
                org_id=org_id,
                person=people.new(country, cp1252),
                applied=applied_at,
                changed=changed_at,
                stage=stage,
                hire=None,
                source=source,
                job=rng.randrange(len(JOBS)),
                extra={"kind": "not_hired", "period": p},
            )
        )
    return out


_GAPS = (
    (date(2020, 7, 1), date(2020, 8, 31)),
    (date(2020, 12, 1), date(2021, 2, 28)),
    (date(2021, 6, 1), date(2021, 8, 31)),
    (date(2021, 12, 1), date(2022, 6, 30)),
)


def _not_hired_day(rng: random.Random, key: str, org_id: str, in_h1: bool) -> tuple[date, int | None]:
    """Application day of a non-hired row and its period index (None between periods)."""
    if in_h1:
        # ORG001's rows in both exports: created 2021-01..05, settled by 2021-06-30.
        if rng.random() < 0.8:
            return _random_day(rng, MSP_PERIODS[1].start, MSP_PERIODS[1].end - timedelta(days=10)), 1
        return _random_day(rng, date(2021, 1, 4), date(2021, 2, 28)), None
    if key.endswith("_2022"):
        return _random_day(rng, date(2022, 1, 3), date(2022, 6, 30)), None
    if org_id == OVERLAP_ORG:
        # ORG001's exports cover 2020H2-2021: keep its other rows out of 2021H1.
        periods = (0, 2)
        gaps = (
            _GAPS[0],
            (date(2020, 12, 1), date(2020, 12, 31)),
            (date(2021, 7, 1), date(2021, 8, 31)),
            (date(2021, 12, 1), date(2021, 12, 31)),
        )
    else:
        periods, gaps = (0, 1, 2), _GAPS
    if rng.random() < 0.85:
        p = rng.choice(periods)
        return _random_day(rng, MSP_PERIODS[p].start, MSP_PERIODS[p].end), p
    start, end = rng.choice(gaps)
    return _random_day(rng, start, end), None


def _template_quirks(rng: random.Random, key: str, apps: list[Application]) -> None:
    """Hand-filled template habits: a few rows without e-mail, one unmappable country."""
    candidates = [a for a in apps if a.extra.get("kind") in ("ok", "not_hired", "joined_after")]
    for a in rng.sample(candidates, k=min(len(candidates), 3 if key != CSV_TEMPLATE_KEY else 1)):
        a.no_email = True
    if key == "ORG006":
        target = next(a for a in apps if a.extra.get("kind") == "not_hired")
        target.extra["country_text"] = "Scandinavia"  # maps to no country: quarantined, never guessed


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _at(rng: random.Random, day: date) -> datetime:
    """A working-hours moment on day (UTC, whole minutes)."""
    return datetime(day.year, day.month, day.day, rng.randint(6, 21), rng.randrange(0, 60, 1), 0)


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
    _write_csv(path, [_ATS_HEADER, *body], encoding="utf-8")


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
    path.write_bytes(_reproducible_zip(buffer.getvalue()))


def _typed_date(rng: random.Random, day: date | None):
    """A template date as HR enters it: ISO, dd-mm-yyyy, dd.mm.yyyy text, or a real Excel date cell."""
    if day is None:
        return None
    style = rng.randrange(4)
    if style == 3:
        return day  # a real date cell
    return (day.isoformat(), day.strftime("%d-%m-%Y"), day.strftime("%d.%m.%Y"))[style]


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrites an .xlsx with fixed entry times and document timestamps (openpyxl stamps the clock)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = rb"\g<1>" + _XLSX_STAMP.encode() + rb"\g<3>"
                payload = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(<)", stamp, payload)
            entry = zipfile.ZipInfo(info.filename, date_time=_XLSX_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, payload)
    return out.getvalue()


def _write_template_csv(path: Path, apps: list[Application]) -> None:
    """The same template saved by Excel as 'CSV (semicolon)' on a Danish Windows: cp1252, ';', dd.mm.yyyy."""
    _domestic_texts(apps)
    body = []
    for i, a in enumerate(apps):
        values = _template_values(a, i, "HMC")
        values["Application date"] = values["Application date"].strftime("%d.%m.%Y")
        values["Hire date"] = values["Hire date"].strftime("%d.%m.%Y") if values["Hire date"] else ""
        body.append([values[c] for c in _TEMPLATE_HEADER])
    _write_csv(path, [_TEMPLATE_HEADER, *body], encoding="cp1252", delimiter=";", lineterminator="\r\n")


def _slug(name: str) -> str:
    """File-name slug of an organisation: ASCII, lower case, no legal form."""
    name = re.sub(r"\b(A/S|ApS|AB)$", "", name).strip()
    return re.sub(r"[^a-z0-9]+", "_", _ascii(name).lower()).strip("_")


# =====================================================================================
# Shared
# =====================================================================================


def _write_csv(path: Path, rows: list[list], encoding: str, delimiter: str = ",", lineterminator: str = "\n") -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
