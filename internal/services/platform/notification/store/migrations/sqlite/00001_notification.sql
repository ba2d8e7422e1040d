-- +goose Up
-- The routing read model: whose case it is, its number, the language of
-- its consultation, and who holds it now. Ids and numbers only.
CREATE TABLE notification_cases (
    case_id         TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL DEFAULT '',
    case_number     TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT '',
    professional_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notification_cases_by_patient ON notification_cases (patient_id);

-- A notice as the in-app list shows it: what kind, about which case, in
-- which language; rendered when read. Admin notices have audience admin
-- and no recipient id: every admin sees them.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    audience        TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    case_id         TEXT NOT NULL DEFAULT '',
    params          TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT '',
    source_event_id TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    read_at         TIMESTAMP
);
CREATE INDEX notifications_by_recipient ON notifications (audience, recipient_id, created_at DESC, id DESC);
CREATE INDEX notifications_by_case ON notifications (case_id) WHERE case_id <> '';

-- The delivery log, which is also the delivery worker's queue: one row
-- per message to send by email or SMS. The address is looked up when it
-- is sent, and the text rendered then: neither is kept. A secret's row
-- (auth's codes) has no notification and records the outcome only.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    notification_id TEXT,
    audience        TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    case_id         TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    retry_from      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP,
    lease_token     TEXT NOT NULL DEFAULT '',
    updated_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('QUEUED', 'FAILED');
CREATE INDEX deliveries_by_status ON deliveries (status, updated_at DESC, id DESC);
CREATE INDEX deliveries_by_recipient ON deliveries (recipient_id);
CREATE INDEX deliveries_by_notification ON deliveries (notification_id);
CREATE INDEX deliveries_by_case ON deliveries (case_id) WHERE case_id <> '';

-- +goose Down
DROP TABLE deliveries;
DROP TABLE notifications;
DROP TABLE notification_cases;
