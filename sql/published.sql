-- The published schema: what managers query in published.duckdb.
-- Built fresh in a candidate file each run, audited, then swapped in atomically.
-- The mart tables come first from sql/marts.sql; this file adds the publication record,
-- the accounting tables (exports, data issues) and the view table_1 over the marts.

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
