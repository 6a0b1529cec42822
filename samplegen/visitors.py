"""GA4-style site sessions (visitors/): period_1 as Parquet, periods 2 and 3 as csv.gz, streamed chunk by chunk.

Users are generated in chunks with a seeded generator each, so memory stays
flat however many sessions are asked for and the bytes depend only on
(seed, users, sessions).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from samplegen.files import csv_bytes, gzip_writer
from samplegen.world import MSP_PERIODS, Period, extra_visitors_rng, period_for_day, visitors_rng

BASE_USERS = 33_632
BASE_SESSIONS = 60_538  # ~1.8 sessions per user
CHUNK_USERS = 110_000  # ~200k sessions per chunk
# Which periods a user visits: 32% come back in a second or third period, so
# per-period unique visitors add up to far more than the campaign's.
PERIOD_PATTERNS = ((0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 1, 2))
PERIOD_PATTERN_P = (0.22, 0.23, 0.23, 0.10, 0.10, 0.04, 0.08)
# source, medium, session_campaign ("utm" = the period's code), share, engagement rate
SOURCES = (
    ("linkedin", "cpc", "utm", 0.27, 0.58),
    ("facebook", "paid", "utm", 0.11, 0.45),
    ("instagram", "paid", "utm", 0.06, 0.40),
    ("google", "cpc", "utm", 0.13, 0.66),
    ("google", "organic", "(organic)", 0.15, 0.70),
    ("bing", "organic", "(organic)", 0.02, 0.68),
    ("(direct)", "(none)", "(direct)", 0.17, 0.62),
    ("mediconvalley.com", "referral", "(referral)", 0.04, 0.72),
    ("lifesciencesweden.se", "referral", "(referral)", 0.02, 0.70),
    ("workindenmark.dk", "referral", "(referral)", 0.02, 0.66),
    ("euraxess.ec.europa.eu", "referral", "(referral)", 0.01, 0.64),
)
LANDING_PAGES = (
    ("/", 0.22), ("/jobs", 0.20), ("/jobs/research-scientist-microbiome", 0.12),
    ("/jobs/bioinformatician", 0.09), ("/jobs/laboratory-technician", 0.07),
    ("/life-in-medicon-valley", 0.10), ("/microbiome-signature", 0.08),
    ("/relocation-guide", 0.08), ("/events/talent-day", 0.04),
)
COUNTRIES = (
    ("Denmark", 0.17), ("Sweden", 0.11), ("Germany", 0.10), ("India", 0.09), ("United Kingdom", 0.05),
    ("Spain", 0.05), ("Italy", 0.05), ("France", 0.04), ("Netherlands", 0.04), ("Poland", 0.04),
    ("United States", 0.04), ("China", 0.03), ("Portugal", 0.02), ("Greece", 0.02), ("Norway", 0.02),
    ("Finland", 0.015), ("Iran", 0.015), ("Brazil", 0.015), ("Turkey", 0.015), ("Pakistan", 0.01),
    ("Romania", 0.01), ("Egypt", 0.01),
)
SESSION_SCHEMA = pa.schema(
    [
        ("event_date", pa.string()),
        ("user_pseudo_id", pa.string()),
        ("ga_session_id", pa.int64()),
        ("session_source", pa.string()),
        ("session_medium", pa.string()),
        ("session_campaign", pa.string()),
        ("landing_page", pa.string()),
        ("country", pa.string()),
        ("engaged_session", pa.int64()),
    ]
)
# user_pseudo_id's first part is a bijection of the user's index (odd
# multiplier modulo 2**33), so ids never collide, at any scale and across
# generate_sample and write_extra_day (which uses indexes from 2**32 up).
_ID_MOD = 1 << 33
_ID_MUL = 5_754_853_343
_ID_ADD = 1_234_567_891
_EXTRA_USERS_BASE = 1 << 32
_EPOCH = date(1970, 1, 1)


def users_for(n_sessions: int) -> int:
    """Users who make n_sessions sessions: the bundled sample's ratio, at least one, at most one per session."""
    return max(1, min(n_sessions, round(BASE_USERS * n_sessions / BASE_SESSIONS)))


