"""Hiring exports: the ATS applications export and the campaign's hiring template.

Normalised grain: one row per application (per source line), keyed by
``application_key`` so the same application in two exports is one. Candidate
names and e-mails are read only to build ``candidate_key``, an HMAC of the
normalised e-mail; they are never kept, logged or quarantined.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import polars as pl

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
from assets.ingest.contract import BadValue, LossyValue, layout, read_cell, safe_value, scrub
from assets.ingest.reference import Attribution, country_code

ATS = layout("ats_applications")
TEMPLATE = layout("hiring_template")
LAYOUTS = (ATS, TEMPLATE)

# The organisation column and the free-text source column(s) of each layout.
_ORGANISATION = {"ats_applications": "organisation", "hiring_template": "Organisation"}
_SOURCE_TEXT = {"ats_applications": ("referring_site", "referring_url"), "hiring_template": ("Source",)}


def candidate_key(pii_key: bytes, email: str | None, fallback: str | None) -> str | None:
    """HMAC-SHA256 of the normalised e-mail (or of the fallback reference): stable, not reversible."""
    if email and email.strip():
        message = "email:" + email.strip().lower()
    elif fallback:
        message = "ref:" + fallback.strip().lower()
    else:
        return None
    return hmac.new(pii_key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_hiring(path: Path, attribution: Attribution, pii_key: bytes) -> Parsed:
    if path.suffix.lower() == ".xlsx":
        table = read_xlsx_table(path, LAYOUTS)
    else:
        table = read_table(path, LAYOUTS)
    out = Parsed(layout=table.layout.name, data_lines=table.data_lines)
    idx = table.index()
    dates = []
    orgs = set()
    org_ids = attribution.organisations({name for _, record in table.records
                                         if (name := _org_text(record, idx, _ORGANISATION[table.layout.name]))})
    for line_number, record in table.records:
        problem = width_problem(record, table.header)
        if problem:
            out.quarantined.append(Quarantined(line_number, None, None, problem, "a row has the header's width"))
            continue
        try:
            if table.layout is ATS:
                row = _ats_row(record, idx, org_ids, pii_key)
            else:
                row = _template_row(record, idx, org_ids, pii_key)
        except LossyValue as exc:
            raise RejectedFile(path, line_number, exc.column, f"{exc}: the export's types are lossy") from exc
        except _Bad as bad:
            column = _declared(table, bad.column)
            value = safe_value(bad.value, column) if column is not None else safe_value(bad.value)
            out.quarantined.append(Quarantined(line_number, bad.column, value, bad.reason, bad.rule))
            continue
        row["line_number"] = line_number
        row["source_text"] = " ".join(str(t) for c in _SOURCE_TEXT[table.layout.name] if (t := cell(record, idx, c)))
        dates.append(row["applied_on"])
        orgs.add(row["org_id"] or row["organisation_name"])
        out.rows.append(row)
    attribute_applications(out.rows, attribution)
    span = f"{min(dates)}..{max(dates)}" if dates else "empty"
    out.export_key = f"{table.layout.name}|{'/'.join(sorted(o for o in orgs if o))}|{span}"
    out.check_accounting(path)
    return out


def attribute_applications(rows: list[dict], attribution: Attribution) -> None:
    """Campaign, period and channel of each application from its source text, by sql/attribution.sql.

    The text (referring site and URL, or the template's Source) is scrubbed of e-mail addresses
    and phone numbers before DuckDB sees it, and is not kept.
    """
    if not rows:
        return
    frame = pl.DataFrame([{"text": scrub(r.pop("source_text")), "applied_on": r["applied_on"]} for r in rows],
                         schema={"text": pl.String, "applied_on": pl.Date})
    attributed = attribution.select(frame, """
        SELECT _row, campaign_id, period_of(campaign_id, applied_on) AS period,
               channel_of(application_source(text), application_medium(text)) AS channel
        FROM (SELECT *, campaign_of_text(text) AS campaign_id FROM {rows})""")
    for row, values in zip(rows, attributed.iter_rows(named=True)):
        row.update(values)


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


def _org_text(record, idx, column) -> str:
    return str(cell(record, idx, column) or "").strip()


def _organisation(record, idx, column, org_ids: dict[str, str | None]) -> tuple[str | None, str]:
    name = _org_text(record, idx, column)
    if not name:
        raise _Bad(column, None, "organisation is empty")
    # An unknown organisation is staged with org_id NULL: the staged gate quarantines the row
    # with its reason (it comes back by itself when the register gains the organisation).
    return org_ids.get(name), name


def _country(record, idx, column) -> str:
    raw = cell(record, idx, column)
    if raw is None or not str(raw).strip():
        raise _Bad(column, None, "country of residence is empty")
    code = country_code(raw)
    if code is None:
        raise _Bad(column, raw, "country maps to no ISO 3166-1 country (not guessed)",
                   "the country of residence maps to an ISO 3166-1 country")
    return code


def _ats_row(record, idx, org_ids: dict[str, str | None], pii_key: bytes) -> dict:
    application_id = _read(record, idx, ATS, "id") or ""
    if not application_id:
        raise _Bad("id", None, "application id is empty")
    org_id, org_name = _organisation(record, idx, "organisation", org_ids)
    # An unknown stage, or a hire without its date, is staged as it is: the staged suite's rules state
    # both (assets/quality/staged_suites.py), and their failing rows are quarantined (assets/quality/containment.py).
    stage = (cell(record, idx, "stage") or "").strip().lower()
    applied_on = _read(record, idx, ATS, "created_at")
    if applied_on is None:
        raise _Bad("created_at", None, "application date is empty")
    hire_date = None
    if stage == "hired":
        hire_date = _read(record, idx, ATS, "changed_stage_at")
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
    }


def _template_row(record, idx, org_ids: dict[str, str | None], pii_key: bytes) -> dict:
    org_id, org_name = _organisation(record, idx, "Organisation", org_ids)
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


__all__ = ["parse_hiring", "attribute_applications", "candidate_key", "ATS", "TEMPLATE", "decode", "normalise_header"]
