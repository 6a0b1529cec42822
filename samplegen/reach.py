"""Ad platform exports (reach/): LinkedIn Campaign Manager, Meta Ads Manager and Google Ads, in their own layouts.

LinkedIn: four title lines, US dates, CRLF. Meta: European settings (BOM,
``;``, decimal comma, space or dot thousands). Google: title lines, DKK, US
thousands, ``--`` for none, ``Total:`` footers, one export in UTF-16 with
tabs. Next to the counted rows sit the traps (warm-up days outside every
period, an always-on campaign without a utm code, the same file delivered
twice).
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from datetime import date
from pathlib import Path

from samplegen.files import write_csv
from samplegen.world import MSP_PERIODS, Period, extra_reach_rng, period_for_day, reach_rng

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
    rng = reach_rng(seed)
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


def write_reach_day(folder: Path, day: date, seed: int) -> Path:
    """One more night's LinkedIn export, holding that single day, named for the day."""
    period = period_for_day(day)
    rng = extra_reach_rng(seed, day)
    path = folder / f"linkedin_campaign_performance_{day:%Y%m%d}.csv"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (label, share) in enumerate(_LINKEDIN_CAMPAIGNS):
        impressions = int(38_000 * share * rng.uniform(0.8, 1.2))
        rows.append(_linkedin_row(rng, day, period, i, label, impressions))
    _write_linkedin(path, day, day, rows)
    return path


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


def _daily_rows(rng: random.Random, period: Period, total: int, entities, row) -> list[dict]:
    """One row per day of the period and entity (campaign or ad set), in that order.

    The impressions of all rows sum exactly to total; ``row(day, j, label,
    impressions)`` makes the row of entity j.
    """
    days = period.days
    amounts = _allocate(total, _day_weights(rng, days, entities))
    rows = []
    for k, day in enumerate(days):
        for j, (label, _) in enumerate(entities):
            rows.append(row(day, j, label, amounts[len(entities) * k + j]))
    return rows


def _linkedin_rows(rng: random.Random, period: Period, total: int) -> list[dict]:
    """Two campaigns a day; LinkedIn gives no ad sets."""
    return _daily_rows(
        rng, period, total, _LINKEDIN_CAMPAIGNS,
        lambda day, j, label, impressions: _linkedin_row(rng, day, period, j, label, impressions),
    )


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

    def row(day: date, j: int, label: str, impressions: int) -> dict:
        reach = _reach(rng, impressions)
        return {
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

    return _daily_rows(rng, period, total, _META_AD_SETS, row)


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
    write_csv(path, [header, *body], encoding="utf-8-sig", delimiter=";")


def _european(value: float, thousands: str, decimals: int) -> str:
    """1234.56 -> '1 234,56' or '1.234,56'."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", thousands)


def _google_rows(rng: random.Random, period: Period, index: int, total: int) -> list[dict]:
    """Two search campaigns a day, cost in DKK; ``index`` numbers the campaign ids per period."""

    def row(day: date, j: int, label: str, impressions: int) -> dict:
        clicks = _clicks(rng, impressions)
        conversions = int(clicks * rng.uniform(0.0, 0.05))
        return {
            "day": day,
            "campaign": f"MSP Talent | Search | {period.utm} | {label}",
            "campaign_id": 13_579_000_000 + 10 * (index + 1) + j,
            "cost": round(clicks * rng.uniform(10.0, 25.0), 2),
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
        }

    return _daily_rows(rng, period, total, _GOOGLE_CAMPAIGNS, row)


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
        write_csv(path, lines, encoding="utf-8")


def _long_date(day: date) -> str:
    # Month names from a table, not strftime('%B'), which follows the locale.
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
