"""staging.visitor_scopes: the scopes each visitor of a campaign has been seen in, kept up to date.

Grain: one row per campaign x visitor (``user_pseudo_id``), holding bit masks: which of
the campaign's (period, channel) pairs (columns ``p0``, ``p1``, ...) and which of its weeks
(``w0``, ``w1``, ...) the visitor has sessions in, 64 bits a column. Which bit is which
pair or week is ``staging.visitor_scope_bits``; bits are only ever added, so a mask stays
valid when later sessions bring new pairs or weeks. ``staging.visitor_scope_files`` lists
the exports whose sessions the masks hold, as the ledger had them then: (file_hash,
loaded_at, rows_loaded). ``staging.visitor_scope_credits`` holds what each export added:
one row per scope x export with sessions there, its sessions and the visitors it was the
first export (load order) to hold in that scope (the provenance of the published counts,
assets/marts/provenance.py).

A night adds the masks of the newly staged sessions alone and ORs them into the rows of
the visitors they belong to. The masks are made per visitor and export first: an export's
credit in a scope is the visitors whose mask in it meets the scope while the OR of their
masks in the exports before it (the stored mask, on a night) does not. Credits of
earlier exports never change when later ones arrive, so a night appends the new exports'
credits. The table is rebuilt from every staged session when an export
it holds has left staging (superseded, withdrawn, or re-staged after a reference change:
a new ledger entry) or lost rows (a staged check quarantined some: its ledger rows_loaded
went down), when a new export comes before one it holds in load order (the earlier
credits would change), when it has no credits table yet (a warehouse from before the
credits), or when asked (``talent-pipeline run --full``).

Every exact distinct count the marts publish comes from it: a scope's visitors are the
rows whose masks meet the scope's bits (rows with equal masks are counted together), so
no count is a sum of smaller scopes' counts and no session is read twice a night.
The reconciliation in assets/quality/recount.py recounts from staging.sessions, apart from this.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from assets.marts.rollup import by_scope
from assets.staging.ledger import FILE_ORDER
from assets.staging.warehouse import table_exists, transaction

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
    credits: str
    temporary: bool = False

    @property
    def all(self) -> tuple[str, ...]:
        return self.scopes, self.bits, self.files, self.credits


STAGING = Tables("staging.visitor_scopes", "staging.visitor_scope_bits", "staging.visitor_scope_files",
                 "staging.visitor_scope_credits")
# The visitor exports in load order (FILE_ORDER): what "first export" means.
_FILE_SEQ = (f"SELECT file_hash, row_number() OVER (ORDER BY {FILE_ORDER}) AS file_seq "
             "FROM ingest.file_ledger l WHERE source = 'visitors' AND status = 'loaded'")


def ensure(con, t: Tables = STAGING) -> None:
    create = "CREATE TEMP TABLE IF NOT EXISTS" if t.temporary else "CREATE TABLE IF NOT EXISTS"
    con.execute(f"{create} {t.scopes} (campaign_id VARCHAR NOT NULL, user_pseudo_id VARCHAR NOT NULL)")
    con.execute(f"{create} {t.bits} (campaign_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, "
                "period VARCHAR, channel VARCHAR, week_start DATE, bit INTEGER NOT NULL)")
    con.execute(f"{create} {t.files} (file_hash VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL, rows_loaded BIGINT)")
    con.execute(f"{create} {t.credits} (campaign_id VARCHAR NOT NULL, period VARCHAR NOT NULL, "
                "channel VARCHAR NOT NULL, file_hash VARCHAR NOT NULL, visitors BIGINT NOT NULL, "
                "sessions BIGINT NOT NULL)")


@dataclass(frozen=True)
class Refresh:
    mode: str  # rebuilt | updated | unchanged
    files_added: int
    visitors: int


def refresh(con, full: bool = False) -> Refresh:
    """Brings staging.visitor_scopes (and the exports' credits) up to the staged sessions, in one transaction."""
    uncredited = not table_exists(con, STAGING.credits)  # masks made before the credits were kept: rebuild them
    ensure(con)
    loaded = set(con.execute(
        "SELECT file_hash, loaded_at, rows_loaded FROM ingest.file_ledger WHERE source = 'visitors' AND status = 'loaded'"
    ).fetchall())
    covered = set(con.execute(f"SELECT file_hash, loaded_at, rows_loaded FROM {STAGING.files}").fetchall())
    # Empty (first night, or after a reset): built like a rebuild, without merging. New exports must
    # come after the covered ones in load order (FILE_ORDER: loaded_at, then the hash), or the covered
    # ones' credits would change: rebuild.
    new = loaded - covered
    rebuild = full or uncredited or not covered or bool(covered - loaded) or (
        bool(new) and min((at, h) for h, at, _ in new) < max((at, h) for h, at, _ in covered))
    new = loaded if rebuild else new
    if not new and not rebuild:
        return Refresh("unchanged", 0, _visitors(con))
    with transaction(con):
        if rebuild:
            for table in STAGING.all:
                con.execute(f"DELETE FROM {table}")
        hashes = sorted(h for h, _, _ in new)
        if hashes:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _vs_new_files AS SELECT * FROM ({_FILE_SEQ}) "
                        "WHERE file_hash IN (SELECT unnest(?::VARCHAR[]))", [hashes])
            new_sessions = ("SELECT s.*, f.file_seq FROM staging.sessions s JOIN _vs_new_files f USING (file_hash)")
            firsts = add(con, new_sessions, STAGING, merge=not rebuild)
            _credit(con, new_sessions, firsts)
            con.executemany(f"INSERT INTO {STAGING.files} VALUES (?, ?, ?)", sorted(new))
            con.execute("DROP TABLE _vs_new_files")
    return Refresh("rebuilt" if rebuild else "updated", len(new), _visitors(con))


