"""The declared export contract (``contracts.toml``) and the generic readers over it.

A layout's header signature, its column aliases (localised headers included),
each column's type, parse formats, whether it is required, and its
personal-data class are data in ``contracts.toml``; this module turns them
into ``Layout`` objects and reads a record's cells by their declarations:

- types are strict: an identifier in floating-point or exponent form is lossy
  (``LossyValue``: the parser rejects the file naming the column), a date
  parses only by its declared formats at their exact shape;
- free-text cells lose e-mail addresses and phone numbers (``scrub``) before
  they are staged; personal cells are never returned as staged fields.

The e-mail and phone patterns are written once (``EMAIL_PATTERN``,
``PHONE_PATTERN``) in a syntax both Python's ``re`` and DuckDB's RE2 read, so
the SQL visitor parser scrubs with the very same rule.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Sequence

CONTRACTS = Path(__file__).with_name("contracts.toml")
TYPES = ("date", "timestamp", "count", "number", "text", "identifier", "currency", "flag")
PII_CLASSES = ("none", "identifier", "personal", "free_text")
EMPTY = frozenset({"", "--", "-", "n/a", "null", "none"})

# One statement each of what an e-mail address and a phone number look like (re and RE2 alike).
EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# International numbers (+45 / 0045 ...), Danish numbers (12 34 56 78, 1234 5678, 12345678), Swedish
# numbers with a trunk 0 (070-123 45 67, 0701234567). Year ranges such as 2020-2022 are not phone numbers.
PHONE_PATTERN = (
    r"(?:\+|\b00)\d{1,3}[ .\-]?(?:\(0?\d{1,4}\)[ .\-]?)?\d{2,4}(?:[ .\-]?\d{2,4}){1,4}"
    r"|\b\d{2} \d{2} \d{2} \d{2}\b|\b\d{4} \d{4}\b|\b\d{8}\b"
    r"|\b0\d{1,3}[\- ]?\d{2,3}[ \-]?\d{2}[ \-]?\d{2}\b"
)
EMAIL_MARKER = "[e-mail removed]"
PHONE_MARKER = "[phone removed]"
_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
# Float forms an identifier must never arrive in: 1.2345E+9, 12345.0 for a numeric id.
LOSSY_ID_PATTERN = r"[+\-]?\d+(?:\.\d*)?[eE][+\-]?\d+"
_LOSSY_ID = re.compile(LOSSY_ID_PATTERN)


class BadValue(ValueError):
    """One cell could not be read as the type its column declares."""


class LossyValue(BadValue):
    """An identifier arrived in a lossy form: the whole file is rejected, naming the column."""


def scrub(text):
    """Free text without e-mail addresses or phone numbers (each replaced by a marker)."""
    if text is None:
        return None
    return _PHONE.sub(PHONE_MARKER, _EMAIL.sub(EMAIL_MARKER, str(text)))


def looks_personal(text) -> bool:
    return text is not None and bool(_EMAIL.search(str(text)) or _PHONE.search(str(text)))


def normalise_header(cell: str) -> str:
    return re.sub(r"\s+", " ", str(cell).replace("\ufeff", "")).strip().strip('"').lower()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    field: str | None = None
    required: bool = True
    pii: str = "none"
    formats: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    numeric: bool = False  # an identifier that is a whole number on its platform

    @property
    def key(self) -> str:
        """How parsers name the column: its canonical header, normalised."""
        return normalise_header(self.name)

    def matchers(self) -> tuple[re.Pattern, ...]:
        """Each of its names, case- and space-insensitive; {currency} matches a three-letter code."""
        return _matchers(self.name, self.aliases)


@cache
def _matchers(name: str, aliases: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return tuple(
        re.compile("^" + re.escape(normalise_header(n)).replace(r"\{currency\}", r"(?P<currency>[a-z]{3})") + "$")
        for n in (name, *aliases)
    )


@dataclass(frozen=True)
class Layout:
    """A vendor layout, recognised by its header (never by the file name)."""

    name: str
    source: str
    columns: tuple[Column, ...]
    options: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def resolve(self, header: Sequence[str]) -> tuple[dict[str, int], str | None]:
        """(canonical key -> cell index, the currency a header names) for the columns found."""
        cells = [normalise_header(c) for c in header]
        found: dict[str, int] = {}
        currency = None
        for column in self.columns:
            for i, text in enumerate(cells):
                m = next((m for p in column.matchers() if (m := p.match(text))), None)
                if m:
                    found[column.key] = i
                    if m.groupdict().get("currency"):
                        currency = m.group("currency").upper()
                    break
        return found, currency

    def missing(self, header: Sequence[str]) -> list[str]:
        found, _ = self.resolve(header)
        return [c.name for c in self.columns if c.required and c.key not in found]

    def matches(self, header: Sequence[str]) -> bool:
        return not self.missing(header)

    def overlap(self, header: Sequence[str]) -> int:
        return len(self.required) - len(self.missing(header))

    def column(self, key: str) -> Column:
        key = normalise_header(key)
        return next(c for c in self.columns if c.key == key)

    def by_field(self, name: str) -> Column:
        return next(c for c in self.columns if c.field == name)



@cache
def layouts() -> dict[str, Layout]:
    """Every declared layout, by name, checked for declarations that would be misread."""
    data = tomllib.loads(CONTRACTS.read_text(encoding="utf-8"))
    out = {}
    for name, spec in data["layouts"].items():
        columns = []
        for c in spec["columns"]:
            column = Column(c["name"], c["type"], c.get("field"), c.get("required", True), c.get("pii", "none"),
                            tuple(c.get("formats", ())), tuple(c.get("aliases", ())), c.get("numeric", False))
            if column.type not in TYPES or column.pii not in PII_CLASSES:
                raise ValueError(f"{CONTRACTS.name}: {name}.{column.name}: unknown type or pii class")
            if column.type == "date" and not column.formats:
                raise ValueError(f"{CONTRACTS.name}: {name}.{column.name}: a date column declares its formats")
            columns.append(column)
        options = {k: v for k, v in spec.items() if k not in ("source", "columns")}
        out[name] = Layout(name, spec["source"], tuple(columns), options)
    return out


# Keys the pipeline derives from personal data (HMACs of e-mails, application digests, the register's
# short candidate reference).
DERIVED_PRIVATE = frozenset({"candidate_key", "application_key", "candidate_ref"})


@cache
def private_fields() -> frozenset[str]:
    """Staged columns whose values identify a person or a visitor: never in an example, a message, a
    quarantine row or a preview. The declared identifier and personal columns, and the derived keys."""
    declared = {c.field for lay in layouts().values() for c in lay.columns
                if c.field and c.pii in ("identifier", "personal")}
    return frozenset(declared) | DERIVED_PRIVATE


def layout(name: str) -> Layout:
    return layouts()[name]


def for_source(source: str) -> tuple[Layout, ...]:
    return tuple(lay for lay in layouts().values() if lay.source == source)


def contract_fingerprint() -> str:
    """Changes when a declaration changes: staged rows were read by the old one."""
    import hashlib

    return hashlib.sha256(CONTRACTS.read_bytes()).hexdigest()[:16]


# --- typed readers -------------------------------------------------------------------


_TOKENS = {"%Y": (r"\d{4}", "%Y"), "%m": (r"\d{2}", "%m"), "%d": (r"\d{2}", "%d"),
           "%-m": (r"\d{1,2}", "%m"), "%-d": (r"\d{1,2}", "%d")}


@cache
def date_format(declared: str) -> tuple[re.Pattern, str]:
    """(the exact shape a declared format accepts, its strptime format)."""
    shape, fmt, i = "", "", 0
    while i < len(declared):
        token = next((t for t in ("%-m", "%-d", "%Y", "%m", "%d") if declared.startswith(t, i)), None)
        if token:
            shape += _TOKENS[token][0]
            fmt += _TOKENS[token][1]
            i += len(token)
        else:
            shape += re.escape(declared[i])
            fmt += declared[i]
            i += 1
    return re.compile(f"^{shape}$"), fmt


def sql_date(expression: str, formats: Sequence[str]) -> str:
    """DuckDB SQL reading ``expression`` by the declared formats, at their exact shape (else NULL)."""
    cases = []
    for declared in formats:
        shape, fmt = date_format(declared)
        cases.append(f"WHEN regexp_full_match({expression}, '{shape.pattern[1:-1]}') "
                     f"THEN try_strptime({expression}, '{fmt}')::DATE")
    return f"CASE {' '.join(cases)} END"


def parse_date(value, formats: Sequence[str]) -> date | None:
    """A date by its declared formats; Excel cells arrive as datetime already."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if text.lower() in EMPTY:
        return None
    if " " in text:  # a time after the date ("9/1/2020 00:00") is not part of the date; anything else is
        text, rest = text.split(" ", 1)
        if not _TIME.match(rest.strip()):
            raise BadValue(f"not a date in the declared format(s) {', '.join(formats)}")
    for declared in formats:
        shape, fmt = date_format(declared)
        if shape.match(text):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
    raise BadValue(f"not a date in the declared format(s) {', '.join(formats)}")


