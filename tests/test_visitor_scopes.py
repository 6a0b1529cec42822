"""staging.visitor_scopes: updated from new sessions alone, rebuilt when an export leaves, exact throughout.

Every check compares with the plainest count there is: count(DISTINCT user_pseudo_id)
over staging.sessions, per scope and per week.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from assets.staging import restage
from assets.marts import visitor_scopes
from assets.vocabulary import ALL, CHANNELS

PLAIN_SCOPES = f"""
    SELECT campaign_id, period, channel, count(DISTINCT user_pseudo_id) AS value FROM staging.sessions
    WHERE campaign_id IS NOT NULL AND period IS NOT NULL GROUP BY ALL
    UNION ALL SELECT campaign_id, period, '{ALL}', count(DISTINCT user_pseudo_id) FROM staging.sessions
    WHERE campaign_id IS NOT NULL AND period IS NOT NULL GROUP BY ALL
    UNION ALL SELECT campaign_id, '{ALL}', channel, count(DISTINCT user_pseudo_id) FROM staging.sessions
    WHERE campaign_id IS NOT NULL GROUP BY ALL
    UNION ALL SELECT campaign_id, '{ALL}', '{ALL}', count(DISTINCT user_pseudo_id) FROM staging.sessions
    WHERE campaign_id IS NOT NULL GROUP BY ALL
"""
# Every session in each of its scopes, with its export's place in the load order (loaded_at, file_hash).
_SCOPED = f"""
    WITH s AS (SELECT s.campaign_id, s.period, s.channel, s.user_pseudo_id, s.file_hash, l.loaded_at
               FROM staging.sessions s JOIN ingest.file_ledger l USING (file_hash)
               WHERE s.campaign_id IS NOT NULL AND l.status = 'loaded')
    SELECT campaign_id, period, channel, user_pseudo_id, file_hash, loaded_at FROM s WHERE period IS NOT NULL
    UNION ALL SELECT campaign_id, period, '{ALL}', user_pseudo_id, file_hash, loaded_at FROM s WHERE period IS NOT NULL
    UNION ALL SELECT campaign_id, '{ALL}', channel, user_pseudo_id, file_hash, loaded_at FROM s
    UNION ALL SELECT campaign_id, '{ALL}', '{ALL}', user_pseudo_id, file_hash, loaded_at FROM s
"""
# Each visitor of a scope credited to the first export holding it there; each export's sessions there.
PLAIN_CREDITS = f"""
    WITH scoped AS ({_SCOPED}),
    firsts AS (SELECT campaign_id, period, channel, user_pseudo_id,
                      arg_min(file_hash, (loaded_at, file_hash)) AS file_hash FROM scoped GROUP BY ALL),
    visitors AS (SELECT campaign_id, period, channel, file_hash, count(*) AS visitors FROM firsts GROUP BY ALL),
    sessions AS (SELECT campaign_id, period, channel, file_hash, count(*) AS sessions FROM scoped GROUP BY ALL)
    SELECT campaign_id, period, channel, file_hash, coalesce(visitors, 0) AS visitors, sessions
    FROM sessions LEFT JOIN visitors USING (campaign_id, period, channel, file_hash)
"""
PLAIN_WEEKS = """
    SELECT campaign_id, date_trunc('week', event_date)::DATE AS week_start,
           count(DISTINCT user_pseudo_id) AS unique_visitors
    FROM staging.sessions WHERE campaign_id IS NOT NULL GROUP BY ALL
