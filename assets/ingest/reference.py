"""Reference data from the campaign team: campaigns, periods, organisations, targets, FX.

Also the attribution rules every source shares: which campaign a text names,
which period a date falls in, which organisation a name or id means, and
which country a free-text country of residence is.
"""

from __future__ import annotations

import csv
import gettext
import io
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import polars as pl

from assets.ingest.common import RejectedFile, decode

REFERENCE_FILES: dict[str, dict[str, pl.DataType]] = {
    "campaigns": {
        "campaign_id": pl.String,
        "name": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "budget_eur": pl.Float64,
        "eu_grant_eur": pl.Float64,
    },
    "campaign_periods": {
        "campaign_id": pl.String,
        "period": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "utm_campaign": pl.String,
    },
    "organisations": {
        "org_id": pl.String,
        "name": pl.String,
        "country": pl.String,
        "city": pl.String,
        "sector": pl.String,
        "talent_campaign_joined_on": pl.Date,
        "established_in_region_on": pl.Date,
    },
    "kpi_targets": {"campaign_id": pl.String, "kpi": pl.String, "period": pl.String, "target": pl.Float64},
    "fx_rates": {"currency": pl.String, "eur_per_unit": pl.Float64},
}
OPTIONAL_REFERENCE = {"fx_rates"}


def read_reference(folder: Path, with_lines: bool = False) -> dict[str, pl.DataFrame]:
    """Reads every reference CSV strictly: a bad cell rejects the file with its line and column.

    ``with_lines`` adds ``source_file`` and ``line_number`` to each frame (for the reference suite).
    """
    frames = {}
    for name, schema in REFERENCE_FILES.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            if name in OPTIONAL_REFERENCE:
                lines = {"source_file": pl.String, "line_number": pl.Int64} if with_lines else {}
                frames[name] = pl.DataFrame(schema={**schema, **lines})
                continue
            raise RejectedFile(path, None, None, "required reference file is missing")
        text, _encoding = decode(path, path.read_bytes())
        try:
            raw = pl.read_csv(io.StringIO(text), infer_schema=False).with_row_index("line", offset=2)
        except pl.exceptions.PolarsError as exc:
            # Polars names neither line nor column; find the first ragged line ourselves.
            raise RejectedFile(path, *_ragged_line(text), f"not a valid CSV: {str(exc).splitlines()[0]}") from exc
        missing = [c for c in schema if c not in raw.columns]
        if missing:
            raise RejectedFile(path, 1, missing[0], f"required column(s) {missing} missing")
        # Hand-edited files end in blank lines; they are not rows.
        raw = raw.filter(pl.any_horizontal(pl.col(c).str.strip_chars().fill_null("") != "" for c in schema))
        key = next(iter(schema))
        empty_key = raw.filter(pl.col(key).str.strip_chars().fill_null("") == "")
        if empty_key.height:
            raise RejectedFile(path, empty_key["line"][0], key, f"{key} is empty")
        out = {}
        for col, dtype in schema.items():
            values = raw[col].str.strip_chars()
            values = values.replace("", None)
            cast = values.str.to_date("%Y-%m-%d", strict=False) if dtype == pl.Date else values.cast(dtype, strict=False)
            bad = raw.filter(values.is_not_null() & cast.is_null())
            if bad.height:
                row = bad.row(0, named=True)
                raise RejectedFile(path, row["line"], col, f"cannot read {row[col]!r} as {dtype}")
            out[col] = cast
        if with_lines:
            out["source_file"] = pl.Series([path.name] * raw.height, dtype=pl.String)
            out["line_number"] = raw["line"].cast(pl.Int64)
        frames[name] = pl.DataFrame(out)
    return frames


def _ragged_line(text: str) -> tuple[int | None, str | None]:
    rows = list(csv.reader(io.StringIO(text)))
    width = len(rows[0]) if rows else 0
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != width:
            return number, None
    return None, None


@dataclass(frozen=True)
class Period:
    campaign_id: str
    period: str
    start_date: date
    end_date: date
    utm_campaign: str


class Attribution:
    """Which campaign a text names, which period a date is in, which org a name means."""

    def __init__(self, reference: dict[str, pl.DataFrame]):
        self.campaigns = {r["campaign_id"]: r for r in reference["campaigns"].iter_rows(named=True)}
        self.periods: dict[str, list[Period]] = {}
        for r in reference["campaign_periods"].sort("start_date").iter_rows(named=True):
            self.periods.setdefault(r["campaign_id"], []).append(Period(**r))
        # Most specific pattern first, so 'msp_talent_p2' wins over a campaign name.
        patterns: list[tuple[str, str]] = []
        for cid, c in self.campaigns.items():
            patterns.append((cid.lower(), cid))
            if c["name"]:
                patterns.append((c["name"].lower(), cid))
            for p in self.periods.get(cid, []):
                if p.utm_campaign:
                    patterns.append((p.utm_campaign.lower(), cid))
        self.patterns = sorted(patterns, key=lambda t: -len(t[0]))
        self.orgs_by_key: dict[str, str] = {}
        for r in reference["organisations"].iter_rows(named=True):
            self.orgs_by_key[r["org_id"].lower()] = r["org_id"]
            self.orgs_by_key[" ".join(r["name"].lower().split())] = r["org_id"]
        self.fx = {r["currency"].upper(): r["eur_per_unit"] for r in reference["fx_rates"].iter_rows(named=True)}
        self.fx.setdefault("EUR", 1.0)

    def campaign_for(self, *texts: str | None) -> str | None:
        joined = " ".join(t for t in texts if t).lower()
        if not joined:
            return None
        for pattern, cid in self.patterns:
            if pattern in joined:
                return cid
        return None

    def period_for(self, campaign_id: str | None, day: date | None) -> str | None:
        if campaign_id is None or day is None:
            return None
        for p in self.periods.get(campaign_id, []):
            if p.start_date <= day <= p.end_date:
                return p.period
        return None

    def campaign_by_window(self, day: date) -> str | None:
        for cid, c in self.campaigns.items():
            if c["start_date"] <= day <= c["end_date"]:
                return cid
        return None

    def org_for(self, text: str | None) -> str | None:
        if not text:
            return None
        return self.orgs_by_key.get(" ".join(text.lower().split()))


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Country name or code -> ISO alpha-2, in English, Danish and Swedish (pycountry's data)."""
    import pycountry

    names: dict[str, str] = {}
    translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang]) for lang in ("da", "sv")]
    for c in pycountry.countries:
        english = [c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)]
        for n in english:
            if n:
                names[n.lower()] = c.alpha_2
                for t in translations:
                    names[t.gettext(n).lower()] = c.alpha_2
        names[c.alpha_2.lower()] = c.alpha_2
        names[c.alpha_3.lower()] = c.alpha_2
    # Names people write that the ISO tables spell otherwise.
    for alias, code in {"holland": "NL", "usa": "US", "uk": "GB", "england": "GB", "great britain": "GB"}.items():
        names.setdefault(alias, code)
    return names


def country_code(text: str | None) -> str | None:
    """ISO alpha-2 for a code or an English/Danish/Swedish name; None when nothing matches (never a guess)."""
    if text is None:
        return None
    key = " ".join(str(text).strip().lower().split())
    return _country_names().get(key)
