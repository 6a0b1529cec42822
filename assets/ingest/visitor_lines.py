"""Physical line numbers of a visitor CSV export, and the check that they are right.

DuckDB's CSV reader numbers nothing, so a record's number comes from its
position: ``row_number() OVER ()`` over the reader, which DuckDB documents as
turning the original row order into a column (docs 2.0, "Order Preservation":
a single-table FROM and a window with an empty OVER clause keep the order,
with ``preserve_insertion_order`` on, its default). The reader skips empty
lines, so the positions of the empty lines, found by a scan of the bytes in a
thread while DuckDB reads the same file, shift the records after them.

Nothing of this is taken on trust: the same scan keeps a sample of physical
lines (one every 32 KiB of the file, and its last line) with their numbers,
and after staging each sampled line must be the staged session (same
user_pseudo_id and ga_session_id) or the quarantined record at that number.
If a DuckDB release read records in another order, the file is rejected
loudly instead of being mis-numbered (``verify_line_numbers``).
"""

from __future__ import annotations

import csv
import gzip
import re
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from assets.ingest.common import RejectedFile, first_row

# One sampled line per this many bytes of the (decompressed) file.
SAMPLE_STRIDE = 1 << 15
_BLOCK = 1 << 22
_MAX_SAMPLE_LINE = 1 << 16


@dataclass(frozen=True)
class LineScan:
    """A CSV file's physical lines: data lines after the header, where the empty ones are, a sample."""

    data_lines: int
    blank_lines: tuple[int, ...]  # 1-based physical line numbers of empty lines after the header
    samples: tuple[tuple[int, bytes], ...]  # (physical line number, its bytes without the line break)

    def shifts(self) -> list[tuple[int, int]]:
        """(first record index, lines to add to its index-based number), one per run of records between blanks."""
        shifts: dict[int, int] = {}
        for before, line in enumerate(self.blank_lines):
            shifts[line - 2 - before] = before + 1  # records before this blank: line - 2 - blanks before it
        return sorted(shifts.items())


