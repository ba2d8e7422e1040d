-- +goose Up
-- Who may write a case's opinion: case-assignment's assignments, ended
-- when they expire or are released. A row may be an ended assignment whose
-- case.assigned arrives later (deadline unknown).
CREATE TABLE opinion_assignments (
    assignment_id   UUID PRIMARY KEY,
    case_id         UUID NOT NULL,
    professional_id UUID NOT NULL,
    deadline        TIMESTAMPTZ,
    ended_at        TIMESTAMPTZ
);
CREATE INDEX opinion_assignments_active ON opinion_assignments (case_id) WHERE ended_at IS NULL;

CREATE TABLE opinions (
    id              UUID PRIMARY KEY,
    case_id         UUID NOT NULL,
    assignment_id   UUID NOT NULL UNIQUE,
    professional_id UUID NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('DRAFT', 'SUBMITTED', 'APPROVED')),
    summary         TEXT NOT NULL,
    diagnoses       TEXT NOT NULL,
    recommendations TEXT NOT NULL,
    confidence      TEXT NOT NULL,
    answer          TEXT NOT NULL,
    refs            TEXT NOT NULL,
    review_comments TEXT NOT NULL,
    reviewer_id     TEXT NOT NULL,
    version         INTEGER NOT NULL,
    submitted_at    TIMESTAMPTZ,
    approved_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX opinions_by_case ON opinions (case_id, created_at DESC, id DESC);

-- Follow-up questions: seq numbers them per opinion, so the limit of three
-- holds under concurrent asks.
CREATE TABLE opinion_questions (
    id          UUID PRIMARY KEY,
    opinion_id  UUID NOT NULL REFERENCES opinions (id),
    seq         INTEGER NOT NULL CHECK (seq BETWEEN 1 AND 3),
    question    TEXT NOT NULL,
    asked_at    TIMESTAMPTZ NOT NULL,
    answer      TEXT,
    answered_at TIMESTAMPTZ,
    UNIQUE (opinion_id, seq)
);

-- +goose Down
DROP TABLE opinion_questions;
DROP TABLE opinions;
DROP TABLE opinion_assignments;
