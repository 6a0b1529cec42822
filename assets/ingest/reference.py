"""Reference data from the campaign team: campaigns, periods, organisations, targets, FX, channel rules.

The attribution rules every source shares (which campaign a text names, which
period a date falls in, which organisation a name or id means, which channel a
source is) are SQL, in sql/attribution.sql; ``Attribution`` hands a parser's
rows to them. Also which country a free-text country of residence is.
"""

from __future__ import annotations

import csv
import gettext
import hashlib
import io
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

from assets.ddl import SQL_DIR
from assets.ingest.common import RejectedFile, decode

REFERENCE_FILES: dict[str, dict[str, pl.DataType]] = {
    "campaigns": {
        "campaign_id": pl.String,
        "name": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "budget_eur": pl.Float64,
        "eu_grant_eur": pl.Float64,
    },
    "campaign_periods": {
        "campaign_id": pl.String,
        "period": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "utm_campaign": pl.String,
    },
    "organisations": {
        "org_id": pl.String,
        "name": pl.String,
        "country": pl.String,
        "city": pl.String,
        "sector": pl.String,
        "talent_campaign_joined_on": pl.Date,
        "established_in_region_on": pl.Date,
    },
    "kpi_targets": {"campaign_id": pl.String, "kpi": pl.String, "period": pl.String, "target": pl.Float64},
    "fx_rates": {"currency": pl.String, "eur_per_unit": pl.Float64},
    # Ordered rules grouping a source (and medium) into a channel: sql/attribution.sql channel_of.
    "channel_rules": {
        "rule_order": pl.Int64,
        "channel": pl.String,
        "source_pattern": pl.String,
        "medium_pattern": pl.String,
        "note": pl.String,
    },
}
OPTIONAL_REFERENCE = {"fx_rates"}
ATTRIBUTION_SQL = SQL_DIR / "attribution.sql"


