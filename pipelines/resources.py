"""The one resource every asset uses, `store`: its value is the plain `assets.settings.Settings`."""

from __future__ import annotations

import dagster as dg

from assets.settings import Settings
from pipelines.jobs import WRITER_TAG
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

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A writer run (WRITER_TAG: the nightly job) holds the warehouse open for its length
        (assets/staging/warehouse.py ``hold``): its steps' connections share one database instead of
        opening the file one after another. Other runs (a few assets from the UI, each step in a
        process of its own) open it only in the steps that use it, as before."""
        import duckdb

        from assets.staging.warehouse import hold, is_lock_error

        if not _writes_the_warehouse(context):
            return
        settings = self.get_object_to_set_on_execution_context()
        try:
            hold(settings.warehouse, settings.duckdb_memory_limit)
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise
            # Another process has it: each step waits for it with backoff, as before.
            context.log.warning(f"the warehouse is in use, not held for the run: {str(exc).splitlines()[0]}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        from assets.staging.warehouse import release

        if _writes_the_warehouse(context):
            release(self.get_object_to_set_on_execution_context().warehouse)  # nothing when not held

    def get_object_to_set_on_execution_context(self) -> Settings:
        """What assets and checks receive as `store`: the parsed settings, nothing Dagster."""
        return parse({name: getattr(self, name) for name in VARIABLES})


def _writes_the_warehouse(context: dg.InitResourceContext) -> bool:
    """Whether the run is tagged as the warehouse's writer (WRITER_TAG: the nightly job)."""
    return context.run is not None and context.run.tags.get(WRITER_TAG[0]) == WRITER_TAG[1]
