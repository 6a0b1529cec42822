"""Ad platform reach exports: LinkedIn, Meta and Google Ads, recognised by header.

Normalised grain: one row per date x channel x platform campaign (x ad set
where the platform gives one), with impressions, clicks (landing-page or link
clicks), spend in its currency and in EUR, and the platform's reach for that
row (unique people per row: never summed in a published figure).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from assets.ingest.common import (
    Parsed,
    Quarantined,
    RejectedFile,
    Table,
    cell,
    read_table,
    width_problem,
)
from assets.ingest.contract import BadValue, Layout, LossyValue, layout, read_cell, safe_value
from assets.ingest.reference import Attribution

LINKEDIN = layout("linkedin_campaign_performance")
META = layout("meta_ads_manager")
GOOGLE = layout("google_ads_campaign_report")
LAYOUTS = (LINKEDIN, META, GOOGLE)
CHANNEL = {lay.name: lay.options["channel"] for lay in LAYOUTS}


def _is_footer(cells: list[str]) -> bool:
    """Footer rows ('Total: ...') of the layouts that declare one are not data lines."""
    prefixes = tuple(lay.options["footer_prefix"].lower() for lay in LAYOUTS if "footer_prefix" in lay.options)
    return bool(cells) and cells[0].strip().lower().startswith(prefixes)


def parse_reach(path: Path, attribution: Attribution, text: str | None = None) -> Parsed:
    """Parses one reach export into canonical rows and quarantined lines."""
    table = read_table(path, LAYOUTS, text=text, is_footer=_is_footer)
    layout = table.layout
    idx, header_currency = layout.resolve(table.header)  # the columns, and a currency the header names
    out = Parsed(layout=layout.name, data_lines=table.data_lines)
    spend = layout.by_field("spend")
    if spend.key not in idx:
        raise RejectedFile(path, table.header_line, spend.name, f"{layout.name} export has no {spend.name!r} column")
    # Meta writes decimal commas with European settings, where the delimiter is ';'. With a ','
    # delimiter the numbers are US-style ("1,234.56"), and reading them European would inflate spend 100x.
    comma_with = layout.options.get("decimal_comma_with_delimiter")
    decimal = "," if comma_with and table.delimiter == comma_with else "."
    dates = []
    for line_number, record in table.records:
        problem = width_problem(record, table.header)
        if problem:
            out.quarantined.append(Quarantined(line_number, None, None, problem, "a row has the header's width"))
            continue
        try:
            row = _reach_row(layout, record, idx, header_currency, decimal)
        except LossyValue as exc:
            raise RejectedFile(path, line_number, exc.column, f"{exc}: the export's types are lossy") from exc
        except _Bad as bad:
            out.quarantined.append(Quarantined(line_number, bad.column, safe_value(bad.value), bad.reason))
            continue
        dates.append(row["date"])
        row["line_number"] = line_number
        out.rows.append(row)
    _attribute(out.rows, attribution)
    scope = sorted({r["platform_campaign"] for r in out.rows} | {_account(table)})
    span = f"{min(dates)}..{max(dates)}" if dates else "empty"
    out.export_key = f"{layout.name}|{'/'.join(s for s in scope if s)}|{_title_span(table) or span}"
    out.check_accounting(path)
    return out


def _attribute(rows: list[dict], attribution: Attribution) -> None:
    """Campaign and period from sql/attribution.sql, spend in EUR from ref.fx_rates."""
    if not rows:
        return
    frame = pl.DataFrame([{k: r[k] for k in ("platform_campaign", "ad_set", "date")} for r in rows],
                         schema={"platform_campaign": pl.String, "ad_set": pl.String, "date": pl.Date})
    attributed = attribution.select(frame, """
        SELECT _row, campaign_id, period_of(campaign_id, date) AS period
        FROM (SELECT *, campaign_of_text(concat_ws(' ', platform_campaign, ad_set)) AS campaign_id FROM {rows})""")
    fx = attribution.fx()
    for row, campaign_id, period in zip(rows, attributed["campaign_id"], attributed["period"]):
        row["campaign_id"], row["period"] = campaign_id, period
        # A campaign's row dated outside its periods, or in a currency without a rate, is staged as it
        # is: the staged suite's rules (assets/quality/staged_suites.py) are the one statement of both, and their
        # failing rows are quarantined (assets/quality/containment.py).
        rate = fx.get(row["currency"])
        row["spend_eur"] = None if row["spend"] is None or rate is None else round(row["spend"] * rate, 2)


class _Bad(Exception):
    def __init__(self, column: str | None, value, reason: str):
        self.column, self.value, self.reason = column, value, reason


def _reach_row(layout: Layout, record, idx, header_currency: str | None, decimal: str) -> dict:
    """The staged fields of one record, each read by its declaration in contracts.toml."""
    row = {"ad_set": None, "platform_campaign_id": None, "platform_reach": None}
    for column in layout.columns:
        if column.field is None:
            continue
        raw = cell(record, idx, column.name)
        try:
            row[column.field] = read_cell(column, raw, decimal)
        except LossyValue as exc:
            exc.column = column.name
            raise
        except BadValue as exc:
            raise _Bad(column.name, raw, str(exc)) from exc
    currency = row.get("currency") or header_currency or ""
    if header_currency and currency != header_currency:
        raise _Bad(layout.by_field("currency").name, currency,
                   f"row currency differs from the spend header's {header_currency}")
    row["currency"] = currency
    if row["date"] is None:
        raise _Bad(layout.by_field("date").name, None, "date is empty")
    if not row["platform_campaign"]:
        raise _Bad(layout.by_field("platform_campaign").name, None, "campaign name is empty")
    if row["impressions"] is None:
        raise _Bad(layout.by_field("impressions").name, None, "impressions are empty")
    if row["clicks"] is None:
        row["clicks"] = 0
    row["channel"] = CHANNEL[layout.name]
    return row


def _account(table: Table) -> str:
    for line in table.title_lines:
        text = line.strip().strip('"')
        if text.lower().startswith("account:"):
            return text.split(":", 1)[1].strip()
    return ""


# A title line that is a date range, and nothing else (an account name with a dash is not one).
_DATE_RANGE = re.compile(r"^[A-Za-z]+ \d{1,2}, \d{4} - [A-Za-z]+ \d{1,2}, \d{4}$")


def _title_span(table: Table) -> str:
    """The report's own date range from its title lines, when it states one."""
    start = end = ranged = None
    for line in table.title_lines:
        text = line.strip().strip('"')
        low = text.lower()
        if low.startswith("report start:"):
            start = text.split(":", 1)[1].strip()
        elif low.startswith("report end:"):
            end = text.split(":", 1)[1].strip()
        elif ranged is None and _DATE_RANGE.match(text):  # Google's "September 1, 2020 - September 30, 2020"
            ranged = text
    if start or end:
        return f"{start}..{end}"
    if ranged:
        return ranged
    if table.layout is META and table.records:
        idx = table.index()
        first = table.records[0][1]
        return f"{cell(first, idx, 'Reporting starts')}..{cell(first, idx, 'Reporting ends')}"
    return ""
