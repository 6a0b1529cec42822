-- The published schema: what managers query in published.duckdb.
-- Built fresh in a candidate file each run, audited, then swapped in atomically.

CREATE TABLE campaigns (
    campaign_id  VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    start_date   DATE NOT NULL,
    end_date     DATE NOT NULL,
    budget_eur   DOUBLE,
    eu_grant_eur DOUBLE
);
COMMENT ON TABLE campaigns IS 'One row per talent campaign: its window, total budget and EU grant (EUR).';
COMMENT ON COLUMN campaigns.campaign_id IS 'Campaign identifier used by every other table.';
COMMENT ON COLUMN campaigns.name IS 'Campaign name as in the closing reports.';
COMMENT ON COLUMN campaigns.start_date IS 'First day of the campaign window (inclusive).';
COMMENT ON COLUMN campaigns.end_date IS 'Last day of the campaign window (inclusive).';
COMMENT ON COLUMN campaigns.budget_eur IS 'Total campaign budget in EUR.';
COMMENT ON COLUMN campaigns.eu_grant_eur IS 'EU grant in EUR.';

CREATE TABLE campaign_periods (
    campaign_id  VARCHAR NOT NULL,
    period       VARCHAR NOT NULL,
    start_date   DATE NOT NULL,
    end_date     DATE NOT NULL,
    utm_campaign VARCHAR,
    PRIMARY KEY (campaign_id, period)
);
COMMENT ON TABLE campaign_periods IS 'One row per talent-campaign period (advertising wave) of a campaign.';
COMMENT ON COLUMN campaign_periods.campaign_id IS 'Campaign the period belongs to.';
COMMENT ON COLUMN campaign_periods.period IS 'Period name, as used in the period column of every table.';
COMMENT ON COLUMN campaign_periods.start_date IS 'First day of the period (inclusive).';
COMMENT ON COLUMN campaign_periods.end_date IS 'Last day of the period (inclusive).';
COMMENT ON COLUMN campaign_periods.utm_campaign IS 'utm_campaign code the period''s ads and links carry.';

CREATE TABLE kpi_scorecard (
    campaign_id   VARCHAR NOT NULL,
    kpi           VARCHAR NOT NULL,
    period        VARCHAR NOT NULL,
    target        DOUBLE,
    result        BIGINT,
    pct_of_target DOUBLE,
    met           BOOLEAN,
    PRIMARY KEY (campaign_id, kpi, period)
);
COMMENT ON TABLE kpi_scorecard IS 'One row per campaign x KPI x period (''all'' = whole campaign): the closing report''s Table 1 and more.';
COMMENT ON COLUMN kpi_scorecard.campaign_id IS 'Campaign.';
COMMENT ON COLUMN kpi_scorecard.kpi IS 'impressions | clicks | unique_visitors | applications | international_hires | organisations_involved | organisations_established.';
COMMENT ON COLUMN kpi_scorecard.period IS 'Period name, or ''all'' for the whole campaign window.';
COMMENT ON COLUMN kpi_scorecard.target IS 'Target from kpi_targets.csv; NULL when none is set.';
COMMENT ON COLUMN kpi_scorecard.result IS 'Measured value; unique visitors are distinct over exactly this scope. NULL when the campaign has no exports of that source.';
COMMENT ON COLUMN kpi_scorecard.pct_of_target IS 'result / target x 100, one decimal.';
COMMENT ON COLUMN kpi_scorecard.met IS 'result >= target; NULL without a target or a result.';

