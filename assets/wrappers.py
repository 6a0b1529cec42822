"""What every thin Dagster wrapper shares: the warehouse connection and its retry rule, UI metadata.

The wrappers (assets/<room>/asset.py, assets/quality/freshness_check.py) declare the resource key
STORE and read the plain `assets.settings.Settings` from it with `settings_of(context)`; they never
import the resource class (pipelines/resources.py), and the domain code they call never sees Dagster.
"""

import errno
from contextlib import contextmanager

import dagster as dg
import duckdb

from assets.ingest.common import first_row
from assets.ingest.contract import private_fields
from assets.settings import Settings
from assets.staging.warehouse import connect, ensure_schema, is_lock_error, release

STORE = "store"  # the resource key: pipelines/resources.py TalentStore, whose value on the context is Settings
OWNERS = ["team:data"]
FULL_TAG = "talent/full"  # `talent-pipeline run --full`: rebuild what nights update incrementally
# Only transient I/O (a DuckDB lock held a moment too long, a busy or flaky
# disk) is retried, with exponential backoff. Bugs and bad data fail at once,
# and a failed data-quality check is a check result, so it is never retried.
MAX_RETRIES = 3
TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EIO, errno.ETIMEDOUT, errno.ESTALE}


def is_transient(exc: BaseException) -> bool:
    if is_lock_error(exc):
        return True
    return isinstance(exc, TimeoutError) or (isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS)


def settings_of(context) -> Settings:
    """The run's settings, from the STORE resource (declare `required_resource_keys={STORE}`)."""
    return getattr(context.resources, STORE)


@contextmanager
def warehouse(settings: Settings, context=None):
    """The warehouse connection for one asset; transient I/O errors ask Dagster for a retry."""
    try:
        con = connect(settings.warehouse, memory_limit=settings.duckdb_memory_limit)
        try:
            ensure_schema(con)
            yield con
        finally:
            con.close()
    except Exception as exc:
        if isinstance(exc, duckdb.FatalException):  # the held database is unusable: let go of it
            release(settings.warehouse)
        if context is not None and is_transient(exc):
            wait = 2 ** (context.retry_number + 1)
            context.log.warning(f"transient I/O error, retrying in {wait} s: {exc}")
            raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=wait) from exc
        raise


# Never shown in the UI: pseudonymous ids and keys are still personal data under GDPR.
NOT_PREVIEWED = private_fields() | {"file_hash"}


def preview(con, sql: str) -> dg.MetadataValue:
    frame = con.sql(sql).pl()
    frame = frame.drop([c for c in frame.columns if c in NOT_PREVIEWED])
    return dg.MetadataValue.md(frame.to_pandas().to_markdown(index=False) if frame.height else "_no rows_")


def _column_schema(con, table: str) -> dg.TableSchema:
    schema, name = table.split(".")
    rows = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(c, t, description=d) for c, t, d in rows])


def table_metadata(con, table: str) -> dict:
    """Row count, column schema and a five-row preview without personal data, for the UI."""
    return {
        "dagster/row_count": first_row(con.execute(f"SELECT count(*) FROM {table}"))[0],
        "dagster/column_schema": _column_schema(con, table),
        "preview": preview(con, f"SELECT * FROM {table} LIMIT 5"),
    }
