"""The ledger: files loaded once by content, corrected re-exports replace, rejections do not stop others."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assets.staging import restage, stage, warehouse
from assets.staging.parsers import STAGED_TABLE, RowParser, VisitorParser
from assets.ingest.reach import parse_reach
from assets.ingest.reference import Attribution
from conftest import FIXTURES


@pytest.fixture
def parse(con):
    attribution = Attribution(con)  # the warehouse's own ref.* tables and attribution macros
    return RowParser("reach", lambda path: parse_reach(path, attribution))


def _copy(name: str, folder, as_name: str | None = None, mtime: int = 0):
    target = folder / (as_name or name)
    shutil.copy(FIXTURES / "reach" / name, target)
    os.utime(target, ns=(mtime, mtime))  # arrival order for landing_files
    return target


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_same_file_under_two_names_is_loaded_once(con, parse, tmp_path):
    _copy("meta_decimal_comma.csv", tmp_path, mtime=1)
    _copy("meta_decimal_comma.csv", tmp_path, "meta (copy).csv", mtime=2)
    summary = stage.ingest_source(con, "reach", tmp_path, parse)
    assert [f.status for f in summary.files] == ["loaded", "duplicate"]
    assert rows(con, "SELECT count(*) FROM staging.reach") == [(2,)]


def test_second_night_parses_nothing_unchanged(con, parse, tmp_path):
    _copy("meta_decimal_comma.csv", tmp_path)
    stage.ingest_source(con, "reach", tmp_path, parse)
    again = stage.ingest_source(con, "reach", tmp_path, parse)
    assert [f.status for f in again.files] == ["unchanged"]
    assert rows(con, "SELECT count(*) FROM staging.reach") == [(2,)]


def _load_then_correct(con, parse, tmp_path):
    """Loads meta_sept.csv, then lands a corrected re-export of it (not yet loaded)."""
    original = _copy("meta_decimal_comma.csv", tmp_path, "meta_sept.csv", mtime=1)
    stage.ingest_source(con, "reach", tmp_path, parse)
    corrected = tmp_path / "meta_sept_corrected.csv"
    corrected.write_bytes(original.read_bytes().replace(b"12 345", b"12 400"))
    os.utime(corrected, ns=(2, 2))
    return original, corrected


def test_corrected_reexport_replaces_the_earlier_rows(con, parse, tmp_path):
    _load_then_correct(con, parse, tmp_path)
    summary = stage.ingest_source(con, "reach", tmp_path, parse)
    assert [f.status for f in summary.files] == ["unchanged", "superseding"]
    assert rows(con, "SELECT sum(impressions), count(DISTINCT source_file) FROM staging.reach") == [(12400 + 1000, 1)]
    assert rows(con, "SELECT status FROM ingest.file_ledger ORDER BY loaded_at") == [("superseded",), ("loaded",)]


def test_rejected_file_is_ledgered_and_the_others_load(con, parse, tmp_path):
    _copy("unknown_layout.csv", tmp_path, mtime=1)
    _copy("linkedin_campaign_performance.csv", tmp_path, mtime=2)
    summary = stage.ingest_source(con, "reach", tmp_path, parse)
    assert [f.status for f in summary.files] == ["rejected", "loaded"]
    assert "unknown layout" in summary.files[0].message
    assert rows(con, "SELECT status, message LIKE 'unknown_layout.csv, line 1%' FROM ingest.file_ledger "
                     "WHERE path LIKE '%unknown_layout.csv'") == [("rejected", True)]


def test_loaded_plus_quarantined_equals_data_lines(con, parse, tmp_path):
    for i, name in enumerate(["linkedin_non_numeric_count.csv", "meta_decimal_comma.csv", "google_ads_utf16.tsv"]):
        _copy(name, tmp_path, mtime=i)
    stage.ingest_source(con, "reach", tmp_path, parse)
    ledger = rows(con, "SELECT file_hash, data_lines, rows_loaded, rows_quarantined FROM ingest.file_ledger")
    for file_hash, data_lines, loaded, quarantined in ledger:
        assert loaded + quarantined == data_lines
        assert rows(con, f"SELECT count(*) FROM staging.reach WHERE file_hash = '{file_hash}'") == [(loaded,)]
        assert rows(con, f"SELECT count(*) FROM staging.quarantine WHERE file_hash = '{file_hash}'") == [(quarantined,)]
    assert rows(con, "SELECT count(*), sum(rows_quarantined) FROM ingest.file_ledger WHERE status = 'loaded'") == [(3, 1)]


def test_visitor_file_staged_with_lineage(con, tmp_path):
    shutil.copy(FIXTURES / "visitors" / "sessions_bad_values.csv", tmp_path / "s.csv")
    summary = stage.ingest_source(con, "visitors", tmp_path, VisitorParser())
    assert (summary.rows_loaded, summary.rows_quarantined) == (1, 3)
    assert rows(con, "SELECT source_file, line_number, layout FROM staging.sessions") == [("s.csv", 2, "ga4_sessions")]


@pytest.mark.parametrize("name, line, words", [
    ("sessions_unterminated_quote.csv", 3, "unterminated quote"),
    ("sessions_truncated.csv.gz", None, "compressed"),
])
def test_a_visitor_file_the_reader_stops_in_is_rejected_and_the_others_load(con, tmp_path, name, line, words):
    """DuckDB aborts the file's transaction when its reader stops mid-file: the file is recorded as
    rejected with its line (no cleanup statement may raise over that), and the next file still loads."""
    shutil.copy(FIXTURES / "visitors" / name, tmp_path / name)
    shutil.copy(FIXTURES / "visitors" / "sessions_valid.csv", tmp_path / "sessions_valid.csv")
    os.utime(tmp_path / name, ns=(1, 1))
    os.utime(tmp_path / "sessions_valid.csv", ns=(2, 2))
    summary = stage.ingest_source(con, "visitors", tmp_path, VisitorParser())
    assert sorted((Path(f.path).name, f.status) for f in summary.files) == [(name, "rejected"),
                                                                             ("sessions_valid.csv", "loaded")]
    assert con.execute("SELECT error_line, message LIKE ? FROM ingest.file_ledger WHERE status = 'rejected'",
                       [f"%{words}%"]).fetchall() == [(line, True)]
    assert rows(con, "SELECT DISTINCT source_file FROM staging.sessions") == [("sessions_valid.csv",)]


def test_a_failing_quarantine_insert_fails_with_its_own_error(con, tmp_path):
    """Only a bug can make it fail (a quarantine row without its reason); the step then fails with the
    constraint DuckDB names, not with the aborted transaction's "please ROLLBACK" from a cleanup."""
    import duckdb
    import polars as pl

    from assets.staging.parsers import QUARANTINE_SCHEMA, FileFacts, Load

    class NoReason:
        def stage(self, con, table, facts):
            row = {"line_number": 2, "column_name": "x", "value": "y", "reason": None, "rule": "r", "campaign_id": None}
            return Load("bug", "bug|key", 1, 0, pl.DataFrame([row], schema=QUARANTINE_SCHEMA))

    path = tmp_path / "reach.csv"
    path.write_text("a\n1\n")
    with pytest.raises(duckdb.ConstraintException, match="reason"):
        stage.stage_one(con, "reach", NoReason(), FileFacts(path, "digest"), "run")
    assert rows(con, "SELECT count(*) FROM staging.quarantine") == [(0,)]