class LineScanner:
    """Scans a text file's lines in a thread, so that it overlaps DuckDB reading the same file.

    Decompression and reading release the GIL, so on a gzip file this runs on
    the core DuckDB's single decompression stream leaves free.
    """

    def __init__(self, path: Path):
        self._result: LineScan | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="visitor-line-scan", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._result = scan_lines(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._result = exc

    def result(self) -> LineScan:
        """The file's lines; raises what the scan met (RejectedFile for a truncated archive)."""
        self._thread.join()
        if isinstance(self._result, BaseException):
            raise self._result
        assert self._result is not None
        return self._result


_BLANK = re.compile(rb"\n\r?(?=\n)")


def scan_lines(path: Path) -> LineScan:
    """Streams the file once (memory stays flat): non-empty lines after the header, the empty ones, samples."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    newlines = 0  # newlines before the current block
    carry = b""  # the previous block's last two bytes: an empty line can straddle blocks
    blanks: list[int] = []
    samples: list[tuple[int, bytes]] = []
    last = b"\n"
    tail = b""  # the last line seen, for the last sample
    try:
        with opener(path, "rb") as fh:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                data = carry + block
                if b"\n\n" in data or b"\n\r\n" in data:
                    counted, position = newlines - carry.count(b"\n"), 0  # newlines before data[position]
                    for match in _BLANK.finditer(data):
                        counted += data.count(b"\n", position, match.start())
                        position = match.start()
                        if match.end() >= len(carry):  # its closing newline is new, so not counted before
                            blanks.append(counted + 2)
                _sample_block(block, newlines, samples)
                newlines += block.count(b"\n")
                carry = data[-2:]
                last = block[-1:]
                tail = (tail + block)[-2 * _MAX_SAMPLE_LINE:]
    except (OSError, EOFError, zlib.error) as exc:
        raise RejectedFile(path, None, None, f"cannot read compressed file: {exc}") from exc
    lines = newlines + (last != b"\n")
    body = tail[:-1] if tail.endswith(b"\n") else tail
    if lines > 1 and body.rfind(b"\n") >= 0:
        last_line = body[body.rfind(b"\n") + 1:].rstrip(b"\r")
        if last_line.strip() and (not samples or samples[-1][0] != lines):
            samples.append((lines, last_line))
    return LineScan(max(lines - 1 - len(blanks), 0), tuple(blanks), tuple(samples))


def _sample_block(block: bytes, newlines_before: int, samples: list[tuple[int, bytes]]) -> None:
    """The first whole line after each SAMPLE_STRIDE offset of the block, with its physical number."""
    counted, position = newlines_before, 0
    for offset in range(0, len(block), SAMPLE_STRIDE):
        start = block.find(b"\n", max(offset, position))
        if start < 0:
            return
        end = block.find(b"\n", start + 1)
        if end < 0:
            return
        counted += block.count(b"\n", position, start + 1)
        position = start + 1
        line = block[start + 1:end].rstrip(b"\r")
        number = counted + 1
        if number > 1 and line.strip() and len(line) <= _MAX_SAMPLE_LINE:
            samples.append((number, line))


def renumber_after_blank_lines(con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str, list]],
                               scan: LineScan) -> None:
    """Records after empty lines sit that many lines further down: add them in each (table, where, params).

    Records were numbered as if no line were empty (record index + 2); empty lines
    are rare, so this fix-up runs only for files that have them.
    """
    shifts = scan.shifts()
    if not shifts:
        return
    table_shift = pa.table({"first_line": pa.array([first + 2 for first, _ in shifts], pa.int64()),
                            "shift": pa.array([shift for _, shift in shifts], pa.int64())})
    con.register("_visitor_line_shift", table_shift)
    try:
        for name, where, args in tables:
            con.execute(
                f"UPDATE {name} AS t SET line_number = t.line_number + (SELECT max_by(s.shift, s.first_line) "
                f"FROM _visitor_line_shift s WHERE s.first_line <= t.line_number) "
                f"WHERE {where} AND t.line_number >= {shifts[0][0] + 2}",
                args,
            )
    finally:
        con.unregister("_visitor_line_shift")


def verify_line_numbers(con: duckdb.DuckDBPyConnection, path: Path, scan: LineScan, *, delimiter: str,
                        header: list[str], user_column: str, session_column: str, staged: str, where: str,
                        params: list, quarantined: str) -> int:
    """Checks every sampled physical line against what was staged or quarantined at its number.

    Returns the number of lines checked; raises RejectedFile at the first line
    whose staged session is not the one the file holds there.
    """
    if first_row(con.execute("SELECT current_setting('preserve_insertion_order')"))[0] is not True:
        raise RuntimeError("preserve_insertion_order is off: visitor line numbers rest on DuckDB keeping the "
                           "CSV reader's order (set it back on for the warehouse connection)")
    user_at, session_at = header.index(user_column), header.index(session_column)
    expected = []
    for number, raw in scan.samples:
        text = raw.decode("utf-8", errors="replace")
        cells = next(csv.reader([text], delimiter=delimiter), [])
        if len(cells) != len(header) or text.count('"') % 2:
            continue  # not a whole record on one line: the line accounting has judged such files already
        expected.append((number, cells[user_at].strip(" "), cells[session_at].strip(" ")))
    if not expected:
        return 0
    con.register("_visitor_line_sample", pa.table({
        "line_number": pa.array([e[0] for e in expected], pa.int64()),
        "user_pseudo_id": pa.array([e[1] for e in expected], pa.string()),
        "ga_session_raw": pa.array([e[2] for e in expected], pa.string()),
    }))
    try:
        wrong = first_row(con.execute(
            f"""
            WITH staged AS (
              SELECT line_number, user_pseudo_id, ga_session_id FROM {staged}
              WHERE {where} AND line_number IN (SELECT line_number FROM _visitor_line_sample)
            )
            SELECT s.line_number, st.user_pseudo_id IS NULL AS missing
            FROM _visitor_line_sample s
            LEFT JOIN staged st USING (line_number)
            WHERE NOT EXISTS (SELECT 1 FROM {quarantined} q WHERE q.line_number = s.line_number)
              AND (st.line_number IS NULL OR st.user_pseudo_id IS DISTINCT FROM s.user_pseudo_id
                   OR st.ga_session_id IS DISTINCT FROM TRY_CAST(s.ga_session_raw AS BIGINT))
            ORDER BY s.line_number LIMIT 1
            """, params))
    finally:
        con.unregister("_visitor_line_sample")
    if wrong:
        what = "no staged or quarantined record has this number" if wrong[1] else "another record was staged under it"
        raise RejectedFile(path, wrong[0], None,
                           f"line numbering check failed: {what} (DuckDB did not read the records in file order); "
                           "the file is not staged rather than mis-numbered")
    return len(expected)
