-- +goose Up
-- The journal is the history a read model is built from: every event its
-- consumer handled, in the order handled, so the model can be rebuilt
-- (ReplayJournal). Only consumers that ask for it (Handlers.Journaled) write here.
CREATE TABLE journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    envelope     TEXT NOT NULL,
    recorded_at  TIMESTAMP NOT NULL
);
CREATE INDEX journal_aggregate ON journal (aggregate_id);

-- +goose Down
DROP TABLE journal;
