"""The organisations' hiring as the generator plans it, before any export layout.

Which organisation hires whom, from which source, when: the counted
international hires per period and, next to them, one trap per condition of
the international-hires rule (domestic resident, non-campaign source, hire
after the window, organisation joined too late), plus the applications that
end in any other stage. ``hiring`` writes them in the ATS and template
layouts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from samplegen.world import MSP_PERIODS, People, Person, cp1252_safe, moment_on, random_day

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
ATS_INTERNATIONAL = ("DE", "IN", "FR", "ES", "PL", "IT", "CN", "NL", "US", "GB", "PT", "GR", "IR", "BR", "TR", "NO")

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


def hiring_applications(rng: random.Random) -> dict[str, list[Application]]:
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
        if a.extra.get("kind") == "ok" and a.person.country in spelled and cp1252_safe(a.person.first + a.person.last)
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
        applied = random_day(rng, date(2022, 7, 1), date(2022, 8, 31))
        hire = random_day(rng, max(applied + timedelta(days=21), date(2022, 10, 3)), applied + timedelta(days=112))
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
        applied = random_day(rng, first, last)
        return applied, random_day(rng, applied + timedelta(days=21), min(applied + timedelta(days=112), H1_2021[1]))
    if key.endswith("_2022"):
        # The 2022 template reports hires made in 2022.
        applied = random_day(rng, date(2021, 10, 1), last)
        earliest = max(applied + timedelta(days=21), date(2022, 1, 3))
        return applied, random_day(rng, earliest, applied + timedelta(days=112))
    applied = random_day(rng, first, last)
    return applied, random_day(rng, applied + timedelta(days=21), applied + timedelta(days=112))


def _hired(rng, org_id, person, applied: date, hire: date, source, kind, period) -> Application:
    return Application(
        org_id=org_id,
        person=person,
        applied=moment_on(rng, applied),
        changed=moment_on(rng, hire),
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
        applied_at = moment_on(rng, applied)
        changed_at = applied_at if stage == "applied" else moment_on(rng, changed)
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
            return random_day(rng, MSP_PERIODS[1].start, MSP_PERIODS[1].end - timedelta(days=10)), 1
        return random_day(rng, date(2021, 1, 4), date(2021, 2, 28)), None
    if key.endswith("_2022"):
        return random_day(rng, date(2022, 1, 3), date(2022, 6, 30)), None
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
        return random_day(rng, MSP_PERIODS[p].start, MSP_PERIODS[p].end), p
    start, end = rng.choice(gaps)
    return random_day(rng, start, end), None


def _template_quirks(rng: random.Random, key: str, apps: list[Application]) -> None:
    """Hand-filled template habits: a few rows without e-mail, one unmappable country."""
    candidates = [a for a in apps if a.extra.get("kind") in ("ok", "not_hired", "joined_after")]
    for a in rng.sample(candidates, k=min(len(candidates), 3 if key != CSV_TEMPLATE_KEY else 1)):
        a.no_email = True
    if key == "ORG006":
        target = next(a for a in apps if a.extra.get("kind") == "not_hired")
        target.extra["country_text"] = "Scandinavia"  # maps to no country: quarantined, never guessed
