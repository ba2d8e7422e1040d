-- patient-identity's PostgreSQL tables and the kit outbox table, created by
-- bench/run.sh in a scratch schema (search_path set by the caller) for
-- pgbench to insert into; the schema is dropped afterwards.
CREATE TABLE patients (
    id                  UUID PRIMARY KEY,
    first_name          TEXT NOT NULL,
    middle_name         TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL,
    date_of_birth       DATE NOT NULL,
    email               TEXT NOT NULL,
    phone               TEXT NOT NULL DEFAULT '',
    preferred_channel   TEXT NOT NULL CHECK (preferred_channel IN ('EMAIL', 'SMS')),
    email_notifications BOOLEAN NOT NULL,
    sms_notifications   BOOLEAN NOT NULL,
    metadata            JSONB,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX patients_email ON patients (email);
CREATE TABLE outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     UUID NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    envelope     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
