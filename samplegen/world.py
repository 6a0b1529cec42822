"""The deterministic campaign world every export is drawn from.

Campaigns, their talent-campaign periods, the organisations and the KPI
targets (the reference files the campaign team sends, see ``reference``),
the candidates' names and e-mails, calendar helpers and the seeds: one
generator per source, derived from the run's seed, so every source's bytes
depend only on the arguments and never on the order sources are written in.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

# The bundled sample in data/raw is generate_sample(seed=DEFAULT_SEED).
DEFAULT_SEED = 20190101

# --- campaigns, periods, organisations, targets (the reference files) ---------------------

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

# The team's channel grouping (reference/channel_rules.csv; sql/attribution.sql channel_of): the first
# rule by rule_order whose source_pattern the source contains and whose medium_pattern the whole
# medium matches (regular expressions, lower case; empty matches anything). An ad platform is its
# channel only for paid media: an unpaid visit from linkedin.com is a referral, as GA groups it.
_PAID = "cpc|ppc|paid|paidsocial|paid_social|paid-social|cpm|display"
CHANNEL_RULES_HEADER = ["rule_order", "channel", "source_pattern", "medium_pattern", "note"]
CHANNEL_RULES = [
    (10, "linkedin", "linkedin|lnkd", _PAID, "LinkedIn ads"),
    (20, "meta", r"facebook|instagram|messenger|fbclid|\bmeta\b|\bfb\b|\big\b", _PAID,
     "Meta ads (Facebook, Instagram, Messenger)"),
    (30, "google_ads", "google|youtube", "cpc|ppc|paid|cpm|display", "Google Ads (search and YouTube)"),
    (40, "organic", "", "organic", "unpaid search"),
    (50, "direct", r"^$|^\(direct\)$", "", "no source"),
    (60, "direct", "", r"|\(none\)|none", "no medium"),
    (70, "referral", "", "", "any other site, and unpaid visits from the ad platforms"),
]

# --- seeds: one stream per source ------------------------------------------------------


def reach_rng(seed: int) -> random.Random:
    return random.Random(f"reach-{seed}")


def hiring_rng(seed: int) -> random.Random:
    return random.Random(f"hiring-{seed}")


def visitors_rng(seed: int, chunk: int) -> np.random.Generator:
    """One generator per chunk of users, so a chunk's sessions do not depend on the chunks before it."""
    return np.random.default_rng([seed, 7, chunk])


def extra_reach_rng(seed: int, day: date) -> random.Random:
    return random.Random(f"extra-reach-{seed}-{day.isoformat()}")


def extra_visitors_rng(seed: int, day: date) -> np.random.Generator:
    return np.random.default_rng([seed, day.toordinal(), 11])


# --- calendar -------------------------------------------------------------------------------


def period_for_day(day: date) -> Period:
    """The period containing day, else the nearest one (a night after the last period still names it)."""
    for p in MSP_PERIODS:
        if p.start <= day <= p.end:
            return p
    return min(MSP_PERIODS, key=lambda p: min(abs((day - p.start).days), abs((day - p.end).days)))


def random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def moment_on(rng: random.Random, day: date) -> datetime:
    """A working-hours moment on day (UTC, whole minutes)."""
    return datetime(day.year, day.month, day.day, rng.randint(6, 21), rng.randrange(0, 60, 1), 0)


# --- candidates -----------------------------------------------------------------------------

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


@dataclass
class Person:
    first: str
    last: str
    email: str
    country: str


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
            if not cp1252 or cp1252_safe(first + last):
                break
        stem = f"{ascii_spelling(first)}.{ascii_spelling(last)}".lower().replace(" ", "")
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


def ascii_spelling(text: str) -> str:
    """E-mail and file-name spelling of a name: 'Søren Kjærgaard' -> 'Soren Kjaergaard'."""
    # Letters NFKD does not decompose into ASCII.
    text = text.translate(_ASCII_EXTRA)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def cp1252_safe(text: str) -> bool:
    try:
        text.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False
