"""The marketing report: one offline HTML per campaign, numbers identical to the published tables.

Built from a tiny published database made with the published schema and hand-made
rows (the sample's orders of magnitude: 23 million impressions, about 100 hires),
plus one run of the real pipeline on the fixture exports.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from assets.publish import database
from assets.report import asset, build, charts, data, labels, pages
from conftest import landing, query

ROOT = Path(__file__).resolve().parent.parent
MSP = "microbiome_signature"
MVWC = "medicon_valley_world_class"
STAGES = ("impressions", "clicks", "unique_visitors", "applications", "hires")

# (period, channel) -> stage values; None = the channel cannot have that stage.
MSP_FUNNEL = {
    ("all", "all"): (23_418_392, 203_768, 33_632, 627, 102),
    ("period_1", "all"): (7_025_518, 61_703, 14_671, 212, 34),
    ("period_2", "all"): (8_430_621, 73_166, 17_095, 162, 33),
    ("all", "linkedin"): (10_304_092, 77_589, 13_543, 135, 32),
    ("all", "meta"): (8_430_621, 81_158, 9_082, 256, 46),
    ("all", "google_ads"): (4_683_679, 45_021, 7_083, 114, 24),
    ("all", "organic"): (None, None, 9_173, 0, 0),
    ("all", "direct"): (None, None, 9_104, 0, 0),
    ("all", "referral"): (None, None, 5_215, 122, 0),
}
MVWC_FUNNEL = {("all", "all"): (0, 0, 0, 0, 0), ("period_1", "all"): (0, 0, 0, 0, 0)}
# campaign, kpi, period, target, result
SCORECARD = [
    (MSP, "impressions", "all", 23_000_000, 23_418_392),
    (MSP, "clicks", "all", None, 203_768),
    (MSP, "unique_visitors", "all", 30_000, 33_632),
    (MSP, "applications", "all", None, 627),
    (MSP, "international_hires", "all", 60, 102),
    (MSP, "organisations_involved", "all", 15, 27),
    (MSP, "organisations_established", "all", 2, 5),
    (MSP, "international_hires", "period_1", 20, 34),
    (MSP, "international_hires", "period_2", 20, 33),
    (MVWC, "impressions", "all", None, None),
    (MVWC, "clicks", "all", None, None),
    (MVWC, "unique_visitors", "all", None, None),
    (MVWC, "applications", "all", None, None),
    (MVWC, "international_hires", "all", 40, None),
    (MVWC, "organisations_involved", "all", 10, 0),
    (MVWC, "organisations_established", "all", None, 4),
]


def _funnel_rows(campaign_id: str, funnel: dict) -> list[tuple]:
    rows = []
    for (period, channel), values in funnel.items():
        first = values[0]
        for order, (stage, value) in enumerate(zip(STAGES, values), start=1):
            prev = values[order - 2] if order > 1 else None
            step = value / prev if order > 1 and value is not None and prev else None
            overall = value / first if order > 1 and value is not None and first else None
            rows.append((campaign_id, period, channel, stage, order, value, step, overall))
    return rows


def make_published(path: Path) -> Path:
    """A published database with the published schema (sql/marts.sql, sql/published.sql) and two hand-made campaigns."""
    con = duckdb.connect(str(path))
    try:
        database.create_published_schema(con)
        con.executemany(
            "INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?)",
            [
                (MSP, "Microbiome Signature Project", date(2019, 10, 1), date(2022, 9, 30), 4_000_000.0, 2_000_000.0),
                (MVWC, "Medicon Valley World Class", date(2011, 11, 1), date(2014, 10, 31), 3_234_093.0, 1_617_045.0),
            ],
        )
        con.executemany(
            "INSERT INTO campaign_periods VALUES (?, ?, ?, ?, ?)",
            [
                (MSP, "period_1", date(2020, 9, 1), date(2020, 11, 30), "msp_talent_p1"),
                (MSP, "period_2", date(2021, 3, 1), date(2021, 5, 31), "msp_talent_p2"),
                (MVWC, "period_1", date(2012, 3, 1), date(2012, 5, 31), "mvwc_talent_1"),
            ],
        )
        score_rows = []
        for cid, kpi, period, target, result in SCORECARD:
            pct = round(result / target * 100, 1) if target and result is not None else None
            met = result >= target if target is not None and result is not None else None
            score_rows.append((cid, kpi, period, target, result, pct, met))
        con.executemany("INSERT INTO kpi_scorecard VALUES (?, ?, ?, ?, ?, ?, ?)", score_rows)
        con.executemany(
            "INSERT INTO funnel VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            _funnel_rows(MSP, MSP_FUNNEL) + _funnel_rows(MVWC, MVWC_FUNNEL),
        )
        con.executemany(
            "INSERT INTO hires_vs_target VALUES (?, ?, ?, ?, ?, ?)",
            [
                (MSP, "all", "all", 102, 60.0, 170.0),
                (MSP, "period_1", "all", 34, 20.0, 170.0),
                (MSP, "period_2", "all", 33, 20.0, 165.0),
                (MSP, "all", "Lund Microbiome AB", 40, None, None),
                (MVWC, "all", "all", 0, 40.0, 0.0),
            ],
        )
        weeks = []
        cumulative = 0
        monday = date(2019, 9, 30)
        for i in range(157):
            week = monday + timedelta(weeks=i)
            hires = 2 if date(2020, 10, 1) <= week <= date(2021, 11, 30) and i % 2 == 0 else 0
            hires = min(hires, 102 - cumulative)
            cumulative += hires
            weeks.append((MSP, week, hires, cumulative, 60.0))
        con.executemany("INSERT INTO hires_over_time VALUES (?, ?, ?, ?, ?)", weeks)
        con.executemany(
            "INSERT INTO cost_per_outcome VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (MSP, "all", "all", 762_252.0, 203_768, 33_632, 627, 102, 3.74, 22.66, 1215.71, 7473.06),
                (MSP, "all", "linkedin", 297_199.0, 77_589, 13_543, 135, 32, 3.83, 21.94, 2201.48, 9287.48),
                (MSP, "all", "meta", 361_435.0, 81_158, 9_082, 256, 46, 4.45, 39.8, 1411.85, 7857.28),
                (MSP, "all", "google_ads", 103_617.0, 45_021, 7_083, 114, 24, 2.3, 14.63, 908.92, 4317.39),
            ],
        )
        # Time to hire: hand-made medians and 75th percentiles, as the mart publishes them.
        con.executemany(
            "INSERT INTO time_to_hire VALUES (?, ?, ?, ?, ?, ?)",
            [
                (MSP, "all", "all", 102, 63.0, 84.75),
                (MSP, "period_1", "all", 34, 58.0, 77.5),
                (MSP, "period_2", "all", 33, 63.0, 85.0),
                (MSP, "all", "Lund Microbiome AB", 40, 67.5, 87.5),
            ],
        )
        reach = []
        for start in (date(2020, 8, 31), date(2021, 3, 1)):
            for i in range(13):
                reach.append((MSP, start + timedelta(weeks=i), 500_000 + 7_000 * i, 4_500, 1_300 + 20 * i, 16_000.0))
        con.executemany("INSERT INTO weekly_reach VALUES (?, ?, ?, ?, ?, ?)", reach)
        con.execute(
            "INSERT INTO publication (published_at, run_id, files_loaded, rows_staged, rows_quarantined) "
            "VALUES (?, ?, ?, ?, ?)", [datetime(2026, 1, 5, 6, 30), "test-run", 20, 63_004, 3]
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


@pytest.fixture
def published(tmp_path) -> Path:
    """A fresh published database per test (for tests that change it)."""
    return make_published(tmp_path / "published.duckdb")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One published database and one build of the reports, for the tests that only read them."""
    root = tmp_path_factory.mktemp("report")
    path = make_published(root / "published.duckdb")
    summary = build.build_reports(path, root / "reports", png=False)
    return path, summary, root / "reports"


