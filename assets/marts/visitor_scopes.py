"""staging.visitor_scopes: the scopes each visitor of a campaign has been seen in, kept up to date.

Grain: one row per campaign x visitor (``user_pseudo_id``), holding bit masks: which of
the campaign's (period, channel) pairs (columns ``p0``, ``p1``, ...) and which of its weeks
(``w0``, ``w1``, ...) the visitor has sessions in, 64 bits a column. Which bit is which
pair or week is ``staging.visitor_scope_bits``; bits are only ever added, so a mask stays
valid when later sessions bring new pairs or weeks. ``staging.visitor_scope_files`` lists
the exports whose sessions the masks hold, as the ledger had them then: (file_hash,
loaded_at, rows_loaded).

A night adds the masks of the newly staged sessions alone and ORs them into the rows of
the visitors they belong to. The table is rebuilt from every staged session when an export
it holds has left staging (superseded, withdrawn, or re-staged after a reference change:
a new ledger entry) or lost rows (a staged check quarantined some: its ledger rows_loaded
went down), or when asked (``talent-pipeline run --full``).

Every exact distinct count the marts publish comes from it: a scope's visitors are the
rows whose masks meet the scope's bits (rows with equal masks are counted together), so
no count is a sum of smaller scopes' counts and no session is read twice a night.
The reconciliation in assets/quality/recount.py recounts from staging.sessions, apart from this.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from assets.marts.rollup import by_scope
from assets.staging.warehouse import transaction

WORD = 64


@dataclass
class VisitorCounts:
    """Exact distinct-visitor counts at every scope the marts publish.

    ``scopes``: campaign_id, period, channel, value: one row per scope of assets/marts/rollup.py
    (period | 'all') x (channel | 'all') that has visitors; ``weeks``: campaign_id, week_start,
    unique_visitors.
    """

    scopes: pl.DataFrame
    weeks: pl.DataFrame


def count_visitors(visitors: pl.DataFrame) -> VisitorCounts:
    """The same counts in Polars, from distinct (campaign_id, period, channel, week_start, user_pseudo_id)."""
    attributed = visitors.filter(pl.col("campaign_id").is_not_null())
    return VisitorCounts(
        scopes=by_scope(attributed, pl.col("user_pseudo_id").n_unique()).with_columns(pl.col("value").cast(pl.Int64)),
        weeks=attributed.group_by("campaign_id", "week_start").agg(
            pl.col("user_pseudo_id").n_unique().cast(pl.Int64).alias("unique_visitors")
        ),
    )


@dataclass(frozen=True)
class Tables:
    scopes: str
    bits: str
    files: str
    temporary: bool = False


STAGING = Tables("staging.visitor_scopes", "staging.visitor_scope_bits", "staging.visitor_scope_files")


def ensure(con, t: Tables = STAGING) -> None:
    create = "CREATE TEMP TABLE IF NOT EXISTS" if t.temporary else "CREATE TABLE IF NOT EXISTS"
    con.execute(f"{create} {t.scopes} (campaign_id VARCHAR NOT NULL, user_pseudo_id VARCHAR NOT NULL)")
    con.execute(f"{create} {t.bits} (campaign_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, "
                "period VARCHAR, channel VARCHAR, week_start DATE, bit INTEGER NOT NULL)")
    con.execute(f"{create} {t.files} (file_hash VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL, rows_loaded BIGINT)")


@dataclass(frozen=True)
class Refresh:
    mode: str  # rebuilt | updated | unchanged
    files_added: int
    visitors: int


def refresh(con, full: bool = False) -> Refresh:
    """Brings staging.visitor_scopes up to the staged sessions, in one transaction."""
    ensure(con)
    loaded = set(con.execute(
        "SELECT file_hash, loaded_at, rows_loaded FROM ingest.file_ledger WHERE source = 'visitors' AND status = 'loaded'"
    ).fetchall())
    covered = set(con.execute(f"SELECT file_hash, loaded_at, rows_loaded FROM {STAGING.files}").fetchall())
    # Empty (first night, or after a reset): built like a rebuild, without merging.
    rebuild = full or not covered or bool(covered - loaded)
    new = loaded if rebuild else loaded - covered
    if not new and not rebuild:
        return Refresh("unchanged", 0, _visitors(con))
    with transaction(con):
        if rebuild:
            for table in (STAGING.scopes, STAGING.bits, STAGING.files):
                con.execute(f"DELETE FROM {table}")
        hashes = sorted(h for h, _, _ in new)
        if hashes:
            con.execute("CREATE OR REPLACE TEMP TABLE _vs_new_files AS SELECT unnest(?::VARCHAR[]) AS file_hash",
                        [hashes])
            add(con, "SELECT * FROM staging.sessions WHERE file_hash IN (SELECT file_hash FROM _vs_new_files)",
                STAGING, merge=not rebuild)
            con.executemany(f"INSERT INTO {STAGING.files} VALUES (?, ?, ?)", sorted(new))
            con.execute("DROP TABLE _vs_new_files")
    return Refresh("rebuilt" if rebuild else "updated", len(new), _visitors(con))


def _visitors(con) -> int:
    return con.execute(f"SELECT count(*) FROM {STAGING.scopes}").fetchall()[0][0]


def _words(con, t: Tables, prefix: str) -> list[str]:
    columns = [r[0] for r in con.execute(f"DESCRIBE {t.scopes}").fetchall()]
    return sorted((c for c in columns if c[0] == prefix and c[1:].isdigit()), key=lambda c: int(c[1:]))


def add(con, sessions_sql: str, t: Tables, merge: bool) -> None:
    """ORs the masks of the sessions ``sessions_sql`` selects into ``t`` (new pairs and weeks get new bits).

    With ``merge`` false the table must hold none of these visitors (a rebuild): rows are inserted as made.
    """
    seen = con.execute(
        f"SELECT DISTINCT campaign_id, period, channel, date_trunc('week', event_date)::DATE "
        f"FROM ({sessions_sql}) WHERE campaign_id IS NOT NULL"
    ).fetchall()
    known = con.execute(f"SELECT campaign_id, kind, period, channel, week_start, bit FROM {t.bits}").fetchall()
    have = {(c, k, p, ch, w) for c, k, p, ch, w, _ in known}
    next_bit: dict[tuple[str, str], int] = {}
    for c, k, _, _, _, bit in known:
        next_bit[(c, k)] = max(next_bit.get((c, k), 0), bit + 1)
    fresh = []
    # Sorted as a fresh build would number them: periods (none first), then channels; weeks by date.
    for c, p, ch in sorted({(c, p, ch) for c, p, ch, _ in seen}, key=lambda r: (r[0], r[1] or "", r[1] is not None, r[2])):
        if (c, "pair", p, ch, None) not in have:
            fresh.append((c, "pair", p, ch, None, next_bit.setdefault((c, "pair"), 0)))
            next_bit[(c, "pair")] += 1
    for c, w in sorted({(c, w) for c, _, _, w in seen}):
        if (c, "week", None, None, w) not in have:
            fresh.append((c, "week", None, None, w, next_bit.setdefault((c, "week"), 0)))
            next_bit[(c, "week")] += 1
    if fresh:
        con.executemany(f"INSERT INTO {t.bits} VALUES (?, ?, ?, ?, ?, ?)", fresh)
    for prefix, kind in (("p", "pair"), ("w", "week")):
        needed = max((bit for (c, k), bit in next_bit.items() if k == kind), default=0)
        existing = set(_words(con, t, prefix))
        for word in range((needed - 1) // WORD + 1 if needed else 0):
            if f"{prefix}{word}" not in existing:
                con.execute(f"ALTER TABLE {t.scopes} ADD COLUMN {prefix}{word} UBIGINT DEFAULT 0")
    pair_words, week_words = _words(con, t, "p"), _words(con, t, "w")
    if not seen:
        return

    def bit_or(alias: str, word: str) -> str:
        n = int(word[1:])
        return (f"bit_or(CASE WHEN {alias}.bit // {WORD} = {n} "
                f"THEN 1::UBIGINT << ({alias}.bit % {WORD})::UBIGINT ELSE 0::UBIGINT END) AS {word}")

    masks = ", ".join([bit_or("k", w) for w in pair_words] + [bit_or("wk", w) for w in week_words])
    per_visitor = f"""
        SELECT s.campaign_id, s.user_pseudo_id, {masks}
        FROM ({sessions_sql}) s
        JOIN {t.bits} k ON k.kind = 'pair' AND k.campaign_id = s.campaign_id
                       AND k.period IS NOT DISTINCT FROM s.period AND k.channel = s.channel
        JOIN {t.bits} wk ON wk.kind = 'week' AND wk.campaign_id = s.campaign_id
                        AND wk.week_start = date_trunc('week', s.event_date)::DATE
        WHERE s.campaign_id IS NOT NULL
        GROUP BY s.campaign_id, s.user_pseudo_id
    """
    if not merge:  # straight into the table: millions of visitors are not copied twice
        con.execute(f"INSERT INTO {t.scopes} BY NAME {per_visitor}")
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE _vs_add AS {per_visitor}")
    words = pair_words + week_words
    try:
        # Visitors seen before: their old masks and the new ones, OR-ed into one row each.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _vs_merged AS
            SELECT campaign_id, user_pseudo_id, {', '.join(f'bit_or({w}) AS {w}' for w in words)}
            FROM (SELECT campaign_id, user_pseudo_id, {', '.join(words)} FROM _vs_add
                  UNION ALL
                  SELECT v.campaign_id, v.user_pseudo_id, {', '.join(f'v.{w}' for w in words)}
                  FROM {t.scopes} v SEMI JOIN _vs_add a USING (campaign_id, user_pseudo_id))
            GROUP BY campaign_id, user_pseudo_id
        """)
        con.execute(f"DELETE FROM {t.scopes} v USING _vs_add a "
                    "WHERE v.campaign_id = a.campaign_id AND v.user_pseudo_id = a.user_pseudo_id")
        con.execute(f"INSERT INTO {t.scopes} BY NAME SELECT * FROM _vs_merged")
        con.execute("DROP TABLE _vs_merged")
    finally:
        con.execute("DROP TABLE IF EXISTS _vs_add")


