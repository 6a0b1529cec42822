"""The visitor reconciliation's recount at scale: plain count(DISTINCT) against the bit-mask recount it replaced.

    python bench/recount_visitors.py --sessions 10000000 --visitors 2500000 --repeat 3

Builds a warehouse once (staging.sessions from sql/warehouse.sql, filled with synthetic
sessions in DuckDB: 3 campaigns, 3 periods each and sessions outside every period, 8
channels, 5% unattributed), then measures each recount ``--repeat`` times, alternating,
each in a fresh subprocess under bench/measure.py (wall time, peak RSS), with the
pipeline's DuckDB memory limit (assets/settings.py DEFAULT_MEMORY_LIMIT):

- ``plain``: assets/quality/recount.py ``staged_visitor_scopes`` (full), count(DISTINCT
  user_pseudo_id) with GROUPING SETS over the staged sessions;
- ``night``: the same after one night's visitor export of one campaign (an average day's
  sessions) on top of a history whose recount passed: that campaign recounted, the others carried;
- ``bits``: the recount as it was before (each campaign x visitor a row of bit masks of
  the (period, channel) pairs seen, rows with equal masks counted together), kept here
  only to measure against.

All three must give the same counts at every scope; the script exits 1 if they do not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))


def build(path: Path, sessions: int, visitors: int) -> None:
    from assets.quality.recount import remember, staged_visitor_scopes
    from assets.staging import warehouse

    con = warehouse.connect(path)
    warehouse.ensure_schema(con)
    _insert(con, 0, sessions, visitors, "h")
    # The history passed its reconciliation; then one night's visitor export (an average day's
    # sessions, all of campaign c0) lands: what the next night's recount (``night``) is about.
    remember(con, staged_visitor_scopes(con, full=True))
    day = max(1, sessions // 700)
    _insert(con, sessions, day, visitors, "new-day", campaign="'c0'")
    con.execute("INSERT INTO ingest.file_ledger (file_hash, source, path, status, loaded_at, rows_loaded) "
                "VALUES ('new-day', 'visitors', '/raw/new-day.csv', 'loaded', now(), ?)", [day])
    con.close()


def _insert(con, start: int, n: int, visitors: int, file_hash: str, campaign: str = "'c' || (v % 3)") -> None:
    """``n`` synthetic sessions from number ``start`` (file_hash ``file_hash`` or, for "h", four files)."""
    files = f"'{file_hash}' || (i % 4)" if file_hash == "h" else f"'{file_hash}'"
    con.execute(f"""
        INSERT INTO staging.sessions BY NAME
        SELECT DATE '2020-01-01' + (i % 700)::INTEGER AS event_date, 'v' || v AS user_pseudo_id, i AS ga_session_id,
               'src' AS session_source, 'cpc' AS session_medium, 'utm' AS session_campaign,
               ['linkedin', 'meta', 'google_ads', 'organic', 'direct', 'referral', 'email', 'other'][(1 + hash(i * 7) % 8)::BIGINT]
                 AS channel,
               CASE WHEN hash(i * 13) % 20 = 0 THEN NULL ELSE {campaign} END AS campaign_id,
               CASE WHEN hash(i * 13) % 20 = 0 OR i % 4 = 0 THEN NULL ELSE 'p' || (i % 4) END AS period,
               '/jobs' AS landing_page, 'Denmark' AS country, (i % 2)::INTEGER AS engaged_session,
               'ga4_sessions' AS layout, 'sessions.csv' AS source_file, {files} AS file_hash,
               i + 2 AS line_number
        FROM (SELECT i, (hash(i) % {visitors})::BIGINT AS v FROM range({start}, {start + n}) t(i))
    """)


def bits_recount(con):
    """The recount before this change (assets/quality/checks.py at 9ac77b4), for comparison only."""
    import pandas as pd

    from assets.vocabulary import ALL

    pairs = con.execute(
        "SELECT DISTINCT period, channel FROM staging.sessions WHERE campaign_id IS NOT NULL ORDER BY ALL"
    ).fetchall()
    words = range((len(pairs) - 1) // 64 + 1)
    bits = pd.DataFrame({"period": [p for p, _ in pairs], "channel": [c for _, c in pairs],
                         "bit": range(len(pairs))})
    con.register("_visitor_pair_bits", bits)
    masks = con.execute(
        "SELECT campaign_id, " + ", ".join(f"w{w}" for w in words)
        + ", count(*) AS n FROM (SELECT s.campaign_id, "
        + ", ".join(f"bit_or(CASE WHEN b.bit // 64 = {w} THEN 1::UBIGINT << (b.bit % 64)::UBIGINT "
                    f"ELSE 0::UBIGINT END) AS w{w}" for w in words)
        + " FROM staging.sessions s JOIN _visitor_pair_bits b "
        "ON s.period IS NOT DISTINCT FROM b.period AND s.channel = b.channel "
        "WHERE s.campaign_id IS NOT NULL GROUP BY s.campaign_id, s.user_pseudo_id) GROUP BY ALL"
    ).fetchall()
    periods = sorted({p for p, _ in pairs if p is not None})
    channels = sorted({c for _, c in pairs})

    def members(period, channel) -> int:
        return sum(1 << i for i, (p, c) in enumerate(pairs)
                   if (period == ALL or p == period) and (channel == ALL or c == channel))

    scopes = [(p, c, members(p, c)) for p, c in pairs if p is not None]
    scopes += [(p, ALL, members(p, ALL)) for p in periods]
    scopes += [(ALL, c, members(ALL, c)) for c in channels]
    scopes += [(ALL, ALL, members(ALL, ALL)), (None, ALL, members(None, ALL))]
    counts: dict[tuple, int] = {}
    for row in masks:
        campaign_id, n = row[0], row[-1]
        seen = sum(int(word) << (64 * w) for w, word in enumerate(row[1:-1]))
        for period, channel, wanted in scopes:
            if seen & wanted:
                counts[(campaign_id, period, channel)] = counts.get((campaign_id, period, channel), 0) + n
    return counts


def one(path: Path, method: str, out: Path) -> None:
    """In a subprocess: one recount, its time and its result."""
    import time

    import duckdb

    import pandas  # noqa: F401 - imports are not the recount's time

    from assets.quality.recount import staged_visitor_scopes
    from assets.settings import DEFAULT_MEMORY_LIMIT

    # The pipeline's own buffer pool limit (assets/settings.py): the recount runs inside it.
    con = duckdb.connect(str(path), read_only=True, config={"memory_limit": DEFAULT_MEMORY_LIMIT})
    started = time.perf_counter()
    recounted = None
    if method in ("plain", "night"):
        frame = staged_visitor_scopes(con, full=method == "plain")
        recounted = list(frame.attrs["recounted"])
        counts = {(r.campaign_id, None if r.period is None or r.period != r.period else r.period, r.channel):
                  int(r.visitors) for r in frame.itertuples()}
    else:
        counts = bits_recount(con)
    seconds = time.perf_counter() - started
    out.write_text(json.dumps({"seconds": seconds, "recounted": recounted, "counts": sorted(([*k, v] for k, v in counts.items()), key=str)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000_000)
    parser.add_argument("--visitors", type=int, default=2_500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warehouse", type=Path, help="build here (kept), or reuse if it exists")
    parser.add_argument("--one", nargs=3, metavar=("WAREHOUSE", "METHOD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(Path(args.one[0]), args.one[1], Path(args.one[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix="recount-") as tmp:
        work = Path(tmp)
        warehouse = args.warehouse or work / "warehouse.duckdb"
        if not warehouse.exists():
            build(warehouse, args.sessions, args.visitors)
        results: dict[str, list[dict]] = {"plain": [], "bits": [], "night": []}
        counts = {}
        for rep in range(args.repeat):
            for method in ("bits", "plain", "night"):
                out, measured = work / f"{method}{rep}.json", work / f"{method}{rep}.measure.json"
                subprocess.run([sys.executable, str(BENCH / "measure.py"), str(measured), "--",
                                sys.executable, __file__, "--one", str(warehouse), method, str(out)], check=True)
                inner = json.loads(out.read_text())
                counts[method] = inner["counts"]
                results[method].append({"recount_s": round(inner["seconds"], 2), "recounted": inner["recounted"],
                                        **json.loads(measured.read_text())})
        agree = counts["plain"] == counts["bits"] == counts["night"]
        report = {"sessions": args.sessions, "visitors": args.visitors, "scopes": len(counts["plain"]),
                  "agree": agree}
        for method, runs in results.items():
            report[method] = {"recount_s": [r["recount_s"] for r in runs],
                              "median_recount_s": statistics.median(r["recount_s"] for r in runs),
                              "peak_rss_mib": max(r.get("max_rss_mib", 0) for r in runs),
                              "runs": runs}
        print(json.dumps({k: v for k, v in report.items()}, indent=1, default=str))
        return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