@pytest.fixture
def built(shared):
    return shared[1], shared[2]


class _Rows(HTMLParser):
    """Collects the data-* attributes and cell texts of every <tr data-kpi> in #kpi-scorecard."""

    def __init__(self):
        super().__init__()
        self.rows, self._in_table, self._row, self._cell = [], False, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "kpi-scorecard":
            self._in_table = True
        elif self._in_table and tag == "tr" and "data-kpi" in attrs:
            self._row = {"attrs": attrs, "cells": []}
        elif self._row is not None and tag == "td":
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._in_table = False


def scorecard_rows(page: str) -> list[dict]:
    parser = _Rows()
    parser.feed(page)
    return parser.rows


def funnel_json(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="funnel-data">(.*?)</script>', page, re.S)
    assert match, "no embedded funnel-data JSON"
    return json.loads(match.group(1))


def published_funnel(path: Path, campaign_id: str, where: str) -> list[dict]:
    rows = query(
        path,
        "SELECT period, channel, stage, stage_order, value, step_conversion, overall_conversion FROM funnel "
        f"WHERE campaign_id = ? AND {where} ORDER BY period, channel, stage_order",
        [campaign_id],
    )
    keys = ("period", "channel", "stage", "stage_order", "value", "step_conversion", "overall_conversion")
    return [dict(zip(keys, r)) for r in rows]


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["period"], r["channel"], r["stage_order"]))


