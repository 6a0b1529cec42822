"""Site analytics visitor exports (GA4-style, one row per session).

Files can hold tens of millions of sessions, so this parser is DuckDB SQL over
the file (streaming, spilling to disk; a CSV file's records come from Polars'
reader as a stream of Arrow batches) rather than a Python loop. Readable
sessions go straight into staging.sessions in the transaction that records the
file in the ledger, in one pass: a Parquet file's reader numbers its records
(``file_row_number``), and so does Polars' CSV reader (its row index, in file
order, while it parses on every core), checked against the file's physical
lines (``assets/ingest/visitor_lines.py``). Unreadable records go to
``_visitor_quarantine``; the file is read a second time for them only when
there are some.

Normalised grain: one row per session (user_pseudo_id x ga_session_id), with
its date, campaign (the campaign its utm code names, else the campaign whose
window holds the date), period, channel (source/medium grouped by the
reference channel rules) and engagement: attribution by the macros of
sql/attribution.sql.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from assets.ingest.common import first_row, RejectedFile, decode, sniff_delimiter
from assets.ingest.visitor_lines import LineScanner, verify_line_numbers
from assets.ingest.contract import EMPTY, EMAIL_MARKER, EMAIL_PATTERN, LOSSY_ID_PATTERN, PHONE_MARKER, PHONE_PATTERN, layout, sql_date

GA4 = layout("ga4_sessions")
# A CSV record's 0-based index, numbered by Polars' reader (an empty line is a record there too, so
# index + 2 is the record's physical line); visitor_lines checks it against the file's lines.
CSV_RECORD = "_record_index"
CSV_RECORD_SQL = CSV_RECORD  # the record's index as the staging SQL reads it (a test replaces it to disorder it)
CSV_VIEW = "_visitor_csv"

@dataclass
class VisitorLoad:
    layout: str
    data_lines: int
    rows_loaded: int
    rows_quarantined: int
    export_key: str
    first_day: date | None = None
    last_day: date | None = None


def _first_line(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return fh.readline(1 << 16)
    except (OSError, EOFError, zlib.error) as exc:
        raise RejectedFile(path, 1, None, f"cannot read file: {exc}") from exc


def parse_visitors(con: duckdb.DuckDBPyConnection, path: Path, into: str | None = None,
                   constants: dict[str, str] | None = None) -> VisitorLoad:
    """Reads one visitor export: its readable sessions go straight into ``into``.

    ``into`` is a table with staging.sessions' columns (``constants``, such as
    file_hash, fill the columns the file does not give); by default the rows go
    to a new temporary table ``_visitor_rows``. Unreadable records go to the
    temporary table ``_visitor_quarantine`` (line_number, column_name, value,
    reason). Either file is read once, straight into ``into``: a Parquet file
    numbers its records itself (``file_row_number``), a CSV file's records are
    numbered by Polars' reader (``CSV_RECORD``), checked against sampled physical
    lines (visitor_lines). The file is read again only when it has unreadable
    records. Line accounting: readable + quarantined records must equal the
    file's data lines, and each record is staged once.
    """
    is_parquet = path.suffix.lower() == ".parquet"
    if is_parquet:
        try:
            columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
            records = first_row(con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]))[0]
        except duckdb.Error as exc:
            raise RejectedFile(path, None, None, f"not a readable Parquet file: {exc}") from exc
        source, record = f"read_parquet('{_sql_path(path)}', file_row_number=true)", "file_row_number"
    else:
        first = _first_line(path)
        if not first.strip():
            raise RejectedFile(path, 1, None, "file is empty")
        if first.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise RejectedFile(path, 1, None, "visitor exports must be UTF-8, found UTF-16")
        header_text, encoding = decode(path, first)
        if encoding not in ("utf-8", "utf-8-sig"):
            raise RejectedFile(path, 1, None, f"visitor exports must be UTF-8, found {encoding}")
        delimiter = sniff_delimiter(header_text)
        columns = [c.strip().strip('"') for c in header_text.strip("\r\n\ufeff").split(delimiter)]
        stream = _CsvStream(path, delimiter, len(columns))
        records = None
    missing = GA4.missing(columns)
    if missing:
        if GA4.overlap(columns) < 3:
            raise RejectedFile(path, 1, None, "unknown layout: the header is not a GA4 session export")
        raise RejectedFile(path, 1, missing[0], f"required column(s) {missing} missing from the header")
    cols = {key: columns[i] for key, i in GA4.resolve(columns)[0].items()}
    if is_parquet:
        _reject_lossy_parquet_types(path, con, cols)
    release_visitor_tables(con)
    scanner, stream_or_none = None, None
    if is_parquet:
        typed = _typed_sql(source, cols, record)
    else:
        # One pass from the file to the staged table: Polars parses the records on every core and numbers
        # them (CSV_RECORD), DuckDB types, attributes and writes them as the batches arrive; the line scan,
        # in a thread, counts the lines, finds the empty ones and the short records, and samples lines
        # that check the numbers.
        scanner, stream_or_none = LineScanner(path, delimiter, stream.width), stream
        typed = _typed_sql(stream.source(columns, list(cols.values())), cols, CSV_RECORD_SQL)

    # Attribution by sql/attribution.sql (session_attribution: the campaign the utm code names,
    # else the campaign whose window holds the date; its period holding the date; the channel
    # rules). DuckDB decorrelates the macro into one join over the distinct (source, medium,
    # utm code, date) - about a thousand in a year of sessions - so no rule runs per session.
    rows_sql = f"""
        SELECT v.event_date, v.user_pseudo_id, v.ga_session_id,
               v.session_source, v.session_medium, v.session_campaign,
               v.attributed.channel, v.attributed.campaign_id, v.attributed.period,
               v.landing_page, v.country, v.engaged_session, v.line_number
        FROM (
          SELECT t.*, session_attribution(t.session_source, t.session_medium, t.session_campaign, t.event_date)
                      AS attributed
          FROM ({typed}) t
          WHERE t.bad_column IS NULL
        ) v
    """
    constants = constants or {}
    try:
        if into is None:
            into, scope, params = "_visitor_rows", "true", []
            _open(con, stream_or_none)
            con.execute(f"CREATE TEMP TABLE _visitor_rows AS {rows_sql} LIMIT 0")
        else:
            scope = " AND ".join(f'"{k}" = ?' for k in constants) or "true"
            params = list(constants.values())
        extra = "".join(f', ? AS "{k}"' for k in constants)
        _open(con, stream_or_none)
        staged = first_row(con.execute(f"INSERT INTO {into} BY NAME SELECT *{extra} FROM ({rows_sql})", params))[0]
    except (duckdb.Error, OSError, pl.exceptions.PolarsError) as exc:  # Polars' own if its first batch fails
        if scanner is not None:
            scanner.result()  # a truncated archive or a line that is not UTF-8 is named as such
            located = _locate_csv_problem(path, delimiter, columns)
            if located:
                raise RejectedFile(path, *located) from exc
        reason = stream.error if stream_or_none is not None and stream.error else str(exc)
        raise RejectedFile(path, None, None, f"cannot parse: {reason.splitlines()[0]}") from exc
    finally:
        _close(con, stream_or_none)
    scan = scanner.result() if scanner is not None else None
    if scan is not None and scan.wrong_width is not None:
        # A short record: the reader filled its missing cells with nulls. Located exactly by a CSV parse.
        located = _locate_csv_problem(path, delimiter, columns)
        if located:
            raise RejectedFile(path, *located)
    data_lines = scan.data_lines if scan is not None else records
    twice = _sessions_in_overlapping_periods(con, into, scope, params)
    if twice:
        raise RejectedFile(path, None, None,
                           f"line accounting failed: {twice} session(s) matched two overlapping periods "
                           "of their campaign")
    date_formats = ", ".join(GA4.column("event_date").formats)
    quarantine = (
        "SELECT line_number, bad_column AS column_name, "
        "CASE bad_column WHEN 'event_date' THEN event_date_raw "
        "WHEN 'engaged_session' THEN engaged_raw END AS value, "
        f"CASE WHEN lossy THEN 'identifier in a floating-point form' "
        f"WHEN bad_column = 'event_date' THEN 'not a date in the declared format(s) {date_formats}' "
        "WHEN bad_column = 'user_pseudo_id' THEN 'user_pseudo_id is empty' "
        "WHEN bad_column = 'ga_session_id' THEN 'ga_session_id is not a whole number' "
        "ELSE 'engaged_session is not 0 or 1' END AS reason, lossy "
        f"FROM ({typed}) WHERE bad_column IS NOT NULL"
        # Empty lines are records of empty cells to the CSV reader, and no records to line accounting.
        + (f" AND line_number NOT IN ({', '.join(str(b) for b in scan.blank_lines)})"
           if scan is not None and scan.blank_lines else "")
    )
    if staged == data_lines:
        # Every data line became a staged session: nothing to quarantine, nothing joined.
        con.execute("CREATE TEMP TABLE _visitor_quarantine (line_number BIGINT, column_name VARCHAR, "
                    "value VARCHAR, reason VARCHAR, lossy BOOLEAN)")
        read_rows = staged
    else:
        # Some records are unreadable (or lines were joined): read the file again for them alone.
        _open(con, stream_or_none)
        try:
            con.execute(f"CREATE TEMP TABLE _visitor_quarantine AS {quarantine}")
        finally:
            _close(con, stream_or_none)
        read_rows = staged + first_row(con.execute("SELECT count(*) FROM _visitor_quarantine"))[0]
    if data_lines is not None and read_rows != data_lines:
        line, column, why = _locate_csv_problem(path, delimiter, columns) or (None, None, "")
        raise RejectedFile(
            path,
            line,
            column,
            f"line accounting failed: {data_lines} data lines but {read_rows} records "
            f"({why or 'an unterminated quote or embedded newline joined lines'})",
        )
    lossy = first_row(con.execute(
        "SELECT line_number, column_name FROM _visitor_quarantine WHERE lossy ORDER BY line_number LIMIT 1"))
    if lossy:
        raise RejectedFile(path, lossy[0], lossy[1], "identifier carried in a floating-point (exponent or decimal) "
                           "form: the export's types are lossy, re-export the ids as text")
    if scan is not None:
        verify_line_numbers(con, path, scan, delimiter=delimiter, header=columns,
                            user_column=cols["user_pseudo_id"], session_column=cols["ga_session_id"],
                            staged=into, where=scope, params=params, quarantined="_visitor_quarantine")
    first_day, last_day = first_row(con.execute(
        f"SELECT min(event_date), max(event_date) FROM {into} WHERE {scope}", params))
    return VisitorLoad(
        layout=GA4.name,
        data_lines=read_rows if data_lines is None else data_lines,
        rows_loaded=staged,
        rows_quarantined=read_rows - staged,
        export_key=f"{GA4.name}|{path.name}|{first_day}..{last_day}",
        first_day=first_day,
        last_day=last_day,
    )


class _CsvStream:
    """A visitor CSV as Polars reads it: every cell text, positional names (c0, c1, ...) and the record index.

    ``_open`` registers a fresh Arrow stream of it on a connection as CSV_VIEW (a stream is read once;
    each statement over the file opens one). Polars' own error, if it stopped reading, is kept in ``error``.
    Polars fills a short record's missing cells with nulls: visitor_lines' scan finds such records.
    """

    def __init__(self, path: Path, delimiter: str, header_cells: int):
        self.path, self.delimiter, self.error = path, delimiter, ""
        try:
            self.width = len(self._scan().collect_schema()) - 1
        except OSError as exc:  # a gzip archive that ends early, already in its first block
            raise RejectedFile(path, None, None, f"cannot read compressed file: {exc}") from exc
        except pl.exceptions.PolarsError as exc:
            raise RejectedFile(path, 1, None, f"cannot read the header: {str(exc).splitlines()[0]}") from exc
        if self.width != header_cells:
            raise RejectedFile(path, 1, None, f"the header has {self.width} cells as CSV but {header_cells} "
                               "names between delimiters: quote no column name")

    def _scan(self) -> pl.LazyFrame:
        # Every cell as text (typing is the staging SQL's); a quote doubled inside quotes is a quote.
        return pl.scan_csv(self.path, separator=self.delimiter, quote_char='"', infer_schema=False,
                           encoding="utf8", row_index_name=CSV_RECORD,
                           with_column_names=lambda names: [f"c{i}" for i in range(len(names))])

    def source(self, header: list[str], used: list[str]) -> str:
        """SQL over the registered stream: the record index and the ``used`` columns under their header names.

        An empty cell, quoted or not, is NULL (as DuckDB's reader gives it): Polars reads a quoted one as ''.
        """
        cells = ", ".join(f"NULLIF(c{header.index(name)}, '') AS \"{name}\"" for name in dict.fromkeys(used))
        return f"(SELECT {CSV_RECORD}, {cells} FROM {CSV_VIEW})"

    def reader(self) -> pa.RecordBatchReader:
        batches = self._scan().collect_batches()
        try:
            first = next(batches).to_arrow()
        except StopIteration:
            first = self._scan().head(0).collect().to_arrow()
        except (OSError, pl.exceptions.PolarsError) as exc:
            self.error = str(exc)
            raise

        def rest():
            yield from first.to_batches()
            try:
                for frame in batches:
                    yield from frame.to_arrow().to_batches()
            except (OSError, pl.exceptions.PolarsError) as exc:
                self.error = str(exc)
                raise

        return pa.RecordBatchReader.from_batches(first.schema, rest())


def _open(con: duckdb.DuckDBPyConnection, stream: _CsvStream | None) -> None:
    if stream is not None:
        con.register(CSV_VIEW, stream.reader())


def _close(con: duckdb.DuckDBPyConnection, stream: _CsvStream | None) -> None:
    if stream is not None:
        con.unregister(CSV_VIEW)  # a no-op when _open failed before registering it


def _typed_sql(source: str, cols: dict[str, str], record: str) -> str:
    """SQL of the file's records: trimmed cells, typed, the first unreadable column, and the line number.

    ``record`` is the record's 0-based index in the file (the header is line 1).
    """
    def col(name: str) -> str:
        return f'CAST("{cols[name]}" AS VARCHAR)'

    return f"""
        WITH raw AS (
          SELECT {record} AS _record,
                 trim({col('event_date')}) AS event_date_raw,
                 trim({col('user_pseudo_id')}) AS user_pseudo_id,
                 trim({col('ga_session_id')}) AS ga_session_id_raw,
                 trim({col('session_source')}) AS session_source,
                 trim({col('session_medium')}) AS session_medium,
                 trim({col('session_campaign')}) AS session_campaign,
                 {col('landing_page')} AS landing_page_raw,
                 trim({col('country')}) AS country,
                 trim({col('engaged_session')}) AS engaged_raw
          FROM {source}
        ), scrubbed AS (
          -- Free text: e-mails, then phone numbers, replaced by markers. The patterns run only where
          -- they can match (an e-mail has an '@', every phone alternative two adjacent digits).
          SELECT * EXCLUDE (landing_page_raw),
                 CASE WHEN regexp_matches(_email_free, '[0-9][0-9]')
                      THEN regexp_replace(_email_free, '{PHONE_PATTERN}', '{PHONE_MARKER}', 'g')
                      ELSE _email_free END AS landing_page
          FROM (SELECT *, CASE WHEN contains(landing_page_raw, '@')
                               THEN regexp_replace(landing_page_raw, '{EMAIL_PATTERN}', '{EMAIL_MARKER}', 'g')
                               ELSE landing_page_raw END AS _email_free
                FROM raw)
        ), typed AS (
          SELECT * EXCLUDE (_email_free),
                 {sql_date('event_date_raw', GA4.column('event_date').formats)} AS event_date,
                 CASE WHEN regexp_full_match(ga_session_id_raw, '[0-9]+') THEN TRY_CAST(ga_session_id_raw AS BIGINT)
                 END AS ga_session_id,
                 -- A float form has an exponent (an 'e') or a decimal point: the patterns run only where
                 -- one is (a CASE evaluates its THEN on those rows alone).
                 CASE WHEN contains(lower(user_pseudo_id), 'e')
                      THEN regexp_full_match(user_pseudo_id, '{LOSSY_ID_PATTERN}') ELSE false END
                   OR CASE WHEN contains(lower(ga_session_id_raw), 'e') OR contains(ga_session_id_raw, '.')
                      THEN regexp_full_match(ga_session_id_raw, '{LOSSY_ID_PATTERN}|[0-9]+[.][0-9]*') ELSE false END
                   AS lossy,
                 CASE WHEN engaged_raw IN ('0', '1') THEN engaged_raw::INTEGER END AS engaged_session
          FROM scrubbed
        )
        SELECT *, _record + 2 AS line_number,
          CASE
            WHEN lossy AND regexp_full_match(user_pseudo_id, '{LOSSY_ID_PATTERN}') THEN 'user_pseudo_id'
            WHEN lossy THEN 'ga_session_id'
            WHEN event_date IS NULL THEN 'event_date'
            WHEN coalesce(lower(user_pseudo_id), '') IN ({EMPTY_SQL}) THEN 'user_pseudo_id'
            WHEN ga_session_id IS NULL THEN 'ga_session_id'
            WHEN engaged_session IS NULL OR engaged_session NOT IN (0, 1) THEN 'engaged_session'
          END AS bad_column
        FROM typed
    """


# Parquet types an identifier column may have: text, or integers (whose text is exact).
_LOSSLESS_ID_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "UBIGINT", "UINTEGER", "HUGEINT", "SMALLINT", "USMALLINT")


def _reject_lossy_parquet_types(path: Path, con: duckdb.DuckDBPyConnection, cols: dict[str, str]) -> None:
    """A Parquet identifier column typed as a float (or decimal) would be cast into different ids."""
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                             [str(path)]).fetchall())
    for column in GA4.columns:
        if column.type != "identifier" or column.key not in cols:
            continue
        declared = types.get(cols[column.key], "")
        if declared.upper() not in _LOSSLESS_ID_TYPES:
            raise RejectedFile(path, None, column.name, f"identifier column stored as {declared}: the export's "
                               "types are lossy (ids must be text or integers), re-export the ids as text")


# The contract's empty-cell tokens ('', '--', 'n/a', ...), as a SQL list: an id written so is no id.
EMPTY_SQL = ", ".join("'" + token.replace("'", "''") + "'" for token in sorted(EMPTY))

def _sessions_in_overlapping_periods(con: duckdb.DuckDBPyConnection, table: str, scope: str, params: list) -> int:
    """Sessions of this file dated on a day two periods of their campaign share (a period of its own each)."""
    shared = "SELECT campaign_id, day FROM period_days() GROUP BY ALL HAVING count(*) > 1"
    if not first_row(con.execute(f"SELECT count(*) FROM ({shared})"))[0]:
        return 0
    return first_row(con.execute(
        f"SELECT count(*) FROM {table} s JOIN ({shared}) d ON d.campaign_id = s.campaign_id AND d.day = s.event_date "
        f"WHERE {scope}", params))[0]


def release_visitor_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drops what parse_visitors left on ``con``."""
    for name in ("_visitor_rows", "_visitor_quarantine"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _locate_csv_problem(path: Path, delimiter: str, header: list[str]) -> tuple[int, str | None, str] | None:
    """Finds the first record DuckDB could not read: one spanning lines, or with a wrong cell count.

    Only runs after DuckDB refused the file, so its cost does not matter.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        previous_end = 1
        for cells in reader:
            start, end = previous_end + 1, reader.line_num
            previous_end = end
            if end > start:
                return start, None, f"unterminated quote: the record runs over {end - start + 1} lines"
            if len(cells) != len(header):
                return start, None, f"{len(cells)} cells where the header has {len(header)}"
    return None


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
