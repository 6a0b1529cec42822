"""Site analytics visitor exports (GA4-style, one row per session).

Files can hold tens of millions of sessions, so this parser is DuckDB SQL over
the file (streaming, spilling to disk) rather than a Python loop. The file is
read once, into one temporary table of typed cells (``_visitor_typed``, whose
rowid gives each record its line number); two temporary views over it,
``_visitor_rows`` and ``_visitor_quarantine``, are what staging moves into the
warehouse in the same transaction as the ledger entry. A gzip file's physical
lines are counted in a thread while DuckDB reads it.

Normalised grain: one row per session (user_pseudo_id x ga_session_id), with
its date, campaign (the campaign whose window holds the date), period,
channel (source/medium grouped to the ad platforms, organic, direct,
referral) and engagement.
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

from assets.ingest.common import first_row, Layout, RejectedFile, decode, normalise_header, sniff_delimiter

GA4 = Layout(
    "ga4_sessions",
    "visitors",
    (
        "event_date",
        "user_pseudo_id",
        "ga_session_id",
        "session_source",
        "session_medium",
        "session_campaign",
        "landing_page",
        "country",
        "engaged_session",
    ),
)

# The one definition of how a session's source/medium becomes a channel.
CHANNEL_SQL = """
CASE
  WHEN lower(session_medium) IN ('cpc','ppc','paid','paidsocial','paid_social','paid-social','cpm','display')
       AND regexp_matches(lower(session_source), 'linkedin|lnkd') THEN 'linkedin'
  WHEN lower(session_medium) IN ('cpc','ppc','paid','paidsocial','paid_social','paid-social','cpm','display')
       AND regexp_matches(lower(session_source), 'facebook|instagram|^fb$|^ig$|meta|messenger') THEN 'meta'
  WHEN lower(session_medium) IN ('cpc','ppc','paid','cpm','display')
       AND regexp_matches(lower(session_source), 'google|youtube') THEN 'google_ads'
  WHEN lower(session_medium) = 'organic' THEN 'organic'
  WHEN coalesce(session_source, '') IN ('', '(direct)') OR lower(coalesce(session_medium, '')) IN ('', '(none)', 'none')
       THEN 'direct'
  ELSE 'referral'
END
"""


@dataclass
class VisitorLoad:
    layout: str
    data_lines: int
    rows_loaded: int
    rows_quarantined: int
    export_key: str


class _LineCounter:
    """Counts a text file's data lines in a thread, so that it overlaps DuckDB reading the same file.

    Decompression and reading release the GIL, so on a gzip file this runs on
    the core DuckDB's single decompression stream leaves free.
    """

    def __init__(self, path: Path):
        self._result: _LineScan | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="visitor-line-count", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._result = _count_data_lines(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._result = exc

    def result(self) -> _LineScan:
        """The file's lines; raises what the count met (RejectedFile for a truncated archive)."""
        self._thread.join()
        if isinstance(self._result, BaseException):
            raise self._result
        assert self._result is not None
        return self._result


@dataclass(frozen=True)
class _LineScan:
    """A CSV file's physical lines: the data lines after the header, and where the empty ones are.

    DuckDB's CSV reader skips empty lines, so they are not records; the parser
    needs their positions to give every record its physical line number.
    """

    data_lines: int
    blank_lines: tuple[int, ...]  # 1-based physical line numbers of empty lines after the header

    def shifts(self) -> list[tuple[int, int]]:
        """(first record index, lines to add to its index-based number), one per run of records between blanks."""
        shifts: dict[int, int] = {}
        for before, line in enumerate(self.blank_lines):
            shifts[line - 2 - before] = before + 1  # records before this blank: line - 2 - blanks before it
        return sorted(shifts.items())


_BLANK = re.compile(rb"\n\r?(?=\n)")


