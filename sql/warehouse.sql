-- The pipeline's private warehouse (warehouse.duckdb). Only the pipeline opens it.
-- Managers query published.duckdb instead (sql/published.sql).
CREATE SCHEMA IF NOT EXISTS ingest;
CREATE SCHEMA IF NOT EXISTS ref;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS audit;

-- One row per distinct file content ever seen. A file's identity is its SHA-256,
-- so the same export under two names is one entry.
CREATE TABLE IF NOT EXISTS ingest.file_ledger (
    file_hash        VARCHAR PRIMARY KEY,
    source           VARCHAR NOT NULL,   -- reach | visitors | hiring
    layout           VARCHAR,            -- recognised layout, NULL when rejected before recognition
    export_key       VARCHAR,            -- layout | scope | date range: a corrected re-export shares it
    path             VARCHAR NOT NULL,   -- first path the content arrived under
    size_bytes       BIGINT,
    data_lines       BIGINT,
    rows_loaded      BIGINT,
    rows_quarantined BIGINT,
    status           VARCHAR NOT NULL,   -- loaded | rejected | ignored | duplicate | superseded | withdrawn | removed
    -- (ignored, duplicate and rejected-by-type entries are keyed by their path: assets/ingest/landing.py)
    message          VARCHAR,            -- why rejected (file, line, column) or what superseded it
    superseded_by    VARCHAR,
    loaded_at        TIMESTAMP NOT NULL,
    run_id           VARCHAR
);

-- Where a rejected file's problem is (from its RejectedFile), for data_issues.
ALTER TABLE ingest.file_ledger ADD COLUMN IF NOT EXISTS error_line BIGINT;
ALTER TABLE ingest.file_ledger ADD COLUMN IF NOT EXISTS error_column VARCHAR;

-- Where every path was last seen, so unchanged files are not hashed again.
CREATE TABLE IF NOT EXISTS ingest.path_seen (
    path       VARCHAR PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    mtime_ns   BIGINT NOT NULL,
    file_hash  VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.quarantine (
    source      VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    file_hash   VARCHAR NOT NULL,
    line_number BIGINT,
    column_name VARCHAR,
    value       VARCHAR,   -- the offending cell; never from a personal-data column
    reason      VARCHAR NOT NULL,
    run_id      VARCHAR,
    rule        VARCHAR    -- the rule the row broke (a declared type, or a staged suite's expectation)
);
-- Warehouses made before the rule column: re-staged once by STAGING_RULES_VERSION 3.
ALTER TABLE staging.quarantine ADD COLUMN IF NOT EXISTS rule VARCHAR;
-- The campaign the row was attributed to before it was held back (NULL when it could not be read that far).
ALTER TABLE staging.quarantine ADD COLUMN IF NOT EXISTS campaign_id VARCHAR;

CREATE TABLE IF NOT EXISTS staging.reach (
    date                 DATE NOT NULL,
    channel              VARCHAR NOT NULL,
    campaign_id          VARCHAR,
    period               VARCHAR,
    platform_campaign    VARCHAR NOT NULL,
    ad_set               VARCHAR,
    platform_campaign_id VARCHAR,
    impressions          BIGINT NOT NULL,
    clicks               BIGINT NOT NULL,
    spend                DOUBLE,
    currency             VARCHAR,
    spend_eur            DOUBLE,
    platform_reach       BIGINT,
    layout               VARCHAR NOT NULL,
    source_file          VARCHAR NOT NULL,
    file_hash            VARCHAR NOT NULL,
    line_number          BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.sessions (
    event_date       DATE NOT NULL,
    user_pseudo_id   VARCHAR NOT NULL,
    ga_session_id    BIGINT NOT NULL,
    session_source   VARCHAR,
    session_medium   VARCHAR,
    session_campaign VARCHAR,
    channel          VARCHAR NOT NULL,
    campaign_id      VARCHAR,
    period           VARCHAR,
    landing_page     VARCHAR,
    country          VARCHAR,
    engaged_session  INTEGER,
    layout           VARCHAR NOT NULL,
    source_file      VARCHAR NOT NULL,
    file_hash        VARCHAR NOT NULL,
    line_number      BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.applications (
    application_key   VARCHAR NOT NULL,
    application_id    VARCHAR,
    org_id            VARCHAR,
    organisation_name VARCHAR NOT NULL,
    candidate_key     VARCHAR NOT NULL,  -- HMAC of the normalised e-mail; no name or e-mail is stored
    job_title         VARCHAR,
    applied_on        DATE NOT NULL,
    stage             VARCHAR NOT NULL,
    hire_date         DATE,
    country_code      VARCHAR NOT NULL,
    campaign_id       VARCHAR,
    period            VARCHAR,           -- the campaign's period holding applied_on (sql/attribution.sql period_of)
    channel           VARCHAR NOT NULL,
    layout            VARCHAR NOT NULL,
    source_file       VARCHAR NOT NULL,
    file_hash         VARCHAR NOT NULL,
    line_number       BIGINT NOT NULL
);

-- Warehouses made before applications had a period: re-staged once by STAGING_RULES_VERSION 4.
ALTER TABLE staging.applications ADD COLUMN IF NOT EXISTS period VARCHAR;

CREATE TABLE IF NOT EXISTS audit.check_results (
    run_id       VARCHAR,
    checked_at   TIMESTAMP,
    table_name   VARCHAR,
    check_name   VARCHAR,
    expectation  VARCHAR,
    column_name  VARCHAR,
    passed       BOOLEAN,
    failed_rows  BIGINT,
    examples     VARCHAR,
    message      VARCHAR,
    quarantined_rows BIGINT   -- rows a row-level failure moved to staging.quarantine (contained, not blocking)
);
ALTER TABLE audit.check_results ADD COLUMN IF NOT EXISTS quarantined_rows BIGINT;

-- One row per run that started writing: the inputs it started from (assets/noop.py), and
-- whether it published. A night whose inputs equal the last publishing run's is skipped.
CREATE TABLE IF NOT EXISTS audit.run_inputs (
    run_id        VARCHAR PRIMARY KEY,
    started_at    TIMESTAMP NOT NULL,
    fingerprint   VARCHAR NOT NULL,   -- landing files (name, size, mtime) + reference digest
    published_at  TIMESTAMP,          -- NULL: the run did not publish
    ledger_digest VARCHAR             -- ingest.file_ledger (hash, status) at publication
);