def write_visitors(folder: Path, seed: int, n_users: int, n_sessions: int) -> dict[str, int]:
    """GA4-style session exports, streamed chunk by chunk.

    period_1 goes to sessions_2020.parquet (one row group per chunk), periods
    2 and 3 to sessions_2021.csv.gz. Users are cut into chunks of
    CHUNK_USERS; each chunk gets its exact share of the sessions and its own
    seeded generator, so memory is flat and the output depends only on
    (seed, n_users, n_sessions).
    """
    folder.mkdir(parents=True, exist_ok=True)
    utms = [p.utm for p in MSP_PERIODS]
    parquet_path, csv_path = folder / "sessions_2020.parquet", folder / "sessions_2021.csv.gz"
    written = {parquet_path.name: 0, csv_path.name: 0}
    writer = pq.ParquetWriter(parquet_path, SESSION_SCHEMA, compression="zstd")
    try:
        with gzip_writer(csv_path) as gz:
            header = True
            for chunk, (first, last) in enumerate(_user_chunks(n_users)):
                share = n_sessions * last // n_users - n_sessions * first // n_users
                rng = visitors_rng(seed, chunk)
                sess_user, sess_day, sess_period = _chunk_sessions(rng, last - first, share)
                frame = _session_frame(rng, first, last - first, sess_user, sess_day, sess_period, utms)
                p1 = frame.filter(pl.col("_period") == 0).drop("_period")
                rest = frame.filter(pl.col("_period") != 0).drop("_period")
                if p1.height:
                    writer.write_table(p1.to_arrow().cast(SESSION_SCHEMA))
                    written[parquet_path.name] += p1.height
                if rest.height:
                    gz.write(csv_bytes(rest, header=header))
                    header = False
                    written[csv_path.name] += rest.height
            if header:  # no period 2/3 sessions at all: still a readable file with its header
                gz.write(csv_bytes(pl.from_arrow(SESSION_SCHEMA.empty_table()), header=True))
    finally:
        writer.close()
    return written


def write_visitors_day(folder: Path, day: date, seed: int, sessions: int) -> Path:
    """One more night's sessions export for day: new users, whose ids cannot collide with the base sample's."""
    period = period_for_day(day)
    path = folder / f"sessions_{day:%Y%m%d}.csv.gz"
    folder.mkdir(parents=True, exist_ok=True)
    n_users = users_for(sessions)
    if n_users > (1 << 20):
        raise ValueError(f"write_extra_day: at most {1 << 20} users per day, {sessions} sessions asks for {n_users}")
    np_rng = extra_visitors_rng(seed, day)
    first_user = _EXTRA_USERS_BASE + (day.toordinal() % 4096) * (1 << 20)
    slot_user = np.arange(n_users, dtype=np.int64)
    counts = _spread_sessions(np_rng, n_users, sessions)
    sess_user = np.repeat(slot_user, counts)
    sess_day = np.full(sessions, (day - _EPOCH).days, dtype=np.int64)
    sess_period = np.zeros(sessions, dtype=np.int64)
    frame = _session_frame(np_rng, first_user, n_users, sess_user, sess_day, sess_period, [period.utm])
    with gzip_writer(path) as gz:
        gz.write(csv_bytes(frame.drop("_period"), header=True))
    return path


def _user_chunks(n_users: int) -> list[tuple[int, int]]:
    return [(s, min(s + CHUNK_USERS, n_users)) for s in range(0, n_users, CHUNK_USERS)]


def _chunk_sessions(rng: np.random.Generator, n_users: int, n_sessions: int):
    """(user, day since epoch, period index) of every session of one chunk of users.

    Every user gets one session in each period they visit; the remaining
    sessions go to (user, period) slots with gamma weights, so a few heavy
    returners sit next to many one-visit users.
    """
    patterns = np.zeros((len(PERIOD_PATTERNS), 3), dtype=bool)
    for k, pattern in enumerate(PERIOD_PATTERNS):
        patterns[k, list(pattern)] = True
    member = patterns[rng.choice(len(PERIOD_PATTERNS), size=n_users, p=PERIOD_PATTERN_P)]
    slot_user, slot_period = np.nonzero(member)
    excess = len(slot_user) - n_sessions
    if excess > 0:
        # Only when sessions are barely more than users: drop second and third
        # periods of some users so each still has exactly one session or more.
        later = np.flatnonzero(np.r_[False, slot_user[1:] == slot_user[:-1]])
        keep = np.ones(len(slot_user), dtype=bool)
        keep[later[-excess:]] = False
        slot_user, slot_period = slot_user[keep], slot_period[keep]
    counts = _spread_sessions(rng, len(slot_user), n_sessions)
    sess_user = np.repeat(slot_user.astype(np.int64), counts)
    sess_period = np.repeat(slot_period.astype(np.int64), counts)
    sess_day = np.empty(n_sessions, dtype=np.int64)
    for p, period in enumerate(MSP_PERIODS):
        at = np.flatnonzero(sess_period == p)
        days, prob = _period_day_distribution(period)
        sess_day[at] = rng.choice(days, size=len(at), p=prob)
    return sess_user, sess_day, sess_period


