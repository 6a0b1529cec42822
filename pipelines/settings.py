"""Paths and secrets from the environment, with defaults inside the repository."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_PII_KEY = "development-only-talent-pii-key"
log = logging.getLogger("talent")


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse_dir: Path
    reports_dir: Path
    pii_key: str
    report_png: bool = False  # TALENT_REPORT_PNG=1: the report also writes PNG copies of its charts
    retention_days: int = 90  # publications kept whole; before that, the last one of each month

    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.warehouse_dir / "published.duckdb"

    @property
    def using_dev_key(self) -> bool:
        return self.pii_key == DEV_PII_KEY

    def key_fingerprint(self) -> str:
        """Identifies the HMAC key without revealing it (a key change re-keys every candidate)."""
        return hmac.new(self.pii_key.encode(), b"fingerprint", hashlib.sha256).hexdigest()[:12]


def _path(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else ROOT / default


def from_env() -> Settings:
    key = os.environ.get("TALENT_PII_KEY", "")
    if not key:
        _warn_dev_key_once()
        key = DEV_PII_KEY
    return Settings(
        raw_dir=_path("TALENT_RAW_DIR", "data/raw"),
        warehouse_dir=_path("TALENT_WAREHOUSE_DIR", "data/warehouse"),
        reports_dir=_path("TALENT_REPORTS_DIR", "reports"),
        pii_key=key,
        report_png=os.environ.get("TALENT_REPORT_PNG", "0").strip().lower() in ("1", "true", "yes"),
        retention_days=_int("TALENT_RETENTION_DAYS", 90),
    )


def _int(var: str, default: int) -> int:
    value = os.environ.get(var, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{var}={value!r}: expected a whole number of days") from None
    if number < 0:
        raise ValueError(f"{var}={value!r}: expected 0 or more days")
    return number


_warned = False


def _warn_dev_key_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "TALENT_PII_KEY is not set: using the development HMAC key. Candidate keys are NOT secret; "
            "set TALENT_PII_KEY in production."
        )


def default_dagster_home() -> None:
    """DAGSTER_HOME defaults to the repo's dagster_home/ (its dagster.yaml turns telemetry off)."""
    os.environ.setdefault("DAGSTER_HOME", str(ROOT / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
