"""Driver of the bare DuckDB baseline (bench/baseline_duckdb.sql).

    python bench/baseline_duckdb.py RAW_DIR --out kpis.json

Lists the landing folders, tells each reach and hiring file's layout by its header line (as the
pipeline does; never by file name), converts .xlsx hiring templates to UTF-8 CSV with openpyxl
(DuckDB's excel extension cannot be installed offline), passes the file lists to the SQL script as
DuckDB variables and writes the script's result: one row per campaign x KPI x period with the
kpi_scorecard ``result``. Everything, conversion included, is part of the timed baseline.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import duckdb

SQL = Path(__file__).resolve().parent / "baseline_duckdb.sql"

# group -> (header marker, title lines before the header, encoding, delimiter, header written in a stub)
GROUPS = {
    "linkedin_files": ("start date (in utc)", 4, "utf-8", ",",
                       ["Start Date (in UTC)", "Campaign Name", "Campaign ID", "Impressions",
                        "Clicks to Landing Page", "Currency"]),
    "meta_files": ("reporting starts", 0, "utf-8", ";",
                   ["Reporting starts", "Day", "Campaign name", "Ad set name", "Impressions", "Link clicks",
                    "Currency"]),
    "google_utf8_files": ("impr.", 2, "utf-8", ",",
                          ["Day", "Campaign", "Campaign ID", "Currency code", "Impr.", "Clicks"]),
    "google_utf16_files": ("impr.", 2, "utf-16", "\t",
                           ["Day", "Campaign", "Campaign ID", "Currency code", "Impr.", "Clicks"]),
    "ats_files": ("candidate_email", 0, "utf-8", ",",
                  ["id", "candidate_id", "created_at", "changed_stage_at", "stage", "referring_site",
                   "referring_url", "candidate_email", "candidate_country", "organisation"]),
    "template_utf8_files": ("candidate reference", 0, "utf-8", ",",
                            ["Organisation", "Candidate reference", "Email", "Job title", "Application date",
                             "Hire date", "Country of residence", "Source"]),
    "template_cp1252_files": ("candidate reference", 0, "cp1252", ";",
                              ["Organisation", "Candidate reference", "Email", "Job title", "Application date",
                               "Hire date", "Country of residence", "Source"]),
}
VISITOR_STUB_HEADER = ["event_date", "user_pseudo_id", "ga_session_id", "session_campaign", "engaged_session"]


def _decode_head(raw: bytes) -> tuple[str, str]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="ignore"), "utf-16"
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="ignore"), "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(raw) - 4:  # a character cut by the 64 KiB read
            return raw[: exc.start].decode("utf-8"), "utf-8"
        return raw.decode("cp1252", errors="replace"), "cp1252"


def _classify(path: Path) -> tuple[str, int, str, str]:
    """(layout marker, header line index, encoding, delimiter) of a text export."""
    with path.open("rb") as fh:
        text, encoding = _decode_head(fh.read(1 << 16))
    for i, line in enumerate(text.splitlines()[:11]):
        low = line.lower()
        for marker in ("start date (in utc)", "reporting starts", "impr.", "candidate_email", "candidate reference"):
            if marker in low:
                delimiter = max((",", ";", "\t"), key=line.count)
                return marker, i, encoding, delimiter
    raise SystemExit(f"{path}: no known header in its first lines")


def _xlsx_to_csv(path: Path, out_dir: Path) -> Path:
    """The first sheet as a UTF-8 CSV; real date cells become ISO dates, numbers lose a trailing .0."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    target = out_dir / (path.stem + ".xlsx.csv")
    try:
        with target.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            for values in book.worksheets[0].iter_rows(values_only=True):
                row = []
                for v in values:
                    if v is None:
                        row.append("")
                    elif isinstance(v, datetime):
                        row.append(v.date().isoformat())
                    elif isinstance(v, date):
                        row.append(v.isoformat())
                    elif isinstance(v, float) and v.is_integer():
                        row.append(str(int(v)))
                    else:
                        row.append(str(v))
                if any(c.strip() for c in row):
                    writer.writerow(row)
    finally:
        book.close()
    stat = path.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # keeps "latest delivery wins" order
    return target


def _stub(group: str, out_dir: Path) -> Path:
    """A header-only file for a group without files, so that its read_csv has something to read."""
    _, titles, encoding, delimiter, header = GROUPS[group]
    path = out_dir / f"stub_{group}.csv"
    lines = ["title"] * titles + [delimiter.join(header)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def file_lists(raw_dir: Path, scratch: Path) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for folder in ("reach", "hiring"):
        for path in sorted((raw_dir / folder).glob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.suffix.lower() == ".xlsx":
                groups["template_utf8_files"].append(str(_xlsx_to_csv(path, scratch)))
                continue
            marker, header_at, encoding, delimiter = _classify(path)
            candidates = [g for g, spec in GROUPS.items() if spec[0] == marker and spec[3] == delimiter
                          and spec[2] == encoding]
            if not candidates or GROUPS[candidates[0]][1] != header_at:
                raise SystemExit(f"{path}: layout {marker!r} in an unexpected shape "
                                 f"(header on line {header_at + 1}, {encoding}, delimiter {delimiter!r})")
            groups[candidates[0]].append(str(path))
    visitors = sorted(p for p in (raw_dir / "visitors").glob("*") if p.is_file() and not p.name.startswith("."))
    groups["visitor_parquet_files"] = [str(p) for p in visitors if p.name.lower().endswith(".parquet")]
    groups["visitor_csv_files"] = [str(p) for p in visitors if p.name.lower().endswith((".csv", ".csv.gz"))]
    for group, files in groups.items():
        if not files:
            if group == "visitor_parquet_files":
                stub = scratch / "stub_visitors.parquet"
                duckdb.sql("SELECT " + ", ".join(f"''::VARCHAR AS {c}" for c in VISITOR_STUB_HEADER)
                           + " WHERE false").write_parquet(str(stub))
                files.append(str(stub))
            elif group == "visitor_csv_files":
                stub = scratch / "stub_visitors.csv"
                stub.write_text(",".join(VISITOR_STUB_HEADER) + "\n")
                files.append(str(stub))
            else:
                files.append(str(_stub(group, scratch)))
    return groups


def run(raw_dir: Path) -> list[tuple[str, str, str, int | None]]:
    with tempfile.TemporaryDirectory(prefix="bench_duckdb_") as scratch:
        groups = file_lists(raw_dir, Path(scratch))
        con = duckdb.connect()
        try:
            con.execute("SET VARIABLE raw_dir = ?", [str(raw_dir)])
            for name, files in groups.items():
                con.execute(f"SET VARIABLE {name} = ?::VARCHAR[]", [files])
            # A multi-statement script: execute() runs every statement and returns the last one's result.
            return [tuple(r) for r in con.execute(SQL.read_text()).fetchall()]
        finally:
            con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the KPI rows")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = run(args.raw_dir.resolve())
    args.out.write_text(json.dumps({"engine": "duckdb", "seconds": round(time.monotonic() - started, 3),
                                    "kpi_scorecard": [list(r) for r in rows]}, indent=1))
    print(f"duckdb baseline: {len(rows)} KPI rows in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