"""


def deliver(con, name: str, rng: random.Random, n: int, periods, first_day: date, days: int, users: int,
            loaded_at: datetime) -> str:
    """Stages one visitor export of ``n`` sessions (as staging does: rows and a 'loaded' ledger entry)."""
    file_hash = f"h-{name}"
    rows = []
    for line in range(n):
        campaign = rng.choice(["c1", "c1", "c2", None])
        rows.append((first_day + timedelta(days=rng.randrange(days)), f"u{rng.randrange(users)}", line,
                     rng.choice(CHANNELS), campaign, rng.choice(periods) if campaign else None,
                     "ga4_sessions", name, file_hash, line + 2))
    frame = pl.DataFrame(rows, schema={
        "event_date": pl.Date, "user_pseudo_id": pl.String, "ga_session_id": pl.Int64, "channel": pl.String,
        "campaign_id": pl.String, "period": pl.String, "layout": pl.String, "source_file": pl.String,
        "file_hash": pl.String, "line_number": pl.Int64}, orient="row")
    con.register("_new_sessions", frame.to_arrow())
    con.execute("INSERT INTO staging.sessions BY NAME SELECT * FROM _new_sessions")
    con.unregister("_new_sessions")
    con.execute("INSERT INTO ingest.file_ledger (file_hash, source, export_key, path, status, loaded_at, rows_loaded) "
                "VALUES (?, 'visitors', ?, ?, 'loaded', ?, ?)", [file_hash, name, f"/raw/visitors/{name}", loaded_at, n])
    return file_hash


def assert_exact(con) -> None:
    counted = visitor_scopes.counts(con)
    plain = con.sql(PLAIN_SCOPES).pl().with_columns(pl.col("value").cast(pl.Int64))
    weeks = con.sql(PLAIN_WEEKS).pl().with_columns(pl.col("unique_visitors").cast(pl.Int64))
    assert counted.scopes.sort(pl.all()).equals(plain.sort(pl.all()))
    assert counted.weeks.sort(pl.all()).equals(weeks.sort(pl.all()))
    per_visitor = con.execute("SELECT count(*) - count(DISTINCT (campaign_id, user_pseudo_id)) "
                              "FROM staging.visitor_scopes").fetchall()[0][0]
    assert per_visitor == 0  # one row per campaign x visitor, however many nights added to it
    credits = con.sql("SELECT campaign_id, period, channel, file_hash, visitors, sessions "
                      "FROM staging.visitor_scope_credits").pl()
    plain_credits = con.sql(PLAIN_CREDITS).pl().with_columns(pl.col("visitors", "sessions").cast(pl.Int64))
    assert credits.sort(pl.all()).equals(plain_credits.sort(pl.all()))


@pytest.fixture
def rng():
    return random.Random(13)


def test_nights_add_new_sessions_alone_and_stay_exact(con, rng):
    t0 = datetime(2024, 1, 1)
    deliver(con, "a.csv", rng, 3000, ["p1", "p2"], date(2020, 1, 6), 60, 700, t0)
    deliver(con, "b.csv", rng, 2000, ["p1", "p2", None], date(2020, 2, 1), 30, 700, t0 + timedelta(hours=1))
    first = visitor_scopes.refresh(con)
    assert first.mode == "rebuilt" and first.files_added == 2
    assert_exact(con)
    assert visitor_scopes.refresh(con).mode == "unchanged"
    # A later night: returning and new visitors, a new period and channel pairs, weeks two years on
    # (past 64 weeks: a second mask word appears after the table exists).
    deliver(con, "c.csv", rng, 1500, ["p3", "p1"], date(2021, 9, 6), 420, 1200, t0 + timedelta(days=1))
    night = visitor_scopes.refresh(con)
    assert night.mode == "updated" and night.files_added == 1
    assert con.execute("SELECT count(*) FROM staging.visitor_scope_files").fetchall()[0][0] == 3
    assert "w1" in [r[0] for r in con.execute("DESCRIBE staging.visitor_scopes").fetchall()]
    assert_exact(con)
    deliver(con, "d.csv", rng, 800, [f"q{i}" for i in range(14)], date(2021, 9, 6), 10, 1200, t0 + timedelta(days=2))
    assert visitor_scopes.refresh(con).mode == "updated"  # 14 periods x 6 channels: past 64 pairs
    assert "p1" in [r[0] for r in con.execute("DESCRIBE staging.visitor_scopes").fetchall()]
    assert_exact(con)
    # Two exports in one night: each credited in load order, the later one only with what the earlier lacks.
    deliver(con, "e.csv", rng, 900, ["p1", "p3"], date(2021, 9, 20), 10, 1400, t0 + timedelta(days=3))
    deliver(con, "f.csv", rng, 900, ["p1", "p3"], date(2021, 9, 20), 10, 1400, t0 + timedelta(days=3, hours=1))
    assert visitor_scopes.refresh(con).files_added == 2
    assert_exact(con)
    nightly = con.sql("SELECT * FROM staging.visitor_scope_credits").pl()
    assert visitor_scopes.refresh(con, full=True).mode == "rebuilt"
    assert con.sql("SELECT * FROM staging.visitor_scope_credits").pl().sort(pl.all()).equals(nightly.sort(pl.all()))


def test_a_superseded_or_withdrawn_export_rebuilds_the_table(con, rng):
    t0 = datetime(2024, 1, 1)
    deliver(con, "a.csv", rng, 2000, ["p1", "p2"], date(2020, 1, 6), 60, 500, t0)
    old = deliver(con, "b.csv", rng, 2000, ["p1", "p2"], date(2020, 3, 2), 20, 900, t0 + timedelta(hours=1))
    visitor_scopes.refresh(con)
    # A corrected re-export replaces b.csv the way staging does: its rows go, the ledger says so.
    con.execute("DELETE FROM staging.sessions WHERE file_hash = ?", [old])
    con.execute("UPDATE ingest.file_ledger SET status = 'superseded', superseded_by = 'h-b2.csv' WHERE file_hash = ?",
                [old])
    deliver(con, "b2.csv", rng, 1000, ["p2"], date(2020, 3, 2), 20, 900, t0 + timedelta(days=1))
    assert visitor_scopes.refresh(con).mode == "rebuilt"
    assert_exact(con)
    done = restage.withdraw(con, "a.csv", "wrong property")
    assert done.rows_removed == 2000
    assert visitor_scopes.refresh(con).mode == "rebuilt"
    assert_exact(con)
    assert con.execute("SELECT count(*) FROM staging.visitor_scopes WHERE user_pseudo_id NOT IN "
                       "(SELECT user_pseudo_id FROM staging.sessions WHERE campaign_id IS NOT NULL)").fetchall()[0][0] == 0


def test_rows_taken_out_of_a_counted_export_rebuild_the_table(con, rng):
    t0 = datetime(2024, 1, 1)
    counted = deliver(con, "a.csv", rng, 2000, ["p1", "p2"], date(2020, 1, 6), 60, 400, t0)
    visitor_scopes.refresh(con)
    # A staged check quarantines some of its rows later: they leave staging, the ledger says how many.
    gone = con.execute("DELETE FROM staging.sessions WHERE file_hash = ? AND line_number % 7 = 0", [counted]).fetchall()[0][0]
    con.execute("UPDATE ingest.file_ledger SET rows_loaded = rows_loaded - ? WHERE file_hash = ?", [gone, counted])
    assert gone > 0 and visitor_scopes.refresh(con).mode == "rebuilt"
    assert_exact(con)


def test_re_staging_after_a_reference_change_and_full_rebuild(con, rng):
    t0 = datetime(2024, 1, 1)
    deliver(con, "a.csv", rng, 1000, ["p1"], date(2020, 1, 6), 30, 300, t0)
    visitor_scopes.refresh(con)
    # reset_if_inputs_changed empties staging and the ledger; the same file is staged again later.
    con.execute("DELETE FROM staging.sessions")
    con.execute("DELETE FROM ingest.file_ledger")
    deliver(con, "a.csv", rng, 1000, ["p2"], date(2020, 1, 6), 30, 300, t0 + timedelta(days=1))
    assert visitor_scopes.refresh(con).mode == "rebuilt"  # same hash, new ledger entry: not the old masks
    assert_exact(con)
    assert visitor_scopes.refresh(con, full=True).mode == "rebuilt"
    assert_exact(con)


def test_an_export_earlier_in_load_order_or_masks_without_credits_rebuild_the_table(con, rng):
    """Credits are kept in load order: an export that sorts before one the masks hold changes them, and a
    warehouse whose masks were made before the credits were kept has none: both rebuild, exactly."""
    t0 = datetime(2024, 1, 1)
    deliver(con, "a.csv", rng, 1500, ["p1", "p2"], date(2020, 1, 6), 40, 500, t0)
    deliver(con, "b.csv", rng, 1500, ["p1", "p2"], date(2020, 2, 6), 40, 500, t0 + timedelta(days=2))
    assert visitor_scopes.refresh(con).mode == "rebuilt"
    # Loaded between a.csv and b.csv (a clock set back, a ledger restored): b.csv's credits would change.
    deliver(con, "c.csv", rng, 1500, ["p1", "p2"], date(2020, 1, 20), 40, 500, t0 + timedelta(days=1))
    assert visitor_scopes.refresh(con).mode == "rebuilt"
    assert_exact(con)
    deliver(con, "d.csv", rng, 500, ["p2"], date(2020, 3, 2), 10, 700, t0 + timedelta(days=3))
    assert visitor_scopes.refresh(con).mode == "updated"
    con.execute("DROP TABLE staging.visitor_scope_credits")
    assert visitor_scopes.refresh(con).mode == "rebuilt"
    assert_exact(con)
