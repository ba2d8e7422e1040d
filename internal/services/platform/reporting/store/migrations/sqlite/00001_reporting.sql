-- +goose Up
-- Reporting's facts, one row per case, assignment, escalation, AI request,
-- opinion, payment and refund, keyed by the id of what it is about so that
-- an event applied twice (redelivered, or replayed by a rebuild beside the
-- live consumer) writes the same row. Each upsert merges column by column
-- in a way that does not depend on the order events arrive in: earliest
-- times win, the latest status wins. The KPIs are computed from these rows
-- when asked. Times are Unix milliseconds (UTC), so that both engines
-- order and subtract them alike. No patient id is kept.
--
-- case_number is kept only so that an erasure can find it in the journal;
-- it is emptied when the case is erased.
CREATE TABLE cases (
    case_id      TEXT PRIMARY KEY,
    case_number  TEXT NOT NULL,
    specialty    TEXT NOT NULL,
    urgency      TEXT NOT NULL,
    submitted_at INTEGER,
    completed_at INTEGER,
    status       TEXT NOT NULL,
    status_at    INTEGER NOT NULL,
    status_event TEXT NOT NULL
);
CREATE INDEX cases_by_submission ON cases (submitted_at);

CREATE TABLE assignments (
    assignment_id TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL,
    claimed_at    INTEGER,
    expired_at    INTEGER
);
CREATE INDEX assignments_by_case ON assignments (case_id);
CREATE INDEX assignments_by_claim ON assignments (claimed_at);
CREATE INDEX assignments_by_expiry ON assignments (expired_at);

-- An escalation has no id of its own: the event's id keys it.
CREATE TABLE escalations (
    event_id TEXT PRIMARY KEY,
    case_id  TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX escalations_by_time ON escalations (at);

-- A request is known from two events, in either order: its tokens from
-- ai.request.completed or failed (ai-providers), its cost from
-- ai.request.priced (ai-usage, in millionths of a US dollar). Each
-- leaves the other's columns NULL until it arrives.
CREATE TABLE ai_requests (
    request_id    TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL,
    failed        BOOLEAN NOT NULL,
    input_tokens  INTEGER,
    output_tokens INTEGER,
    cost_micros   INTEGER,
    at            INTEGER NOT NULL
);
CREATE INDEX ai_requests_by_time ON ai_requests (at);

CREATE TABLE opinions (
    opinion_id      TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL,
    professional_id TEXT NOT NULL,
    submitted_at    INTEGER,
    approved_at     INTEGER
);
CREATE INDEX opinions_by_case ON opinions (case_id);
CREATE INDEX opinions_by_submission ON opinions (submitted_at);
CREATE INDEX opinions_by_approval ON opinions (approved_at);

-- Amounts in minor units of the currency beside them.
CREATE TABLE payments (
    payment_id TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL,
    specialty  TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    currency   TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX payments_by_time ON payments (at);

CREATE TABLE refunds (
    refund_id  TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    currency   TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX refunds_by_time ON refunds (at);

-- The pseudonyms of erased cases: an event about one that arrives after
-- its erasure is filed under the pseudonym too.
CREATE TABLE erased_cases (
    pseudonym TEXT PRIMARY KEY
);

-- +goose Down
DROP TABLE erased_cases;
DROP TABLE refunds;
DROP TABLE payments;
DROP TABLE opinions;
DROP TABLE ai_requests;
DROP TABLE escalations;
DROP TABLE assignments;
DROP TABLE cases;
