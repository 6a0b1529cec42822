"""Every published figure traced to its exports; every hire seen, counted or not, with the rule that decided.

The bundled sample's figures come from the session's one run of the graph on it (conftest
``sample_published``); a larger generated sample is staged and built without Dagster, to keep it fast.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from assets.quality import asset as checks
from assets.marts import provenance
from assets.staging import stage
from assets.staging.parsers import RowParser, VisitorParser
from assets.staging.warehouse import ensure_schema, load_reference
from assets.ingest.hiring import parse_hiring
from assets.ingest.reach import parse_reach
from assets.ingest.reference import Attribution, read_reference
from assets.marts.build import build_marts
from assets.marts.hiring import HIRE_EXCLUSIONS
from assets.marts.inputs import read_inputs
from assets.marts.tables import write_marts
from conftest import query
from pipelines import cli
from samplegen import generate_sample

pytestmark = pytest.mark.slow

# Written apart from assets/marts/provenance.py: every published figure beside the sum of its contributions.
FIGURES_AND_CONTRIBUTIONS = """
WITH figures AS (
    SELECT campaign_id, kpi, period, 'all' AS channel, result::DOUBLE AS figure FROM {db}kpi_scorecard
    WHERE result IS NOT NULL
    UNION ALL
    SELECT campaign_id, replace(stage, 'hires', 'international_hires'), period, channel, value FROM {db}funnel
    WHERE value IS NOT NULL
    UNION ALL
    SELECT campaign_id, 'spend_eur', period, channel, spend_eur FROM {db}cost_per_outcome
)
SELECT f.campaign_id, f.kpi, f.period, f.channel, f.figure,
       (SELECT coalesce(sum(contribution), 0) FROM {db}kpi_provenance p
        WHERE (p.campaign_id, p.kpi, p.period, p.channel) = (f.campaign_id, f.kpi, f.period, f.channel)) AS traced
FROM figures f
"""
UNPUBLISHED_SCOPES = """
SELECT DISTINCT campaign_id, kpi, period, channel FROM {db}kpi_provenance p
WHERE contribution <> 0 AND NOT EXISTS (
    SELECT 1 FROM {db}kpi_scorecard s WHERE (s.campaign_id, s.kpi, s.period, 'all') = (p.campaign_id, p.kpi, p.period, p.channel)
    UNION ALL
    SELECT 1 FROM {db}funnel f WHERE (f.campaign_id, replace(f.stage, 'hires', 'international_hires'), f.period, f.channel)
                                   = (p.campaign_id, p.kpi, p.period, p.channel)
    UNION ALL
    SELECT 1 FROM {db}cost_per_outcome c WHERE (c.campaign_id, 'spend_eur', c.period, c.channel)
                                             = (p.campaign_id, p.kpi, p.period, p.channel))
