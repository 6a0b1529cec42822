"""Shared parsing machinery for every raw export.

A text export travels: bytes -> decoded text (BOM, UTF-16, UTF-8, cp1252) ->
header found by matching a known layout (title lines before it are skipped) ->
records read by the csv module with their physical line numbers -> typed
values. Every data line ends up either as a staged row or as a quarantine row
with its reason, or the whole file is rejected with a ``RejectedFile`` that
names the file, line and column.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assets.ingest.contract import Layout, normalise_header

SOURCES = ("reach", "visitors", "hiring")


class RejectedFile(Exception):
    """A whole file cannot be loaded; the message names file, line and column."""

    def __init__(self, path: Path | str, line: int | None, column: str | None, reason: str):
        self.path = str(path)
        self.line = line
        self.column = column
        self.reason = reason
        where = f"{Path(self.path).name}"
        if line is not None:
            where += f", line {line}"
        if column:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")


@dataclass
class Quarantined:
    """A data line that was read but not staged. Holds no personal data."""

    line_number: int
    column: str | None
    value: str | None
    reason: str
    rule: str = "every cell reads as its declared type"
    campaign_id: str | None = None  # when the row was attributed before it was held back


@dataclass
class Parsed:
    """What a parser made of one file."""

    layout: str
    rows: list[dict] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    data_lines: int = 0
    export_key: str = ""

    def check_accounting(self, path: Path) -> None:
        if len(self.rows) + len(self.quarantined) != self.data_lines:
            raise RejectedFile(
                path,
                None,
                None,
                f"line accounting failed: {len(self.rows)} loaded + "
                f"{len(self.quarantined)} quarantined != {self.data_lines} data lines",
            )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    """A file's bytes; a .gz export is decompressed (a truncated archive rejects the file)."""
    if not path.name.lower().endswith(".gz"):
        return path.read_bytes()
    import gzip
    import zlib

    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise RejectedFile(path, None, None, f"cannot read compressed file: {exc}") from exc


def decode(path: Path, raw: bytes) -> tuple[str, str]:
    """Returns (text, encoding). Tries BOMs, then strict UTF-8, then strict cp1252.

    Strict decoding matters: reading cp1252 as latin1 silently turns 'ø' into
    mojibake, and a byte that is valid in neither is an error with a position.
    """
    if not raw.strip():
        raise RejectedFile(path, 1, None, "file is empty")
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        encoding = "utf-16"
    elif raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif len(raw) > 3 and raw[1] == 0 and raw[3] == 0:
        encoding = "utf-16-le"
    else:
        encoding = "utf-8"
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        if encoding != "utf-8":
            line, col = _position(raw, exc.start)
            raise RejectedFile(path, line, None, f"cannot decode as {encoding} at byte {exc.start} (character {col})") from exc
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line, col = _position(raw, exc.start)
        raise RejectedFile(
            path, line, None, f"not UTF-8 and not cp1252: undecodable byte 0x{raw[exc.start]:02x} at character {col}"
        ) from exc


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


def sniff_delimiter(line: str) -> str:
    """The delimiter of a header line: csv.Sniffer, restricted to the ones exports use."""
    try:
        return csv.Sniffer().sniff(line, delimiters=",;\t").delimiter
    except csv.Error:
        counts = {d: line.count(d) for d in (",", ";", "\t")}
        return max(counts, key=counts.get)


@dataclass
class Table:
    """A header and its records, each record with the physical line it started on."""

    path: Path
    layout: Layout
    header: list[str]
    header_line: int
    records: list[tuple[int, list[str]]]
    title_lines: list[str]
    footer_lines: int
    encoding: str
    delimiter: str
    # Non-blank physical lines after the header, minus footers: counted from the text,
    # not from the records, so that the parsers' accounting is a real cross-check.
    data_lines: int = 0

    def index(self) -> dict[str, int]:
        """Canonical column key -> cell index, through the layout's aliases (localised headers)."""
        return self.layout.resolve(self.header)[0]



