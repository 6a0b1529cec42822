"""Freshness: warn when a source has stopped delivering while a campaign period is running.

A warning, not a gate: late exports should page the data team, not hold back
yesterday's published numbers. The check that calls this is assets/quality/freshness_check.py.
"""

from datetime import date

from assets.ingest.common import first_row


def staleness(con, source: str, today: date, limit_days: int) -> tuple[bool, dict]:
    """(fresh, facts) for one source: stale only when a period is active and the last delivery is too old."""
    active = con.execute(
        "SELECT campaign_id, period FROM ref.campaign_periods WHERE ? BETWEEN start_date AND end_date ORDER BY 1",
        [today],
    ).fetchall()
    last = first_row(con.execute(
        "SELECT max(loaded_at) FROM ingest.file_ledger WHERE source = ? AND status = 'loaded'", [source]
    ))[0]
    days = None if last is None else (today - last.date()).days
    facts = {
        "active_periods": ", ".join(f"{c}/{p}" for c, p in active) or "none",
        "last_delivery": last.isoformat(sep=" ", timespec="seconds") if last else "never",
        "days_since_delivery": days if days is not None else -1,
        "limit_days": limit_days,
    }
    if not active:
        return True, facts
    return (days is not None and days <= limit_days), facts
