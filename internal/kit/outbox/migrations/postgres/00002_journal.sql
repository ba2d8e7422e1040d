-- +goose Up
-- The journal is the history a read model is built from: every event its
-- consumer handled, in the order handled, so the model can be rebuilt
-- (ReplayJournal). Only consumers that ask for it (Handlers.Journaled) write here.
CREATE TABLE journal (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     UUID NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    envelope     TEXT NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX journal_aggregate ON journal (aggregate_id);

-- +goose Down
DROP TABLE journal;
