"""What the rooms are told: where the exports land and the warehouse lives, the PII key and the limits.

A plain frozen dataclass. Nothing under assets/ reads the environment: pipelines/settings.py
builds this object (from the TALENT_* variables, through the Dagster resource's `dg.EnvVar`
fields), the asset wrappers receive it as their `store` resource, and the domain code gets it
or single values of it as arguments.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

# DuckDB's buffer pool for the pipeline's writing connections; beyond it DuckDB spills to disk
# (next to the warehouse). Its default, 80% of RAM, let a night at 10M sessions hold 2.8 GiB.
# TALENT_DUCKDB_MEMORY_LIMIT overrides it (pipelines/settings.py).
DEFAULT_MEMORY_LIMIT = "1500MB"


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse_dir: Path
    reports_dir: Path
    pii_key: str
    report_png: bool  # also write PNG copies of the report's charts
    retention_days: int  # publications kept whole; before that, the last one of each month
    freshness_days: int  # days a source may stay silent during an active period before a warning
    duckdb_memory_limit: str  # DuckDB's buffer pool for the warehouse's writing connections
    browser_path: str  # the Chromium kaleido drives for the PNGs; "" = Debian's, else kaleido's own search

    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.warehouse_dir / "published.duckdb"

    def key_fingerprint(self) -> str:
        """Identifies the HMAC key without revealing it (a key change re-keys every candidate)."""
        return hmac.new(self.pii_key.encode(), b"fingerprint", hashlib.sha256).hexdigest()[:12]
