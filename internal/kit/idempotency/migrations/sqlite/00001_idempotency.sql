-- +goose Up
-- One row per scoped Idempotency-Key (see package idempotency, SQL).
-- state: pending (a run holds the key), committed (a transaction of that
-- run committed here), done (its answer is recorded in status/header/body).
-- A run holds its key until held_until and renews it while it lives; a row
-- is forgotten at expires_at (a pending row's lease, else the replay TTL).
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    token       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'done')),
    held_until  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    status      INTEGER,
    header      TEXT,
    body        BLOB
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