def test_an_unterminated_quote_early_in_a_large_visitor_file_is_rejected_at_its_line(con, tmp_path):
    """Python's csv reader, which locates the problem, gives up on a quoted field over 131,072 characters:
    a quote that never closes 5,000 lines before the end must still reject the file at its line."""
    lines = (FIXTURES / "visitors" / "sessions_valid.csv").read_text().splitlines()
    broken = lines[2].replace(",/jobs,", ',"/jobs,')
    (tmp_path / "sessions_big_bad.csv").write_text("\n".join([lines[0], lines[1], broken] + [lines[1]] * 5000) + "\n")
    [outcome] = stage.ingest_source(con, "visitors", tmp_path, VisitorParser()).files
    assert outcome.status == "rejected" and "unterminated quote" in outcome.message
    assert rows(con, "SELECT error_line FROM ingest.file_ledger") == [(3,)]


def test_reference_change_restages_everything(con, parse, tmp_path):
    _copy("meta_decimal_comma.csv", tmp_path)
    assert restage.reset_if_inputs_changed(con, "v1") is False  # first version: nothing to redo
    stage.ingest_source(con, "reach", tmp_path, parse)
    assert restage.reset_if_inputs_changed(con, "v1") is False
    assert restage.reset_if_inputs_changed(con, "v2") is True
    assert rows(con, "SELECT count(*) FROM staging.reach") == [(0,)]
    assert [f.status for f in stage.ingest_source(con, "reach", tmp_path, parse).files] == ["loaded"]


def test_a_held_warehouse_lock_is_waited_out(tmp_path):
    import errno
    import subprocess
    import sys
    import time

    from assets.wrappers import is_transient

    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, time, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(2)"
    ), str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    con = warehouse.connect(path)
    waited = time.monotonic() - started
    con.close()
    holder.wait()
    assert waited > 0.5  # it did wait for the other writer instead of failing
    assert is_transient(OSError(errno.EBUSY, "busy")) and not is_transient(ValueError("bug"))
    assert not is_transient(OSError(errno.ENOENT, "missing"))


def test_sharded_visitor_exports_over_the_same_days_all_load(con, tmp_path):
    """Two part files of one export cover the same dates: neither supersedes the other."""
    lines = (FIXTURES / "visitors" / "sessions_valid.csv").read_text().splitlines(keepends=True)
    part = "".join([lines[0], lines[1], lines[-1]])  # same first and last day in both parts
    (tmp_path / "part-0000.csv").write_text(part)
    (tmp_path / "part-0001.csv").write_text(part.replace(",1\n", ",0\n"))
    os.utime(tmp_path / "part-0000.csv", ns=(1, 1))
    os.utime(tmp_path / "part-0001.csv", ns=(2, 2))
    summary = stage.ingest_source(con, "visitors", tmp_path, VisitorParser())
    assert [f.status for f in summary.files] == ["loaded", "loaded"]
    assert rows(con, "SELECT count(*), count(DISTINCT source_file) FROM staging.sessions") == [(4, 2)]


