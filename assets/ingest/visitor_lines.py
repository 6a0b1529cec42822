"""Physical lines of a visitor CSV export, and the check that staged line numbers are right.

Polars reads a visitor CSV (assets/ingest/visitors.py) and numbers its records
itself (its row index, in file order, on every core); an empty line is a record
of empty cells there, so a record's index + 2 is its physical line while no
record spans lines. What the reader cannot say is checked against the file's
physical lines, read by Polars' line reader in a thread while the records load:

- the data lines (non-empty lines after the header): line accounting, so a
  quoted newline that joins two lines into one record rejects the file;
- the empty lines, which are no records (the staging query leaves them out);
- the first non-empty line whose cell count (quoted cells, with their doubled
  quotes, taken out before the delimiters are counted) is not the header's. The
  CSV reader fills a short record's missing cells with nulls without a word, so
  this is what finds a short record: the file is then rejected at that line;
- a sample of lines (every SAMPLE_EVERY-th line and the last one) with their
  numbers: after staging each must be the staged session (same user_pseudo_id and
  ga_session_id) or the quarantined record at that number, so a reader that
  numbered records out of file order is caught loudly (``verify_line_numbers``).
"""

from __future__ import annotations

import csv
import gzip
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from assets.ingest.common import RejectedFile, first_row

# One sampled line per this many physical lines (about 27,000 samples in 7M sessions).
SAMPLE_EVERY = 256
_MAX_SAMPLE_LINE = 1 << 16
# A quoted cell: quotes around anything but a lone quote (a doubled quote is an escaped one).
QUOTED_CELL = r'"(?:[^"]|"")*"'


@dataclass(frozen=True)
class LineScan:
    """A CSV file's physical lines: data lines after the header, the empty ones, the first of the wrong width, a sample."""

    data_lines: int
    blank_lines: tuple[int, ...]  # 1-based physical line numbers of empty lines after the header
    samples: tuple[tuple[int, bytes], ...]  # (physical line number, its bytes without the line break)
    wrong_width: int | None = None  # the first non-empty line whose cells (by a quote-aware count) differ in number


class LineScanner:
    """Scans a text file's lines in a thread, so that it overlaps the records loading from the same file.

    Polars releases the GIL while it reads; what runs in Python is a few calls per batch of lines.
    """

    def __init__(self, path: Path, delimiter: str, width: int):
        self._result: LineScan | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path, delimiter, width), name="visitor-line-scan",
                                        daemon=True)
        self._thread.start()

    def _run(self, path: Path, delimiter: str, width: int) -> None:
        try:
            self._result = scan_lines(path, delimiter, width)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._result = exc

    def result(self) -> LineScan:
        """The file's lines; raises what the scan met (RejectedFile for a truncated archive)."""
        self._thread.join()
        if isinstance(self._result, BaseException):
            raise self._result
        assert self._result is not None
        return self._result


def scan_lines(path: Path, delimiter: str, width: int) -> LineScan:
    """One streaming pass over the file's lines, batch by batch (memory stays flat): see the module docstring."""
    line, n = pl.col("line"), pl.col("n")  # n: 0-based physical line (the header is 0)
    blank = line == ""
    cells = line.str.replace_all(QUOTED_CELL, "").str.count_matches(delimiter, literal=True) + 1
    sampled = ~blank & (line.str.len_bytes() <= _MAX_SAMPLE_LINE) & (n % SAMPLE_EVERY == 0)
    lines, blanks, samples, wrong, last = 0, [], [], None, None
    try:
        for batch in pl.scan_lines(path, name="line", row_index_name="n").collect_batches():
            batch = batch.filter(n > 0)
            lines += batch.height
            blanks += batch.filter(blank)["n"].to_list()
            if wrong is None:
                wrong = batch.filter(~blank & (cells != width))["n"].min()
            samples += batch.filter(sampled).select("n", "line").rows()
            tail = batch.filter(~blank).tail(1).rows()
            last = tail[0] if tail else last
    except (OSError, pl.exceptions.PolarsError) as exc:
        if re.search(r"utf-?8", str(exc), re.IGNORECASE):
            raise RejectedFile(path, _first_undecodable_line(path), None, "not valid UTF-8") from exc
        what = "compressed file" if path.name.lower().endswith(".gz") else "file"
        raise RejectedFile(path, None, None, f"cannot read {what}: {exc}") from exc
    if last is not None and last[0] % SAMPLE_EVERY and len(last[1].encode()) <= _MAX_SAMPLE_LINE:
        samples.append(last)
    return LineScan(lines - len(blanks), tuple(b + 1 for b in blanks),
                    tuple((k + 1, text.encode()) for k, text in samples), None if wrong is None else wrong + 1)


def _first_undecodable_line(path: Path) -> int | None:
    """The first physical line that is not UTF-8 (only called once a reader refused the file)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def verify_line_numbers(con: duckdb.DuckDBPyConnection, path: Path, scan: LineScan, *, delimiter: str,
                        header: list[str], user_column: str, session_column: str, staged: str, where: str,
                        params: list, quarantined: str) -> int:
    """Checks every sampled physical line against what was staged or quarantined at its number.

    Returns the number of lines checked; raises RejectedFile at the first line
    whose staged session is not the one the file holds there.
    """
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
                           f"line numbering check failed: {what} (the CSV reader did not number the records in file order); "
                           "the file is not staged rather than mis-numbered")
    return len(expected)