# --- tests -------------------------------------------------------------------------------


def test_one_html_per_campaign_and_an_index(built):
    summary, reports = built
    assert sorted(p.name for p in reports.glob("*.html")) == sorted(
        [f"{MSP}.html", f"{MVWC}.html", "index.html", "data_dictionary.html"]
    )
    index = (reports / "index.html").read_text()
    assert f'href="{MSP}.html"' in index and f'href="{MVWC}.html"' in index
    assert "23,418,392" in index and "Microbiome Signature Project" in index
    assert set(summary["campaigns"]) == {MSP, MVWC}
    assert summary["campaigns"][MSP]["status"] == "ok"
    assert summary["campaigns"][MVWC]["status"] == "no_exports"
    assert summary["index"] == str(reports / "index.html")
    # Atomic writes leave no temp files behind.
    assert not [p.name for p in reports.iterdir() if p.name.startswith(".")]


def test_plotlyjs_inline_exactly_once_and_nothing_loaded_from_outside(built):
    _, reports = built
    plotlyjs = pages.get_plotlyjs()
    for campaign in (MSP, MVWC):
        page = (reports / f"{campaign}.html").read_text()
        assert page.count(plotlyjs[:200]) == 1, f"{campaign}: plotly.js must be inline exactly once"
        assert page.count(plotlyjs) == 1, f"{campaign}: plotly.js must be inline whole"
        assert not re.search(r"<script[^>]*\ssrc=", page), f"{campaign}: a script is loaded from a URL"
        assert '<script src="http' not in page
        # Outside the library itself (whose map styles name URLs it never fetches here), the page
        # names no URL at all: no CDN, no web font, no MathJax.
        ours = page.replace(plotlyjs, "").replace("window.PlotlyConfig = {MathJaxConfig: 'local'};", "")
        assert not re.search(r"https?://", ours), f"{campaign}: a URL outside plotly.js"
        assert not re.search(r"<link\b|@import|@font-face", ours), f"{campaign}: stylesheet or font loaded"
        assert "mathjax" not in ours.lower(), f"{campaign}: MathJax referenced"


def test_every_chart_has_a_stable_id(built):
    summary, reports = built
    page = (reports / f"{MSP}.html").read_text()
    assert summary["campaigns"][MSP]["charts"] == list(labels.CHART_IDS.values())
    for div_id in labels.CHART_IDS.values():
        assert f'id="{div_id}"' in page, div_id


def _chart_layouts(page: str) -> dict[str, dict]:
    """The layout of each chart a page draws (``Plotly.newPlot(id, data, layout, config)``), by div id."""
    decoder, layouts = json.JSONDecoder(), {}
    for call in re.finditer(r"Plotly\.newPlot\(\s*", page):
        values, at = [], call.end()
        for _ in range(3):  # the id, the data, the layout
            value, at = decoder.raw_decode(page, at)
            values.append(value)
            at = re.compile(r"\s*,\s*").match(page, at).end()
        layouts[values[0]] = values[2]
    return layouts


def test_every_chart_is_drawn_in_the_report_template_and_the_default_is_restored(built):
    """The charts leave their template to report_template (cheaper than one per figure): each chart
    written still carries the whole template, and Plotly's default is as it was after the build."""
    import plotly.io as pio
    from plotly.utils import PlotlyJSONEncoder

    from assets.report.charts.layout import TEMPLATE

    summary, _ = built
    assert pio.templates.default != TEMPLATE
    expected = json.loads(json.dumps(pio.templates[TEMPLATE].to_plotly_json(), cls=PlotlyJSONEncoder))
    pages_with_charts = [info for info in summary["campaigns"].values() if info["charts"]]
    assert pages_with_charts
    for info in pages_with_charts:
        layouts = _chart_layouts(Path(info["html"]).read_text(encoding="utf-8"))
        assert sorted(layouts) == sorted(info["charts"])
        for chart, layout in layouts.items():
            assert layout["template"] == expected, chart


