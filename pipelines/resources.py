"""The one resource every asset uses: where the exports land and where the warehouse lives."""

from __future__ import annotations

import dagster as dg

from pipelines.settings import Settings, from_env


class TalentStore(dg.ConfigurableResource):
    """Landing folders, warehouse folder, reports folder and the PII HMAC key.

    Values default from TALENT_RAW_DIR, TALENT_WAREHOUSE_DIR, TALENT_REPORTS_DIR
    and TALENT_PII_KEY (see pipelines/settings.py); empty means "use the default".
    """

    raw_dir: str = ""
    warehouse_dir: str = ""
    reports_dir: str = ""
    pii_key: str = ""

    def settings(self) -> Settings:
        base = from_env()
        from pathlib import Path

        return Settings(
            raw_dir=Path(self.raw_dir) if self.raw_dir else base.raw_dir,
            warehouse_dir=Path(self.warehouse_dir) if self.warehouse_dir else base.warehouse_dir,
            reports_dir=Path(self.reports_dir) if self.reports_dir else base.reports_dir,
            pii_key=self.pii_key or base.pii_key,
            report_png=base.report_png,
            retention_days=base.retention_days,
        )