def _credit(con, sessions_sql: str, firsts: pl.DataFrame) -> None:
    """Appends the credits of the exports in ``sessions_sql`` (their ``file_seq``) to staging.visitor_scope_credits.

    ``firsts`` is ``add``'s: per export, the visitors' masks there and before it, counted together.
    """
    bits = con.sql(f"SELECT campaign_id, period, channel, bit FROM {STAGING.bits} WHERE kind = 'pair'").pl()
    members = by_scope(bits, pl.col("bit")).sort("campaign_id", "period", "channel")
    credited = []
    for (campaign_id,), rows in firsts.group_by("campaign_id"):
        for _, period, channel, scope_bits in members.filter(pl.col("campaign_id") == campaign_id).rows():
            now, before = _meets(scope_bits, "p"), _meets(scope_bits, "q")
            hit = rows.filter(now & ~before).group_by("file_seq").agg(pl.col("visitors").sum())
            credited += [(campaign_id, period, channel, seq, int(n)) for seq, n in hit.rows()]
    visitors = pl.DataFrame(credited, schema={"campaign_id": pl.String, "period": pl.String, "channel": pl.String,
                                              "file_seq": pl.Int64, "visitors": pl.Int64}, orient="row")
    sessions = by_scope(con.sql(
        f"SELECT campaign_id, period, channel, file_seq, count(*) AS sessions FROM ({sessions_sql}) "
        "WHERE campaign_id IS NOT NULL GROUP BY ALL").pl(), pl.col("sessions").sum(), within=("file_seq",))
    rows = (sessions.rename({"value": "sessions"})
            .join(visitors, on=["campaign_id", "period", "channel", "file_seq"], how="left")
            .with_columns(pl.col("visitors").fill_null(0), pl.col("sessions").cast(pl.Int64)))
    # Released after success only: after a failure the transaction is aborted and the view goes with the
    # connection (a cleanup call there would raise and hide the real error).
    con.register("_vs_credits", rows.to_arrow())
    con.execute(f"INSERT INTO {STAGING.credits} BY NAME SELECT c.campaign_id, c.period, c.channel, f.file_hash, "
                "c.visitors, c.sessions FROM _vs_credits c JOIN _vs_new_files f USING (file_seq)")
    con.unregister("_vs_credits")