"""


def assert_every_figure_adds_up(rows, unpublished) -> int:
    for campaign_id, kpi, period, channel, figure, traced in rows:
        tolerance = 0.005 if kpi == "spend_eur" else 0  # spend is published to the cent
        assert abs(traced - figure) <= tolerance, (campaign_id, kpi, period, channel, figure, traced)
    assert unpublished == []
    return len(rows)


def test_provenance_adds_up_for_every_published_figure_of_the_sample(sample_published):
    published = sample_published.published
    checked = assert_every_figure_adds_up(query(published, FIGURES_AND_CONTRIBUTIONS.format(db="")),
                                          query(published, UNPUBLISHED_SCOPES.format(db="")))
    kpis = {r[0] for r in query(published, "SELECT DISTINCT kpi FROM kpi_provenance")}
    assert kpis == {"impressions", "clicks", "spend_eur", "unique_visitors", "applications", "international_hires",
                    "organisations_involved", "organisations_established"}
    assert checked > 200
    # The blocking check of the same rule ran in the run and passed.
    assert query(sample_published.warehouse, "SELECT passed, failed_rows FROM audit.check_results "
                 "WHERE table_name = 'marts.kpi_provenance' AND check_name = ?", [checks.RECONCILIATION_CHECK]) == [
        (True, 0)]


def test_visitors_are_credited_to_the_first_export_that_holds_them(sample_published):
    """Whole campaign: the first visitor export contributes its distinct visitors, the next only new ones."""
    wh, published = sample_published.warehouse, sample_published.published
    files = [r[0] for r in query(wh, "SELECT regexp_extract(path, '[^/]+$') FROM ingest.file_ledger "
                                     "WHERE source = 'visitors' AND status = 'loaded' ORDER BY loaded_at, file_hash")]
    assert len(files) == 2
    first, second = query(wh, """
        WITH v AS (SELECT DISTINCT source_file, user_pseudo_id FROM staging.sessions
                   WHERE campaign_id = 'microbiome_signature')
        SELECT (SELECT count(*) FROM v WHERE source_file = ?),
               (SELECT count(*) FROM v WHERE source_file = ? AND user_pseudo_id NOT IN
                   (SELECT user_pseudo_id FROM v WHERE source_file = ?))""", files + [files[0]])[0]
    traced = dict(query(published, "SELECT source_file, contribution FROM kpi_provenance WHERE campaign_id = "
                                   "'microbiome_signature' AND kpi = 'unique_visitors' AND period = 'all' "
                                   "AND channel = 'all'"))
    assert traced == {files[0]: first, files[1]: second}


def test_hire_register_counted_rows_are_the_international_hires(sample_published):
    published, wh = sample_published.published, sample_published.warehouse
    figures = query(published, "SELECT campaign_id, period, channel, value FROM funnel WHERE stage = 'hires'")
    counted = dict(((c, p, ch), n) for c, p, ch, n in query(published, """
        SELECT campaign_id, coalesce(period, 'all'), coalesce(channel, 'all'), count(*) FROM hire_register
        WHERE counted GROUP BY GROUPING SETS ((campaign_id, period, channel), (campaign_id, period),
                                               (campaign_id, channel), (campaign_id))
        HAVING grouping(period) = 1 OR period IS NOT NULL"""))
    for campaign_id, period, channel, value in figures:
        assert counted.get((campaign_id, period, channel), 0) == value, (campaign_id, period, channel)
    table_1 = query(published, "SELECT s.campaign_id, s.result FROM kpi_scorecard s "
                               "WHERE kpi = 'international_hires' AND period = 'all'")
    for campaign_id, result in table_1:
        assert counted.get((campaign_id, "all", "all"), 0) == (result or 0)
    # One register row per hire line staged from any export, counted or not.
    assert query(published, "SELECT count(*) FROM hire_register") == \
        query(wh, "SELECT count(*) FROM staging.applications WHERE stage = 'hired'")


def test_every_excluded_hire_names_a_rule_that_holds_for_it(sample_published):
    rows = pl.DataFrame(query(sample_published.published, """
        SELECT r.excluded_by, r.country_code, r.campaign_id, r.hire_date NOT BETWEEN c.start_date AND c.end_date
        FROM hire_register r LEFT JOIN campaigns c USING (campaign_id) WHERE NOT r.counted"""),
        schema=["rule", "country", "campaign", "outside"], orient="row")
    by_rule = dict(rows.group_by("rule").len().iter_rows())
    assert set(by_rule) <= set(HIRE_EXCLUSIONS)
    # The sample's traps: domestic, unattributed, outside the window, a late organisation, repeated exports.
    assert {"domestic", "not_attributed", "outside_window", "organisation_not_participating", "duplicate",
            "repeat_hire"} <= set(by_rule)
    assert rows.filter(pl.col("rule") == "domestic")["country"].is_in(["DK", "SE"]).all()
    assert rows.filter(pl.col("rule") == "not_attributed")["campaign"].is_null().all()
    assert rows.filter(pl.col("rule") == "outside_window")["outside"].all()
    wh = sample_published.warehouse
    late = {r[0] for r in query(wh, "SELECT o.name FROM ref.organisations o, ref.campaigns c WHERE c.campaign_id = "
                                    "'microbiome_signature' AND o.talent_campaign_joined_on > c.end_date")}
    excluded_orgs = {r[0] for r in query(sample_published.published, "SELECT DISTINCT organisation FROM hire_register "
                                                                  "WHERE excluded_by = 'organisation_not_participating'")}
    assert excluded_orgs and excluded_orgs <= late | {r[0] for r in query(
        wh, "SELECT organisation_name FROM staging.applications WHERE org_id IS NULL")}
    duplicates = query(sample_published.published, """
        SELECT count(*) FROM hire_register d WHERE excluded_by = 'duplicate' AND NOT EXISTS (
            SELECT 1 FROM hire_register f WHERE f.excluded_by IS DISTINCT FROM 'duplicate'
            AND (f.candidate_ref, f.organisation, f.applied_on) = (d.candidate_ref, d.organisation, d.applied_on)
            AND f.file_hash <> d.file_hash)""")
    assert duplicates == [(0,)]  # every duplicate has its judged row in another export


def test_register_holds_no_personal_data(sample_published):
    refs = query(sample_published.published, "SELECT DISTINCT length(candidate_ref), "
                                          "regexp_full_match(candidate_ref, '[0-9a-f]+') FROM hire_register")
    assert refs == [(provenance.CANDIDATE_REF_CHARS, True)]


def test_explain_prints_the_figure_its_exports_and_the_register(sample_published, monkeypatch, capsys):
    monkeypatch.setenv("TALENT_WAREHOUSE_DIR", str(sample_published.published.parent))
    published = sample_published.published
    figure = query(published, "SELECT result FROM kpi_scorecard WHERE campaign_id = 'microbiome_signature' "
                              "AND kpi = 'international_hires' AND period = 'all'")[0][0]
    exports = query(published, "SELECT source_file FROM kpi_provenance WHERE campaign_id = 'microbiome_signature' "
                               "AND kpi = 'international_hires' AND period = 'all' AND channel = 'all'")
    excluded = query(published, "SELECT count(*) FROM hire_register WHERE NOT counted AND "
                                "(campaign_id = 'microbiome_signature' OR campaign_id IS NULL)")[0][0]
    assert cli.main(["explain", "--campaign", "Microbiome Signature Project", "--kpi", "international_hires"]) == 0
    out = capsys.readouterr().out
    assert f"international_hires, period all, channel all: {figure:,}" in out
    assert f"contributions add up to {figure:,}" in out and f"Hires counted ({figure} rows" in out
    assert all(f in out for (f,) in exports)
    assert f"not counted ({excluded})" in out and "domestic (" in out
    assert "@" not in out
    assert cli.main(["explain", "--campaign", "microbiome_signature", "--kpi", "unique_visitors",
                     "--period", "period_2", "--channel", "linkedin"]) == 0
    visitors = query(published, "SELECT value FROM funnel WHERE campaign_id = 'microbiome_signature' AND "
                                "stage = 'unique_visitors' AND period = 'period_2' AND channel = 'linkedin'")[0][0]
    assert f"channel linkedin: {visitors:,}" in capsys.readouterr().out
    assert cli.main(["explain", "--campaign", "nope", "--kpi", "clicks"]) == 1
    assert "no campaign 'nope'" in capsys.readouterr().err


def _stage_and_build(raw, key: bytes = b"test-key") -> duckdb.DuckDBPyConnection:
    """The graph's staging and marts, without Dagster or Great Expectations: an in-memory warehouse."""
    con = duckdb.connect()
    ensure_schema(con)
    load_reference(con, read_reference(raw / "reference"))
    provenance.record_reference_files(con, raw / "reference")
    attribution = Attribution(con)
    stage.ingest_source(con, "reach", raw / "reach", RowParser("reach", lambda p: parse_reach(p, attribution)))
    stage.ingest_source(con, "visitors", raw / "visitors", VisitorParser())
    stage.ingest_source(con, "hiring", raw / "hiring", RowParser("hiring", lambda p: parse_hiring(p, attribution, key)))
    inputs = read_inputs(con)
    built = build_marts(inputs)
    built.update(provenance.build_audit(con, inputs, built))
    write_marts(con, built)
    return con


