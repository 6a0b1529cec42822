"""The report's Dagster asset: a thin wrapper around build.build_reports."""

# No `from __future__ import annotations`: Dagster reads the config and context annotations at definition time.

import dagster as dg

from assets.report.build import build_reports, summary_markdown
from assets.wrappers import OWNERS, STORE, settings_of


class ReportConfig(dg.Config):
    """png=True also writes PNG copies for slide decks (needs a headless Chromium); so does TALENT_REPORT_PNG=1.

    Off by default: the PNGs add 10-15 s to a night and are wanted for decks, not every night.
    """

    png: bool = False


@dg.asset(
    required_resource_keys={STORE},
    group_name="reports",
    kinds={"plotly", "html"},
    owners=OWNERS,
    deps=[dg.AssetKey("published_database")],
)
def funnel_report(context: dg.AssetExecutionContext, config: ReportConfig) -> dg.MaterializeResult:
    """reports/: one offline HTML report per campaign (<campaign_id>.html), index.html, data_dictionary.html.

    Grain: one file per campaign in the published database, charts of its funnel
    (whole campaign, per period, per channel), each period against the one
    before, hires against target, time to hire, weekly reach, cost per hire and
    the KPI scorecard; the index compares the campaigns side by side; the data
    dictionary comes from the published file's COMMENT ON text. PNG copies of
    each chart for slide decks in reports/<campaign_id>/. Reads published.duckdb only.
    """
    settings = settings_of(context)
    # Run config from the UI, or the settings' switch for `TALENT_REPORT_PNG=1 talent-pipeline run`.
    summary = build_reports(settings.published, settings.reports_dir, png=config.png or settings.report_png,
                            browser_path=settings.browser_path)
    context.log.info(f"wrote {len(summary['campaigns'])} campaign reports and {summary['index']}")
    if summary["png"]["status"] == "failed":
        context.log.warning(f"PNG export failed; the HTML reports were written: {summary['png']['error']}")
    metadata = {
        "index": dg.MetadataValue.path(summary["index"]),
        "data_dictionary": dg.MetadataValue.path(summary["data_dictionary"]),
        **{f"report_{cid}": dg.MetadataValue.path(info["html"]) for cid, info in summary["campaigns"].items()},
        "summary": dg.MetadataValue.md(summary_markdown(summary)),
        "png_status": summary["png"]["status"],
        "png_files": summary["png"]["files"],
        "seconds": summary["seconds"],
    }
    return dg.MaterializeResult(metadata=metadata)


REPORT_ASSETS = [funnel_report]
