-- +goose Up
-- The sandbox provider's own ledger, as Stripe keeps it in test mode:
-- intents by their idempotency key (a retry gets the same intent, never a
-- second charge) and refunds by theirs. It lives beside payments' tables
-- so that a restart keeps them; payments never reads it directly.
CREATE TABLE sandbox_intents (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    fingerprint     TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    payment_method  TEXT NOT NULL,
    status          TEXT NOT NULL,
    failure_code    TEXT NOT NULL,
    client_secret   TEXT NOT NULL,
    amount_refunded INTEGER NOT NULL DEFAULT 0,
    metadata        TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX sandbox_intents_by_time ON sandbox_intents (created_at);

CREATE TABLE sandbox_refunds (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    intent_id       TEXT NOT NULL REFERENCES sandbox_intents (id),
    amount          INTEGER NOT NULL,
    metadata        TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE sandbox_refunds;
DROP TABLE sandbox_intents;