_TIME = re.compile(r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?[AaPp][Mm])?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+\-]\d{2}:?\d{2})?$")


def parse_timestamp(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    text = str(value).strip()
    if text.lower() in EMPTY:
        return None
    if not _TIMESTAMP.match(text):
        raise BadValue("not an ISO 8601 timestamp")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise BadValue("not an ISO 8601 timestamp") from exc


def parse_number(value, decimal: str = ".") -> float | None:
    """Reads '1 234,56', '1.234,56', '1,234.56', '--'. ``decimal`` is the layout's separator.

    Thousands separators (space, no-break space, narrow no-break space, apostrophe, or the other of
    ',' '.') must group digits by three, once per number, and the decimal separator must be the
    layout's: '1.234,56' in a layout that writes '1,234.56' is refused, never read as 1.23456.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().replace("\u00a0", " ").replace("\u202f", " ")
    if text.lower() in EMPTY:
        return None
    other = "." if decimal == "," else ","
    sign = ""
    if text[:1] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:].strip()
    whole, _, fraction = text.partition(decimal)
    if fraction and not fraction.isdigit():
        raise BadValue(f"not a number with the layout's decimal separator {decimal!r}")
    separators = {c for c in whole if not c.isdigit()}
    if not separators:
        digits = whole
    elif len(separators) == 1 and separators <= {" ", "'", other} and _grouped(whole, separators.pop()):
        digits = "".join(c for c in whole if c.isdigit())
    else:
        raise BadValue(f"not a number with the layout's separators (decimal {decimal!r})")
    if not digits:
        raise BadValue("not a number")
    return float(f"{sign}{digits}.{fraction or 0}")


def _grouped(whole: str, separator: str) -> bool:
    head, *groups = whole.split(separator)
    return 1 <= len(head) <= 3 and head.isdigit() and all(len(g) == 3 and g.isdigit() for g in groups)


def parse_count(value, decimal: str = ".") -> int | None:
    number = parse_number(value, decimal)
    if number is None:
        return None
    if number != int(number):
        raise BadValue("not a whole count")
    text = str(value)
    # A count written '1.000' in a layout whose decimal is '.' is one thousand in Danish or Swedish
    # settings: refuse to guess.
    if isinstance(value, str) and decimal in text and len(text.rsplit(decimal, 1)[1].strip()) == 3:
        raise BadValue(f"ambiguous count: {decimal!r} followed by three digits may be a thousands separator")
    return int(number)


_DECIMAL_ID = re.compile(r"\d+\.\d*")


def parse_identifier(value, numeric: bool = False) -> str | None:
    """An id as the text it is; a float or exponent form would be a different id, so it is refused.

    ``numeric``: the platform's ids are whole numbers, so '12345.0' is a float rendering of one.
    """
    if value is None:
        return None
    if isinstance(value, float):
        raise LossyValue("identifier carried as a floating-point number")
    text = str(value).strip()
    if text.lower() in EMPTY:
        return None
    if _LOSSY_ID.fullmatch(text) or (numeric and _DECIMAL_ID.fullmatch(text)):
        raise LossyValue("identifier in a floating-point form")  # the value itself is not repeated
    return text


def parse_flag(value) -> int | None:
    text = None if value is None else str(value).strip()
    if not text:
        return None
    if text not in ("0", "1"):
        raise BadValue("not 0 or 1")
    return int(text)


def read_cell(column: Column, raw, decimal: str = "."):
    """One cell by its declaration (BadValue when it does not parse)."""
    kind = column.type
    if kind == "date":
        return parse_date(raw, column.formats)
    if kind == "timestamp":
        return parse_timestamp(raw)
    if kind == "count":
        return parse_count(raw, decimal)
    if kind == "number":
        return parse_number(raw, decimal)
    if kind == "identifier":
        return parse_identifier(raw, column.numeric)
    if kind == "flag":
        return parse_flag(raw)
    text = None if raw is None else str(raw).strip()
    if kind == "currency":
        return (text or "").upper() or None
    if not text or text.lower() in EMPTY:
        return None
    return scrub(text) if column.pii == "free_text" else text


def safe_value(value, column: Column | None = None) -> str | None:
    """What a quarantine row may keep of a cell: nothing of a personal or identifier column, never an
    e-mail address or phone number, and at most 80 characters."""
    if value is None or (column is not None and column.pii in ("personal", "identifier")):
        return None
    text = str(value)
    if _EMAIL.search(text):
        return "<withheld: looks like an e-mail address>"
    if _PHONE.search(text):
        return "<withheld: looks like a phone number>"
    return text if len(text) <= 80 else text[:77] + "..."
