"""The report in a real browser: Debian's headless Chromium, driven by Playwright, offline.

Every request that is not file:// is aborted and counted (expected: none).
Each campaign page must render every chart without a console or page error,
and the funnel numbers it shows must be the published funnel table's.

Needs /usr/bin/chromium (`make test` installs it with scripts/install_chromium.sh)
and the `playwright` package; it never installs either, and never runs
`playwright install`: the browser is the system's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from assets.report import build
from assets.report.labels import CHANNELS, CHART_IDS, NO_EXPORTS_TEXT, STAGE_LABELS
from conftest import query
from test_report import MSP, MVWC, make_published

CHROMIUM = Path("/usr/bin/chromium")
# Without these, Chromium phones home (QUIC, component updates, sync) and the
# sandbox has no network: connections are refused, many at a time.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} not found: run scripts/install_chromium.sh (make test does)",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    published = make_published(root / "published.duckdb")
    summary = build.build_reports(published, root / "reports", png=False)
    return published, summary, root / "reports"


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory, sample_published):
    """A persistent context on a fresh profile directory: the only way to give Chromium its own --user-data-dir.

    The published sample is made first: Dagster's in-process run must not start inside Playwright's event loop.
    """
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context):
    """A page whose every non-file request is aborted and recorded, with console and page errors collected."""
    blocked, errors = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    pg = browser_context.new_page()
    pg.route("**/*", route)
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.blocked, pg.errors = blocked, errors
    yield pg
    pg.close()


def _screenshot(pg, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("TALENT_SCREENSHOT_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


def _wait_for_charts(pg) -> int:
    """Waits until every chart div holds a rendered plot with drawn traces; returns how many charts."""
    pg.wait_for_function(
        """() => {
            const divs = [...document.querySelectorAll('.plotly-graph-div')];
            return divs.every(d => d.querySelector('.main-svg') && d.querySelectorAll('.trace').length > 0);
        }""",
        timeout=RENDER_TIMEOUT_MS,
    )
    return pg.locator(".plotly-graph-div").count()


def _shown_numbers(pg, div_id: str) -> list[list[str]]:
    """The labels written on the bars of a chart, one list per trace, in point order."""
    return pg.evaluate(
        """(id) => [...document.getElementById(id).querySelectorAll('.barlayer .trace')].map(
               t => [...t.querySelectorAll('.point')].map(p => (p.querySelector('.bartext') || {}).textContent || ''))""",
        div_id,
    )


def _as_int(label: str) -> int | None:
    return int(label.replace(",", "")) if re.fullmatch(r"[\d,]+", label) else None


def _published(published: Path, where: str) -> list[tuple]:
    return query(
        published,
        f"SELECT period, channel, stage, value FROM funnel WHERE campaign_id = ? AND {where} "
        "ORDER BY period, channel, stage_order",
        [MSP],
    )


def test_campaign_page_renders_offline_and_shows_the_published_funnel(page, reports, tmp_path):
    published, summary, folder = reports
    page.goto((folder / f"{MSP}.html").as_uri())
    charts = _wait_for_charts(page)
    shot = _screenshot(page, tmp_path, MSP)

    assert page.blocked == [], f"requests left the page: {page.blocked}"
    assert page.errors == [], page.errors
    assert charts == len(CHART_IDS) == len(summary["campaigns"][MSP]["charts"])
    for div_id in CHART_IDS.values():
        assert page.locator(f"#{div_id} .main-svg").count() > 0, f"{div_id} did not render"
    assert shot.stat().st_size > 50_000

    embedded = json.loads(page.locator("#funnel-data").text_content())["charts"]

    # Whole campaign: the five bars show exactly the published values, in funnel order.
    [whole] = _shown_numbers(page, "chart-funnel")
    expected = [v for *_, v in _published(published, "period = 'all' AND channel = 'all'")]
    assert [_as_int(label) for label in whole] == expected == [r["value"] for r in embedded["chart-funnel"]]
    ticks = page.locator("#chart-funnel .ytick").all_text_contents()
    assert sorted(t.split("\u00a0")[0].strip() for t in ticks) == sorted(STAGE_LABELS.values())

    # Per period: one trace per period, bars in stage order.
    shown = _shown_numbers(page, "chart-funnel-periods")
    rows = _published(published, "period <> 'all' AND channel = 'all'")
    per_period = {}
    for period, _, _, value in rows:
        per_period.setdefault(period, []).append(value)
    assert [[_as_int(x) for x in trace] for trace in shown] == [per_period[p] for p in sorted(per_period)]

    # Per channel: bars where the value is positive; n/a and 0 are written as text, not drawn.
    shown = _shown_numbers(page, "chart-funnel-channels")
    rows = _published(published, "period = 'all' AND channel <> 'all'")
    by_channel = {}
    for _, channel, _, value in rows:
        by_channel.setdefault(channel, []).append(value)
    order = [c for c in CHANNELS if c in by_channel and any((v or 0) > 0 for v in by_channel[c])]
    drawn = [[_as_int(x) for x in trace if _as_int(x)] for trace in shown]
    assert drawn == [[v for v in by_channel[c] if v] for c in order]
    labels = page.locator("#chart-funnel-channels .textpoint").all_text_contents()
    assert labels.count("n/a") == 2 * sum(1 for c in order if by_channel[c][0] is None)

    # Hovering the smallest bar gives its exact value and conversions.
    bar = page.locator("#chart-funnel .barlayer .point path").nth(4)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    # A log-axis bar's path starts far left of the plot (at log 0): aim near its right end.
    # Plotly listens on its drag layer, so move the mouse rather than hover the element.
    # Plotly throttles hover events, so the mouse settles with a second small move.
    x, y = box["x"] + box["width"] - 10, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.wait_for_timeout(150)
    page.mouse.move(x - 2, y)
    hover = page.locator("#chart-funnel .hoverlayer .hovertext")
    hover.wait_for(timeout=RENDER_TIMEOUT_MS)
    text = hover.text_content()
    assert text.startswith("International hires: ") and f"{expected[4]:,}" in text, text
    assert "of previous stage" in text and "of impressions" in text, text

    # The scorecard shows Table 1 as published.
    hires = page.locator('#kpi-scorecard tr[data-kpi="international_hires"] td').all_text_contents()
    assert hires[1:4] == ["60", "102", "170.0\u00a0%"]


def test_campaign_without_exports_renders_a_plain_page(page, reports, tmp_path):
    _, _, folder = reports
    page.goto((folder / f"{MVWC}.html").as_uri())
    page.wait_for_load_state("load")
    _screenshot(page, tmp_path, MVWC)
    assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)
    assert NO_EXPORTS_TEXT in page.locator("#no-exports").text_content()
    assert page.locator(".plotly-graph-div").count() == 0
    assert "EUR 3,234,093" in page.locator("#campaign-facts").text_content()


def test_index_links_to_every_campaign(page, reports, tmp_path):
    _, summary, folder = reports
    page.goto((folder / "index.html").as_uri())
    _screenshot(page, tmp_path, "index")
    assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)
    hrefs = page.locator("#campaigns a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert sorted(hrefs) == sorted(f"{cid}.html" for cid in summary["campaigns"])
    page.locator(f'#campaigns a[href="{MSP}.html"]').click()
    page.wait_for_url(re.compile(rf"{MSP}\.html$"))
    _wait_for_charts(page)
    assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)


def test_png_copies_for_slide_decks_with_debian_chromium(tmp_path):
    published = tmp_path / "published.duckdb"
    make_published(published)
    summary = build.build_reports(published, tmp_path / "reports", png=True)
    assert summary["png"]["status"] == "ok", summary["png"]
    pngs = list((tmp_path / "reports").rglob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_new_charts_show_the_published_time_to_hire_and_period_changes(page, reports, tmp_path):
    published, _, folder = reports
    page.goto((folder / f"{MSP}.html").as_uri())
    _wait_for_charts(page)
    assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)
    # Time to hire: the median written on each bar is the published one (periods, then organisations).
    shown = [float(x.replace(",", "")) for trace in _shown_numbers(page, "chart-time-to-hire") for x in trace]
    medians = [m for (m,) in query(published, "SELECT median_days_to_hire FROM time_to_hire WHERE campaign_id = ? "
                                   "AND (period = 'all' OR organisation = 'all')", [MSP])]
    assert sorted(shown) == sorted(medians)
    assert page.locator("#time-to-hire tbody tr").count() == len(medians)
    # Period over period: one bar per stage and later period, labelled with its change against the one before.
    labels = [x for trace in _shown_numbers(page, "chart-period-comparison") for x in trace if x != "n/a"]
    rows = query(published, """
        SELECT f.value, lag(f.value) OVER (PARTITION BY f.stage ORDER BY p.start_date) AS before
        FROM funnel f JOIN campaign_periods p USING (campaign_id, period)
        WHERE f.campaign_id = ? AND f.channel = 'all' QUALIFY before IS NOT NULL
        ORDER BY p.start_date, f.stage_order""", [MSP])
    expected = [(v - b) / b * 100 for v, b in rows if b]  # no change in % from nothing
    shown = [float(x.replace("\u2212", "-").replace("±", "").replace("\u00a0%", "").replace(",", "")) for x in labels]
    assert shown == pytest.approx(expected, abs=0.05)
    assert page.locator("#period-comparison tbody tr").count() == len(rows)


def test_data_dictionary_page_renders_offline_and_is_linked(page, reports, tmp_path):
    published, _, folder = reports
    page.goto((folder / "index.html").as_uri())
    assert page.locator("#campaign-comparison").is_visible()
    page.locator("#link-data-dictionary").click()
    page.wait_for_url(re.compile(r"data_dictionary\.html$"))
    _screenshot(page, tmp_path, "data_dictionary")
    assert page.blocked == [] and page.errors == [], (page.blocked, page.errors)
    tables = page.locator("section[data-table]").evaluate_all("s => s.map(x => x.dataset.table)")
    expected = query(published, "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                     "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
                     "AND NOT internal ORDER BY 1")
    assert tables == [t for (t,) in expected]
    page.locator('a[href="#table-time_to_hire"]').click()
    assert page.locator("#table-time_to_hire").is_visible()


def test_published_sample_renders_every_page_offline(page, sample_published, tmp_path):
    """The report of the published bundled sample: every page, every chart, no error, no request."""
    folder = tmp_path / "reports"
    summary = build.build_reports(sample_published.published, folder, png=False)
    pages = ["index.html", "data_dictionary.html", *(Path(c["html"]).name for c in summary["campaigns"].values())]
    for name in pages:
        page.goto((folder / name).as_uri())
        page.wait_for_load_state("load")
        charts = _wait_for_charts(page)
        cid = name.removesuffix(".html")
        assert charts == len(summary["campaigns"].get(cid, {}).get("charts", [])), name
        assert page.blocked == [] and page.errors == [], (name, page.blocked, page.errors)
    assert summary["campaigns"][MSP]["charts"] == list(CHART_IDS.values())
