"""Every publication kept and re-queryable: retention, rollback to any kept one, --as-of, history, rebuild."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from assets.publish import history
from assets.publish import database
from assets.publish.database import PUBLICATION_TABLE, PUBLISHED_TABLES
from conftest import FIXTURES, landing, query
from pipelines import cli
from test_publish import VALID


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_retention_keeps_the_last_days_and_the_last_of_each_month_before():
    today = datetime(2026, 12, 1, 2, 0)
    nightly = [today - timedelta(days=d) for d in range(200)]
    kept = history.to_keep(nightly, today, 90)
    assert {t for t in nightly if t >= today - timedelta(days=90)} <= kept
    older = sorted(kept - {t for t in nightly if t >= today - timedelta(days=90)})
    # Before the window (it starts 2 September): the last night of each month, one a month.
    assert older == [datetime(2026, 5, 31, 2, 0), datetime(2026, 6, 30, 2, 0), datetime(2026, 7, 31, 2, 0),
                     datetime(2026, 8, 31, 2, 0)]
    assert history.to_keep(nightly, today, 0) == {max(t for t in nightly if (t.year, t.month) == ym)
                                                  for ym in {(t.year, t.month) for t in nightly}}


def _candidate(paths: database.Paths, version: str, published_at: datetime):
    candidate = paths.candidate()
    con = duckdb.connect(str(candidate))
    database.create_published_schema(con)
    con.execute(f"CREATE TABLE t AS SELECT '{version}' AS v")
    con.execute("INSERT INTO publication (published_at, run_id) VALUES (?, ?)", [published_at, f"run-{version}"])
    con.execute("CHECKPOINT")
    con.close()
    return candidate


def _v(path) -> str:
    return query(path, "SELECT v FROM t")[0][0]


def test_every_publication_is_kept_and_rollback_reaches_any_of_them(tmp_path):
    paths = database.Paths(tmp_path)
    moments, kept = [], []
    for i, version in enumerate(("v1", "v2", "v3")):
        stamp = datetime(2026, 10, 13 + i, 2, 0)
        kept.append(history.publish(_candidate(paths, version, stamp), paths, stamp, f"run-{version}", 10_000)[0])
        moments.append(now())
    assert [k.name for k in kept] == ["published-20261013T020000Z.duckdb", "published-20261014T020000Z.duckdb",
                                      "published-20261015T020000Z.duckdb"]
    assert [_v(k) for k in kept] == ["v1", "v2", "v3"] and _v(paths.published) == "v3"
    assert all(not os.stat(k).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) for k in kept)
    assert not list(kept[0].parent.glob("*.wal"))
    assert history.current_at(paths, moments[1]) == kept[1]
    with pytest.raises(FileNotFoundError, match="no publication was current"):
        history.current_at(paths, datetime(2020, 1, 1))
    # Plain rollback: as before, swaps with the previous one; again rolls forward.
    database.rollback(paths)
    history.after_rollback(paths)
    assert _v(paths.published) == "v2" and history.current_at(paths, now()) == kept[1]
    database.rollback(paths)
    history.after_rollback(paths)
    assert _v(paths.published) == "v3"
    # Any kept publication, by file or by the time it was current; plain rollback then returns.
    history.restore(paths, history.resolve(paths, kept[0].name))
    assert _v(paths.published) == "v1" and _v(paths.previous) == "v3"
    assert history.current_at(paths, moments[2]) == kept[2]  # the past stays as it was
    database.rollback(paths)
    assert _v(paths.published) == "v3"
    history.restore(paths, history.resolve(paths, moments[1].isoformat()))
    assert _v(paths.published) == "v2"
    with pytest.raises(ValueError, match="already the current"):
        history.restore(paths, kept[1])
    lines = history.describe(paths)
    assert [line.split()[-1] for line in lines if line.startswith("2026-10-")] == [
        kept[0].name, "current", kept[2].name]  # the second is current again
    assert len(lines) - lines.index("rollbacks:") - 1 == 4  # after_rollback twice, restore twice


def test_retention_removes_what_it_no_longer_keeps_but_never_the_current(tmp_path):
    paths = database.Paths(tmp_path)
    stamps = [datetime(2026, 1, 10), datetime(2026, 1, 20), datetime(2026, 2, 5), datetime(2026, 2, 6)]
    for i, stamp in enumerate(stamps):
        kept, removed = history.publish(_candidate(paths, f"v{i}", stamp), paths, stamp, None, retention_days=0)
    names = sorted(p.name for p in history.folder(paths).glob("*.duckdb"))
    # January's last; February's last is the current one; the previous one stays while it is previous.
    assert names == ["published-20260120T000000Z.duckdb", "published-20260205T000000Z.duckdb",
                     "published-20260206T000000Z.duckdb"]
    assert removed == [] and _v(paths.published) == "v3" and _v(paths.previous) == "v2"
    history.publish(_candidate(paths, "v4", datetime(2026, 2, 7)), paths, datetime(2026, 2, 7), None, 0)
    assert not (history.folder(paths) / "published-20260205T000000Z.duckdb").exists()


def test_a_night_reads_every_kept_publication_through_one_database(tmp_path, monkeypatch):
    """Retention reads all the kept files every night (90 days' worth by default): each one is
    attached to one in-memory database, not opened as a database of its own (17-27 ms each)."""
    paths = database.Paths(tmp_path)
    stamps = [datetime(2026, 10, 1 + d, 2, 0) for d in range(6)]
    for i, stamp in enumerate(stamps):
        history.publish(_candidate(paths, f"v{i}", stamp), paths, stamp, f"run-v{i}", 10_000)
    opened = []
    real = duckdb.connect
    monkeypatch.setattr(history.duckdb, "connect", lambda *a, **k: opened.append(a) or real(*a, **k))
    kept = history.list_files(paths)
    assert opened == [()], opened  # one in-memory database for all six
    monkeypatch.undo()
    assert [(k.published_at, k.run_id) for k in kept] == [(s, f"run-v{i}") for i, s in enumerate(stamps)]
    assert [_v(k.path) for k in kept] == [f"v{i}" for i in range(6)]
    assert history.current_file(paths) == kept[-1].path


def test_as_of_names_a_clear_error_when_nothing_was_published(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TALENT_WAREHOUSE_DIR", str(tmp_path))
    assert cli.main(["query", "--as-of", "2026-10-15", "SELECT 1"]) == 1
    assert "no kept publication" in capsys.readouterr().err
    assert cli.main(["query", "--as-of", "15/10/2026", "SELECT 1"]) == 1
    assert "expected an ISO date or time" in capsys.readouterr().err


IMPRESSIONS = ("SELECT result FROM kpi_scorecard WHERE campaign_id = 'microbiome_signature' "
               "AND kpi = 'impressions' AND period = 'all'")


@pytest.mark.slow
def test_corrected_reexport_as_of_history_and_a_rebuilt_publication(tmp_path, pipeline_env, monkeypatch, capsys):
    raw = landing(tmp_path, VALID)
    assert pipeline_env(raw).success
    old = query(pipeline_env.published, IMPRESSIONS)[0][0]
    between = now()
    # A corrected re-export of the Meta file: same account and dates, one count changed.
    original = raw / "reach" / "meta_decimal_comma.csv"
    corrected = raw / "reach" / "meta_decimal_comma_corrected.csv"
    corrected.write_bytes(original.read_bytes().replace(b"12 345", b"12 400"))
    assert pipeline_env(raw).success
    new = query(pipeline_env.published, IMPRESSIONS)[0][0]
    assert new != old

    paths = database.Paths(pipeline_env.published.parent)
    assert query(history.current_at(paths, between), IMPRESSIONS) == [(old,)]
    assert query(history.current_at(paths, now()), IMPRESSIONS) == [(new,)]
    for moment, figure in ((between, old), (now(), new)):
        assert cli.main(["query", "--as-of", moment.isoformat() + "Z", IMPRESSIONS]) == 0
        assert str(figure) in capsys.readouterr().out

    lines = "\n".join(history.describe(paths))
    assert "added 1: meta_decimal_comma_corrected.csv (reach)" in lines
    assert "no longer in: meta_decimal_comma.csv (reach)" in lines
    assert f"microbiome_signature impressions all: {old:,} -> {new:,}" in lines
    traced = query(pipeline_env.published, "SELECT source_file FROM kpi_provenance WHERE kpi = 'impressions' "
                                           "AND period = 'all' AND channel = 'all' ORDER BY 1")
    assert ("meta_decimal_comma_corrected.csv",) in traced and ("meta_decimal_comma.csv",) not in traced

    # Rebuild the second publication from the exports its ledger names: fresh warehouse, same files,
    # reference and key. The landing folder also holds the superseded original: only the ledger's are used.
    kept = history.current_at(paths, now())
    rebuilt_raw = tmp_path / "rebuild" / "raw"
    history.restore_exports(kept, [raw], FIXTURES / "reference", rebuilt_raw)
    assert not (rebuilt_raw / "reach" / "meta_decimal_comma.csv").exists()
    monkeypatch.setenv("TALENT_WAREHOUSE_DIR", str(tmp_path / "rebuild" / "warehouse"))
    assert pipeline_env(rebuilt_raw).success
    rebuilt = tmp_path / "rebuild" / "warehouse" / "published.duckdb"
    for table in PUBLISHED_TABLES:
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert query(rebuilt, sql) == query(kept, sql), table
    facts = f"SELECT * EXCLUDE (published_at, run_id) FROM {PUBLICATION_TABLE}"
    assert query(rebuilt, facts) == query(kept, facts)
    # The accounting tables: the rebuild's ledger holds only what the publication was built from (not
    # the superseded original, so no "replaces ..." message), and its exports were first seen at other times.
    assert query(rebuilt, "SELECT * FROM data_issues ORDER BY ALL") == query(kept, "SELECT * FROM data_issues ORDER BY ALL")
    loaded = "SELECT * EXCLUDE (first_seen, message) FROM exports WHERE status = 'loaded' ORDER BY ALL"
    assert query(rebuilt, loaded) == query(kept, loaded)
    assert query(kept, "SELECT len(ledger) FROM publication")[0][0] == len(list(rebuilt_raw.glob("*/*"))) - len(
        list((rebuilt_raw / "reference").iterdir()))