def test_campaign_without_exports_says_so_and_shows_its_facts(built):
    summary, reports = built
    page = (reports / f"{MVWC}.html").read_text()
    assert labels.NO_EXPORTS_TEXT in page
    assert "2011-11-01 to 2014-10-31" in page
    assert "EUR 3,234,093" in page and "EUR 1,617,045" in page
    assert "plotly-graph-div" not in page, "no empty charts for a campaign without exports"
    assert summary["campaigns"][MVWC]["charts"] == []
    cells = {r["attrs"]["data-kpi"]: r["cells"] for r in scorecard_rows(page)}
    # Register-based KPIs are shown with their values, export-based ones wait for exports.
    assert cells["organisations_established"][2] == "4"
    assert cells["organisations_involved"][1:3] == ["10", "0"]
    assert cells["international_hires"][1:3] == ["40", "no exports yet"]


def test_scorecard_table_matches_published_kpi_scorecard(shared):
    published, _, reports = shared
    for campaign in (MSP, MVWC):
        published_rows = query(
            published,
            "SELECT kpi, target, result, pct_of_target, met FROM kpi_scorecard WHERE campaign_id = ? AND period = 'all'",
            [campaign],
        )
        shown = scorecard_rows((reports / f"{campaign}.html").read_text())
        assert len(shown) == len(published_rows)

        def value(text: str, kind):
            return None if text == "" else kind(text)

        as_shown = {
            r["attrs"]["data-kpi"]: (
                value(r["attrs"]["data-target"], float),
                value(r["attrs"]["data-result"], int),
                value(r["attrs"]["data-pct-of-target"], float),
                value(r["attrs"]["data-met"], lambda t: t == "True"),
            )
            for r in shown
        }
        assert as_shown == {kpi: (t, res, pct, met) for kpi, t, res, pct, met in published_rows}
        # What the reader sees in the cells is the same number, with thousands separators.
        for r in shown:
            result = r["attrs"]["data-result"]
            if result:
                assert r["cells"][2] == f"{int(result):,}"
    msp = [r["attrs"]["data-kpi"] for r in scorecard_rows((reports / f"{MSP}.html").read_text())]
    assert msp[:5] == ["organisations_established", "organisations_involved", "international_hires",
                       "impressions", "unique_visitors"], "Table 1 first, then reach"


def test_embedded_funnel_json_equals_the_published_funnel(shared):
    published, _, reports = shared
    data = funnel_json((reports / f"{MSP}.html").read_text())
    assert data["campaign_id"] == MSP
    charts = data["charts"]
    assert charts["chart-funnel"] == published_funnel(published, MSP, "period = 'all' AND channel = 'all'")
    assert _sorted(charts["chart-funnel-periods"]) == published_funnel(
        published, MSP, "period <> 'all' AND channel = 'all'"
    )
    assert _sorted(charts["chart-funnel-channels"]) == published_funnel(
        published, MSP, "period = 'all' AND channel <> 'all'"
    )
    assert [r["value"] for r in charts["chart-funnel"]] == [23_418_392, 203_768, 33_632, 627, 102]


def test_funnel_bars_carry_exact_values_on_a_log_axis(shared):
    published = shared[0]
    campaign = next(c for c in data.campaigns_from_tables(data.read_published(published)) if c.campaign_id == MSP)
    fig = charts.funnel_figure(campaign)
    assert fig.layout.xaxis.type == "log"
    assert list(fig.data[0].text) == ["23,418,392", "203,768", "33,632", "627", "102"]
    channels = charts.funnel_channels_figure(campaign)
    organic = next(t for t in channels.data if t.name == "Organic search")
    assert list(organic.text) == ["n/a", "n/a", "9,173", "0", "0"]


def test_reads_only_the_published_file_read_only(published, tmp_path, monkeypatch):
    before = hashlib.sha256(published.read_bytes()).hexdigest()
    opened = []
    real_connect = duckdb.connect

    def spy(database=":memory:", read_only=False, *args, **kwargs):
        opened.append((str(database), read_only))
        return real_connect(database, read_only, *args, **kwargs)

    monkeypatch.setattr(data.duckdb, "connect", spy)
    build.build_reports(published, tmp_path / "reports", png=False)
    assert opened == [(str(published), True)]
    assert hashlib.sha256(published.read_bytes()).hexdigest() == before


def test_missing_published_database_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no published database yet"):
        build.build_reports(tmp_path / "nowhere.duckdb", tmp_path / "reports", png=False)


