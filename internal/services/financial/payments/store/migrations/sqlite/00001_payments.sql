-- +goose Up
-- One row per attempt to pay for a case. It is written (PROCESSING)
-- before the provider is called, and the call carries an idempotency key
-- derived from its id, so a crash in between is recovered by asking the
-- provider, never by charging again. The quote's breakdown is kept for
-- payment.succeeded (invoicing). payment_method is the provider's id of
-- it (never a card number) and is dropped on erasure; the rest is kept
-- for legal retention, but an erasure (of the case or of its patient)
-- empties case_id and patient_id, the links to the erased person that
-- bookkeeping does not need. refunded_amount sums the refunds that
-- succeeded.
CREATE TABLE payments (
    id                 TEXT PRIMARY KEY,
    case_id            TEXT NOT NULL,
    patient_id         TEXT NOT NULL,
    quote_id           TEXT NOT NULL,
    region             TEXT NOT NULL,
    specialty          TEXT NOT NULL,
    urgency            TEXT NOT NULL,
    net_amount         INTEGER NOT NULL,
    discount_amount    INTEGER NOT NULL,
    tax_rate           INTEGER NOT NULL,
    tax_amount         INTEGER NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    provider           TEXT NOT NULL,
    payment_method     TEXT NOT NULL,
    status             TEXT NOT NULL,
    intent_id          TEXT NOT NULL DEFAULT '',
    failure_code       TEXT NOT NULL DEFAULT '',
    next_action_type   TEXT NOT NULL DEFAULT '',
    next_action_secret TEXT NOT NULL DEFAULT '',
    next_action_url    TEXT NOT NULL DEFAULT '',
    refunded_amount    INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
-- At most one payment of a case that is not FAILED: a paid case (or one
-- with a payment under way) refuses a second, whatever the concurrency.
-- The payments of erased cases ('') are no case's.
CREATE UNIQUE INDEX payments_one_open_per_case ON payments (case_id) WHERE status <> 'FAILED' AND case_id <> '';
CREATE UNIQUE INDEX payments_by_intent ON payments (provider, intent_id) WHERE intent_id <> '';
CREATE INDEX payments_by_patient ON payments (patient_id, created_at, id);
CREATE INDEX payments_by_time ON payments (created_at, id);
CREATE INDEX payments_by_status ON payments (status, updated_at);

-- Refunds, each written PENDING before the provider is called with an
-- idempotency key derived from its id. An automatic refund (any reason
-- but ADMIN) happens at most once per payment and reason.
CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    amount             INTEGER NOT NULL CHECK (amount > 0),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL,
    provider_refund_id TEXT NOT NULL DEFAULT '',
    failure            TEXT NOT NULL DEFAULT '',
    note               TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX refunds_automatic_once ON refunds (payment_id, reason) WHERE reason <> 'ADMIN';
CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at);
CREATE INDEX refunds_pending ON refunds (status) WHERE status = 'PENDING';

-- What payments learnt of a case from events: whether a professional was
-- ever assigned, and how it closed ('' while open), so a payment that
-- completes after its case closed is refunded too. A case's row goes
-- with its erasure.
CREATE TABLE cases (
    case_id  TEXT PRIMARY KEY,
    assigned BOOLEAN NOT NULL DEFAULT FALSE,
    closed   TEXT NOT NULL DEFAULT ''
);

-- Webhook events handled, by the provider's event id: a redelivery
-- changes nothing.
CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- Reconciliation runs: each difference between our payments and the
-- provider's intents, as JSON.
CREATE TABLE reconciliations (
    id          TEXT PRIMARY KEY,
    ran_at      TIMESTAMP NOT NULL,
    checked     INTEGER NOT NULL,
    recovered   INTEGER NOT NULL,
    differences TEXT NOT NULL
);
CREATE INDEX reconciliations_by_time ON reconciliations (ran_at);

-- +goose Down
DROP TABLE reconciliations;
DROP TABLE webhook_events;
DROP TABLE cases;
DROP TABLE refunds;
DROP TABLE payments;