CREATE TABLE funnel (
    campaign_id        VARCHAR NOT NULL,
    period             VARCHAR NOT NULL,
    channel            VARCHAR NOT NULL,
    stage              VARCHAR NOT NULL,
    stage_order        INTEGER NOT NULL,
    value              BIGINT,
    step_conversion    DOUBLE,
    overall_conversion DOUBLE,
    PRIMARY KEY (campaign_id, period, channel, stage)
);
COMMENT ON TABLE funnel IS 'One row per campaign x period x channel x funnel stage (impressions -> clicks -> unique_visitors -> applications -> hires).';
COMMENT ON COLUMN funnel.campaign_id IS 'Campaign.';
COMMENT ON COLUMN funnel.period IS 'Period name, or ''all'' for the whole campaign.';
COMMENT ON COLUMN funnel.channel IS 'linkedin | meta | google_ads | organic | direct | referral, or ''all''.';
COMMENT ON COLUMN funnel.stage IS 'impressions | clicks | unique_visitors | applications | hires (international hires, as in kpi_scorecard).';
COMMENT ON COLUMN funnel.stage_order IS '1 for impressions .. 5 for hires.';
COMMENT ON COLUMN funnel.value IS 'Stage value at this scope; unique visitors are an exact distinct count at this grain, never a sum. NULL where the channel has no such stage (impressions of direct traffic).';
COMMENT ON COLUMN funnel.step_conversion IS 'value / value of the previous stage (a ratio, 0.05 = 5 %).';
COMMENT ON COLUMN funnel.overall_conversion IS 'value / impressions of the same scope (a ratio).';

CREATE TABLE hires_vs_target (
    campaign_id   VARCHAR NOT NULL,
    period        VARCHAR NOT NULL,
    organisation  VARCHAR NOT NULL,
    hires         BIGINT NOT NULL,
    target        DOUBLE,
    pct_of_target DOUBLE,
    PRIMARY KEY (campaign_id, period, organisation)
);
COMMENT ON TABLE hires_vs_target IS 'One row per campaign x period x participating organisation, plus organisation = ''all'': international hires against target.';
COMMENT ON COLUMN hires_vs_target.campaign_id IS 'Campaign.';
COMMENT ON COLUMN hires_vs_target.period IS 'Period of the hire''s application, or ''all'' (every qualifying hire in the window).';
COMMENT ON COLUMN hires_vs_target.organisation IS 'Hiring organisation as named in the register, or ''all''.';
COMMENT ON COLUMN hires_vs_target.hires IS 'Distinct international candidates hired (DK/SE residents excluded).';
COMMENT ON COLUMN hires_vs_target.target IS 'Hire target; set per campaign and period, so only on organisation = ''all'' rows.';
COMMENT ON COLUMN hires_vs_target.pct_of_target IS 'hires / target x 100, one decimal.';

CREATE TABLE hires_over_time (
    campaign_id      VARCHAR NOT NULL,
    week_start       DATE NOT NULL,
    hires            BIGINT NOT NULL,
    cumulative_hires BIGINT NOT NULL,
    target           DOUBLE,
    PRIMARY KEY (campaign_id, week_start)
);
COMMENT ON TABLE hires_over_time IS 'One row per campaign x ISO week (Monday) of its window: international hires that week and cumulative.';
COMMENT ON COLUMN hires_over_time.campaign_id IS 'Campaign.';
COMMENT ON COLUMN hires_over_time.week_start IS 'Monday of the week (hire date).';
COMMENT ON COLUMN hires_over_time.hires IS 'International hires with a hire date in that week.';
COMMENT ON COLUMN hires_over_time.cumulative_hires IS 'International hires from the campaign start to the end of that week.';
COMMENT ON COLUMN hires_over_time.target IS 'Whole-campaign hire target (the line to reach).';

