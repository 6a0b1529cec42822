"""Marketing funnel report: one self-contained, offline HTML file per campaign, plus an index.

Reads only the published database (published.duckdb, opened read-only): what
marketing sees is exactly what managers query. Each campaign page carries
plotly.js inline once, no CDN, no MathJax, no web fonts, so it opens from a
file share or an e-mail attachment with no request leaving the page.

One module per concern:

- ``data``: reading published.duckdb into one ``CampaignData`` per campaign;
- ``labels``: the words, colours and number formats every page and chart uses;
- ``compare``: each period beside the one before, and campaigns side by side
  (published rows rearranged, nothing recounted);
- ``charts``: the Plotly figures (``charts.funnel``, ``charts.periods``,
  ``charts.hires``, ``charts.spend``), each in a div with a stable id
  (``labels.CHART_IDS``);
- ``pages``: the HTML, rendered from Jinja2 templates (``templates/``) with
  autoescaping on, so a campaign name is text, never markup;
- ``png``: PNG copies of the charts for slide decks (kaleido, headless Chromium);
- ``build``: writes the files (campaign pages, index.html, data_dictionary.html) and the summary;
- ``asset``: the Dagster asset, a thin wrapper around ``build.build_reports``.

Funnel stages are five orders of magnitude apart (23 million impressions,
about 100 hires), so funnel bars use a log axis with the exact value written
on every bar: a linear go.Funnel would draw the last three stages as hairlines.
The exact numbers each funnel shows are also embedded as JSON
(``<script type="application/json" id="funnel-data">``) so tests can compare
what is displayed with the published table.

A campaign without exports (every export-based KPI NULL in kpi_scorecard) gets
a plain page saying so, with its facts and its register-based KPIs, instead of
empty charts.
"""