def _meets(scope_bits, prefix: str) -> pl.Expr:
    """Rows whose mask words (``prefix`` + word number) have one of ``scope_bits`` set; a NULL word has none."""
    wanted: dict[int, int] = {}
    for bit in scope_bits:
        wanted[int(bit) // WORD] = wanted.get(int(bit) // WORD, 0) | (1 << (int(bit) % WORD))
    return pl.any_horizontal([(pl.col(f"{prefix}{word}").fill_null(0) & pl.lit(mask, dtype=pl.UInt64)) != 0
                              for word, mask in wanted.items()])


def credits(con) -> pl.DataFrame:
    """campaign_id, period, channel, source_file, file_hash, visitors, sessions: what each export added to a scope."""
    ensure(con)
    return con.sql(f"""
        SELECT c.campaign_id, c.period, c.channel, regexp_extract(l.path, '[^/]+$') AS source_file, c.file_hash,
               c.visitors, c.sessions
        FROM {STAGING.credits} c
        JOIN ingest.file_ledger l USING (file_hash)
        WHERE l.source = 'visitors' AND l.status = 'loaded'
    """).pl()


def _visitors(con) -> int:
    return con.execute(f"SELECT count(*) FROM {STAGING.scopes}").fetchall()[0][0]


def _words(con, t: Tables, prefix: str) -> list[str]:
    columns = [r[0] for r in con.execute(f"DESCRIBE {t.scopes}").fetchall()]
    return sorted((c for c in columns if c[0] == prefix and c[1:].isdigit()), key=lambda c: int(c[1:]))


def add(con, sessions_sql: str, t: Tables, merge: bool) -> pl.DataFrame:
    """ORs the masks of the sessions ``sessions_sql`` selects into ``t`` (new pairs and weeks get new bits).

    The sessions carry ``file_seq``, their export's place in the load order (> 0). With ``merge``
    false the table must hold none of these visitors (a rebuild): rows are inserted as made.
    Returns, per campaign and export, the visitors' pair masks there (``p0``...) and the OR of their
    masks in the exports before it (``q0``...), rows with equal masks counted together (``visitors``).
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
        return pl.DataFrame(schema={"campaign_id": pl.String, "file_seq": pl.Int64, "visitors": pl.Int64})

    def bit_or(alias: str, word: str) -> str:
        n = int(word[1:])
        return (f"bit_or(CASE WHEN {alias}.bit // {WORD} = {n} "
                f"THEN 1::UBIGINT << ({alias}.bit % {WORD})::UBIGINT ELSE 0::UBIGINT END) AS {word}")

    masks = ", ".join([bit_or("k", w) for w in pair_words] + [bit_or("wk", w) for w in week_words])
    # Masks per visitor and export first (file_seq: load order): what each export added is read from them.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _vs_per_file AS
        SELECT s.campaign_id, s.user_pseudo_id, s.file_seq, {masks}
        FROM ({sessions_sql}) s
        JOIN {t.bits} k ON k.kind = 'pair' AND k.campaign_id = s.campaign_id
                       AND k.period IS NOT DISTINCT FROM s.period AND k.channel = s.channel
        JOIN {t.bits} wk ON wk.kind = 'week' AND wk.campaign_id = s.campaign_id
                        AND wk.week_start = date_trunc('week', s.event_date)::DATE
        WHERE s.campaign_id IS NOT NULL
        GROUP BY s.campaign_id, s.user_pseudo_id, s.file_seq
    """)
    words = pair_words + week_words
    if merge:
        # Visitors seen before: their masks so far, as export 0, before every new one.
        con.execute(f"INSERT INTO _vs_per_file BY NAME SELECT v.campaign_id, v.user_pseudo_id, 0 AS file_seq, "
                    f"{', '.join(f'v.{w}' for w in words)} FROM {t.scopes} v "
                    "SEMI JOIN _vs_per_file n USING (campaign_id, user_pseudo_id)")
    # One sort of the visitors' rows serves both: the OR of their masks in the exports before each
    # one (q0, ...) and in all of them (the merged row, kept on each visitor's last export).
    before = ", ".join(f"coalesce(bit_or({w}) OVER earlier, 0::UBIGINT) AS q{w[1:]}" for w in pair_words)
    merged = ", ".join(f"bit_or({w}) OVER visitor AS all_{w}" for w in words)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _vs_ordered AS
        SELECT campaign_id, user_pseudo_id, file_seq, {', '.join(pair_words)}, {before}, {merged},
               file_seq = max(file_seq) OVER visitor AS last
        FROM _vs_per_file
        WINDOW visitor AS (PARTITION BY campaign_id, user_pseudo_id),
               earlier AS (PARTITION BY campaign_id, user_pseudo_id ORDER BY file_seq
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    """)
    firsts = con.sql(f"""
        SELECT campaign_id, file_seq, {', '.join(pair_words)}, {', '.join(f'q{w[1:]}' for w in pair_words)},
               count(*) AS visitors
        FROM _vs_ordered WHERE file_seq > 0 GROUP BY ALL
    """).pl()
    if merge:
        con.execute(f"DELETE FROM {t.scopes} v USING (SELECT DISTINCT campaign_id, user_pseudo_id "
                    "FROM _vs_per_file WHERE file_seq = 0) a "
                    "WHERE v.campaign_id = a.campaign_id AND v.user_pseudo_id = a.user_pseudo_id")
    con.execute(f"INSERT INTO {t.scopes} BY NAME SELECT campaign_id, user_pseudo_id, "
                f"{', '.join(f'all_{w} AS {w}' for w in words)} FROM _vs_ordered WHERE last")
    # Dropped after success only: a failure is rolled back with them (refresh's transaction), and a
    # cleanup call in an aborted transaction would raise and hide the real error.
    con.execute("DROP TABLE _vs_per_file")
    con.execute("DROP TABLE _vs_ordered")
    return firsts


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
    t = Tables("_vs_once_scopes", "_vs_once_bits", "_vs_once_files", "_vs_once_credits", temporary=True)
    for table in t.all:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    ensure(con, t)
    try:
        add(con, f"SELECT *, 1 AS file_seq FROM {sessions}", t, merge=False)
        return counts(con, t)
    finally:
        for table in t.all:
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
    return int(masks.filter(_meets(bits, prefix))["visitors"].sum())
