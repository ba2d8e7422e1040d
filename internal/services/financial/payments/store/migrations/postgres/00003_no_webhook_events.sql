-- +goose Up
-- A webhook's redelivery changes nothing without a record of it: a
-- payment only moves forward, and refunds are reconciled with the
-- charge's total. The record was a table that only grew.
DROP TABLE webhook_events;

-- +goose Down
CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, event_id)
);