def test_partial_exports_mark_missing_stages_instead_of_zero(published, tmp_path):
    con = duckdb.connect(str(published))
    try:
        con.execute("UPDATE kpi_scorecard SET result = NULL, pct_of_target = NULL, met = NULL "
                    f"WHERE campaign_id = '{MSP}' AND kpi IN ('applications', 'international_hires')")
    finally:
        con.close()
    summary = build.build_reports(published, tmp_path / "reports", png=False)
    page = (tmp_path / "reports" / f"{MSP}.html").read_text()
    assert summary["campaigns"][MSP]["status"] == "partial"
    assert 'id="missing-exports"' in page and "hiring" in page
    assert "chart-hires-vs-target" not in summary["campaigns"][MSP]["charts"]
    campaign = next(c for c in data.campaigns_from_tables(data.read_published(published)) if c.campaign_id == MSP)
    assert list(charts.funnel_figure(campaign).data[0].text)[3:] == ["no exports", "no exports"]


def test_png_failure_is_reported_not_raised(published, tmp_path):
    reports = tmp_path / "reports"
    summary = build.build_reports(published, reports, png=True, browser_path=str(tmp_path / "no-such-chromium"))
    assert summary["png"]["status"] == "failed"
    assert summary["png"]["error"]
    assert (reports / f"{MSP}.html").exists() and (reports / "index.html").exists()
    assert "PNG of this chart" not in (reports / f"{MSP}.html").read_text()
    assert not list(reports.rglob("*.png"))
    assert "PNG export FAILED" in build.summary_markdown(summary)


