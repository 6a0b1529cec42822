"""The warehouse file: opening it (waiting out another writer's lock), its schema, the reference tables."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from assets.ddl import SQL_DIR
from assets.ingest.reference import create_attribution_macros
from assets.settings import DEFAULT_MEMORY_LIMIT


def is_lock_error(exc: BaseException) -> bool:
    """Whether DuckDB could not open a file because another process has it (its lock)."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(path: Path, read_only: bool = False, attempts: int = 20,
            memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """Opens a DuckDB file, waiting out another process's lock instead of failing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {} if read_only else {"memory_limit": memory_limit}
    delay = 0.1
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def hold(path: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection | None:
    """The warehouse opened for the length of a run, or None when there is none yet; ``release`` ends it.

    While this connection is open, every ``connect`` to the same file in this process (same
    settings) joins its database instead of opening the file again: DuckDB's instance cache. A
    step's connection then costs under a millisecond instead of 15-25 ms, and closing it does not
    checkpoint; the checkpoint comes when the write-ahead log grows past DuckDB's threshold, and
    when this one closes. Commits are durable either way (the log is synced at each commit).
    Raises duckdb.IOException at once if another process has the file.
    """
    if not path.exists():
        return None
    release(path)  # a hold this process forgot to end: one at a time per file
    _HELD[path] = connect(path, attempts=1, memory_limit=memory_limit)
    return _HELD[path]


# The held connection of each file (``hold``), until ``release``.
_HELD: dict[Path, duckdb.DuckDBPyConnection] = {}


def release(path: Path) -> None:
    """Closes the held connection to ``path``, if any: the database closes, with a checkpoint, once no
    step has it. The run's end calls it, and so does a fatal DuckDB error (FatalException: the database
    cannot be used again), so that a retried step opens the file afresh (replaying its log)."""
    held = _HELD.pop(path, None)
    if held is not None:
        held.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN, then COMMIT when the block ends, or ROLLBACK and re-raise when it raises."""
    con.execute("BEGIN")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``schema.table`` exists in the connection's database."""
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = ? AND table_name = ?", [schema, name]).fetchall()[0][0])


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute((SQL_DIR / "warehouse.sql").read_text())


def load_reference(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Replaces the ref.* tables with the reference files, atomically."""
    with transaction(con):
        for name, frame in frames.items():
            con.register("_ref_frame", frame.to_arrow())
            con.execute(f"CREATE OR REPLACE TABLE ref.{name} AS SELECT * FROM _ref_frame")
            con.unregister("_ref_frame")
        create_attribution_macros(con)  # every source's staging uses them; they bind to the ref.* tables
    return {name: frame.height for name, frame in frames.items()}
