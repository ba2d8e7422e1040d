-- +goose Up
-- pg_trgm gives the typo tolerance (word_similarity over a case's text).
-- It goes into public, which outlives any one service's schema, under a
-- lock, as services migrating at once would race to create it. Where an
-- extension of that name exists already, in whatever schema, it is
-- used: the store looks its schema up.
SELECT pg_advisory_xact_lock(hashtext('create extension pg_trgm'));
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- cases is the index: one row per case, every field kept from the events
-- (ids, codes and their times) but the text, which comes from
-- case_texts. words are the de-identified fields as text to match
-- (domain.Case.Words); deid_doc matches them alone, for the viewers who
-- may see a case only de-identified; full_doc matches them with the
-- title (weight A) and question (B). No name of anyone is held.
CREATE TABLE cases (
    case_id       TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL DEFAULT '',
    case_number   TEXT NOT NULL DEFAULT '',
    specialty     TEXT NOT NULL DEFAULT '',
    urgency       TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    age_band      TEXT NOT NULL DEFAULT '',
    pooled_at     TIMESTAMPTZ,
    status        TEXT NOT NULL DEFAULT '',
    status_at     TIMESTAMPTZ,
    assignee_id   TEXT NOT NULL DEFAULT '',
    assignment_id TEXT NOT NULL DEFAULT '',
    assignment_at TIMESTAMPTZ,
    shared        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    words         TEXT NOT NULL DEFAULT '',
    title         TEXT,
    question      TEXT,
    deid_doc      TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', words)) STORED,
    full_doc      TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(question, '')), 'B') ||
        setweight(to_tsvector('english', words), 'C')) STORED
);
CREATE INDEX cases_deid_doc ON cases USING gin (deid_doc);
CREATE INDEX cases_full_doc ON cases USING gin (full_doc);
CREATE INDEX cases_patient ON cases (patient_id);
CREATE INDEX cases_assignee ON cases (assignee_id) WHERE assignee_id <> '';
CREATE INDEX cases_created ON cases (created_at DESC, case_id);
CREATE INDEX cases_pool ON cases (created_at DESC) WHERE status = 'AWAITING_ASSIGNMENT' AND shared;

-- The trigram index of the text, on the expression the store's queries
-- use, with the operator class of wherever pg_trgm lives.
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('CREATE INDEX cases_text_trgm ON cases USING gin '
        '((coalesce(title, '''') || '' '' || coalesce(question, '''')) %s.gin_trgm_ops)',
        (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'));
END
$$;
-- +goose StatementEnd

-- case_texts are the title and question of each case as case-management
-- told them (cases copies them): health data, fetched once per case and
-- kept across rebuilds, so a rebuild asks case-management nothing.
CREATE TABLE case_texts (
    case_id    TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    question   TEXT NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);

-- consents are the patients' consents to share their cases with
-- professionals (cases.shared follows them): the latest state by
-- revision, else by time.
CREATE TABLE consents (
    patient_id TEXT PRIMARY KEY,
    granted    BOOLEAN NOT NULL,
    revision   INTEGER NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);

-- erased_ids are the ids of erased cases and patients: an event about one
-- that comes late (a retry) is dropped instead of indexing it again. Ids
-- only; a rebuild keeps them.
CREATE TABLE erased_ids (
    id        TEXT PRIMARY KEY,
    erased_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE erased_ids;
DROP TABLE consents;
DROP TABLE case_texts;
DROP TABLE cases;