def test_asset_materializes_with_paths_and_summary(published, tmp_path):
    import dagster as dg

    from pipelines.resources import TalentStore

    # Settings.published is <warehouse_dir>/published.duckdb: the fixture's file.
    store = TalentStore(warehouse_dir=str(published.parent), reports_dir=str(tmp_path / "out"))
    result = dg.materialize(
        asset.REPORT_ASSETS,
        resources={"store": store},
        run_config={"ops": {"funnel_report": {"config": {"png": False}}}},
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["index"].value == str(tmp_path / "out" / "index.html")
    assert metadata[f"report_{MSP}"].value == str(tmp_path / "out" / f"{MSP}.html")
    assert "102 of target 60" in metadata["summary"].value
    assert metadata["png_status"].value == "skipped"
    spec = asset.funnel_report
    assert spec.group_names_by_key[dg.AssetKey("funnel_report")] == "reports"
    assert dg.AssetKey("published_database") in {d.asset_key for d in spec.specs_by_key[dg.AssetKey("funnel_report")].deps}


@pytest.mark.slow
def test_report_from_a_real_pipeline_run(tmp_path, fixture_publication):
    """The report reads what the pipeline publishes (fixture exports through the whole graph)."""
    assert fixture_publication.result.returncode == 0 and fixture_publication.published.exists(), \
        "the pipeline did not publish"
    summary = build.build_reports(fixture_publication.published, tmp_path / "reports", png=False)
    page = (tmp_path / "reports" / f"{MSP}.html").read_text()
    charts = funnel_json(page)["charts"]
    assert charts["chart-funnel"] == published_funnel(
        fixture_publication.published, MSP, "period = 'all' AND channel = 'all'"
    )
    assert summary["campaigns"][MVWC]["status"] == "no_exports"


def test_published_names_are_escaped_by_the_templates(published, tmp_path):
    """A campaign name, period code or KPI text is text on the page, never markup (Jinja2 autoescaping)."""
    hostile = '<script>alert("x")</script> & <b>Co</b>'
    con = duckdb.connect(str(published))
    try:
        con.execute("UPDATE campaigns SET name = ? WHERE campaign_id = ?", [hostile, MSP])
        con.execute("UPDATE campaign_periods SET utm_campaign = ? WHERE campaign_id = ? AND period = 'period_1'",
                    ['"><img src=x onerror=alert(1)>', MSP])
    finally:
        con.close()
    build.build_reports(published, tmp_path / "reports", png=False)
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;"
    for name in (f"{MSP}.html", "index.html"):
        page = (tmp_path / "reports" / name).read_text()
        plotlyjs = pages.get_plotlyjs()
        ours = page.replace(plotlyjs, "")
        assert "<script>alert" not in ours and "<b>Co</b>" not in ours, name
        assert "<img src=x" not in ours, name
        assert escaped in ours, f"{name}: the name is not shown as text"
    page = (tmp_path / "reports" / f"{MSP}.html").read_text()
    assert f"<title>{escaped}: talent campaign report</title>" in page
    assert f"<h1>{escaped}</h1>" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # In chart titles too: Plotly reads its strings as HTML, so the name reaches it escaped.
    campaign = next(c for c in data.campaigns_from_tables(data.read_published(published)) if c.campaign_id == MSP)
    assert charts.funnel_figure(campaign).layout.title.text.startswith("&lt;script&gt;")


# --- period over period, time to hire, campaign comparison, data dictionary -----------------------


@pytest.fixture(scope="module", params=["handmade", pytest.param("sample", marks=pytest.mark.slow)])
def report_of(request, tmp_path_factory):
    """(published, summary, reports) for the hand-made published file and for the published bundled sample."""
    if request.param == "handmade":
        return request.getfixturevalue("shared")
    sample = request.getfixturevalue("sample_published")
    out = tmp_path_factory.mktemp("sample-report")
    return sample.published, build.build_reports(sample.published, out, png=False), out


class _Table(HTMLParser):
    """The rows of one <table id=...>: each row's attributes, and its cells' attributes and texts."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.rows, self._in, self._row, self._cell = table_id, [], False, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == self.table_id:
            self._in = True
        elif self._in and tag == "tr":
            self._row = {"attrs": attrs, "cells": []}
        elif self._row is not None and tag in ("td", "th"):
            self._cell = {"attrs": attrs, "text": ""}

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._cell["text"] = self._cell["text"].strip()
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._in = False


def table_rows(page: str, table_id: str) -> list[dict]:
    parser = _Table(table_id)
    parser.feed(page)
    assert parser.rows, f"no table #{table_id}"
    return parser.rows


def embedded(page: str, element_id: str):
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert match, f"no embedded {element_id} JSON"
    return json.loads(match.group(1))


def msp(published: Path) -> "data.CampaignData":
    return next(c for c in data.campaigns_from_tables(data.read_published(published)) if c.campaign_id == MSP)


# Each period beside the one before it, straight from the published funnel with a window function.
PERIOD_OVER_PERIOD_SQL = """
    WITH f AS (
        SELECT f.period, f.stage, f.stage_order, f.value, f.step_conversion, p.start_date
        FROM funnel f JOIN campaign_periods p USING (campaign_id, period)
        WHERE f.campaign_id = ? AND f.channel = 'all'
    ), paired AS (
        SELECT *, lag(period) OVER w AS previous_period, lag(value) OVER w AS previous_value,
               lag(step_conversion) OVER w AS previous_step_conversion
        FROM f WINDOW w AS (PARTITION BY stage ORDER BY start_date)
    )
    SELECT period, previous_period, stage, value, previous_value, value - previous_value,
           CASE WHEN previous_value > 0 THEN (value - previous_value) / previous_value END,
           step_conversion - previous_step_conversion
    FROM paired WHERE previous_period IS NOT NULL ORDER BY start_date, stage_order
"""


def test_period_over_period_equals_the_published_funnel(report_of):
    published, summary, reports = report_of
    expected = query(published, PERIOD_OVER_PERIOD_SQL, [MSP])
    assert expected, "the campaign needs two periods to compare"
    page = (reports / f"{MSP}.html").read_text()
    shown = embedded(page, "period-comparison-data")
    exact = ("period", "previous_period", "stage", "value", "previous_value", "change")
    assert [tuple(r[k] for k in exact) for r in shown] == [e[:6] for e in expected]
    assert [r["change_ratio"] for r in shown] == pytest.approx([e[6] for e in expected])
    assert [r["step_conversion_change"] for r in shown] == pytest.approx([e[7] for e in expected], nan_ok=True)
    # The table shows the same numbers, one row per period x stage.
    rows = table_rows(page, "period-comparison")[1:]
    assert [(r["attrs"]["data-period"], r["attrs"]["data-stage"]) for r in rows] == [(e[0], e[2]) for e in expected]
    for row, e in zip(rows, expected):
        previous, now, change = (c["text"] for c in row["cells"][-6:-3])
        assert (previous, now) == (f"{e[4]:,}", f"{e[3]:,}")
        assert change == ("±0" if e[5] == 0 else f"+{e[5]:,}" if e[5] > 0 else f"\u2212{-e[5]:,}")
    # The chart draws each stage's change in % of the previous period, one trace per pair of periods.
    fig = charts.period_comparison_figure(msp(published))
    drawn = [y for trace in fig.data for y in trace.y]
    assert drawn == pytest.approx([None if e[6] is None else e[6] * 100 for e in expected])
    assert "chart-period-comparison" in summary["campaigns"][MSP]["charts"]


def test_time_to_hire_chart_and_table_show_the_published_rows(report_of):
    published, summary, reports = report_of
    rows = query(published, "SELECT period, organisation, hires, median_days_to_hire, p75_days_to_hire "
                 "FROM time_to_hire WHERE campaign_id = ? AND (period = 'all' OR organisation = 'all')", [MSP])
    assert rows
    page = (reports / f"{MSP}.html").read_text()
    shown = {
        (r["attrs"]["data-period"], r["attrs"]["data-organisation"], int(r["attrs"]["data-hires"]),
         float(r["attrs"]["data-median-days-to-hire"]), float(r["attrs"]["data-p75-days-to-hire"]))
        for r in table_rows(page, "time-to-hire")[1:]
    }
    assert shown == set(rows)
    fig = charts.time_to_hire_figure(msp(published))
    medians = [x for t in fig.data if t.type == "bar" for x in t.x]
    p75s = [x for t in fig.data if t.type == "scatter" for x in t.x]
    assert sorted(medians) == sorted(r[3] for r in rows) and sorted(p75s) == sorted(r[4] for r in rows)
    labels = [x for t in fig.data if t.type == "bar" for x in t.text]
    assert sorted(float(x.replace(",", "")) for x in labels) == sorted(r[3] for r in rows)
    whole = next(r for r in rows if r[:2] == ("all", "all"))
    assert whole[2] == query(published, "SELECT hires FROM hires_vs_target WHERE campaign_id = ? AND period = 'all' "
                             "AND organisation = 'all'", [MSP])[0][0]


def test_index_compares_every_campaign_side_by_side(report_of):
    published, _, reports = report_of
    page = (reports / "index.html").read_text()
    rows = table_rows(page, "campaign-comparison")
    header = [c["attrs"].get("data-campaign-id") for c in rows[0]["cells"][1:]]
    assert sorted(header) == sorted(r[0] for r in query(published, "SELECT campaign_id FROM campaigns"))
    by_row = {r["attrs"]["data-row"]: {c["attrs"]["data-campaign-id"]: c for c in r["cells"][1:]} for r in rows[1:]}
    assert list(by_row) == ["organisations_established", "organisations_involved", "international_hires",
                            "impressions", "unique_visitors", "spend_eur", "cost_per_hire_eur"]

    def number(text: str, kind):
        return None if text == "" else kind(text)

    for kpi in list(by_row)[:5]:
        for campaign, target, result, pct in query(
            published, "SELECT campaign_id, target, result, pct_of_target FROM kpi_scorecard "
            "WHERE kpi = ? AND period = 'all'", [kpi]
        ):
            cell = by_row[kpi][campaign]
            assert (number(cell["attrs"]["data-target"], float), number(cell["attrs"]["data-result"], int),
                    number(cell["attrs"]["data-pct-of-target"], float)) == (target, result, pct), (kpi, campaign)
            assert cell["text"].startswith("no data" if result is None else f"{result:,}")
    costs = dict.fromkeys(header, (None, None))
    costs.update({c: (s, h) for c, s, h in query(
        published, "SELECT campaign_id, spend_eur, cost_per_hire_eur FROM cost_per_outcome "
        "WHERE period = 'all' AND channel = 'all'")})
    for campaign, (spend, per_hire) in costs.items():
        assert number(by_row["spend_eur"][campaign]["attrs"]["data-value"], float) == spend
        assert number(by_row["cost_per_hire_eur"][campaign]["attrs"]["data-value"], float) == per_hire


class _Dictionary(HTMLParser):
    """Per table section of the dictionary page: its comment and each column's comment cell."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self._table = self._column = None
        self._capture: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "data-table" in attrs:
            self._table = attrs["data-table"]
            self.tables[self._table] = {"kind": attrs["data-kind"], "comment": "", "columns": {}}
        elif tag == "p" and attrs.get("class") == "table-comment":
            self._capture = ("table", "")
        elif tag == "tr" and "data-column" in attrs:
            self._column = attrs["data-column"]
        elif tag == "td" and attrs.get("class") == "column-comment":
            self._capture = ("column", "")

    def handle_data(self, data):
        if self._capture:
            self._capture = (self._capture[0], self._capture[1] + data)

    def handle_endtag(self, tag):
        if self._capture and tag in ("p", "td"):
            kind, text = self._capture
            if kind == "table":
                self.tables[self._table]["comment"] = text
            else:
                self.tables[self._table]["columns"][self._column] = text
            self._capture = None


def test_data_dictionary_page_shows_every_published_comment(report_of):
    published, summary, reports = report_of
    assert summary["data_dictionary"] == str(reports / "data_dictionary.html")
    page = (reports / "data_dictionary.html").read_text()
    parser = _Dictionary()
    parser.feed(page)
    mine = "database_name = current_database() AND schema_name = 'main'"
    objects = query(published, f"SELECT table_name, 'table', comment FROM duckdb_tables() WHERE {mine} "
                    f"UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() WHERE {mine} AND NOT internal")
    assert {name: (kind, comment) for name, kind, comment in objects} == {
        name: (t["kind"], None if t["comment"] == "–" else t["comment"]) for name, t in parser.tables.items()
    }
    columns = query(published, f"SELECT table_name, column_name, comment FROM duckdb_columns() WHERE {mine}")
    assert {(t, c): (comment or "–") for t, c, comment in columns} == {
        (t, c): text for t, info in parser.tables.items() for c, text in info["columns"].items()
    }
    assert "time_to_hire" in parser.tables and parser.tables["time_to_hire"]["comment"]
    # Linked both ways: index and campaign pages to the dictionary, the dictionary back to the index.
    for name in ("index.html", f"{MSP}.html", f"{MVWC}.html"):
        assert 'href="data_dictionary.html"' in (reports / name).read_text(), name
    assert 'href="index.html"' in page
    assert not re.search(r"https?://|<script", page), "the dictionary page loads nothing and runs nothing"


def test_data_dictionary_escapes_comments(published, tmp_path):
    con = duckdb.connect(str(published))
    try:
        con.execute("COMMENT ON TABLE campaigns IS '<script>alert(1)</script> & more'")
    finally:
        con.close()
    build.build_reports(published, tmp_path / "reports", png=False)
    page = (tmp_path / "reports" / "data_dictionary.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page


def test_templates_ship_with_the_package():
    """Every template is package data (a wheel without them renders nothing), and Jinja2 is a declared dependency."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package = Path(pages.__file__).parent
    declared = {p for pattern in config["tool"]["setuptools"]["package-data"]["assets.report"]
                for p in package.glob(pattern)}
    assert declared and set((package / "templates").iterdir()) == declared
    assert set(pages.ENV.list_templates()) == {p.name for p in declared}
    assert "jinja2>=3.1,<3.2" in config["project"]["dependencies"]
    assert pages.ENV.autoescape is True


def test_each_campaign_page_says_what_its_numbers_leave_out(sample_published):
    """The data-notes block counts, per source and reason, exactly the published data_issues rows."""
    import re

    from conftest import query

    pages = {p.stem: p.read_text() for p in sample_published.reports.glob("*.html")}
    campaigns = query(sample_published.published, "SELECT campaign_id FROM campaigns")
    unattributed = dict(query(sample_published.published,
                              "SELECT reason, count(*) FROM data_issues WHERE scope = 'row' AND campaign_id IS NULL "
                              "GROUP BY reason"))
    for (cid,) in campaigns:
        html = next(text for text in pages.values() if f"<code>{cid}</code>" in text)
        assert 'id="data-notes"' in html
        excluded = dict(query(sample_published.published, "SELECT reason, count(*) FROM data_issues "
                                                          "WHERE scope = 'row' AND campaign_id = ? GROUP BY reason",
                              [cid]))
        for block, expected in (("data-notes-excluded", excluded), ("data-notes-unattributed", unattributed)):
            section = re.search(rf'<div id="{block}">(.*?)</div>', html, re.S)
            shown = {} if section is None else {
                m.group(2).strip(): int(m.group(1)) for m in
                re.finditer(r'data-rows="(\d+)"><td>[^<]*</td><td>([^<]*)</td>', section.group(1))}
            assert {html_unescape(k): v for k, v in shown.items()} == expected, block
    assert sum(unattributed.values()) + sum(
        n for (n,) in query(sample_published.published, "SELECT count(*) FROM data_issues WHERE campaign_id IS NOT NULL")
    ) == query(sample_published.published, "SELECT count(*) FROM data_issues WHERE scope = 'row'")[0][0]


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)
