-- Benchmark baseline: the published kpi_scorecard results computed by one bare DuckDB SQL script,
-- straight from the raw exports, with no ledger, no quarantine table, no checks and no Dagster.
-- It is the practical lower bound the pipeline is compared with (bench/run_benchmark.py).
--
-- bench/baseline_duckdb.py runs it. The driver only lists the landing folders, tells the layouts
-- apart by their header line (as the pipeline does), converts .xlsx templates to CSV (DuckDB's
-- excel extension cannot be installed offline) and passes the file lists as variables:
--   raw_dir; linkedin_files, meta_files, google_utf8_files, google_utf16_files (reach);
--   ats_files, template_utf8_files (comma CSVs, converted .xlsx included),
--   template_cp1252_files (';' CSVs saved by a Danish Excel); visitor_parquet_files, visitor_csv_files.
-- An empty group gets a header-only stub file, so every read_csv has at least one file.
--
-- The rules are those of /work/shared/data-contract.md and the README, written again in SQL:
-- a row the pipeline quarantines is simply not counted here; "latest delivery wins" orders files
-- by modification time, then name (as the pipeline's landing order); a corrected re-export is not
-- detected (the generated data has none). Google's UTF-16 export is read with encoding='utf-16';
-- the cp1252 template with encoding='latin-1' (DuckDB has no cp1252 without the encodings
-- extension; the two differ only in 0x80-0x9F, which the organisation and country columns do not
-- use). The result is one row per campaign x KPI x period: the `result` column of kpi_scorecard.

CREATE OR REPLACE TEMP TABLE campaigns AS
SELECT * FROM read_csv(getvariable('raw_dir') || '/reference/campaigns.csv', header = true,
    columns = {'campaign_id': 'VARCHAR', 'name': 'VARCHAR', 'start_date': 'DATE', 'end_date': 'DATE',
               'budget_eur': 'DOUBLE', 'eu_grant_eur': 'DOUBLE'})
WHERE coalesce(trim(campaign_id), '') <> '';

CREATE OR REPLACE TEMP TABLE campaign_periods AS
SELECT * FROM read_csv(getvariable('raw_dir') || '/reference/campaign_periods.csv', header = true,
    columns = {'campaign_id': 'VARCHAR', 'period': 'VARCHAR', 'start_date': 'DATE', 'end_date': 'DATE',
               'utm_campaign': 'VARCHAR'})
WHERE coalesce(trim(campaign_id), '') <> '';

CREATE OR REPLACE TEMP TABLE organisations AS
SELECT * FROM read_csv(getvariable('raw_dir') || '/reference/organisations.csv', header = true,
    columns = {'org_id': 'VARCHAR', 'name': 'VARCHAR', 'country': 'VARCHAR', 'city': 'VARCHAR', 'sector': 'VARCHAR',
               'talent_campaign_joined_on': 'DATE', 'established_in_region_on': 'DATE'})
WHERE coalesce(trim(org_id), '') <> '';

CREATE OR REPLACE TEMP TABLE fx_rates AS
SELECT upper(trim(currency)) AS currency FROM read_csv(getvariable('raw_dir') || '/reference/fx_rates.csv',
    header = true, all_varchar = true)
UNION SELECT 'EUR';

-- A text names a campaign when it contains the campaign id, its name or a utm code; longest match wins.
CREATE OR REPLACE TEMP TABLE patterns AS
SELECT lower(campaign_id) AS pattern, campaign_id FROM campaigns
UNION ALL SELECT lower(name), campaign_id FROM campaigns WHERE name IS NOT NULL
UNION ALL SELECT lower(utm_campaign), campaign_id FROM campaign_periods WHERE coalesce(utm_campaign, '') <> '';

CREATE OR REPLACE MACRO campaign_named_in(text) AS (
    SELECT arg_max(campaign_id, length(pattern)) FROM patterns WHERE contains(lower(text), pattern)
);
CREATE OR REPLACE MACRO period_of(cid, day) AS (
    SELECT min(period) FROM campaign_periods p WHERE p.campaign_id = cid AND day BETWEEN p.start_date AND p.end_date
);
CREATE OR REPLACE MACRO is_empty(x) AS coalesce(lower(trim(x)), '') IN ('', '--', '-', 'n/a', 'null', 'none');
-- '1,234' (US thousands) and '1 234' / '1.234' (European thousands, decimal comma) as integers.
CREATE OR REPLACE MACRO us_count(x) AS TRY_CAST(replace(replace(trim(x), ',', ''), ' ', '') AS BIGINT);
CREATE OR REPLACE MACRO eu_count(x) AS
    TRY_CAST(replace(replace(replace(replace(trim(x), ' ', ''), chr(160), ''), '.', ''), ',', '.') AS DOUBLE);

-- File order for "latest delivery wins": modification time, then name.
CREATE OR REPLACE TEMP TABLE file_order AS
SELECT filename, row_number() OVER (ORDER BY last_modified, filename) AS file_seq
FROM read_blob(list_concat(getvariable('linkedin_files'), getvariable('meta_files'),
                           getvariable('google_utf8_files'), getvariable('google_utf16_files'),
                           getvariable('ats_files'), getvariable('template_utf8_files'),
                           getvariable('template_cp1252_files')));

-- --- reach ------------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE reach_raw AS
SELECT 'linkedin' AS channel, try_strptime(trim("Start Date (in UTC)"), '%m/%d/%Y')::DATE AS day,
       "Campaign Name" AS platform_campaign, NULL::VARCHAR AS ad_set, "Campaign ID" AS platform_campaign_id,
       us_count("Impressions") AS impressions, coalesce(us_count("Clicks to Landing Page"), 0) AS clicks,
       upper(trim("Currency")) AS currency, filename
FROM read_csv(getvariable('linkedin_files'), skip = 4, header = true, all_varchar = true, filename = true)
UNION ALL
SELECT 'meta', try_strptime(trim("Day"), '%Y-%m-%d')::DATE, "Campaign name", "Ad set name", NULL,
       eu_count("Impressions")::BIGINT, coalesce(eu_count("Link clicks"), 0)::BIGINT,
       upper(trim(coalesce("Currency", ''))), filename
FROM read_csv(getvariable('meta_files'), delim = ';', header = true, all_varchar = true, filename = true)
UNION ALL
SELECT 'google_ads', try_strptime(trim("Day"), '%Y-%m-%d')::DATE, "Campaign", NULL, "Campaign ID",
       us_count("Impr."), coalesce(us_count("Clicks"), 0), upper(trim("Currency code")), filename
FROM read_csv(getvariable('google_utf8_files'), skip = 2, header = true, all_varchar = true, filename = true)
WHERE NOT starts_with(lower(trim("Day")), 'total:')
UNION ALL
SELECT 'google_ads', try_strptime(trim("Day"), '%Y-%m-%d')::DATE, "Campaign", NULL, "Campaign ID",
       us_count("Impr."), coalesce(us_count("Clicks"), 0), upper(trim("Currency code")), filename
FROM read_csv(getvariable('google_utf16_files'), encoding = 'utf-16', delim = '\t', skip = 2, header = true,
              all_varchar = true, filename = true)
WHERE NOT starts_with(lower(trim("Day")), 'total:');

-- Attributed rows inside a period of their campaign, with a known currency; the latest delivery of a
-- date x channel x platform campaign x ad set wins.
CREATE OR REPLACE TEMP TABLE reach AS
WITH attributed AS (
    SELECT r.*, campaign_named_in(concat_ws(' ', platform_campaign, ad_set)) AS campaign_id
    FROM reach_raw r
    WHERE day IS NOT NULL AND impressions IS NOT NULL AND coalesce(platform_campaign, '') <> ''
)
SELECT a.*, period_of(a.campaign_id, a.day) AS period
FROM attributed a JOIN file_order USING (filename)
WHERE a.campaign_id IS NOT NULL AND period_of(a.campaign_id, a.day) IS NOT NULL
  AND a.currency IN (SELECT currency FROM fx_rates)
QUALIFY row_number() OVER (PARTITION BY day, channel, platform_campaign, ad_set, platform_campaign_id
                           ORDER BY file_seq DESC) = 1;

-- --- visitors --------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE day_campaign AS
SELECT CAST(d AS DATE) AS day, min(campaign_id) AS campaign_id
FROM campaigns, generate_series(start_date::TIMESTAMP, end_date::TIMESTAMP, INTERVAL 1 DAY) AS t(d)
GROUP BY 1;

CREATE OR REPLACE TEMP TABLE visitor_counts AS
WITH sessions AS (
    SELECT CAST(event_date AS VARCHAR) AS event_date, CAST(user_pseudo_id AS VARCHAR) AS user_pseudo_id,
           CAST(ga_session_id AS VARCHAR) AS ga_session_id, CAST(session_campaign AS VARCHAR) AS session_campaign,
           CAST(engaged_session AS VARCHAR) AS engaged_session
    FROM read_parquet(getvariable('visitor_parquet_files'))
    UNION ALL
    SELECT event_date, user_pseudo_id, ga_session_id, session_campaign, engaged_session
    FROM read_csv(getvariable('visitor_csv_files'), header = true, all_varchar = true, delim = ',', quote = '"')
), typed AS (
    SELECT coalesce(try_strptime(trim(event_date), '%Y%m%d'), try_strptime(trim(event_date), '%Y-%m-%d'))::DATE AS day,
           trim(user_pseudo_id) AS user_pseudo_id, lower(trim(session_campaign)) AS code
    FROM sessions
    WHERE TRY_CAST(trim(ga_session_id) AS BIGINT) IS NOT NULL
      AND TRY_CAST(trim(engaged_session) AS INTEGER) IN (0, 1)
), utm AS (
    SELECT lower(utm_campaign) AS code, min(campaign_id) AS campaign_id FROM campaign_periods GROUP BY 1
), attributed AS (
    -- The utm code names the campaign; otherwise the campaign whose window holds the date.
    SELECT t.user_pseudo_id, t.day, coalesce(u.campaign_id, w.campaign_id) AS campaign_id
    FROM typed t LEFT JOIN utm u USING (code) LEFT JOIN day_campaign w USING (day)
    WHERE t.day IS NOT NULL AND coalesce(t.user_pseudo_id, '') <> ''
)
SELECT a.campaign_id, CASE WHEN grouping(p.period) = 1 THEN 'all' ELSE p.period END AS period,
       count(DISTINCT a.user_pseudo_id) AS value
FROM attributed a
LEFT JOIN campaign_periods p ON p.campaign_id = a.campaign_id AND a.day BETWEEN p.start_date AND p.end_date
WHERE a.campaign_id IS NOT NULL
GROUP BY GROUPING SETS ((a.campaign_id, p.period), (a.campaign_id))
HAVING grouping(p.period) = 1 OR p.period IS NOT NULL;

-- --- hiring ----------------------------------------------------------------------------------
-- Spellings of a country of residence: every ISO 3166-1 alpha-2 code, and the names in English,
-- Danish and Swedish of the countries in the exports. Anything else is not counted (quarantined).
CREATE OR REPLACE TEMP TABLE country_names AS
SELECT lower(code) AS spelling, code FROM unnest(string_split(
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA '
    'CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA '
    'GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP '
    'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS '
    'MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS '
    'RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW '
    'TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW', ' ')) AS t(code)
UNION ALL
SELECT * FROM (VALUES
    ('denmark', 'DK'), ('danmark', 'DK'), ('sweden', 'SE'), ('sverige', 'SE'), ('norway', 'NO'), ('norge', 'NO'),
    ('germany', 'DE'), ('tyskland', 'DE'), ('india', 'IN'), ('indien', 'IN'), ('france', 'FR'), ('frankrig', 'FR'),
    ('frankrike', 'FR'), ('spain', 'ES'), ('spanien', 'ES'), ('poland', 'PL'), ('polen', 'PL'), ('italy', 'IT'),
    ('italien', 'IT'), ('china', 'CN'), ('kina', 'CN'), ('netherlands', 'NL'), ('holland', 'NL'),
    ('nederländerna', 'NL'), ('nederlandene', 'NL'), ('united states', 'US'), ('usa', 'US'),
    ('united kingdom', 'GB'), ('uk', 'GB'), ('storbritannien', 'GB'), ('portugal', 'PT'), ('greece', 'GR'),
    ('grækenland', 'GR'), ('grekland', 'GR'), ('iran', 'IR'), ('brazil', 'BR'), ('brasilien', 'BR'),
    ('turkey', 'TR'), ('tyrkiet', 'TR'), ('turkiet', 'TR')
);

CREATE OR REPLACE MACRO country_of(x) AS (
    SELECT min(code) FROM country_names WHERE spelling = lower(regexp_replace(trim(x), '\s+', ' ', 'g'))
);
CREATE OR REPLACE MACRO org_key(x) AS lower(regexp_replace(trim(x), '\s+', ' ', 'g'));
CREATE OR REPLACE TEMP TABLE org_lookup AS
SELECT lower(org_id) AS org_key, org_id FROM organisations
UNION SELECT org_key(name), org_id FROM organisations;
CREATE OR REPLACE MACRO day_first(x) AS coalesce(
    try_strptime(split_part(trim(x), ' ', 1), '%Y-%m-%d'), try_strptime(split_part(trim(x), ' ', 1), '%d-%m-%Y'),
    try_strptime(split_part(trim(x), ' ', 1), '%d.%m.%Y'), try_strptime(split_part(trim(x), ' ', 1), '%d/%m/%Y'))::DATE;

CREATE OR REPLACE TEMP TABLE ats AS
SELECT trim(id) AS application_id, trim(organisation) AS organisation_name, lower(trim(stage)) AS stage,
       TRY_CAST(left(trim(created_at), 10) AS DATE) AS applied_on,
       TRY_CAST(left(trim(changed_stage_at), 10) AS DATE) AS changed_on, candidate_email, candidate_id,
       concat_ws(' ', nullif(referring_site, ''), nullif(referring_url, '')) AS source_text,
       country_of(candidate_country) AS country_code, filename
FROM read_csv(getvariable('ats_files'), header = true, all_varchar = true, filename = true);

CREATE OR REPLACE TEMP TABLE template AS
WITH t AS (
    SELECT trim("Organisation") AS organisation_name, "Candidate reference" AS reference, "Email" AS email,
           coalesce("Job title", '') AS job_title, "Application date" AS applied_raw, "Hire date" AS hire_raw,
           "Country of residence" AS country_raw, "Source" AS source_text, filename
    FROM read_csv(getvariable('template_utf8_files'), header = true, all_varchar = true, filename = true)
    UNION ALL
    SELECT trim("Organisation"), "Candidate reference", "Email", coalesce("Job title", ''), "Application date",
           "Hire date", "Country of residence", "Source", filename
    FROM read_csv(getvariable('template_cp1252_files'), encoding = 'latin-1', delim = ';', header = true,
                  all_varchar = true, filename = true)
)
SELECT *, day_first(applied_raw) AS applied_on, day_first(hire_raw) AS hire_date, country_of(country_raw) AS country_code
FROM t;

-- One row per readable application; keys are plain text here (the pipeline HMACs the e-mail, which
-- gives the same distinct counts), and they never leave this connection.
CREATE OR REPLACE MACRO candidate_of(email, key_org, fallback) AS
    CASE WHEN trim(coalesce(email, '')) <> '' THEN 'email:' || lower(trim(email))
         ELSE 'ref:' || lower(trim(key_org || ':' || coalesce(fallback, ''))) END;

CREATE OR REPLACE TEMP TABLE applications AS
WITH ats_rows AS (
    SELECT coalesce(o.org_id, org_key(a.organisation_name)) AS key_org, o.org_id, a.*
    FROM ats a LEFT JOIN org_lookup o ON o.org_key = org_key(a.organisation_name)
    WHERE a.application_id <> '' AND coalesce(a.organisation_name, '') <> ''
      AND a.stage IN ('applied', 'screening', 'interview', 'offer', 'hired', 'rejected')
      AND a.applied_on IS NOT NULL AND NOT (a.stage = 'hired' AND a.changed_on IS NULL)
      AND a.country_code IS NOT NULL
), template_rows AS (
    SELECT coalesce(o.org_id, org_key(t.organisation_name)) AS key_org, o.org_id, t.*,
           candidate_of(t.email, key_org, t.reference) AS candidate
    FROM template t LEFT JOIN org_lookup o ON o.org_key = org_key(t.organisation_name)
    WHERE coalesce(t.organisation_name, '') <> '' AND t.applied_on IS NOT NULL
      AND (is_empty(t.hire_raw) OR t.hire_date IS NOT NULL)
      AND (trim(coalesce(t.reference, '')) <> '' OR trim(coalesce(t.email, '')) <> '')
      AND t.country_code IS NOT NULL
)
SELECT 'ats|' || key_org || '|' || application_id AS application_key, org_id, applied_on,
       CASE WHEN stage = 'hired' THEN changed_on END AS hire_date, country_code,
       candidate_of(candidate_email, key_org, candidate_id) AS candidate,
       campaign_named_in(source_text) AS campaign_id, filename
FROM ats_rows
UNION ALL
SELECT 'template|' || key_org || '|' || candidate || '|' || job_title || '|' || strftime(applied_on, '%Y-%m-%d'),
       org_id, applied_on, hire_date, country_code, candidate, campaign_named_in(source_text), filename
FROM template_rows;

-- The same application in two exports counts once: the latest delivery wins.
CREATE OR REPLACE TEMP TABLE applications_deduped AS
SELECT a.* FROM applications a JOIN file_order USING (filename)
QUALIFY row_number() OVER (PARTITION BY application_key ORDER BY file_seq DESC) = 1;

-- Applications of a campaign made inside its window; period: the one holding the application date.
CREATE OR REPLACE TEMP TABLE campaign_applications AS
SELECT a.*, period_of(a.campaign_id, a.applied_on) AS period
FROM applications_deduped a JOIN campaigns c USING (campaign_id)
WHERE a.applied_on BETWEEN c.start_date AND c.end_date;

-- International hires: hired inside the window by an organisation that joined by the campaign's end,
-- resident outside Denmark and Sweden; a candidate hired twice counts once (first hire, its period).
CREATE OR REPLACE TEMP TABLE international_hires AS
SELECT a.*, period_of(a.campaign_id, a.applied_on) AS period
FROM applications_deduped a
JOIN campaigns c USING (campaign_id)
JOIN organisations o USING (org_id)
WHERE a.hire_date IS NOT NULL AND a.hire_date BETWEEN c.start_date AND c.end_date
  AND o.talent_campaign_joined_on <= c.end_date AND a.country_code NOT IN ('DK', 'SE')
QUALIFY row_number() OVER (PARTITION BY a.campaign_id, a.candidate ORDER BY a.hire_date, a.application_key) = 1;

-- --- the scorecard ---------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE export_values AS
SELECT campaign_id, 'impressions' AS kpi, CASE WHEN grouping(period) = 1 THEN 'all' ELSE period END AS period,
       sum(impressions) AS value FROM reach
GROUP BY GROUPING SETS ((campaign_id, period), (campaign_id)) HAVING grouping(period) = 1 OR period IS NOT NULL
UNION ALL
SELECT campaign_id, 'clicks', CASE WHEN grouping(period) = 1 THEN 'all' ELSE period END, sum(clicks) FROM reach
GROUP BY GROUPING SETS ((campaign_id, period), (campaign_id)) HAVING grouping(period) = 1 OR period IS NOT NULL
UNION ALL
SELECT campaign_id, 'unique_visitors', period, value FROM visitor_counts
UNION ALL
SELECT campaign_id, 'applications', CASE WHEN grouping(period) = 1 THEN 'all' ELSE period END, count(DISTINCT application_key) FROM campaign_applications
GROUP BY GROUPING SETS ((campaign_id, period), (campaign_id)) HAVING grouping(period) = 1 OR period IS NOT NULL
UNION ALL
SELECT campaign_id, 'international_hires', CASE WHEN grouping(period) = 1 THEN 'all' ELSE period END, count(DISTINCT candidate) FROM international_hires
GROUP BY GROUPING SETS ((campaign_id, period), (campaign_id)) HAVING grouping(period) = 1 OR period IS NOT NULL;

-- Which campaigns have any export of a source: without one, its KPIs are NULL ("no data"), not 0.
CREATE OR REPLACE TEMP TABLE has_data AS
SELECT DISTINCT campaign_id, unnest(['impressions', 'clicks']) AS kpi FROM reach
UNION SELECT DISTINCT campaign_id, 'unique_visitors' FROM visitor_counts
UNION SELECT DISTINCT campaign_id, unnest(['applications', 'international_hires']) FROM applications
WHERE campaign_id IS NOT NULL;

CREATE OR REPLACE TEMP TABLE kpi_results AS
WITH scopes AS (
    SELECT campaign_id, period FROM campaign_periods UNION ALL SELECT campaign_id, 'all' FROM campaigns
), grid AS (
    SELECT s.campaign_id, k.kpi, s.period FROM scopes s,
        (VALUES ('impressions'), ('clicks'), ('unique_visitors'), ('applications'), ('international_hires')) k(kpi)
)
SELECT g.campaign_id, g.kpi, g.period,
       CASE WHEN h.kpi IS NOT NULL THEN coalesce(v.value, 0) END::BIGINT AS result
FROM grid g
LEFT JOIN export_values v USING (campaign_id, kpi, period)
LEFT JOIN has_data h USING (campaign_id, kpi)
UNION ALL
SELECT c.campaign_id, 'organisations_involved', 'all',
       (SELECT count(DISTINCT org_id) FROM organisations o WHERE o.talent_campaign_joined_on <= c.end_date)
FROM campaigns c
UNION ALL
SELECT c.campaign_id, 'organisations_established', 'all',
       (SELECT count(DISTINCT org_id) FROM organisations o
        WHERE o.established_in_region_on BETWEEN c.start_date AND c.end_date)
FROM campaigns c;

SELECT campaign_id, kpi, period, result FROM kpi_results ORDER BY campaign_id, kpi, period;