CREATE TABLE time_to_hire (
    campaign_id         VARCHAR NOT NULL,
    period              VARCHAR NOT NULL,
    organisation        VARCHAR NOT NULL,
    hires               BIGINT NOT NULL,
    median_days_to_hire DOUBLE NOT NULL,
    p75_days_to_hire    DOUBLE NOT NULL,
    PRIMARY KEY (campaign_id, period, organisation)
);
COMMENT ON TABLE time_to_hire IS 'One row per campaign x period x hiring organisation (and ''all'') with at least one counted international hire: days from application to hire.';
COMMENT ON COLUMN time_to_hire.campaign_id IS 'Campaign.';
COMMENT ON COLUMN time_to_hire.period IS 'Period of the hire''s application, or ''all'' (every counted hire), as in hires_vs_target.';
COMMENT ON COLUMN time_to_hire.organisation IS 'Hiring organisation as named in the register, or ''all''.';
COMMENT ON COLUMN time_to_hire.hires IS 'Counted international hires behind the figures: the same candidates as hires_vs_target.hires (DK/SE residents, hires outside the window and duplicates are not in them).';
COMMENT ON COLUMN time_to_hire.median_days_to_hire IS 'Median of hire_date - application date, in days; linear interpolation between the two middle hires (DuckDB quantile_cont).';
COMMENT ON COLUMN time_to_hire.p75_days_to_hire IS '75th percentile of hire_date - application date, in days; linear interpolation at position 0.75 x (hires - 1) of the sorted days (DuckDB quantile_cont).';

CREATE TABLE cost_per_outcome (
    campaign_id              VARCHAR NOT NULL,
    period                   VARCHAR NOT NULL,
    channel                  VARCHAR NOT NULL,
    spend_eur                DOUBLE,
    clicks                   BIGINT,
    unique_visitors          BIGINT,
    applications             BIGINT,
    hires                    BIGINT,
    cost_per_click_eur       DOUBLE,
    cost_per_visitor_eur     DOUBLE,
    cost_per_application_eur DOUBLE,
    cost_per_hire_eur        DOUBLE,
    PRIMARY KEY (campaign_id, period, channel)
);
COMMENT ON TABLE cost_per_outcome IS 'One row per campaign x period x paid channel (and ''all''): ad spend in EUR and cost per click, visitor, application and hire.';
COMMENT ON COLUMN cost_per_outcome.campaign_id IS 'Campaign.';
COMMENT ON COLUMN cost_per_outcome.period IS 'Period name, or ''all''.';
COMMENT ON COLUMN cost_per_outcome.channel IS 'linkedin | meta | google_ads, or ''all'' (all spend over all outcomes, organic included).';
COMMENT ON COLUMN cost_per_outcome.spend_eur IS 'Ad spend converted to EUR with fx_rates.csv.';
COMMENT ON COLUMN cost_per_outcome.clicks IS 'Landing-page or link clicks.';
COMMENT ON COLUMN cost_per_outcome.unique_visitors IS 'Distinct visitors of this scope.';
COMMENT ON COLUMN cost_per_outcome.applications IS 'Distinct campaign applications of this scope.';
COMMENT ON COLUMN cost_per_outcome.hires IS 'International hires of this scope.';
COMMENT ON COLUMN cost_per_outcome.cost_per_click_eur IS 'spend_eur / clicks; NULL when there are none.';
COMMENT ON COLUMN cost_per_outcome.cost_per_visitor_eur IS 'spend_eur / unique_visitors; NULL when there are none.';
COMMENT ON COLUMN cost_per_outcome.cost_per_application_eur IS 'spend_eur / applications; NULL when there are none.';
COMMENT ON COLUMN cost_per_outcome.cost_per_hire_eur IS 'spend_eur / hires; NULL when there are none.';

CREATE TABLE weekly_reach (
    campaign_id     VARCHAR NOT NULL,
    week_start      DATE NOT NULL,
    impressions     BIGINT NOT NULL,
    clicks          BIGINT NOT NULL,
    unique_visitors BIGINT NOT NULL,
    spend_eur       DOUBLE,
    PRIMARY KEY (campaign_id, week_start)
);
COMMENT ON TABLE weekly_reach IS 'One row per campaign x ISO week with ad impressions, clicks, spend and the week''s distinct site visitors.';
COMMENT ON COLUMN weekly_reach.campaign_id IS 'Campaign.';
COMMENT ON COLUMN weekly_reach.week_start IS 'Monday of the week.';
COMMENT ON COLUMN weekly_reach.impressions IS 'Impressions on all ad platforms that week.';
COMMENT ON COLUMN weekly_reach.clicks IS 'Landing-page or link clicks that week.';
COMMENT ON COLUMN weekly_reach.unique_visitors IS 'Distinct site visitors that week (not additive across weeks).';
COMMENT ON COLUMN weekly_reach.spend_eur IS 'Ad spend that week in EUR.';