def test_a_withdrawn_export_leaves_the_warehouse_and_stays_out(con, parse, tmp_path):
    kept = _copy("meta_decimal_comma.csv", tmp_path, mtime=1)
    bad = _copy("linkedin_non_numeric_count.csv", tmp_path, mtime=2)
    stage.ingest_source(con, "reach", tmp_path, parse)
    loaded = con.execute("SELECT rows_loaded, rows_quarantined FROM ingest.file_ledger WHERE path = ?",
                         [str(bad)]).fetchone()
    assert loaded[1] > 0  # the file has quarantined rows, which must go too

    done = restage.withdraw(con, "linkedin_non_numeric_count.csv", "wrong account exported")
    assert (done.rows_removed, done.quarantine_removed) == loaded
    assert rows(con, "SELECT DISTINCT source_file FROM staging.reach") == [(kept.name,)]
    assert rows(con, "SELECT count(*) FROM staging.quarantine") == [(0,)]
    assert con.execute("SELECT status, message LIKE '%wrong account exported' FROM ingest.file_ledger "
                       "WHERE path = ?", [str(bad)]).fetchall() == [("withdrawn", True)]
    # Still in the landing folder: not parsed again, not even after a reference change re-stages the rest.
    assert [f.status for f in stage.ingest_source(con, "reach", tmp_path, parse).files] == ["unchanged"] * 2
    assert restage.reset_if_inputs_changed(con, "v1") is True
    assert [f.status for f in stage.ingest_source(con, "reach", tmp_path, parse).files] == ["loaded", "unchanged"]
    assert rows(con, "SELECT DISTINCT source_file FROM staging.reach") == [(kept.name,)]
    with pytest.raises(ValueError, match="withdrawn, there is nothing to withdraw"):
        restage.withdraw(con, str(bad), "again")
    with pytest.raises(ValueError, match="no export with this content or name"):
        restage.withdraw(con, "never_delivered.csv", "typo")


def test_withdrawing_a_correction_brings_back_what_it_replaced(con, parse, tmp_path):
    original, corrected = _load_then_correct(con, parse, tmp_path)
    stage.ingest_source(con, "reach", tmp_path, parse)
    digest = con.execute("SELECT file_hash FROM ingest.file_ledger WHERE status = 'loaded'").fetchone()[0]

    done = restage.withdraw(con, digest[:12], "the correction was wrong")  # by hash prefix
    assert done.path == str(corrected) and done.restored == (str(original),)
    assert rows(con, "SELECT count(*) FROM staging.reach") == [(0,)]
    again = stage.ingest_source(con, "reach", tmp_path, parse)
    assert [f.status for f in again.files] == ["loaded", "unchanged"]
    assert rows(con, "SELECT sum(impressions), any_value(source_file) FROM staging.reach") == [(12345 + 1000,
                                                                                               "meta_sept.csv")]


@pytest.mark.parametrize("source, name", [
    ("reach", "linkedin_non_numeric_count.csv"),
    ("visitors", "sessions_bad_values.csv"),
    ("hiring", "ats_applications.csv"),
])
def test_every_source_goes_through_one_interface_with_line_provenance(con, tmp_path, source, name):
    """The same transaction for every source: each data line is staged or quarantined once, under its
    file, hash and physical line, and the ledger's accounting matches the rows."""
    from conftest import TEST_KEY
    from assets.ingest.hiring import parse_hiring

    attribution = Attribution(con)
    parser = {"reach": RowParser("reach", lambda path: parse_reach(path, attribution)),
              "visitors": VisitorParser(),
              "hiring": RowParser("hiring", lambda path: parse_hiring(path, attribution, TEST_KEY.encode()))}[source]
    shutil.copy(FIXTURES / source / name, tmp_path / name)
    [outcome] = stage.ingest_source(con, source, tmp_path, parser).files
    table = STAGED_TABLE[source]
    digest, data_lines, loaded, quarantined = rows(
        con, "SELECT file_hash, data_lines, rows_loaded, rows_quarantined FROM ingest.file_ledger")[0]
    assert outcome.status == "loaded" and loaded + quarantined == data_lines and (loaded, quarantined) == (
        outcome.rows_loaded, outcome.rows_quarantined)
    lines = rows(con, f"SELECT line_number FROM {table} WHERE file_hash = '{digest}' AND source_file = '{name}' "
                      f"UNION ALL SELECT line_number FROM staging.quarantine WHERE file_hash = '{digest}' "
                      f"AND source_file = '{name}' AND source = '{source}'")
    numbers = [n for (n,) in lines]
    assert len(numbers) == data_lines == len(set(numbers)) and None not in numbers and min(numbers) >= 2
    physical = (FIXTURES / source / name).read_text().splitlines()
    assert all(physical[n - 1].strip() for n in numbers)  # every number names a non-empty line of the file
