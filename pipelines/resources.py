"""The one resource every asset uses, `store`: its value is the plain `assets.settings.Settings`."""

from __future__ import annotations

import dagster as dg

from assets.settings import Settings
from pipelines.settings import VARIABLES, parse, variables_set


class TalentStore(dg.ConfigurableResource, dg.IAttachDifferentObjectToOpContext):
    """Landing, warehouse and reports folders, the PII HMAC key and the run's limits.

    Each field is the raw text of its TALENT_* variable (pipelines/settings.py VARIABLES); empty
    means the repository's default. `from_env_vars()` backs every variable that is set with
    `dg.EnvVar`, so its value is read when a run starts and never written into the run's config
    (the PII key stays out of the UI). The assets receive the parsed Settings, not this class.
    """

    raw_dir: str = ""
    warehouse_dir: str = ""
    reports_dir: str = ""
    pii_key: str = ""
    report_png: str = ""
    retention_days: str = ""
    freshness_days: str = ""
    duckdb_memory_limit: str = ""
    browser_path: str = ""

    @classmethod
    def from_env_vars(cls) -> TalentStore:
        return cls(**{name: dg.EnvVar(VARIABLES[name][0]) for name in sorted(variables_set())})

    def get_object_to_set_on_execution_context(self) -> Settings:
        """What assets and checks receive as `store`: the parsed settings, nothing Dagster."""
        return parse({name: getattr(self, name) for name in VARIABLES})
