-- +goose Up
-- cases is the index: one row per case, every field kept from the events
-- (ids, codes and their times) but the text, which comes from
-- case_texts. words are the de-identified fields as text to match
-- (domain.Case.Words). No name of anyone is held. doc_id is the row's
-- stable integer key, which case_fts indexes it by.
CREATE TABLE cases (
    doc_id        INTEGER PRIMARY KEY,
    case_id       TEXT NOT NULL UNIQUE,
    patient_id    TEXT NOT NULL DEFAULT '',
    case_number   TEXT NOT NULL DEFAULT '',
    specialty     TEXT NOT NULL DEFAULT '',
    urgency       TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    age_band      TEXT NOT NULL DEFAULT '',
    pooled_at     TIMESTAMP,
    status        TEXT NOT NULL DEFAULT '',
    status_at     TIMESTAMP,
    assignee_id   TEXT NOT NULL DEFAULT '',
    assignment_id TEXT NOT NULL DEFAULT '',
    assignment_at TIMESTAMP,
    shared        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    words         TEXT NOT NULL DEFAULT '',
    title         TEXT,
    question      TEXT
);
CREATE INDEX cases_patient ON cases (patient_id);
CREATE INDEX cases_assignee ON cases (assignee_id) WHERE assignee_id <> '';
CREATE INDEX cases_created ON cases (created_at DESC, case_id);

-- case_fts indexes cases' title, question and words (FTS5, external
-- content: the text stays in cases, the triggers keep the index in step,
-- re-indexing a row only when its text or words change).
-- The porter stemmer matches "pains" with "pain", as PostgreSQL's english
-- configuration does. secure-delete removes a deleted row's terms from
-- the index at once, so an erased text leaves nothing behind in it.
CREATE VIRTUAL TABLE case_fts USING fts5(
    title, question, words,
    content = 'cases', content_rowid = 'doc_id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO case_fts (case_fts, rank) VALUES ('secure-delete', 1);

-- +goose StatementBegin
CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN
    INSERT INTO case_fts (rowid, title, question, words) VALUES (new.doc_id, new.title, new.question, new.words);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN
    INSERT INTO case_fts (case_fts, rowid, title, question, words) VALUES ('delete', old.doc_id, old.title, old.question, old.words);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cases_fts_update AFTER UPDATE OF title, question, words ON cases
WHEN old.title IS NOT new.title OR old.question IS NOT new.question OR old.words IS NOT new.words BEGIN
    INSERT INTO case_fts (case_fts, rowid, title, question, words) VALUES ('delete', old.doc_id, old.title, old.question, old.words);
    INSERT INTO case_fts (rowid, title, question, words) VALUES (new.doc_id, new.title, new.question, new.words);
END;
-- +goose StatementEnd

-- case_texts are the title and question of each case as case-management
-- told them (cases copies them): health data, fetched once per case and
-- kept across rebuilds, so a rebuild asks case-management nothing.
CREATE TABLE case_texts (
    case_id    TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    question   TEXT NOT NULL,
    fetched_at TIMESTAMP NOT NULL
);

-- consents are the patients' consents to share their cases with
-- professionals (cases.shared follows them): the latest state by
-- revision, else by time.
CREATE TABLE consents (
    patient_id TEXT PRIMARY KEY,
    granted    BOOLEAN NOT NULL,
    revision   INTEGER NOT NULL,
    at         TIMESTAMP NOT NULL
);

-- erased_ids are the ids of erased cases and patients: an event about one
-- that comes late (a retry) is dropped instead of indexing it again. Ids
-- only; a rebuild keeps them.
CREATE TABLE erased_ids (
    id        TEXT PRIMARY KEY,
    erased_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE erased_ids;
DROP TABLE consents;
DROP TABLE case_texts;
DROP TRIGGER cases_fts_update;
DROP TRIGGER cases_fts_delete;
DROP TRIGGER cases_fts_insert;
DROP TABLE case_fts;
DROP TABLE cases;