def create_attribution_macros(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)creates the macros of sql/attribution.sql, which DuckDB binds to the ref.* tables.

    A reference table not loaded (a caller that loads only some) is created empty, so the
    macros bind; they then find no campaign, period, organisation or channel rule in it.
    """
    for name, schema in REFERENCE_FILES.items():
        con.register("_ref_empty", pl.DataFrame(schema=schema).to_arrow())
        con.execute(f"CREATE TABLE IF NOT EXISTS ref.{name} AS SELECT * FROM _ref_empty")
        con.unregister("_ref_empty")
    con.execute(ATTRIBUTION_SQL.read_text())


def attribution_fingerprint() -> str:
    """Changes when the attribution SQL changes: staged rows were attributed by the old one."""
    return hashlib.sha256(ATTRIBUTION_SQL.read_bytes()).hexdigest()[:16]


def read_reference(folder: Path, with_lines: bool = False) -> dict[str, pl.DataFrame]:
    """Reads every reference CSV strictly: a bad cell rejects the file with its line and column.

    ``with_lines`` adds ``source_file`` and ``line_number`` to each frame (for the reference suite).
    """
    frames = {}
    for name, schema in REFERENCE_FILES.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            if name in OPTIONAL_REFERENCE:
                lines = {"source_file": pl.String, "line_number": pl.Int64} if with_lines else {}
                frames[name] = pl.DataFrame(schema={**schema, **lines})
                continue
            raise RejectedFile(path, None, None, "required reference file is missing")
        text, _encoding = decode(path, path.read_bytes())
        try:
            raw = pl.read_csv(io.StringIO(text), infer_schema=False).with_row_index("line", offset=2)
        except pl.exceptions.PolarsError as exc:
            # Polars names neither line nor column; find the first ragged line ourselves.
            raise RejectedFile(path, *_ragged_line(text), f"not a valid CSV: {str(exc).splitlines()[0]}") from exc
        missing = [c for c in schema if c not in raw.columns]
        if missing:
            raise RejectedFile(path, 1, missing[0], f"required column(s) {missing} missing")
        # Hand-edited files end in blank lines; they are not rows.
        raw = raw.filter(pl.any_horizontal(pl.col(c).str.strip_chars().fill_null("") != "" for c in schema))
        key = next(iter(schema))
        empty_key = raw.filter(pl.col(key).str.strip_chars().fill_null("") == "")
        if empty_key.height:
            raise RejectedFile(path, empty_key["line"][0], key, f"{key} is empty")
        out = {}
        for col, dtype in schema.items():
            values = raw[col].str.strip_chars()
            values = values.replace("", None)
            cast = values.str.to_date("%Y-%m-%d", strict=False) if dtype == pl.Date else values.cast(dtype, strict=False)
            bad = raw.filter(values.is_not_null() & cast.is_null())
            if bad.height:
                row = bad.row(0, named=True)
                raise RejectedFile(path, row["line"], col, f"cannot read {row[col]!r} as {dtype}")
            out[col] = cast
        if with_lines:
            out["source_file"] = pl.Series([path.name] * raw.height, dtype=pl.String)
            out["line_number"] = raw["line"].cast(pl.Int64)
        frames[name] = pl.DataFrame(out)
    return frames


def _ragged_line(text: str) -> tuple[int | None, str | None]:
    rows = list(csv.reader(io.StringIO(text)))
    width = len(rows[0]) if rows else 0
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != width:
            return number, None
    return None, None


class Attribution:
    """The attribution rules of sql/attribution.sql, applied to a parser's rows.

    ``con`` holds the ref.* tables and the macros (stage.ensure_schema creates
    them, stage.load_reference fills ref.*); the visitor parser calls the same
    macros inline. The rows go to DuckDB as a registered Arrow frame for one
    query and come back with the attributed columns; nothing is stored.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def select(self, frame: pl.DataFrame, query: str) -> pl.DataFrame:
        """Runs ``query`` (SQL calling the macros of attribution.sql) over ``frame``, named ``rows``.

        ``rows`` has a ``_row`` column (the frame's row index); the query keeps it, and the
        result comes back in the frame's order without it.
        """
        name = "_attribution_rows"
        self.con.register(name, frame.with_row_index("_row").to_arrow())
        try:
            sql = query.replace("{rows}", name)
            return self.con.sql(f"SELECT * EXCLUDE (_row) FROM ({sql}) ORDER BY _row").pl()
        finally:
            self.con.unregister(name)

    def organisations(self, names: set[str]) -> dict[str, str | None]:
        """org_id of each organisation name or id as written (None when the register has none)."""
        if not names:
            return {}
        frame = pl.DataFrame({"name": sorted(names)}, schema={"name": pl.String})
        found = self.select(frame, "SELECT _row, name, org_of(name) AS org_id FROM {rows}")
        return dict(zip(found["name"], found["org_id"]))

    def fx(self) -> dict[str, float]:
        """EUR per unit of each currency (EUR itself is 1)."""
        rates = {c.upper(): r for c, r in self.con.execute("SELECT currency, eur_per_unit FROM ref.fx_rates").fetchall()}
        rates.setdefault("EUR", 1.0)
        return rates


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Country name or code -> ISO alpha-2, in English, Danish and Swedish (pycountry's data)."""
    import pycountry

    names: dict[str, str] = {}
    translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang]) for lang in ("da", "sv")]
    for c in pycountry.countries:
        english = [c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)]
        for n in english:
            if n:
                names[n.lower()] = c.alpha_2
                for t in translations:
                    names[t.gettext(n).lower()] = c.alpha_2
        names[c.alpha_2.lower()] = c.alpha_2
        names[c.alpha_3.lower()] = c.alpha_2
    # Names people write that the ISO tables spell otherwise.
    for alias, code in {"holland": "NL", "usa": "US", "uk": "GB", "england": "GB", "great britain": "GB"}.items():
        names.setdefault(alias, code)
    return names


def country_code(text: str | None) -> str | None:
    """ISO alpha-2 for a code or an English/Danish/Swedish name; None when nothing matches (never a guess)."""
    if text is None:
        return None
    key = " ".join(str(text).strip().lower().split())
    return _country_names().get(key)
