-- Attribution, stated once: which campaign a row belongs to, which period a date falls in,
-- which organisation a name means and which channel a source (and medium) is.
-- DuckDB macros over the reference tables (ref.*, loaded from data/raw/reference/), used by
-- the staging of every source: the visitor parser inline in its SQL, the reach and hiring
-- parsers through assets/ingest/reference.py (Attribution), which hands their rows to these
-- macros. Macros bind when they are used, so ref.* may be replaced (a new reference
-- file) without re-creating them. Scalar macros are correlated subqueries: DuckDB
-- decorrelates them into a join over the distinct arguments, so 10M sessions evaluate the
-- channel rules once per distinct (source, medium) pair, not once per session.

-- The text every pattern is matched against: lower case, runs of whitespace as one space.
CREATE OR REPLACE MACRO attribution_key(text) AS
    regexp_replace(trim(lower(coalesce(text, ''))), '[\s\pZ]+', ' ', 'g');

-- What names a campaign in a text: its id, its name and its periods' utm codes.
CREATE OR REPLACE MACRO campaign_patterns() AS TABLE
    SELECT DISTINCT campaign_id, attribution_key(pattern) AS pattern
    FROM (
        SELECT campaign_id, campaign_id AS pattern FROM ref.campaigns
        UNION ALL SELECT campaign_id, name FROM ref.campaigns
        UNION ALL SELECT campaign_id, utm_campaign FROM ref.campaign_periods
    )
    WHERE attribution_key(pattern) <> '';

-- The campaign a text names: the longest pattern the text contains wins ('msp_talent_p2'
-- over a campaign's name), ties by campaign_id; NULL when it names none.
CREATE OR REPLACE MACRO campaign_of_text(text) AS (
    SELECT p.campaign_id FROM campaign_patterns() p
    WHERE contains(attribution_key(text), p.pattern)
    ORDER BY length(p.pattern) DESC, p.campaign_id
    LIMIT 1
);

-- The campaign whose window holds a day (the first by id when windows overlap).
CREATE OR REPLACE MACRO campaign_of_day(day) AS (
    SELECT min(c.campaign_id) FROM ref.campaigns c WHERE day BETWEEN c.start_date AND c.end_date
);

-- The period of a campaign holding a day; NULL outside every period. The reference suite
-- keeps a campaign's periods apart, so at most one holds it (the first by name otherwise).
CREATE OR REPLACE MACRO period_of(campaign, day) AS (
    SELECT min(p.period) FROM ref.campaign_periods p
    WHERE p.campaign_id = campaign AND day BETWEEN p.start_date AND p.end_date
);

-- Every (campaign, period, day) of the periods: a small lookup joined on equality (visitors'
-- line accounting uses it to find days two periods of a campaign share).
CREATE OR REPLACE MACRO period_days() AS TABLE
    SELECT campaign_id, period,
           CAST(unnest(generate_series(start_date::TIMESTAMP, end_date::TIMESTAMP, INTERVAL 1 DAY)) AS DATE) AS day
    FROM ref.campaign_periods WHERE start_date IS NOT NULL AND end_date IS NOT NULL;

-- The organisation a name or org_id means (case and spacing ignored); NULL when unknown.
CREATE OR REPLACE MACRO org_of(text) AS (
    SELECT min(o.org_id) FROM ref.organisations o
    WHERE attribution_key(text) IN (attribution_key(o.org_id), attribution_key(o.name))
);

-- The channel of a source and medium: the first rule of ref.channel_rules (by rule_order)
-- whose source_pattern the source contains (a regular expression) and whose medium_pattern
-- the whole medium matches; an empty pattern matches anything. The team edits the rules in
-- data/raw/reference/channel_rules.csv; the reference suite keeps them valid (a channel of
-- the vocabulary, one rule per order, patterns that compile, a last rule matching all).
CREATE OR REPLACE MACRO channel_of(source, medium) AS (
    SELECT r.channel FROM ref.channel_rules r
    WHERE (coalesce(r.source_pattern, '') = '' OR regexp_matches(attribution_key(source), r.source_pattern))
      AND (coalesce(r.medium_pattern, '') = '' OR regexp_full_match(attribution_key(medium), r.medium_pattern))
    ORDER BY r.rule_order
    LIMIT 1
);

-- A site session's campaign, period and channel: the campaign its utm code names, else the
-- campaign whose window holds its date (every visit in a window counts for the campaign).
CREATE OR REPLACE MACRO session_attribution(source, medium, utm, day) AS (
    SELECT {'channel': channel_of(source, medium), 'campaign_id': c.campaign_id,
            'period': period_of(c.campaign_id, day)}
    FROM (SELECT coalesce(campaign_of_text(utm), campaign_of_day(day)) AS campaign_id) c
);

-- An application's free-text source (the ATS's referring site and URL, or the template's
-- Source) read as a session's source and medium, so that the same rules group it:
-- the URL's utm_source/utm_medium when it carries them; otherwise the text is the source,
-- and the medium is what the text shows: an ad click id ('cpc'), an ad or a campaign named
-- ('paid'), a search engine ('organic'), nothing ('(none)'), any other site ('referral').
CREATE OR REPLACE MACRO application_source(text) AS
    coalesce(nullif(regexp_extract(attribution_key(text), '[?&]utm_source=([^&#\s]*)', 1), ''),
             attribution_key(text));

CREATE OR REPLACE MACRO application_medium(text) AS
    CASE
        WHEN regexp_extract(attribution_key(text), '[?&]utm_medium=([^&#\s]*)', 1) <> ''
            THEN regexp_extract(attribution_key(text), '[?&]utm_medium=([^&#\s]*)', 1)
        WHEN regexp_matches(attribution_key(text), 'gclid|fbclid|msclkid|li_fat_id') THEN 'cpc'
        WHEN regexp_matches(attribution_key(text), '\b(ads?|adwords|sponsored)\b|[?&]utm_campaign=')
             OR campaign_of_text(text) IS NOT NULL THEN 'paid'
        WHEN regexp_matches(attribution_key(text), 'google|bing|duckduckgo') THEN 'organic'
        WHEN attribution_key(text) = '' THEN '(none)'
        ELSE 'referral'
    END;
