"""Ad platform reach exports: LinkedIn, Meta and Google Ads, recognised by header.

Normalised grain: one row per date x channel x platform campaign (x ad set
where the platform gives one), with impressions, clicks (landing-page or link
clicks), spend in its currency and in EUR, and the platform's reach for that
row (unique people per row: never summed in a published figure).
"""

from __future__ import annotations

import re
from pathlib import Path

from assets.ingest.common import (
    BadValue,
    Layout,
    Parsed,
    Quarantined,
    RejectedFile,
    Table,
    cell,
    normalise_header,
    parse_count,
    parse_date,
    parse_number,
    read_table,
    safe_value,
    width_problem,
)
from assets.ingest.reference import Attribution

LINKEDIN = Layout(
    "linkedin_campaign_performance",
    "reach",
    (
        "Start Date (in UTC)",
        "Account Name",
        "Campaign Group Name",
        "Campaign Name",
        "Campaign ID",
        "Currency",
        "Total Spent",
        "Impressions",
        "Clicks",
        "Reach",
        "Clicks to Landing Page",
    ),
)
META = Layout(
    "meta_ads_manager",
    "reach",
    ("Reporting starts", "Reporting ends", "Campaign name", "Ad set name", "Day", "Impressions", "Reach", "Link clicks"),
)
GOOGLE = Layout(
    "google_ads_campaign_report",
    "reach",
    ("Day", "Campaign", "Campaign ID", "Currency code", "Cost", "Impr.", "Clicks"),
)
LAYOUTS = (LINKEDIN, META, GOOGLE)
CHANNEL = {LINKEDIN.name: "linkedin", META.name: "meta", GOOGLE.name: "google_ads"}
_META_SPEND = re.compile(r"^amount spent \(([a-z]{3})\)$")

REACH_COLUMNS = (
    "date",
    "channel",
    "campaign_id",
    "period",
    "platform_campaign",
    "ad_set",
    "platform_campaign_id",
    "impressions",
    "clicks",
    "spend",
    "currency",
    "spend_eur",
    "platform_reach",
)


def _is_google_footer(cells: list[str]) -> bool:
    return bool(cells) and cells[0].strip().lower().startswith("total:")


def parse_reach(path: Path, attribution: Attribution, text: str | None = None) -> Parsed:
    """Parses one reach export into canonical rows and quarantined lines."""
    table = read_table(path, LAYOUTS, text=text, is_footer=_is_google_footer)
    layout = table.layout
    idx = table.index()
    out = Parsed(layout=layout.name, data_lines=table.data_lines)
    spend_col, header_currency = _spend_column(table)
    # Meta writes decimal commas with European settings, where the delimiter is ';'. With a ','
    # delimiter the numbers are US-style ("1,234.56"), and reading them European would inflate spend 100x.
    meta_decimal = "," if table.delimiter == ";" else "."
    dates = []
    for line_number, record in table.records:
        problem = width_problem(record, table.header)
        if problem:
            out.quarantined.append(Quarantined(line_number, None, None, problem))
            continue
        try:
            row = _reach_row(layout, record, idx, spend_col, header_currency, meta_decimal)
        except _Bad as bad:
            out.quarantined.append(Quarantined(line_number, bad.column, safe_value(bad.value), bad.reason))
            continue
        dates.append(row["date"])
        row["campaign_id"] = attribution.campaign_for(row["platform_campaign"], row["ad_set"])
        row["period"] = attribution.period_for(row["campaign_id"], row["date"])
        if row["campaign_id"] and row["period"] is None:
            out.quarantined.append(
                Quarantined(
                    line_number,
                    _date_column(layout),
                    row["date"].isoformat(),
                    f"date outside every period of campaign {row['campaign_id']}",
                )
            )
            continue
        rate = attribution.fx.get(row["currency"])
        if rate is None:
            out.quarantined.append(
                Quarantined(line_number, "currency", row["currency"], "currency has no rate in fx_rates.csv")
            )
            continue
        row["spend_eur"] = None if row["spend"] is None else round(row["spend"] * rate, 2)
        row["line_number"] = line_number
        out.rows.append(row)
    scope = sorted({r["platform_campaign"] for r in out.rows} | {_account(table)})
    span = f"{min(dates)}..{max(dates)}" if dates else "empty"
    out.export_key = f"{layout.name}|{'/'.join(s for s in scope if s)}|{_title_span(table) or span}"
    out.check_accounting(path)
    return out


class _Bad(Exception):
    def __init__(self, column: str | None, value, reason: str):
        self.column, self.value, self.reason = column, value, reason


