-- +goose Up
-- One row per run of the AI over a case (kind CASE, one per case) or over
-- one document an admin asked for (kind DOCUMENT). status and attempts
-- follow domain.Processing; due_at is when a QUEUED row's next attempt is
-- due, or when a RUNNING row's lease ends, which the sweep reads to find
-- work whose job was lost. reason is a code, never text of the records.
-- result is the pre-analysis (or a document's summary) once COMPLETED:
-- health data, deleted with the case (case.erased).
CREATE TABLE processings (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    specialty    TEXT NOT NULL,
    case_number  TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    due_at       TIMESTAMPTZ NOT NULL,
    reason       TEXT NOT NULL,
    result       JSONB,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX processings_one_per_case ON processings (case_id) WHERE kind = 'CASE';
CREATE INDEX processings_by_case ON processings (case_id);
CREATE INDEX processings_by_patient ON processings (patient_id);
CREATE INDEX processings_open ON processings (due_at) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX processings_orphaned ON processings (updated_at) WHERE status = 'ORPHANED';

-- +goose Down
DROP TABLE processings;