def test_provenance_adds_up_for_a_larger_generated_sample(tmp_path):
    raw = tmp_path / "raw"
    summary = generate_sample(raw, scale=3)
    con = _stage_and_build(raw)
    try:
        rows = con.execute(FIGURES_AND_CONTRIBUTIONS.format(db="marts.")).fetchall()
        checked = assert_every_figure_adds_up(rows, con.execute(UNPUBLISHED_SCOPES.format(db="marts.")).fetchall())
        assert checked > 200
        visitors = con.execute("SELECT result FROM marts.kpi_scorecard WHERE campaign_id = 'microbiome_signature' "
                               "AND kpi = 'unique_visitors' AND period = 'all'").fetchall()[0][0]
        assert visitors == summary["unique_visitors"]  # the generator's own count of what it wrote
        assert [o for o in checks.reconcile(con, "marts.kpi_provenance") if not o.passed] == []
        # The check fails when a contribution is off by one visitor.
        con.execute("UPDATE marts.kpi_provenance SET contribution = contribution + 1 WHERE kpi = 'unique_visitors' "
                    "AND period = 'all' AND channel = 'all' AND campaign_id = 'microbiome_signature' "
                    "AND source_file = 'sessions_2020.parquet'")
        failed = [o for o in checks.reconcile(con, "marts.kpi_provenance") if not o.passed]
        assert len(failed) == 1 and failed[0].failed_rows == 2  # the figure is published in kpi_scorecard and funnel
        assert "kpi='unique_visitors', period='all', channel='all'" in failed[0].message
    finally:
        con.close()
