"""Hiring exports: the ATS applications export and the campaign's hiring template.

Normalised grain: one row per application (per source line), keyed by
``application_key`` so the same application in two exports is one. Candidate
names and e-mails are read only to build ``candidate_key``, an HMAC of the
normalised e-mail; they are never kept, logged or quarantined.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from assets.ingest.common import (
    Parsed,
    Quarantined,
    RejectedFile,
    Table,
    cell,
    decode,
    normalise_header,
    read_table,
    width_problem,
)
from assets.ingest.contract import BadValue, LossyValue, layout, read_cell, safe_value
from assets.ingest.reference import Attribution, country_code

ATS = layout("ats_applications")
TEMPLATE = layout("hiring_template")
LAYOUTS = (ATS, TEMPLATE)

APPLICATION_COLUMNS = (
    "application_key",
    "application_id",
    "org_id",
    "organisation_name",
    "candidate_key",
    "job_title",
    "applied_on",
    "stage",
    "hire_date",
    "country_code",
    "campaign_id",
    "channel",
)


def candidate_key(pii_key: bytes, email: str | None, fallback: str | None) -> str | None:
    """HMAC-SHA256 of the normalised e-mail (or of the fallback reference): stable, not reversible."""
    if email and email.strip():
        message = "email:" + email.strip().lower()
    elif fallback:
        message = "ref:" + fallback.strip().lower()
    else:
        return None
    return hmac.new(pii_key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def channel_of(*texts: str | None) -> str:
    """Which channel brought an application, from its source texts."""
    text = " ".join(t for t in texts if t).lower()
    if not text.strip():
        return "direct"
    if "linkedin" in text:
        return "linkedin"
    if re.search(r"facebook|instagram|fbclid|\bfb\b|\bmeta\b", text):
        return "meta"
    if any(k in text for k in ("utm_medium=cpc", "gclid", "google ads", "adwords")) and "google" in text:
        return "google_ads"
    if any(k in text for k in ("google", "bing", "duckduckgo")):
        return "organic"
    return "referral"


def parse_hiring(path: Path, attribution: Attribution, pii_key: bytes) -> Parsed:
    if path.suffix.lower() == ".xlsx":
        table = read_xlsx_table(path, LAYOUTS)
    else:
        table = read_table(path, LAYOUTS)
    out = Parsed(layout=table.layout.name, data_lines=table.data_lines)
    idx = table.index()
    dates = []
    orgs = set()
    for line_number, record in table.records:
        problem = width_problem(record, table.header)
        if problem:
            out.quarantined.append(Quarantined(line_number, None, None, problem, "a row has the header's width"))
            continue
        try:
            if table.layout is ATS:
                row = _ats_row(record, idx, attribution, pii_key)
            else:
                row = _template_row(record, idx, attribution, pii_key)
        except LossyValue as exc:
            raise RejectedFile(path, line_number, exc.column, f"{exc}: the export's types are lossy") from exc
        except _Bad as bad:
            column = _declared(table, bad.column)
            value = safe_value(bad.value, column) if column is not None else safe_value(bad.value)
            out.quarantined.append(Quarantined(line_number, bad.column, value, bad.reason, bad.rule))
            continue
        row["line_number"] = line_number
        dates.append(row["applied_on"])
        orgs.add(row["org_id"] or row["organisation_name"])
        out.rows.append(row)
    span = f"{min(dates)}..{max(dates)}" if dates else "empty"
    out.export_key = f"{table.layout.name}|{'/'.join(sorted(o for o in orgs if o))}|{span}"
    out.check_accounting(path)
    return out


class _Bad(Exception):
    def __init__(self, column: str | None, value, reason: str, rule: str = "every cell reads as its declared type"):
        self.column, self.value, self.reason, self.rule = column, value, reason, rule


def _declared(table: Table, name: str | None):
    try:
        return table.layout.column(name) if name else None
    except StopIteration:
        return None


def _read(record, idx, lay, name):
    """One cell of ``lay`` by its declaration in contracts.toml."""
    column = lay.column(name)
    raw = cell(record, idx, column.name)
    try:
        return read_cell(column, raw)
    except LossyValue as exc:
        exc.column = column.name
        raise
    except BadValue as exc:
        raise _Bad(column.name, raw, str(exc)) from exc


def _organisation(record, idx, column, attribution: Attribution) -> tuple[str | None, str]:
    name = (cell(record, idx, column) or "").strip()
    if not name:
        raise _Bad(column, None, "organisation is empty")
    # An unknown organisation is staged with org_id NULL: the staged gate quarantines the row
    # with its reason (it comes back by itself when the register gains the organisation).
    return attribution.org_for(name), name


def _country(record, idx, column) -> str:
    raw = cell(record, idx, column)
    if raw is None or not str(raw).strip():
        raise _Bad(column, None, "country of residence is empty")
    code = country_code(raw)
    if code is None:
        raise _Bad(column, raw, "country maps to no ISO 3166-1 country (not guessed)",
                   "the country of residence maps to an ISO 3166-1 country")
    return code


def _ats_row(record, idx, attribution: Attribution, pii_key: bytes) -> dict:
    application_id = _read(record, idx, ATS, "id") or ""
    if not application_id:
        raise _Bad("id", None, "application id is empty")
    org_id, org_name = _organisation(record, idx, "organisation", attribution)
    # An unknown stage, or a hire without its date, is staged as it is: the staged suite's rules state
    # both (assets/quality/checks.py), and their failing rows are quarantined (assets/quality/containment.py).
    stage = (cell(record, idx, "stage") or "").strip().lower()
    applied_on = _read(record, idx, ATS, "created_at")
    if applied_on is None:
        raise _Bad("created_at", None, "application date is empty")
    hire_date = None
    if stage == "hired":
        hire_date = _read(record, idx, ATS, "changed_stage_at")
    site, url = cell(record, idx, "referring_site"), cell(record, idx, "referring_url")
    key_org = org_id or org_name.lower()
    return {
        "application_key": _digest("ats", key_org, application_id),
        "application_id": application_id,
        "org_id": org_id,
        "organisation_name": org_name,
        "candidate_key": candidate_key(
            pii_key, cell(record, idx, "candidate_email"), f"{key_org}:{_read(record, idx, ATS, 'candidate_id') or ''}"
        ),
        "job_title": _read(record, idx, ATS, "job_title"),
        "applied_on": applied_on,
        "stage": stage,
        "hire_date": hire_date,
        "country_code": _country(record, idx, "candidate_country"),
        "campaign_id": attribution.campaign_for(site, url),
        "channel": channel_of(site, url),
    }


def _template_row(record, idx, attribution: Attribution, pii_key: bytes) -> dict:
    org_id, org_name = _organisation(record, idx, "Organisation", attribution)
    applied_on = _read(record, idx, TEMPLATE, "Application date")
    if applied_on is None:
        raise _Bad("Application date", None, "application date is empty")
    hire_date = _read(record, idx, TEMPLATE, "Hire date")
    key_org = org_id or org_name.lower()
    reference = cell(record, idx, "Candidate reference")
    email = cell(record, idx, "Email")
    if not (reference and str(reference).strip()) and not (email and str(email).strip()):
        raise _Bad("Candidate reference", None, "neither e-mail nor candidate reference is given")
    key = candidate_key(pii_key, email and str(email), f"{key_org}:{reference or ''}")
    job = _read(record, idx, TEMPLATE, "Job title")
    source = cell(record, idx, "Source")
    return {
        "application_key": _digest("template", key_org, key, job or "", applied_on.isoformat()),
        "application_id": None,
        "org_id": org_id,
        "organisation_name": org_name,
        "candidate_key": key,
        "job_title": job,
        "applied_on": applied_on,
        "stage": "hired" if hire_date else "applied",
        "hire_date": hire_date,
        "country_code": _country(record, idx, "Country of residence"),
        "campaign_id": attribution.campaign_for(source),
        "channel": channel_of(source),
    }


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:24]


def read_xlsx_table(path: Path, layouts) -> Table:
    """The first sheet whose header matches a layout; line numbers are Excel row numbers."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/etc. on truncated files
        raise RejectedFile(path, None, None, f"not a readable .xlsx workbook ({type(exc).__name__})") from exc
    try:
        found: list[Table] = []
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            for row_number, values in enumerate(rows, start=1):
                if row_number > 10:
                    break
                header = ["" if v is None else str(v).strip() for v in values]
                layout = next((lay for lay in layouts if lay.matches(header)), None)
                if layout is None:
                    continue
                while header and header[-1] == "":
                    header.pop()
                records = []
                for n, vals in enumerate(rows, start=row_number + 1):
                    cells = ["" if v is None else v for v in vals]
                    if not any(str(c).strip() for c in cells):
                        continue
                    records.append((n, [c if not isinstance(c, (int, float)) or isinstance(c, bool) else _num(c) for c in cells]))
                found.append(Table(path, layout, header, row_number, records, [sheet.title], 0, "xlsx", "",
                                   data_lines=len(records)))
                break
        if len(found) > 1:
            # Reading only one would lose the others silently; guessing which is meant is worse.
            raise RejectedFile(path, None, None, "several sheets hold hiring data ("
                               + ", ".join(t.title_lines[0] for t in found) + "): send one sheet per file")
        if found:
            return found[0]
        # Name the closest sheet header so the sender can see what is missing.
        first = book.worksheets[0]
        header = next(first.iter_rows(values_only=True, max_row=1), ())
        header = ["" if v is None else str(v) for v in header]
        for lay in layouts:
            if lay.overlap(header) >= len(lay.required) // 2:
                missing = lay.missing(header)
                raise RejectedFile(path, 1, missing[0], f"header looks like {lay.name} but misses {missing}")
        raise RejectedFile(path, 1, None, "unknown layout: no sheet has a known hiring header")
    finally:
        book.close()


def _num(value):
    """An Excel number as its text when it is a whole number a float holds exactly; otherwise the float
    itself, so that an identifier column refuses it (a float id is lossy) and a number column reads it."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 2 ** 53):
        return str(int(value))
    return value


__all__ = ["parse_hiring", "candidate_key", "channel_of", "ATS", "TEMPLATE", "decode", "normalise_header"]
