"""Site analytics visitor exports (GA4-style, one row per session).

Files can hold tens of millions of sessions, so this parser is DuckDB SQL over
the file (streaming, spilling to disk) rather than a Python loop. It leaves
two temporary tables on the connection, ``_visitor_rows`` and
``_visitor_quarantine``; staging moves them into the warehouse in the same
transaction as the ledger entry.

Normalised grain: one row per session (user_pseudo_id x ga_session_id), with
its date, campaign (the campaign whose window holds the date), period,
channel (source/medium grouped to the ad platforms, organic, direct,
referral) and engagement.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

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


def _count_data_lines(path: Path) -> int:
    """Physical non-empty lines after the header, streamed so memory stays flat."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    lines = 0
    last = b"\n"
    try:
        with opener(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                lines += block.count(b"\n")
                last = block[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise RejectedFile(path, None, None, f"cannot read compressed file: {exc}") from exc
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def _first_line(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return fh.readline(1 << 16)
    except (OSError, EOFError, zlib.error) as exc:
        raise RejectedFile(path, 1, None, f"cannot read file: {exc}") from exc


def parse_visitors(con: duckdb.DuckDBPyConnection, path: Path) -> VisitorLoad:
    """Reads one visitor export into _visitor_rows / _visitor_quarantine on ``con``."""
    is_parquet = path.suffix.lower() == ".parquet"
    if is_parquet:
        try:
            columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
        except duckdb.Error as exc:
            raise RejectedFile(path, None, None, f"not a readable Parquet file: {exc}") from exc
        source = f"read_parquet('{_sql_path(path)}')"
        data_lines = None
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
        data_lines = _count_data_lines(path)
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

    try:
        con.execute("DROP TABLE IF EXISTS _visitor_raw")
        con.execute(
            f"""
            CREATE TEMP TABLE _visitor_raw AS
            SELECT row_number() OVER () + 1 AS line_number,
                   trim({col('event_date')}) AS event_date_raw,
                   trim({col('user_pseudo_id')}) AS user_pseudo_id,
                   trim({col('ga_session_id')}) AS ga_session_id_raw,
                   trim({col('session_source')}) AS session_source,
                   trim({col('session_medium')}) AS session_medium,
                   trim({col('session_campaign')}) AS session_campaign,
                   {col('landing_page')} AS landing_page,
                   trim({col('country')}) AS country,
                   trim({col('engaged_session')}) AS engaged_raw
            FROM {source}
            """
        )
    except duckdb.Error as exc:
        if not is_parquet:
            located = _locate_csv_problem(path, delimiter, columns)
            if located:
                raise RejectedFile(path, *located) from exc
        raise RejectedFile(path, None, None, f"cannot parse: {str(exc).splitlines()[0]}") from exc
    read_rows = first_row(con.execute("SELECT count(*) FROM _visitor_raw"))[0]
    if data_lines is not None and read_rows != data_lines:
        raise RejectedFile(
            path,
            None,
            None,
            f"line accounting failed: {data_lines} data lines but {read_rows} records "
            "(an unterminated quote or embedded newline joined lines)",
        )
    con.execute("DROP TABLE IF EXISTS _visitor_typed")
    con.execute(
        f"""
        CREATE TEMP TABLE _visitor_typed AS
        WITH typed AS (
          SELECT *,
                 coalesce(try_strptime(event_date_raw, '%Y%m%d'), try_strptime(event_date_raw, '%Y-%m-%d'))::DATE
                   AS event_date,
                 TRY_CAST(ga_session_id_raw AS BIGINT) AS ga_session_id,
                 TRY_CAST(engaged_raw AS INTEGER) AS engaged_session
          FROM _visitor_raw
        )
        SELECT *,
          CASE
            WHEN event_date IS NULL THEN 'event_date'
            WHEN coalesce(user_pseudo_id, '') = '' THEN 'user_pseudo_id'
            WHEN ga_session_id IS NULL THEN 'ga_session_id'
            WHEN engaged_session IS NULL OR engaged_session NOT IN (0, 1) THEN 'engaged_session'
          END AS bad_column
        FROM typed
        """
    )
    con.execute("DROP TABLE IF EXISTS _visitor_quarantine")
    con.execute(
        """
        CREATE TEMP TABLE _visitor_quarantine AS
        SELECT line_number, bad_column AS column_name,
               CASE bad_column
                 WHEN 'event_date' THEN event_date_raw
                 WHEN 'user_pseudo_id' THEN NULL
                 WHEN 'ga_session_id' THEN ga_session_id_raw
                 ELSE engaged_raw END AS value,
               CASE bad_column
                 WHEN 'event_date' THEN 'not a YYYYMMDD date'
                 WHEN 'user_pseudo_id' THEN 'user_pseudo_id is empty'
                 WHEN 'ga_session_id' THEN 'ga_session_id is not an integer'
                 ELSE 'engaged_session is not 0 or 1' END AS reason
        FROM _visitor_typed WHERE bad_column IS NOT NULL
        """
    )
    con.execute("DROP TABLE IF EXISTS _visitor_rows")
    con.execute(
        f"""
        CREATE TEMP TABLE _visitor_rows AS
        SELECT v.event_date, v.user_pseudo_id, v.ga_session_id,
               v.session_source, v.session_medium, v.session_campaign,
               {CHANNEL_SQL} AS channel,
               v.campaign_id, p.period,
               v.landing_page, v.country, v.engaged_session, v.line_number
        FROM (
          -- The utm code names the campaign; otherwise the campaign whose window holds the date.
          SELECT t.*, coalesce(
                   (SELECT min(u.campaign_id) FROM ref.campaign_periods u
                     WHERE lower(u.utm_campaign) = lower(t.session_campaign)),
                   (SELECT min(c.campaign_id) FROM ref.campaigns c
                     WHERE t.event_date BETWEEN c.start_date AND c.end_date)) AS campaign_id
          FROM _visitor_typed t WHERE t.bad_column IS NULL
        ) v
        LEFT JOIN ref.campaign_periods p
               ON p.campaign_id = v.campaign_id AND v.event_date BETWEEN p.start_date AND p.end_date
        """
    )
    loaded = first_row(con.execute("SELECT count(*) FROM _visitor_rows"))[0]
    quarantined = first_row(con.execute("SELECT count(*) FROM _visitor_quarantine"))[0]
    if loaded + quarantined != read_rows:
        raise RejectedFile(path, None, None, f"line accounting failed: {loaded} + {quarantined} != {read_rows}")
    span = first_row(con.execute("SELECT min(event_date), max(event_date) FROM _visitor_rows"))
    con.execute("DROP TABLE IF EXISTS _visitor_raw")
    con.execute("DROP TABLE IF EXISTS _visitor_typed")
    return VisitorLoad(
        layout=GA4.name,
        data_lines=read_rows if data_lines is None else data_lines,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        export_key=f"{GA4.name}|{span[0]}..{span[1]}",
    )


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
