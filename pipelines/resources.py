"""The one resource every asset uses, `store`: its value is the plain `assets.settings.Settings`."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import PrivateAttr

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
    _warehouse: Any = PrivateAttr(default=None)  # the run's held warehouse connection (setup_for_execution)

    @classmethod
    def from_env_vars(cls) -> TalentStore:
        return cls(**{name: dg.EnvVar(VARIABLES[name][0]) for name in sorted(variables_set())})

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Holds the warehouse open for the run (assets/staging/warehouse.py ``hold``): its steps'
        connections share one database instead of opening the file one after another."""
        import duckdb

        from assets.staging.warehouse import hold

        settings = self.get_object_to_set_on_execution_context()
        try:
            self._warehouse = hold(settings.warehouse, settings.duckdb_memory_limit)
        except duckdb.IOException as exc:  # another process has it: each step waits for it as before
            context.log.warning(f"the warehouse is in use, not held for the run: {str(exc).splitlines()[0]}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        held, self._warehouse = self._warehouse, None
        if held is not None:
            held.close()

    def get_object_to_set_on_execution_context(self) -> Settings:
        """What assets and checks receive as `store`: the parsed settings, nothing Dagster."""
        return parse({name: getattr(self, name) for name in VARIABLES})
