"""Where staging the visitor exports spends its time: each SQL statement of parse_visitors, timed.

    python bench/profile_staging.py RAW_DIR [--keep WAREHOUSE]

Stages every file of RAW_DIR/visitors/ into a fresh warehouse (reference from
RAW_DIR/reference/) exactly as a run does (stage.ingest_source), with every
statement on the connection timed; prints them by cost, and the time of the
whole file. Also times the line scan (the thread that finds empty lines and samples lines) alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class TimedConnection:
    """Forwards to a DuckDB connection; execute() calls are timed under their first words."""

    def __init__(self, con):
        self._con = con
        self.seconds: dict[str, float] = defaultdict(float)

    def execute(self, sql, *args, **kwargs):
        started = time.perf_counter()
        try:
            result = self._con.execute(sql, *args, **kwargs)
            if result is not None and sql.lstrip().upper().startswith(("SELECT", "WITH", "INSERT", "DESCRIBE")):
                result = _Fetched(result.fetchall())
            return result
        finally:
            self.seconds[" ".join(str(sql).split())[:110]] += time.perf_counter() - started

    def __getattr__(self, name):
        return getattr(self._con, name)


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
    args = parser.parse_args()

    from assets.staging import stage
    from assets.ingest import visitor_lines
    from assets.ingest.reference import read_reference

    path = args.keep or Path(tempfile.mkdtemp(prefix="profile_staging_")) / "warehouse.duckdb"
    raw_con = stage.connect(path)
    stage.ensure_schema(raw_con)
    stage.load_reference(raw_con, read_reference(args.raw / "reference"))
    con = TimedConnection(raw_con)
    for export in sorted((args.raw / "visitors").iterdir()):
        started, cpu = time.perf_counter(), time.process_time()
        outcome = stage._stage_one(con, "visitors", export, stage.file_sha256(export), None, "profile")
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