def counts(con, t: Tables = STAGING) -> VisitorCounts:
    """Every scope's and every week's exact distinct visitors, from the masks in ``t``.

    A scope's members are its (period, channel) bits, grouped by ``rollup.by_scope``; its
    visitors are the mask rows with any of them set.
    """
    ensure(con, t)
    bits = con.sql(f"SELECT * FROM {t.bits}").pl()
    combos = bits.filter(pl.col("kind") == "pair").select("campaign_id", "period", "channel", "bit")
    weeks = bits.filter(pl.col("kind") == "week").select("campaign_id", "week_start", "bit")
    pair_words, week_words = _words(con, t, "p"), _words(con, t, "w")
    scopes, week_rows = [], []
    if not combos.is_empty():
        by_combo = con.sql(
            f"SELECT campaign_id, {', '.join(pair_words)}, count(*) AS visitors FROM {t.scopes} GROUP BY ALL").pl()
        by_week = con.sql(
            f"SELECT campaign_id, {', '.join(week_words)}, count(*) AS visitors FROM {t.scopes} GROUP BY ALL").pl()
        masks = {campaign_id: rows for (campaign_id,), rows in by_combo.group_by("campaign_id")}
        members = by_scope(combos, pl.col("bit")).sort("campaign_id", "period", "channel")
        for campaign_id, period, channel, scope_bits in members.rows():
            if campaign_id in masks:
                scopes.append((campaign_id, period, channel, _visitors_with_any(masks[campaign_id], scope_bits, "p")))
        for (campaign_id,), week_masks in by_week.group_by("campaign_id", maintain_order=True):
            per_bit = _visitors_per_bit(week_masks, week_words)
            for week_start, bit in weeks.filter(pl.col("campaign_id") == campaign_id).select(
                    "week_start", "bit").rows():
                week_rows.append((campaign_id, week_start, per_bit[bit]))
    return VisitorCounts(
        scopes=pl.DataFrame(scopes, schema={"campaign_id": pl.String, "period": pl.String, "channel": pl.String,
                                            "value": pl.Int64}, orient="row"),
        weeks=pl.DataFrame(week_rows, schema={"campaign_id": pl.String, "week_start": pl.Date,
                                              "unique_visitors": pl.Int64}, orient="row"),
    )