def _count_data_lines(path: Path) -> _LineScan:
    """Streams the file once (memory stays flat): non-empty lines after the header, and the empty ones."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    newlines = 0  # newlines before the current block
    carry = b""  # the previous block's last two bytes: an empty line can straddle blocks
    blanks: list[int] = []
    last = b"\n"
    try:
        with opener(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                data = carry + block
                if b"\n\n" in data or b"\n\r\n" in data:
                    counted, position = newlines - carry.count(b"\n"), 0  # newlines before data[position]
                    for match in _BLANK.finditer(data):
                        counted += data.count(b"\n", position, match.start())
                        position = match.start()
                        if match.end() >= len(carry):  # its closing newline is new, so not counted before
                            blanks.append(counted + 2)
                newlines += block.count(b"\n")
                carry = data[-2:]
                last = block[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise RejectedFile(path, None, None, f"cannot read compressed file: {exc}") from exc
    lines = newlines + (last != b"\n")
    return _LineScan(max(lines - 1 - len(blanks), 0), tuple(blanks))


def _first_line(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return fh.readline(1 << 16)
    except (OSError, EOFError, zlib.error) as exc:
        raise RejectedFile(path, 1, None, f"cannot read file: {exc}") from exc


def parse_visitors(con: duckdb.DuckDBPyConnection, path: Path) -> VisitorLoad:
    """Reads one visitor export into _visitor_typed on ``con``, with the views _visitor_rows / _visitor_quarantine.

    ``rows_loaded`` counts the readable sessions; staging checks that inserting
    _visitor_rows stages exactly that many (a session matching two overlapping
    periods would not be, and fails the file's line accounting).
    """
    is_parquet = path.suffix.lower() == ".parquet"
    counter = None
    if is_parquet:
        try:
            columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
        except duckdb.Error as exc:
            raise RejectedFile(path, None, None, f"not a readable Parquet file: {exc}") from exc
        source = f"read_parquet('{_sql_path(path)}')"
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
        source = (
            f"read_csv('{_sql_path(path)}', header=true, all_varchar=true, delim='{delimiter}', "
            f"quote='\"', escape='\"', strict_mode=true, null_padding=false)"
        )
    missing = GA4.missing(columns)
    if missing:
        if GA4.overlap(columns) < 3:
            raise RejectedFile(path, 1, None, "unknown layout: the header is not a GA4 session export")
        raise RejectedFile(path, 1, missing[0], f"required column(s) {missing} missing from the header")
    cols = {normalise_header(c): c for c in columns}

    def col(name: str) -> str:
        return f'CAST("{cols[name]}" AS VARCHAR)'

    if not is_parquet:
        counter = _LineCounter(path)
    release_visitor_tables(con)
    try:
        # One pass over the file: trimmed cells, typed, and the first unreadable
        # column of each record. With insertion order preserved (DuckDB's
        # default) the table's rowids follow the records' order in the file.
        con.execute(
            f"""
            CREATE TEMP TABLE _visitor_typed AS
            WITH raw AS (
              SELECT trim({col('event_date')}) AS event_date_raw,
                     trim({col('user_pseudo_id')}) AS user_pseudo_id,
                     trim({col('ga_session_id')}) AS ga_session_id_raw,
                     trim({col('session_source')}) AS session_source,
                     trim({col('session_medium')}) AS session_medium,
                     trim({col('session_campaign')}) AS session_campaign,
                     {col('landing_page')} AS landing_page,
                     trim({col('country')}) AS country,
                     trim({col('engaged_session')}) AS engaged_raw
              FROM {source}
            ), typed AS (
              SELECT *,
                     coalesce(try_strptime(event_date_raw, '%Y%m%d'), try_strptime(event_date_raw, '%Y-%m-%d'))::DATE
                       AS event_date,
                     TRY_CAST(ga_session_id_raw AS BIGINT) AS ga_session_id,
                     TRY_CAST(engaged_raw AS INTEGER) AS engaged_session
              FROM raw
            ), checked AS (
              SELECT *,
                CASE
                  WHEN event_date IS NULL THEN 'event_date'
                  WHEN coalesce(user_pseudo_id, '') = '' THEN 'user_pseudo_id'
                  WHEN ga_session_id IS NULL THEN 'ga_session_id'
                  WHEN engaged_session IS NULL OR engaged_session NOT IN (0, 1) THEN 'engaged_session'
                END AS bad_column
              FROM typed
            )
            SELECT event_date, user_pseudo_id, ga_session_id, session_source, session_medium, session_campaign,
                   landing_page, country, engaged_session, bad_column,
                   CASE bad_column
                     WHEN 'event_date' THEN event_date_raw
                     WHEN 'ga_session_id' THEN ga_session_id_raw
                     WHEN 'engaged_session' THEN engaged_raw
                   END AS bad_value
            FROM checked
            """
        )
    except duckdb.Error as exc:
        if counter is not None:
            counter.result()  # a truncated archive is named as such, whatever DuckDB made of it
            located = _locate_csv_problem(path, delimiter, columns)
            if located:
                raise RejectedFile(path, *located) from exc
        raise RejectedFile(path, None, None, f"cannot parse: {str(exc).splitlines()[0]}") from exc
    read_rows, loaded, first_day, last_day, first_rowid = first_row(con.execute(
        "SELECT count(*), count(*) FILTER (bad_column IS NULL), min(event_date) FILTER (bad_column IS NULL), "
        "max(event_date) FILTER (bad_column IS NULL), coalesce(min(rowid), 0) FROM _visitor_typed"
    ))
    # Inside a transaction DuckDB numbers new rows from a large offset: the
    # first record (line 2, after the header) has the smallest rowid.
    line_offset = 2 - first_rowid
    scan = counter.result() if counter is not None else None
    data_lines = scan.data_lines if scan is not None else None
    if data_lines is not None and read_rows != data_lines:
        raise RejectedFile(
            path,
            None,
            None,
            f"line accounting failed: {data_lines} data lines but {read_rows} records "
            "(an unterminated quote or embedded newline joined lines)",
        )
    numbered = _numbered(con, line_offset, first_rowid, scan.shifts() if scan is not None else [])
    con.execute(
        f"""
        CREATE TEMP VIEW _visitor_quarantine AS
        SELECT line_number, bad_column AS column_name, bad_value AS value,
               CASE bad_column
                 WHEN 'event_date' THEN 'not a YYYYMMDD date'
                 WHEN 'user_pseudo_id' THEN 'user_pseudo_id is empty'
                 WHEN 'ga_session_id' THEN 'ga_session_id is not an integer'
                 ELSE 'engaged_session is not 0 or 1' END AS reason
        FROM ({numbered}) WHERE bad_column IS NOT NULL
        """
    )
    # Attribution through small lookup tables joined on equality: the utm code
    # names the campaign; otherwise the campaign whose window holds the date
    # (the first by id); the period is the campaign's period holding the date.
    con.execute(
        f"""
        CREATE TEMP VIEW _visitor_rows AS
        WITH by_code AS (
          SELECT lower(utm_campaign) AS code, min(campaign_id) AS campaign_id
          FROM ref.campaign_periods WHERE utm_campaign IS NOT NULL GROUP BY 1
        ), by_day AS (
          SELECT CAST(unnest(generate_series(start_date::TIMESTAMP, end_date::TIMESTAMP, INTERVAL 1 DAY)) AS DATE)
                   AS day, campaign_id
          FROM ref.campaigns WHERE start_date IS NOT NULL AND end_date IS NOT NULL
        ), window_campaign AS (
          SELECT day, min(campaign_id) AS campaign_id FROM by_day GROUP BY day
        ), period_days AS (
          SELECT campaign_id, period,
                 CAST(unnest(generate_series(start_date::TIMESTAMP, end_date::TIMESTAMP, INTERVAL 1 DAY)) AS DATE)
                   AS day
          FROM ref.campaign_periods WHERE start_date IS NOT NULL AND end_date IS NOT NULL
        ), attributed AS (
          SELECT t.*, coalesce(c.campaign_id, w.campaign_id) AS campaign_id
          FROM ({numbered}) t
          LEFT JOIN by_code c ON c.code = lower(t.session_campaign)
          LEFT JOIN window_campaign w ON w.day = t.event_date
          WHERE t.bad_column IS NULL
        )
        SELECT v.event_date, v.user_pseudo_id, v.ga_session_id,
               v.session_source, v.session_medium, v.session_campaign,
               {CHANNEL_SQL} AS channel,
               v.campaign_id, p.period,
               v.landing_page, v.country, v.engaged_session, v.line_number
        FROM attributed v
        LEFT JOIN period_days p ON p.campaign_id = v.campaign_id AND p.day = v.event_date
        """
    )
    return VisitorLoad(
        layout=GA4.name,
        data_lines=read_rows if data_lines is None else data_lines,
        rows_loaded=loaded,
        rows_quarantined=read_rows - loaded,
        export_key=f"{GA4.name}|{path.name}|{first_day}..{last_day}",
    )


def _numbered(con: duckdb.DuckDBPyConnection, line_offset: int, first_rowid: int,
              shifts: list[tuple[int, int]]) -> str:
    """SQL for _visitor_typed with each record's physical line number (empty lines in the file skipped)."""
    if not shifts:
        return f"SELECT *, rowid + {line_offset} AS line_number FROM _visitor_typed"
    table = pa.table({"first_record": pa.array([s[0] for s in shifts], pa.int64()),
                      "shift": pa.array([s[1] for s in shifts], pa.int64())})
    con.register("_visitor_line_shift_arrow", table)
    try:
        con.execute("CREATE TEMP TABLE _visitor_line_shift AS SELECT * FROM _visitor_line_shift_arrow")
    finally:
        con.unregister("_visitor_line_shift_arrow")
    return (
        f"SELECT t.*, t.rowid + {line_offset} + coalesce(s.shift, 0) AS line_number "
        f"FROM (SELECT *, rowid, rowid - {first_rowid} AS record FROM _visitor_typed) t "
        "ASOF LEFT JOIN _visitor_line_shift s ON t.record >= s.first_record"
    )


def release_visitor_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drops what parse_visitors left on ``con`` (the typed file can hold tens of millions of rows)."""
    for name in ("_visitor_rows", "_visitor_quarantine"):
        con.execute(f"DROP VIEW IF EXISTS {name}")
    for name in ("_visitor_typed", "_visitor_line_shift"):
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
