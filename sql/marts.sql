-- The mart tables: the one declaration of each mart's columns, types, NOT NULL and key (its grain),
-- with the data dictionary (COMMENT ON). Created in the current schema: the warehouse's marts
-- schema (assets/marts/tables.py write_marts fills them BY NAME from the Polars marts) and the
-- published file (assets/publish/database.py, before sql/published.sql). Names are unqualified.

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