CREATE TABLE publication (
    published_at TIMESTAMP NOT NULL,
    run_id       VARCHAR,
    files_loaded BIGINT,
    rows_staged  BIGINT,
    rows_quarantined BIGINT,
    ledger       STRUCT(load_order BIGINT, source VARCHAR, file_name VARCHAR, file_hash VARCHAR,
                        rows_loaded BIGINT, rows_quarantined BIGINT)[],
    reference_files STRUCT(file_name VARCHAR, file_hash VARCHAR)[],
    pii_key_fingerprint VARCHAR,
    staging_rules_version VARCHAR
);
COMMENT ON TABLE publication IS 'One row: when and by which run this file was published, and what it was built from.';
COMMENT ON COLUMN publication.published_at IS 'UTC time the candidate passed its audit and was swapped in.';
COMMENT ON COLUMN publication.run_id IS 'Dagster run id that built it.';
COMMENT ON COLUMN publication.files_loaded IS 'Export files in the ledger that this publication is built from.';
COMMENT ON COLUMN publication.rows_staged IS 'Staged rows (reach + sessions + applications) behind it.';
COMMENT ON COLUMN publication.rows_quarantined IS 'Rows quarantined from those files (see the pipeline''s quarantine table).';
COMMENT ON COLUMN publication.ledger IS 'The ledger state it was built from: every export with status loaded, in load order (source, file name, SHA-256, rows loaded and quarantined). The same files loaded in this order into a fresh warehouse, with the same reference files and PII key, rebuild this publication.';
COMMENT ON COLUMN publication.reference_files IS 'The reference files (name, SHA-256) the run loaded.';
COMMENT ON COLUMN publication.pii_key_fingerprint IS 'Identifies the HMAC key of the candidate keys without revealing it (a rebuild needs the same key).';
COMMENT ON COLUMN publication.staging_rules_version IS 'Version of the parsing and attribution rules the exports were staged with.';

CREATE TABLE kpi_provenance (
    campaign_id  VARCHAR NOT NULL,
    kpi          VARCHAR NOT NULL,
    period       VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    file_hash    VARCHAR NOT NULL,
    rows_counted BIGINT NOT NULL,
    contribution DOUBLE NOT NULL,
    PRIMARY KEY (campaign_id, kpi, period, channel, file_hash)
);
COMMENT ON TABLE kpi_provenance IS 'One row per published figure (campaign x KPI x period x channel, incl. ''all'') x export that contributes to it. For every kpi_scorecard row, funnel value and cost_per_outcome spend, sum(contribution) over its exports equals the figure exactly (a blocking check enforces it).';
COMMENT ON COLUMN kpi_provenance.campaign_id IS 'Campaign.';
COMMENT ON COLUMN kpi_provenance.kpi IS 'impressions | clicks | spend_eur | unique_visitors | applications | international_hires | organisations_involved | organisations_established.';
COMMENT ON COLUMN kpi_provenance.period IS 'Period name, or ''all''.';
COMMENT ON COLUMN kpi_provenance.channel IS 'Channel, or ''all'' (kpi_scorecard figures are channel ''all'').';
COMMENT ON COLUMN kpi_provenance.source_file IS 'The export (file name as loaded); organisations.csv (the register) for the organisation KPIs.';
COMMENT ON COLUMN kpi_provenance.file_hash IS 'SHA-256 of the export''s content, as in the ledger.';
COMMENT ON COLUMN kpi_provenance.rows_counted IS 'Rows of this export behind the figure: for impressions, clicks and spend the rows left after de-duplication (the latest load of a date x channel x campaign x ad set); for distinct counts every row of a counted unit (sessions of counted visitors, rows of counted applications and hires, register rows).';
COMMENT ON COLUMN kpi_provenance.contribution IS 'What this export adds to the figure: impressions, clicks or spend (EUR, in whole cents apportioned to add up to the rounded figure) of its de-duplicated rows; for distinct counts the units first counted from it in load order (a visitor, application or hire seen in an earlier export counts there).';

