"""Benchmark baseline: the kpi_scorecard results as an analyst would compute them with pandas.

    python bench/baseline_pandas.py RAW_DIR --out kpis.json

One straightforward script from the raw exports to one row per campaign x KPI x period with the
published ``result``: read every file with pandas (``read_csv`` with the right encoding and
delimiter, ``read_excel`` for templates, ``read_parquet``), normalise the three reach layouts and
the two hiring layouts, attribute, de-duplicate (latest delivery wins: files in modification-time,
then name order) and count. No ledger, quarantine table, checks or Dagster; a row the pipeline
would quarantine is simply not counted. Rules: /work/shared/data-contract.md and the README.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pandas as pd

EMPTY = {"", "--", "-", "n/a", "null", "none"}
STAGES = {"applied", "screening", "interview", "offer", "hired", "rejected"}
ISO_CODES = set(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA "
    "CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA "
    "GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP "
    "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS "
    "MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS "
    "RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW "
    "TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW".split()
)
# Names in English, Danish and Swedish of the countries in the exports (ISO codes are accepted as such).
COUNTRY_NAMES = {
    "denmark": "DK", "danmark": "DK", "sweden": "SE", "sverige": "SE", "norway": "NO", "norge": "NO",
    "germany": "DE", "tyskland": "DE", "india": "IN", "indien": "IN", "france": "FR", "frankrig": "FR",
    "frankrike": "FR", "spain": "ES", "spanien": "ES", "poland": "PL", "polen": "PL", "italy": "IT",
    "italien": "IT", "china": "CN", "kina": "CN", "netherlands": "NL", "holland": "NL", "nederländerna": "NL",
    "nederlandene": "NL", "united states": "US", "usa": "US", "united kingdom": "GB", "uk": "GB",
    "storbritannien": "GB", "portugal": "PT", "greece": "GR", "grækenland": "GR", "grekland": "GR", "iran": "IR",
    "brazil": "BR", "brasilien": "BR", "turkey": "TR", "tyrkiet": "TR", "turkiet": "TR",
}
REACH_MARKERS = {"start date (in utc)": "linkedin", "reporting starts": "meta", "impr.": "google_ads"}
HIRING_MARKERS = {"candidate_email": "ats", "candidate reference": "template"}


# --- reading ---------------------------------------------------------------------------------


def files_in(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Landing order: oldest first, the name breaks ties (later deliveries win duplicates)."""
    found = [p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")
             and p.name.lower().endswith(suffixes)]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def encoding_of(path: Path) -> str:
    head = path.read_bytes()[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        path.read_text(encoding="utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def read_export(path: Path, markers: dict[str, str]) -> tuple[str, pd.DataFrame]:
    """(layout, all-string frame): the header is the first line naming a layout's marker column."""
    encoding = encoding_of(path)
    lines = path.read_text(encoding=encoding).splitlines()
    for i, line in enumerate(lines[:11]):
        for marker, layout in markers.items():
            if marker in line.lower():
                sep = max((",", ";", "\t"), key=line.count)
                frame = pd.read_csv(path, skiprows=i, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
                frame.columns = [c.replace("\ufeff", "").strip() for c in frame.columns]
                return layout, frame
    raise SystemExit(f"{path}: no known header")


def number(series: pd.Series, decimal: str = ".") -> pd.Series:
    text = series.fillna("").str.strip().str.replace("\u00a0", "").str.replace(" ", "").str.replace("'", "")
    text = text.str.replace("." if decimal == "," else ",", "", regex=False)
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text.where(~text.str.lower().isin(EMPTY)), errors="coerce")


# --- attribution -----------------------------------------------------------------------------


class Reference:
    def __init__(self, folder: Path):
        dates = {"parse_dates": ["start_date", "end_date"]}
        self.campaigns = pd.read_csv(folder / "campaigns.csv", dtype={"campaign_id": str}, **dates)
        self.periods = pd.read_csv(folder / "campaign_periods.csv", dtype=str, **dates).sort_values("start_date")
        self.organisations = pd.read_csv(
            folder / "organisations.csv", dtype=str, parse_dates=["talent_campaign_joined_on", "established_in_region_on"]
        )
        fx = folder / "fx_rates.csv"
        self.currencies = set(pd.read_csv(fx, dtype=str)["currency"].str.strip().str.upper()) if fx.exists() else set()
        self.currencies.add("EUR")
        patterns = []
        for c in self.campaigns.itertuples():
            patterns += [(c.campaign_id.lower(), c.campaign_id), (str(c.name).lower(), c.campaign_id)]
            for p in self.periods[self.periods.campaign_id == c.campaign_id].itertuples():
                if isinstance(p.utm_campaign, str) and p.utm_campaign:
                    patterns.append((p.utm_campaign.lower(), c.campaign_id))
        self.patterns = sorted(patterns, key=lambda t: -len(t[0]))
        self.utm = {}
        for p in self.periods.sort_values("campaign_id").itertuples():
            if isinstance(p.utm_campaign, str):
                self.utm.setdefault(p.utm_campaign.lower(), p.campaign_id)
        self.orgs = {}
        for o in self.organisations.itertuples():
            self.orgs[o.org_id.lower()] = o.org_id
            self.orgs[" ".join(o.name.lower().split())] = o.org_id

    def campaign_for(self, *texts) -> str | None:
        joined = " ".join(t for t in texts if isinstance(t, str) and t).lower()
        return next((cid for pattern, cid in self.patterns if joined and pattern in joined), None)

    def period_for(self, frame: pd.DataFrame, day_column: str) -> pd.Series:
        """The (first-named) period of the row's campaign that holds the date."""
        out = pd.Series(None, index=frame.index, dtype=object)
        for p in self.periods.sort_values("period", ascending=False).itertuples():
            hit = (frame["campaign_id"] == p.campaign_id) & frame[day_column].between(p.start_date, p.end_date)
            out[hit] = p.period
        return out


def country_code(text) -> str | None:
    if not isinstance(text, str):
        return None
    key = " ".join(text.strip().lower().split())
    return key.upper() if key.upper() in ISO_CODES else COUNTRY_NAMES.get(key)


def day_first(value):
    if isinstance(value, datetime):
        return pd.Timestamp(value.date())
    if isinstance(value, date):
        return pd.Timestamp(value)
    if not isinstance(value, str) or value.strip().lower() in EMPTY:
        return None
    text = value.strip().split(" ")[0]
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y"):
        try:
            return pd.Timestamp(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return pd.NaT  # not empty, not a date: quarantined


# --- sources ---------------------------------------------------------------------------------


def reach(raw: Path, ref: Reference) -> pd.DataFrame:
    frames = []
    for seq, path in enumerate(files_in(raw / "reach", (".csv", ".csv.gz", ".tsv", ".txt"))):
        layout, f = read_export(path, REACH_MARKERS)
        if layout == "linkedin":
            out = pd.DataFrame({
                "day": pd.to_datetime(f["Start Date (in UTC)"].str.strip(), format="%m/%d/%Y", errors="coerce"),
                "platform_campaign": f["Campaign Name"], "ad_set": None, "platform_campaign_id": f["Campaign ID"],
                "impressions": number(f["Impressions"]), "clicks": number(f["Clicks to Landing Page"]),
                "currency": f["Currency"].str.strip().str.upper(),
            })
        elif layout == "meta":
            out = pd.DataFrame({
                "day": pd.to_datetime(f["Day"].str.strip(), format="%Y-%m-%d", errors="coerce"),
                "platform_campaign": f["Campaign name"], "ad_set": f["Ad set name"], "platform_campaign_id": None,
                "impressions": number(f["Impressions"], ","), "clicks": number(f["Link clicks"], ","),
                "currency": f["Currency"].str.strip().str.upper(),
            })
        else:
            f = f[~f["Day"].str.strip().str.lower().str.startswith("total:")]
            out = pd.DataFrame({
                "day": pd.to_datetime(f["Day"].str.strip(), format="%Y-%m-%d", errors="coerce"),
                "platform_campaign": f["Campaign"], "ad_set": None, "platform_campaign_id": f["Campaign ID"],
                "impressions": number(f["Impr."]), "clicks": number(f["Clicks"]),
                "currency": f["Currency code"].str.strip().str.upper(),
            })
        out["channel"], out["file_seq"] = layout, seq
        frames.append(out)
    r = pd.concat(frames, ignore_index=True)
    r = r[r["day"].notna() & r["impressions"].notna() & (r["platform_campaign"].fillna("") != "")].copy()
    r["clicks"] = r["clicks"].fillna(0)
    r["campaign_id"] = [ref.campaign_for(c, a) for c, a in zip(r["platform_campaign"], r["ad_set"])]
    r["period"] = ref.period_for(r, "day")
    r = r[r["campaign_id"].notna() & r["period"].notna() & r["currency"].isin(ref.currencies)]
    key = ["day", "channel", "platform_campaign", "ad_set", "platform_campaign_id"]
    return r.sort_values("file_seq", kind="stable").drop_duplicates(key, keep="last")


def sessions(raw: Path, ref: Reference) -> pd.DataFrame:
    columns = ["event_date", "user_pseudo_id", "ga_session_id", "session_campaign", "engaged_session"]
    frames = []
    for path in files_in(raw / "visitors", (".csv", ".csv.gz", ".parquet")):
        if path.name.lower().endswith(".parquet"):
            frames.append(pd.read_parquet(path, columns=columns).fillna("").astype(str))  # NULL as empty, as CSV
        else:
            frames.append(pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False))
    s = pd.concat(frames, ignore_index=True)
    del frames
    day = pd.to_datetime(s["event_date"].str.strip(), format="%Y%m%d", errors="coerce")
    day = day.fillna(pd.to_datetime(s["event_date"].str.strip(), format="%Y-%m-%d", errors="coerce"))
    session_id = pd.to_numeric(s["ga_session_id"].str.strip(), errors="coerce")
    engaged = pd.to_numeric(s["engaged_session"].str.strip(), errors="coerce")
    user = s["user_pseudo_id"].str.strip()
    ok = day.notna() & (user.fillna("") != "") & session_id.notna() & (session_id % 1 == 0) & engaged.isin([0, 1])
    out = pd.DataFrame({"user_pseudo_id": user[ok], "day": day[ok],
                        "campaign_id": s.loc[ok, "session_campaign"].str.strip().str.lower().map(ref.utm)})
    del s
    # Without a utm code: the campaign whose window holds the date.
    for c in ref.campaigns.sort_values("campaign_id", ascending=False).itertuples():
        fill = out["campaign_id"].isna() & out["day"].between(c.start_date, c.end_date)
        out.loc[fill, "campaign_id"] = c.campaign_id
    return out[out["campaign_id"].notna()]


def applications(raw: Path, ref: Reference) -> pd.DataFrame:
    rows = []
    for seq, path in enumerate(files_in(raw / "hiring", (".csv", ".xlsx"))):
        if path.suffix.lower() == ".xlsx":
            f = pd.read_excel(path, dtype=object).dropna(how="all")
            layout = "template"
        else:
            layout, f = read_export(path, HIRING_MARKERS)
        for r in f.to_dict("records"):
            row = _ats_row(r, ref) if layout == "ats" else _template_row(r, ref)
            if row is not None:
                rows.append({**row, "file_seq": seq})
    apps = pd.DataFrame(rows)
    return apps.sort_values("file_seq", kind="stable").drop_duplicates("application_key", keep="last")


def _text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return value if isinstance(value, str) else str(value)


def _candidate(email: str, key_org: str, fallback: str) -> str:
    return "email:" + email.strip().lower() if email.strip() else "ref:" + f"{key_org}:{fallback}".strip().lower()


def _ats_row(r: dict, ref: Reference) -> dict | None:
    app_id, org, stage = _text(r["id"]).strip(), _text(r["organisation"]).strip(), _text(r["stage"]).strip().lower()
    country = country_code(_text(r["candidate_country"]))
    applied = pd.to_datetime(_text(r["created_at"]).strip()[:10], format="%Y-%m-%d", errors="coerce")
    changed = pd.to_datetime(_text(r["changed_stage_at"]).strip()[:10], format="%Y-%m-%d", errors="coerce")
    if not app_id or not org or stage not in STAGES or pd.isna(applied) or country is None:
        return None
    if stage == "hired" and pd.isna(changed):
        return None
    org_id = ref.orgs.get(" ".join(org.lower().split()))
    key_org = org_id or org.lower()
    return {
        "application_key": f"ats|{key_org}|{app_id}", "org_id": org_id, "applied_on": applied,
        "hire_date": changed if stage == "hired" else pd.NaT, "country_code": country,
        "candidate": _candidate(_text(r["candidate_email"]), key_org, _text(r["candidate_id"])),
        "campaign_id": ref.campaign_for(_text(r["referring_site"]), _text(r["referring_url"])),
    }


def _template_row(r: dict, ref: Reference) -> dict | None:
    org = _text(r["Organisation"]).strip()
    applied, hire = day_first(r["Application date"]), day_first(r["Hire date"])
    reference, email = _text(r["Candidate reference"]), _text(r["Email"])
    country = country_code(_text(r["Country of residence"]))
    if not org or applied is None or pd.isna(applied) or (hire is not None and pd.isna(hire)):
        return None
    if not reference.strip() and not email.strip() or country is None:
        return None
    org_id = ref.orgs.get(" ".join(org.lower().split()))
    key_org = org_id or org.lower()
    candidate = _candidate(email, key_org, reference)
    return {
        "application_key": f"template|{key_org}|{candidate}|{_text(r['Job title'])}|{applied.date().isoformat()}",
        "org_id": org_id, "applied_on": applied, "hire_date": hire if hire is not None else pd.NaT,
        "country_code": country, "candidate": candidate, "campaign_id": ref.campaign_for(_text(r["Source"])),
    }


# --- KPIs --------------------------------------------------------------------------------------


def kpi_scorecard(raw: Path) -> list[list]:
    ref = Reference(raw / "reference")
    r = reach(raw, ref)
    s = sessions(raw, ref)
    apps = applications(raw, ref)
    windows = ref.campaigns[["campaign_id", "start_date", "end_date"]]

    attributed = apps[apps["campaign_id"].notna()].merge(windows, on="campaign_id")
    in_window = attributed[attributed["applied_on"].between(attributed["start_date"], attributed["end_date"])].copy()
    in_window["period"] = ref.period_for(in_window, "applied_on")

    orgs = ref.organisations[["org_id", "talent_campaign_joined_on"]]
    hires = attributed[attributed["hire_date"].notna()].merge(orgs, on="org_id")
    hires = hires[hires["hire_date"].between(hires["start_date"], hires["end_date"])
                  & (hires["talent_campaign_joined_on"] <= hires["end_date"])
                  & ~hires["country_code"].isin(["DK", "SE"])].copy()
    hires["period"] = ref.period_for(hires, "applied_on")
    hires = hires.sort_values(["hire_date", "application_key"]).drop_duplicates(["campaign_id", "candidate"])

    has_data = {
        "impressions": set(r["campaign_id"]), "clicks": set(r["campaign_id"]),
        "unique_visitors": set(s["campaign_id"]),
        "applications": set(apps["campaign_id"].dropna()), "international_hires": set(apps["campaign_id"].dropna()),
    }
    out = []
    for c in ref.campaigns.itertuples():
        scopes = [(p.period, p.start_date, p.end_date)
                  for p in ref.periods[ref.periods.campaign_id == c.campaign_id].itertuples()] + [("all", None, None)]
        for period, start, end in scopes:
            def scope(frame: pd.DataFrame) -> pd.DataFrame:
                frame = frame[frame["campaign_id"] == c.campaign_id]
                return frame if period == "all" else frame[frame["period"] == period]

            in_period = s[(s["campaign_id"] == c.campaign_id)
                          & (True if period == "all" else s["day"].between(start, end))]
            values = {
                "impressions": scope(r)["impressions"].sum(),
                "clicks": scope(r)["clicks"].sum(),
                "unique_visitors": in_period["user_pseudo_id"].nunique(),
                "applications": scope(in_window)["application_key"].nunique(),
                "international_hires": scope(hires)["candidate"].nunique(),
            }
            for kpi, value in values.items():
                out.append([c.campaign_id, kpi, period, int(value) if c.campaign_id in has_data[kpi] else None])
        involved = ref.organisations[ref.organisations["talent_campaign_joined_on"] <= c.end_date]["org_id"].nunique()
        established = ref.organisations[ref.organisations["established_in_region_on"].between(
            c.start_date, c.end_date)]["org_id"].nunique()
        out += [[c.campaign_id, "organisations_involved", "all", int(involved)],
                [c.campaign_id, "organisations_established", "all", int(established)]]
    return sorted(out, key=lambda row: (row[0], row[1], row[2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the KPI rows")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = kpi_scorecard(args.raw_dir.resolve())
    args.out.write_text(json.dumps({"engine": "pandas", "seconds": round(time.monotonic() - started, 3),
                                    "kpi_scorecard": rows}, indent=1))
    print(f"pandas baseline: {len(rows)} KPI rows in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
