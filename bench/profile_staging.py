"""Where staging the visitor exports spends its time: each SQL statement of parse_visitors, timed.

    python bench/profile_staging.py RAW_DIR [--keep WAREHOUSE] [--operators]

Stages every file of RAW_DIR/visitors/ into a fresh warehouse (reference from
RAW_DIR/reference/) exactly as a run does (stage.stage_one through the
VisitorParser), with every statement on the connection timed; prints them by
cost, and the wall and CPU time of each file. ``--operators`` also prints
DuckDB's own profile (per operator, CPU seconds over all threads) of each
insert into staging.sessions: reading, typing, attribution, the write. Also times the line scan (the thread that finds empty lines and samples lines) alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class TimedConnection:
    """Forwards to a DuckDB connection; execute() calls are timed under their first words."""

    def __init__(self, con, profile: Path | None = None):
        self._con = con
        self.seconds: dict[str, float] = defaultdict(float)
        self._profile = profile

    def execute(self, sql, *args, **kwargs):
        started = time.perf_counter()
        try:
            result = self._con.execute(sql, *args, **kwargs)
            if self._profile is not None and sql.lstrip().startswith("INSERT INTO staging.sessions"):
                _print_operators(json.loads(self._profile.read_text()))
            if result is not None and sql.lstrip().upper().startswith(("SELECT", "WITH", "INSERT", "DESCRIBE")):
                result = _Fetched(result.fetchall())
            return result
        finally:
            self.seconds[" ".join(str(sql).split())[:110]] += time.perf_counter() - started

    def __getattr__(self, name):
        return getattr(self._con, name)


def _print_operators(profile: dict) -> None:
    print(f"  DuckDB profile of the insert: {profile['query']['cpu_time']:.2f} CPU s")

    def walk(node: dict, depth: int) -> None:
        extra = node.get("extra_info", {})
        what = extra.get("Function") or extra.get("Join Type") or ""
        if node["timing"] >= 0.01:
            print(f"  {'  ' * depth}{node['name']:<24} {node['timing']:6.2f} s  {node.get('intermediate_rows', 0):>11,} "
                  f"rows {what}")
        for child in node.get("children", []):
            walk(child, depth + 1)

    for top in profile["operator"]:
        walk(top, 0)


class _Fetched:
    def __init__(self, rows):
        self._rows = rows

    def fetchall(self):
        return self._rows

    def fetchone(self):
        return self._rows[0] if self._rows else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--keep", type=Path, default=None, help="warehouse file to write (default: a temp file)")
    parser.add_argument("--operators", action="store_true", help="print DuckDB's operator profile of each insert")
    args = parser.parse_args()

    from assets.ingest import visitor_lines
    from assets.ingest.common import file_sha256
    from assets.ingest.reference import read_reference
    from assets.staging import stage
    from assets.staging.parsers import FileFacts, VisitorParser
    from assets.staging.warehouse import connect, ensure_schema, load_reference

    path = args.keep or Path(tempfile.mkdtemp(prefix="profile_staging_")) / "warehouse.duckdb"
    raw_con = connect(path)
    ensure_schema(raw_con)
    load_reference(raw_con, read_reference(args.raw / "reference"))
    profile = None
    if args.operators:
        profile = path.with_name("profile.json")
        raw_con.execute("PRAGMA enable_profiling = 'json'")
        raw_con.execute(f"PRAGMA profiling_output = '{profile}'")
    con = TimedConnection(raw_con, profile)
    for export in sorted((args.raw / "visitors").iterdir()):
        started, cpu = time.perf_counter(), time.process_time()
        outcome = stage.stage_one(con, "visitors", VisitorParser(), FileFacts(export, file_sha256(export)), "profile")
        print(f"{export.name}: {outcome.status}, {outcome.rows_loaded:,} rows in {time.perf_counter() - started:.2f} s "
              f"({time.process_time() - cpu:.2f} CPU s, all threads)")
    total = sum(con.seconds.values())
    print(f"\nstatements: {total:.2f} s in all")
    for sql, seconds in sorted(con.seconds.items(), key=lambda kv: -kv[1])[:15]:
        print(f"{seconds:8.2f} s  {sql}")
    for export in sorted((args.raw / "visitors").iterdir()):
        if export.suffix != ".parquet":
            started = time.perf_counter()
            visitor_lines.scan_lines(export)
            print(f"line scan alone, {export.name}: {time.perf_counter() - started:.2f} s")
    raw_con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