def read_table(
    path: Path,
    layouts: Sequence[Layout],
    *,
    text: str | None = None,
    encoding: str | None = None,
    is_footer: Callable[[list[str]], bool] = lambda cells: False,
    max_title_lines: int = 10,
) -> Table:
    """Finds the header among the first lines, then reads records with line numbers.

    Title lines before the header and footer rows (``is_footer``) are not data
    lines. A record that spans several physical lines means an unterminated
    quote swallowed the lines after it: the file is rejected at that line.
    """
    if text is None:
        text, encoding = decode(path, read_bytes(path))
    lines = text.splitlines()
    header_at, delimiter, layout, best = None, ",", None, (0, None, None)
    for i, line in enumerate(lines[: max_title_lines + 1]):
        if not line.strip():
            continue
        delim = sniff_delimiter(line)
        cells = next(csv.reader([line], delimiter=delim))
        for candidate in layouts:
            if candidate.matches(cells):
                header_at, delimiter, layout = i, delim, candidate
                break
            score = candidate.overlap(cells)
            if score > best[0]:
                best = (score, candidate, (i, cells))
        if layout:
            break
    if layout is None:
        if best[1] is not None and best[0] >= max(2, len(best[1].required) // 2):
            i, cells = best[2]
            missing = best[1].missing(cells)
            raise RejectedFile(
                path,
                i + 1,
                missing[0],
                f"header looks like the {best[1].name} layout but required column(s) {missing} are missing",
            )
        known = ", ".join(sorted({lay.name for lay in layouts}))
        raise RejectedFile(path, 1, None, f"unknown layout: no header line matches any known layout ({known})")

    body = lines[header_at + 1 :]
    reader = csv.reader(body, delimiter=delimiter)
    header = next(csv.reader([lines[header_at]], delimiter=delimiter))
    header = [c.replace("\ufeff", "").strip() for c in header]
    records: list[tuple[int, list[str]]] = []
    footers = 0
    previous_end = 0
    for cells in reader:
        start = previous_end + 1
        end = reader.line_num
        previous_end = end
        line_number = header_at + 1 + start
        if end - start > 0:
            col = _open_quote_column(header, lines[line_number - 1], delimiter)
            raise RejectedFile(
                path, line_number, col, f"unterminated quote: the record runs over {end - start + 1} lines"
            )
        if not any(c.strip() for c in cells):
            continue
        if is_footer(cells):
            footers += 1
            continue
        records.append((line_number, cells))
    return Table(
        path=path,
        layout=layout,
        header=header,
        header_line=header_at + 1,
        records=records,
        title_lines=lines[:header_at],
        footer_lines=footers,
        encoding=encoding or "utf-8",
        delimiter=delimiter,
        data_lines=sum(1 for line in body if line.strip(delimiter + " \t\r")) - footers,
    )


def _open_quote_column(header: list[str], line: str, delimiter: str) -> str | None:
    parts = line.split(delimiter)
    for i, part in enumerate(parts):
        if part.count('"') % 2 == 1:
            return header[i] if i < len(header) else None
    return None


def cell(record: list[str], idx: dict[str, int], name: str) -> str | None:
    i = idx.get(normalise_header(name))
    if i is None or i >= len(record):
        return None
    return record[i]


def width_problem(record: list, header: list[str]) -> str | None:
    """Why a record cannot be read column by column, or None.

    An unquoted delimiter inside a value shifts every later cell one column to
    the right; reading such a row would put e-mails into country columns.
    Trailing empty cells (a trailing delimiter) are harmless.
    """
    cells = list(record)
    while len(cells) > len(header) and str(cells[-1]).strip() == "":
        cells.pop()
    if len(cells) != len(header):
        return f"{len(cells)} cells where the header has {len(header)} (an unquoted delimiter in a value?)"
    return None


def first_row(cursor) -> tuple | None:
    """The first row of an execute() result, fetched to the end.

    DuckDB 2.0 leaves a half-fetched execute() result open, and a relation
    (con.sql) on the same connection then fails; fetchall() closes it.
    """
    rows = cursor.fetchall()
    return rows[0] if rows else None
