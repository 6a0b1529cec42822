"""The Dagster instance's storage: Dagster's own SQLite storage, its event log keeping its connections.

`dagster_home/dagster.yaml` names `PooledSqliteStorage` (``storage: custom:``). It is
Dagster's `DagsterSqliteStorage`, the same files in the same places (history/runs.db,
history/runs/<run id>.db and index.db, schedules/), with one difference: the event log
keeps an engine, and so its open connections, per SQLite file it uses, where Dagster's
creates a new engine and connection for every statement (SQLAlchemy ``NullPool``). A run
records about 160 events and reads its assets' latest records before each
materialization: some 550 engines a night, about 8 ms an event (measured at 10M
sessions: the events of a new day took 1.21-1.63 s, 0.68-0.73 s with the connections kept).

What stays Dagster's: the schema, every statement and transaction (one per use, committed
with SQLite's default synchronous=FULL), the lock that serialises this process's use of
the event log (reentrant here), and the files the UI and the daemon read. Closing a connection used to
checkpoint a run's write-ahead log into <run id>.db after every event, and the UI's live
log of a run (`watch`) wakes on that file's changes; so a transaction on a run's file
still ends with that checkpoint, now explicit. At most `KEEP` files stay open per process
(the index and the runs last used); `wipe` closes them before Dagster deletes the files; a
forked child drops its parent's connections unclosed (SQLAlchemy's advice for pools
across fork). Every process of a Dagster home reads the same dagster.yaml, so all use this
storage: a process that keeps a run's file open checkpoints it itself, where closing the last
connection did (a writer of Dagster's own class, beside a UI of this one, would not wake it).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

# SQLite files whose engine a process keeps: the index, the run being written, and a few the
# UI's readers go back to. Older ones are disposed of (their connections closed).
KEEP = 6
# Every storage of this process, so that a forked child can drop their connections (one hook).
_STORAGES: weakref.WeakSet[PooledSqliteEventLogStorage] = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [s._forget_engines() for s in list(_STORAGES)])


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's per-run SQLite event log with one engine (a small connection pool) per file."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before Dagster's __init__, which may reindex
        super().__init__(base_dir, inst_data)
        # Dagster's Lock, reentrant: has_table runs alone and inside an index transaction of this thread.
        self._db_lock = threading.RLock()
        _STORAGES.add(self)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made and initialised on first use; call with ``_db_lock`` held."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                pool_size=2,  # one in use (this process's lock serialises it), one for has_table inside it
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > KEEP:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's _connect with the engine kept: the same lock, one transaction per use.
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME:
                    # What closing the last connection did: the run's .db changes, which `watch` waits for.
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def has_table(self, table_name: str) -> bool:
        # Also called inside an index transaction on this thread (asset event tags): _db_lock is
        # reentrant here, and the index's pool has a second connection for it.
        with self._db_lock:
            engine = self._engine(INDEX_SHARD_NAME)
            with engine.connect() as conn:
                return bool(engine.dialect.has_table(conn, table_name))

    def wipe(self) -> None:
        # Dagster deletes every run's file: their connections go first, or they would read the deleted files.
        with self._db_lock:
            for shard in [s for s in self._engines if s != INDEX_SHARD_NAME]:
                self._engines.pop(shard).dispose()
        super().wipe()

    def _forget_engines(self) -> None:
        for engine in self._engines.values():
            engine.dispose(close=False)
        self._engines.clear()

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class PooledSqliteStorage(DagsterSqliteStorage):
    """`DagsterSqliteStorage` (``base_dir``: the Dagster home) with `PooledSqliteEventLogStorage`."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = PooledSqliteEventLogStorage(os.path.join(base_dir, "history", "runs", ""))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
