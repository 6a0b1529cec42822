"""Reading the warehouse into the pandas frames Great Expectations validates.

GX has no DuckDB or Polars datasource that works here, so frames are pandas,
read from DuckDB through Arrow with only the columns a suite needs.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

# String columns with few distinct values: read as pandas categoricals to save memory on large tables.
LOW_CARDINALITY = frozenset({
    "channel", "campaign_id", "period", "layout", "source_file", "file_hash", "currency", "stage", "country_code",
    "org_id", "organisation_name", "session_source", "session_medium", "session_campaign", "country",
})


def to_pandas(con, sql: str, categorical: Iterable[str] = ()) -> pd.DataFrame:
    """A query's result as pandas, through Arrow.

    DuckDB's own ``.df()`` builds Python string objects: on 5M sessions it took
    40 s and 5.9 GB. Arrow keeps strings in Arrow buffers (pandas 3 str dtype):
    4 s and 1.8 GB. ``categorical`` string columns (few distinct values, such as
    the 64-character file_hash) become pandas categoricals, which shrinks the
    frame about fourfold. Integer columns with nulls become nullable Int64, dates datetime64.
    """
    import pyarrow as pa

    nullable = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.int16(): pd.Int16Dtype(),
                pa.bool_(): pd.BooleanDtype()}
    table = con.sql(sql).to_arrow_table()
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in categorical and pa.types.is_string(column.type):
            column = column.dictionary_encode()
        mapper = nullable.get if column.null_count else None
        columns[name] = column.to_pandas(date_as_object=False, types_mapper=mapper)
    return pd.DataFrame(columns)


def present_columns(con, table_name: str) -> set[str]:
    schema_name, table = table_name.split(".")
    return {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema_name, table],
        ).fetchall()
    }