def _spread_sessions(rng: np.random.Generator, n_slots: int, n_sessions: int) -> np.ndarray:
    """Sessions per slot: one each, the rest spread with heavy-tailed weights; sums to n_sessions."""
    extra = n_sessions - n_slots
    counts = np.ones(n_slots, dtype=np.int64)
    if extra > 0:
        weights = rng.gamma(0.6, size=n_slots)
        counts += np.bincount(rng.choice(n_slots, size=extra, p=weights / weights.sum()), minlength=n_slots)
    return counts


def _period_day_distribution(period: Period) -> tuple[np.ndarray, np.ndarray]:
    """Days of a period (days since epoch) and their session probabilities: quieter weekends, a launch bump."""
    days = np.array([(d - _EPOCH).days for d in period.days], dtype=np.int64)
    weekday = (1.0, 1.05, 1.0, 0.95, 0.85, 0.6, 0.65)
    weights = np.array([weekday[d.weekday()] * (1.3 if k < 14 else 1.0) for k, d in enumerate(period.days)])
    return days, weights / weights.sum()


def _session_frame(
    rng: np.random.Generator,
    first_user: int,
    n_users: int,
    sess_user: np.ndarray,
    sess_day: np.ndarray,
    sess_period: np.ndarray,
    utms: list[str],
) -> pl.DataFrame:
    """One GA4-style row per session, in session start order, plus a helper ``_period`` column.

    ``ga_session_id`` is the session's start (unix seconds), as GA4 does,
    made unique per user; ``user_pseudo_id`` is '<random-looking id>.<first
    visit timestamp>'. Country is per user; source, page and engagement per
    session.
    """
    n = len(sess_user)
    # Daytime-heavy start times, kept clear of midnight so nudging a clash
    # by a few seconds never moves a session to another day.
    seconds = np.clip(rng.normal(13 * 3600, 4 * 3600, size=n), 0, 86_000).astype(np.int64)
    start = sess_day * 86_400 + seconds
    order = np.lexsort((start, sess_user))
    sess_user, start, sess_period = sess_user[order], start[order], sess_period[order]
    same_user = np.r_[False, sess_user[1:] == sess_user[:-1]]
    while True:
        clash = same_user & np.r_[False, start[1:] <= start[:-1]]
        if not clash.any():
            break
        start[clash] = start[np.flatnonzero(clash) - 1] + 1
    first_visit = start[np.flatnonzero(~same_user)]  # sorted by user, then start: the first row is the first visit
    user_index = np.arange(n_users, dtype=np.int64) + first_user
    scrambled = (user_index.astype(np.uint64) * np.uint64(_ID_MUL) + np.uint64(_ID_ADD)) % np.uint64(_ID_MOD)
    id_part = 1_000_000_000 + scrambled
    user_country = rng.choice(len(COUNTRIES), size=n_users, p=_probabilities(COUNTRIES))
    source = rng.choice(len(SOURCES), size=n, p=[s[3] for s in SOURCES])
    engaged = (rng.random(n) < np.array([s[4] for s in SOURCES])[source]).astype(np.int64)
    page = rng.choice(len(LANDING_PAGES), size=n, p=_probabilities(LANDING_PAGES))
    campaigns = [utm if s[2] == "utm" else s[2] for s in SOURCES for utm in utms]
    frame = pl.DataFrame(
        {
            "_id": id_part.astype(np.int64)[sess_user],
            "_first": first_visit[sess_user],
            "_country": user_country[sess_user],
            "_start": start,
            "_period": sess_period,
            "_source": source,
            "_page": page,
            "engaged_session": engaged,
        }
    )
    frame = frame.select(
        pl.from_epoch("_start", time_unit="s").dt.strftime("%Y%m%d").alias("event_date"),
        pl.concat_str([pl.col("_id").cast(pl.String), pl.lit("."), pl.col("_first").cast(pl.String)]).alias(
            "user_pseudo_id"
        ),
        pl.col("_start").alias("ga_session_id"),
        _lookup(pl.col("_source"), [s[0] for s in SOURCES]).alias("session_source"),
        _lookup(pl.col("_source"), [s[1] for s in SOURCES]).alias("session_medium"),
        _lookup(pl.col("_source") * len(utms) + pl.col("_period"), campaigns).alias("session_campaign"),
        _lookup(pl.col("_page"), [p[0] for p in LANDING_PAGES]).alias("landing_page"),
        _lookup(pl.col("_country"), [c[0] for c in COUNTRIES]).alias("country"),
        pl.col("engaged_session"),
        pl.col("_period"),
    )
    return frame.sort("ga_session_id", "user_pseudo_id", maintain_order=True)


def _lookup(index: pl.Expr, values: list[str]) -> pl.Expr:
    """Index -> label; generation works on small integers, labels are attached once per chunk."""
    return index.replace_strict(list(range(len(values))), values, return_dtype=pl.String)


def _probabilities(pairs) -> np.ndarray:
    weights = np.array([w for _, w in pairs], dtype=float)
    return weights / weights.sum()