CREATE TABLE hire_register (
    campaign_id  VARCHAR,
    organisation VARCHAR NOT NULL,
    org_id       VARCHAR,
    candidate_ref VARCHAR NOT NULL,
    applied_on   DATE NOT NULL,
    hire_date    DATE NOT NULL,
    period       VARCHAR,
    channel      VARCHAR NOT NULL,
    country_code VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    file_hash    VARCHAR NOT NULL,
    line_number  BIGINT NOT NULL,
    counted      BOOLEAN NOT NULL,
    excluded_by  VARCHAR,
    PRIMARY KEY (file_hash, line_number)
);
COMMENT ON TABLE hire_register IS 'One row per hire seen in any loaded export (a hiring-export line with stage hired), counted or not. A campaign''s counted rows are its international_hires; an application is judged once, on its latest loaded version, and the verdict goes to its first row in load order.';
COMMENT ON COLUMN hire_register.campaign_id IS 'Campaign the application is attributed to; NULL when none.';
COMMENT ON COLUMN hire_register.organisation IS 'Hiring organisation as named in the register (as written in the export when not in the register).';
COMMENT ON COLUMN hire_register.org_id IS 'Register id of the organisation; NULL when it is not in the register.';
COMMENT ON COLUMN hire_register.candidate_ref IS 'Short pseudonymous candidate reference: the first 10 hex characters of the HMAC candidate key (never a name or e-mail).';
COMMENT ON COLUMN hire_register.applied_on IS 'Application date.';
COMMENT ON COLUMN hire_register.hire_date IS 'Hire date.';
COMMENT ON COLUMN hire_register.period IS 'Period of the application (the wave that brought the candidate); NULL outside every period (counts only in ''all'').';
COMMENT ON COLUMN hire_register.channel IS 'Channel that brought the application.';
COMMENT ON COLUMN hire_register.country_code IS 'Country of residence (ISO 3166-1 alpha-2).';
COMMENT ON COLUMN hire_register.source_file IS 'Export the row is in (file name as loaded).';
COMMENT ON COLUMN hire_register.file_hash IS 'SHA-256 of that export, as in the ledger.';
COMMENT ON COLUMN hire_register.line_number IS 'Line of the row in that export (Excel row number for .xlsx).';
COMMENT ON COLUMN hire_register.counted IS 'TRUE when the row counts in international_hires.';
COMMENT ON COLUMN hire_register.excluded_by IS 'Why not counted, the first rule that failed: duplicate (of an earlier export) | superseded (a later export records no hire) | not_attributed | outside_window | organisation_not_participating | domestic (DK/SE resident) | repeat_hire (candidate already counted). NULL when counted.';

CREATE TABLE exports (
    file_name        VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    layout           VARCHAR,
    status           VARCHAR NOT NULL,
    data_lines       BIGINT,
    rows_loaded      BIGINT,
    rows_quarantined BIGINT,
    message          VARCHAR,
    first_seen       TIMESTAMP NOT NULL,
    hash_prefix      VARCHAR
);
COMMENT ON TABLE exports IS 'One row per file seen in a landing folder, with its one outcome. loaded + quarantined = data lines for every loaded file.';
COMMENT ON COLUMN exports.file_name IS 'The file''s name when it was first seen.';
COMMENT ON COLUMN exports.source IS 'Landing folder: reach, visitors, hiring or reference (stray files there).';
COMMENT ON COLUMN exports.layout IS 'Recognised layout (from its header), e.g. meta_ads_manager; NULL when not recognised.';
COMMENT ON COLUMN exports.status IS 'loaded, duplicate (same content as another file), superseded (by a corrected re-export), withdrawn, rejected (see message), ignored (a temporary or system file) or removed (rejected or ignored, and since taken out of the landing folder).';
COMMENT ON COLUMN exports.data_lines IS 'Data lines in the file (title lines, header, footers and empty lines excluded).';
COMMENT ON COLUMN exports.rows_loaded IS 'Data lines staged and counted in the figures.';
COMMENT ON COLUMN exports.rows_quarantined IS 'Data lines held back (see data_issues); they count nowhere.';
COMMENT ON COLUMN exports.message IS 'Why it was rejected, ignored or superseded, naming file, line and column where there is one.';
COMMENT ON COLUMN exports.first_seen IS 'UTC time the pipeline first recorded this file''s outcome.';
COMMENT ON COLUMN exports.hash_prefix IS 'First 12 characters of the file''s SHA-256 (its identity); NULL for outcomes decided by the name.';

