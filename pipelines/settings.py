"""The one reader of the environment: every TALENT_* variable, its default and how it is parsed.

`from_env()` reads them for the CLI, the schedule and the sensor; the Dagster resource
(pipelines/resources.py) gets the same variables through `dg.EnvVar` fields and turns them
into the same plain `assets.settings.Settings` with `parse()`. Unset or empty means the default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from assets.settings import DEFAULT_MEMORY_LIMIT, Settings

ROOT = Path(__file__).resolve().parent.parent
DEV_PII_KEY = "development-only-talent-pii-key"
log = logging.getLogger("talent")

# Settings field -> (environment variable, default). The README's configuration table lists them.
VARIABLES: dict[str, tuple[str, str]] = {
    "raw_dir": ("TALENT_RAW_DIR", "data/raw"),
    "warehouse_dir": ("TALENT_WAREHOUSE_DIR", "data/warehouse"),
    "reports_dir": ("TALENT_REPORTS_DIR", "reports"),
    "pii_key": ("TALENT_PII_KEY", ""),  # empty: the development key, with a warning
    "report_png": ("TALENT_REPORT_PNG", "0"),
    "retention_days": ("TALENT_RETENTION_DAYS", "90"),
    "freshness_days": ("TALENT_FRESHNESS_DAYS", "3"),
    "duckdb_memory_limit": ("TALENT_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
    "browser_path": ("BROWSER_PATH", ""),  # kaleido's own variable
}


def from_env() -> Settings:
    return parse({name: os.environ.get(var, "") for name, (var, _) in VARIABLES.items()})


def variables_set() -> set[str]:
    """The Settings fields whose variable is set (non-empty) in this process's environment."""
    return {name for name, (var, _) in VARIABLES.items() if os.environ.get(var, "").strip()}


def parse(values: Mapping[str, str]) -> Settings:
    """Settings from raw strings by field name; a missing or empty value takes its default."""
    given = {name: (values.get(name) or "").strip() for name in VARIABLES}
    raw = {name: given[name] or default for name, (_, default) in VARIABLES.items()}
    key = raw["pii_key"]
    if not key:
        _warn_dev_key_once()
        key = DEV_PII_KEY
    return Settings(
        raw_dir=_path(given["raw_dir"], raw["raw_dir"]),
        warehouse_dir=_path(given["warehouse_dir"], raw["warehouse_dir"]),
        reports_dir=_path(given["reports_dir"], raw["reports_dir"]),
        pii_key=key,
        report_png=raw["report_png"].lower() in ("1", "true", "yes"),
        retention_days=_days("retention_days", raw["retention_days"]),
        freshness_days=_days("freshness_days", raw["freshness_days"]),
        duckdb_memory_limit=raw["duckdb_memory_limit"],
        browser_path=raw["browser_path"],
    )


def _path(given: str, default: str) -> Path:
    """A given path as the user meant it (relative to the working directory); a default inside the repo."""
    return Path(given).expanduser().resolve() if given else ROOT / default


def _days(name: str, value: str) -> int:
    var = VARIABLES[name][0]
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
