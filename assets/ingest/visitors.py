"""Site analytics visitor exports (GA4-style, one row per session).

Files can hold tens of millions of sessions, so this parser is DuckDB SQL over
the file (streaming, spilling to disk) rather than a Python loop. Readable
sessions go straight into staging.sessions in the transaction that records the
file in the ledger, in one pass: a Parquet file's reader numbers its records
(``file_row_number``), a CSV file's records are numbered by their position and
the empty lines before them, and checked against the file itself
(``assets/ingest/visitor_lines.py``). Unreadable records go to
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

from assets.ingest.common import first_row, RejectedFile, decode, sniff_delimiter
from assets.ingest.visitor_lines import LineScanner, renumber_after_blank_lines, verify_line_numbers
from assets.ingest.contract import EMPTY, EMAIL_MARKER, EMAIL_PATTERN, LOSSY_ID_PATTERN, PHONE_MARKER, PHONE_PATTERN, layout, sql_date

GA4 = layout("ga4_sessions")
# A CSV record's 0-based position in DuckDB's reader: the order a single-table FROM and an empty
# OVER () keep (DuckDB docs, "Order Preservation"); visitor_lines checks it against the file.
CSV_RECORD = "row_number() OVER () - 1"

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
    numbers its records itself (``file_row_number``), a CSV file's numbers are
    its records' positions (``CSV_RECORD``) shifted past empty lines, checked
    against sampled physical lines (visitor_lines). The file is read again only
    when it has unreadable records. Line accounting: readable + quarantined
    records must equal the file's data lines, and each record is staged once.
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
        csv_source = (
            f"read_csv('{_sql_path(path)}', header=true, all_varchar=true, delim='{delimiter}', quote='\"', "
            "escape='\"', strict_mode=true, null_padding=false)"
        )
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
    scanner = None
    if is_parquet:
        typed = _typed_sql(source, cols, record)
    else:
        # One read of the file: a record's position in the reader numbers it (CSV_RECORD); the line
        # scan, in a thread, finds the empty lines and samples lines that check the numbers. The
        # window keeps the reading on one thread, so only the numbered cells are read there
        # (numbered_first): the typing, attribution and write run on every thread after it.
        scanner = LineScanner(path)
        typed = _typed_sql(csv_source, cols, CSV_RECORD, numbered_first=True)

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
            con.execute(f"CREATE TEMP TABLE _visitor_rows AS {rows_sql} LIMIT 0")
        else:
            scope = " AND ".join(f'"{k}" = ?' for k in constants) or "true"
            params = list(constants.values())
        extra = "".join(f', ? AS "{k}"' for k in constants)
        staged = first_row(con.execute(f"INSERT INTO {into} BY NAME SELECT *{extra} FROM ({rows_sql})", params))[0]
    except duckdb.Error as exc:
        if scanner is not None:
            scanner.result()  # a truncated archive is named as such, whatever DuckDB made of it
            located = _locate_csv_problem(path, delimiter, columns)
            if located:
                raise RejectedFile(path, *located) from exc
        raise RejectedFile(path, None, None, f"cannot parse: {str(exc).splitlines()[0]}") from exc
    scan = scanner.result() if scanner is not None else None
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
    )
    if staged == data_lines:
        # Every data line became a staged session: nothing to quarantine, nothing joined.
        con.execute("CREATE TEMP TABLE _visitor_quarantine (line_number BIGINT, column_name VARCHAR, "
                    "value VARCHAR, reason VARCHAR, lossy BOOLEAN)")
        read_rows = staged
    else:
        # Some records are unreadable (or lines were joined): read the file again for them alone.
        con.execute(f"CREATE TEMP TABLE _visitor_quarantine AS {quarantine}")
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
    if scan is not None:
        renumber_after_blank_lines(con, [(into, scope, params), ("_visitor_quarantine", "true", [])], scan)
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


def _typed_sql(source: str, cols: dict[str, str], record: str, numbered_first: bool = False) -> str:
    """SQL of the file's records: trimmed cells, typed, the first unreadable column, and the line number.

    ``record`` is the record's 0-based index in the file (the header is line 1). With
    ``numbered_first`` the file's cells are numbered and materialized before anything else
    (``record`` is a window, which runs on one thread, and so would all that is in its pipeline):
    the typing, the attribution and the write then read them on every thread. A record's number
    is a column from then on, so nothing after it depends on the order rows are read in.
    """
    def col(name: str) -> str:
        return f'CAST("{cols[name]}" AS VARCHAR)'

    if numbered_first:
        wanted = ", ".join(f'"{column}"' for column in dict.fromkeys(cols.values()))
        cells = f"cells AS MATERIALIZED (SELECT {record} AS _record, {wanted} FROM {source}),"
        source, record = "cells", "_record"
    else:
        cells = ""
    return f"""
        WITH {cells} raw AS (
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
        try:
            for cells in reader:
                start, end = previous_end + 1, reader.line_num
                previous_end = end
                if not cells:
                    continue  # an empty line: no record (DuckDB skips it), not a record of 0 cells
                if end > start:
                    return start, None, f"unterminated quote: the record runs over {end - start + 1} lines"
                if len(cells) != len(header):
                    return start, None, f"{len(cells)} cells where the header has {len(header)}"
        except csv.Error as exc:  # the record after previous_end; csv's messages quote no cell
            if "field larger than field limit" in str(exc):  # a quote that never closes takes in the rest
                return previous_end + 1, None, (f"unterminated quote? a quoted cell runs on for more than "
                                                f"{csv.field_size_limit():,} characters")
            return previous_end + 1, None, f"unreadable record: {exc}"
    return None


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