def count_once(con, sessions: str) -> VisitorCounts:
    """VisitorCounts of the attributed sessions in table ``sessions``, through masks in temporary tables."""
    t = Tables("_vs_once_scopes", "_vs_once_bits", "_vs_once_files", temporary=True)
    for table in (t.scopes, t.bits, t.files):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    ensure(con, t)
    try:
        add(con, f"SELECT * FROM {sessions}", t, merge=False)
        return counts(con, t)
    finally:
        for table in (t.scopes, t.bits, t.files):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _visitors_per_bit(masks: pl.DataFrame, words: list[str]) -> list[int]:
    """Visitors (summed over mask rows) with each bit set, in one pass: bit i of word w is entry 64 w + i."""
    sums = masks.select([
        pl.when((pl.col(word) & pl.lit(1 << i, dtype=pl.UInt64)) != 0).then(pl.col("visitors")).otherwise(0).sum()
        .alias(f"{word}_{i}")
        for word in words for i in range(WORD)
    ])
    return [int(v) for v in sums.row(0)]


def _visitors_with_any(masks: pl.DataFrame, bits, prefix: str) -> int:
    """Visitors (summed over mask rows) with at least one of ``bits`` set."""
    wanted: dict[str, int] = {}
    for bit in bits:
        word = f"{prefix}{int(bit) // WORD}"
        wanted[word] = wanted.get(word, 0) | (1 << (int(bit) % WORD))
    hit = pl.any_horizontal([(pl.col(word) & pl.lit(mask, dtype=pl.UInt64)) != 0 for word, mask in wanted.items()])
    return int(masks.filter(hit)["visitors"].sum())
