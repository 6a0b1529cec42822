"""Writes the report: <campaign_id>.html per campaign, index.html and data_dictionary.html, atomically."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from assets.report.charts import campaign_figures
from assets.report.charts.layout import report_template
from assets.report.data import campaigns_from_tables, dictionary_entries, read_published
from assets.report.labels import CHART_IDS, vs_target
from assets.report.pages import HEADLINE_KPIS, campaign_html, dictionary_html, headline, index_html
from assets.report.png import export_pngs


def write_atomic(path: Path, data: bytes | str) -> None:
    """Writes via a temp file in the same folder and a rename: a reader sees the old file or the new one."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_reports(published_path: Path, reports_dir: Path, png: bool = True, browser_path: str = "") -> dict:
    """Writes <campaign_id>.html per campaign, index.html and data_dictionary.html into ``reports_dir``.

    Reads only ``published_path`` (read-only). With ``png``, also writes
    ``<campaign_id>/<chart>.png`` per chart; a PNG failure is reported in
    ``summary["png"]``, never raised. Returns a summary of what was written.
    """
    with report_template():  # the charts' template, applied when they are written
        return _build_reports(published_path, reports_dir, png, browser_path)


def _build_reports(published_path: Path, reports_dir: Path, png: bool, browser_path: str) -> dict:
    started = time.monotonic()
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    tables = read_published(Path(published_path))
    publication = tables["publication"]
    published_at = publication["published_at"][0] if publication.height else None
    published_at = f"{published_at:%Y-%m-%d %H:%M} UTC" if published_at is not None else None
    campaigns = campaigns_from_tables(tables)

    summary: dict = {"published": str(published_path), "published_at": published_at, "campaigns": {}}
    figures_by_campaign = {c.campaign_id: campaign_figures(c) for c in campaigns}
    png_targets = {
        c.campaign_id: {key: reports_dir / c.campaign_id / f"{key}.png" for key in figures_by_campaign[c.campaign_id]}
        for c in campaigns
    }
    if png:
        jobs = [(figures_by_campaign[cid][key], path) for cid, paths in png_targets.items() for key, path in paths.items()]
        summary["png"] = export_pngs(jobs, reports_dir, browser_path)
    else:
        summary["png"] = {"requested": False, "status": "skipped", "files": 0, "error": None, "seconds": 0.0}
    png_ok = summary["png"]["status"] == "ok"

    for c in campaigns:
        figures = figures_by_campaign[c.campaign_id]
        pngs = {k: f"{c.campaign_id}/{p.name}" for k, p in png_targets[c.campaign_id].items()} if png_ok else {}
        path = reports_dir / f"{c.campaign_id}.html"
        write_atomic(path, campaign_html(c, figures, published_at, pngs))
        summary["campaigns"][c.campaign_id] = {
            "name": c.name,
            "html": str(path),
            "status": "ok" if c.has_exports and not c.missing_sources else (
                "partial" if c.has_exports else "no_exports"),
            "missing_sources": c.missing_sources,
            "charts": [CHART_IDS[k] for k in figures],
            "png": [str(p) for p in png_targets[c.campaign_id].values()] if png_ok else [],
            "headline": headline(c),
        }
    index = reports_dir / "index.html"
    write_atomic(index, index_html(campaigns, published_at))
    summary["index"] = str(index)
    dictionary = reports_dir / "data_dictionary.html"
    write_atomic(dictionary, dictionary_html(dictionary_entries(tables), published_at))
    summary["data_dictionary"] = str(dictionary)
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary


def summary_markdown(summary: dict) -> str:
    """A short markdown summary: campaign, headline KPIs against target, PNG status."""
    lines = ["| campaign | status | impressions | unique visitors | international hires | organisations involved "
             "| organisations established |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for info in summary["campaigns"].values():
        h = info["headline"]
        lines.append(f"| {info['name']} | {info['status']} | "
                     + " | ".join(vs_target(h.get(k)) for k in HEADLINE_KPIS) + " |")
    png = summary["png"]
    if png["status"] == "ok":
        lines.append(f"\nPNG export: {png['files']} charts in {png['seconds']} s (browser {png.get('browser')}).")
    elif png["status"] == "skipped":
        reason = f" ({png['error']})" if png.get("error") else ""
        lines.append(f"\nPNG export: skipped{reason}.")
    else:
        lines.append(f"\nPNG export FAILED, HTML reports written anyway: {png['error']}")
    return "\n".join(lines)