CREATE TABLE data_issues (
    source      VARCHAR NOT NULL,
    file_name   VARCHAR NOT NULL,
    line_number BIGINT,
    column_name VARCHAR,
    rule        VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    value       VARCHAR,
    scope       VARCHAR NOT NULL,
    campaign_id VARCHAR
);
COMMENT ON TABLE data_issues IS 'One row per quarantined row or rejected file: what the published figures leave out, and why. Never holds a personal value.';
COMMENT ON COLUMN data_issues.source IS 'Landing folder: reach, visitors or hiring.';
COMMENT ON COLUMN data_issues.file_name IS 'The export file.';
COMMENT ON COLUMN data_issues.line_number IS 'Physical line (Excel row) in the file; NULL when the whole file is concerned and no line is known.';
COMMENT ON COLUMN data_issues.column_name IS 'The column at fault, when one is.';
COMMENT ON COLUMN data_issues.rule IS 'The rule broken: a declared type (contracts.toml), a staged check''s rule, or a file-level rule.';
COMMENT ON COLUMN data_issues.reason IS 'What was wrong, in words.';
COMMENT ON COLUMN data_issues.value IS 'The offending cell, where it is not personal data (never a name, e-mail, phone number or pseudonymous id).';
COMMENT ON COLUMN data_issues.campaign_id IS 'The campaign the row was attributed to before it was held back; NULL when it could not be read that far (a rejected file, an unreadable cell): it may belong to any campaign.';
COMMENT ON COLUMN data_issues.scope IS 'row (the row counts nowhere) or file (the whole file was rejected and counts nowhere).';

-- Table 1 of the closing report, as managers ask for it.
CREATE VIEW table_1 AS
SELECT c.name AS campaign,
       CASE s.kpi
         WHEN 'organisations_established' THEN 'Organisations established in the region'
         WHEN 'organisations_involved' THEN 'Regional organisations involved in talent campaign'
         WHEN 'international_hires' THEN 'International talents hired'
       END AS kpi,
       s.target, s.result, s.pct_of_target, s.met
FROM kpi_scorecard s JOIN campaigns c USING (campaign_id)
WHERE s.period = 'all'
  AND s.kpi IN ('organisations_established', 'organisations_involved', 'international_hires')
ORDER BY c.name, CASE s.kpi WHEN 'organisations_established' THEN 1 WHEN 'organisations_involved' THEN 2 ELSE 3 END;
COMMENT ON VIEW table_1 IS 'The closing report''s Table 1 (whole campaign): target and result per KPI.';
COMMENT ON COLUMN table_1.campaign IS 'Campaign name (campaigns.name).';
COMMENT ON COLUMN table_1.kpi IS 'The KPI as the closing report words it: organisations established, organisations involved, international talents hired.';
COMMENT ON COLUMN table_1.target IS 'Whole-campaign target (kpi_scorecard.target).';
COMMENT ON COLUMN table_1.result IS 'Whole-campaign result (kpi_scorecard.result).';
COMMENT ON COLUMN table_1.pct_of_target IS 'result / target x 100, one decimal.';
COMMENT ON COLUMN table_1.met IS 'result >= target.';