def _spend_column(table: Table) -> tuple[str, str | None]:
    if table.layout is LINKEDIN:
        return "Total Spent", None
    if table.layout is GOOGLE:
        return "Cost", None
    for name in table.header:
        m = _META_SPEND.match(normalise_header(name))
        if m:
            return name, m.group(1).upper()
    raise RejectedFile(
        table.path, table.header_line, "Amount spent (CUR)", "Meta export has no 'Amount spent (<currency>)' column"
    )


def _date_column(layout: Layout) -> str:
    return {LINKEDIN.name: "Start Date (in UTC)", META.name: "Day", GOOGLE.name: "Day"}[layout.name]


def _read(record, idx, column, reader):
    raw = cell(record, idx, column)
    try:
        return reader(raw)
    except BadValue as exc:
        raise _Bad(column, raw, str(exc)) from exc


def _reach_row(layout: Layout, record, idx, spend_col: str, header_currency: str | None, meta_decimal: str) -> dict:
    if layout is LINKEDIN:
        day = _read(record, idx, "Start Date (in UTC)", lambda v: parse_date(v, "us"))
        row = {
            "platform_campaign": cell(record, idx, "Campaign Name"),
            "ad_set": None,
            "platform_campaign_id": cell(record, idx, "Campaign ID"),
            "impressions": _read(record, idx, "Impressions", parse_count),
            "clicks": _read(record, idx, "Clicks to Landing Page", parse_count),
            "spend": _read(record, idx, spend_col, parse_number),
            "currency": (cell(record, idx, "Currency") or "").strip().upper(),
            "platform_reach": _read(record, idx, "Reach", parse_count),
        }
    elif layout is META:
        def eu_count(v):
            return parse_count(v, decimal=meta_decimal)

        day = _read(record, idx, "Day", lambda v: parse_date(v, "iso"))
        currency = (cell(record, idx, "Currency") or header_currency or "").strip().upper()
        if header_currency and currency and currency != header_currency:
            raise _Bad("Currency", currency, f"row currency differs from the spend header's {header_currency}")
        row = {
            "platform_campaign": cell(record, idx, "Campaign name"),
            "ad_set": cell(record, idx, "Ad set name"),
            "platform_campaign_id": None,
            "impressions": _read(record, idx, "Impressions", eu_count),
            "clicks": _read(record, idx, "Link clicks", eu_count),
            "spend": _read(record, idx, spend_col, lambda v: parse_number(v, decimal=meta_decimal)),
            "currency": currency,
            "platform_reach": _read(record, idx, "Reach", eu_count),
        }
    else:
        day = _read(record, idx, "Day", lambda v: parse_date(v, "iso"))
        row = {
            "platform_campaign": cell(record, idx, "Campaign"),
            "ad_set": None,
            "platform_campaign_id": cell(record, idx, "Campaign ID"),
            "impressions": _read(record, idx, "Impr.", parse_count),
            "clicks": _read(record, idx, "Clicks", parse_count),
            "spend": _read(record, idx, "Cost", parse_number),
            "currency": (cell(record, idx, "Currency code") or "").strip().upper(),
            "platform_reach": None,
        }
    if day is None:
        raise _Bad(_date_column(layout), None, "date is empty")
    if not row["platform_campaign"]:
        raise _Bad("campaign", None, "campaign name is empty")
    if row["impressions"] is None:
        raise _Bad("impressions", None, "impressions are empty")
    if row["clicks"] is None:
        row["clicks"] = 0
    row["date"] = day
    row["channel"] = CHANNEL[layout.name]
    return row


def _account(table: Table) -> str:
    for line in table.title_lines:
        text = line.strip().strip('"')
        if text.lower().startswith("account:"):
            return text.split(":", 1)[1].strip()
    return ""


def _title_span(table: Table) -> str:
    """The report's own date range from its title lines, when it states one."""
    start = end = None
    for line in table.title_lines:
        text = line.strip().strip('"')
        low = text.lower()
        if low.startswith("report start:"):
            start = text.split(":", 1)[1].strip()
        elif low.startswith("report end:"):
            end = text.split(":", 1)[1].strip()
        elif " - " in text and any(ch.isdigit() for ch in text):
            return text
    if start or end:
        return f"{start}..{end}"
    if table.layout is META and table.records:
        idx = table.index()
        first = table.records[0][1]
        return f"{cell(first, idx, 'Reporting starts')}..{cell(first, idx, 'Reporting ends')}"
    return ""
