-- +goose Up
-- professionals is this service's projection of professional-identity and
-- credentialing: only what matching needs. Each part keeps the time of the
-- event that last set it, so late or reordered events never roll it back.
CREATE TABLE professionals (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL DEFAULT 'PENDING',
    level       TEXT NOT NULL DEFAULT 'JUNIOR',
    specialties TEXT NOT NULL DEFAULT '',
    languages   TEXT NOT NULL DEFAULT '',
    profile_at  TIMESTAMP,
    status_at   TIMESTAMP,
    level_at    TIMESTAMP
);

-- pool holds one row per case that ever entered it. stay counts its
-- entries, so a claim or an escalation decided on one stay cannot apply to
-- the next.
CREATE TABLE pool (
    case_id        TEXT PRIMARY KEY,
    case_number    TEXT NOT NULL,
    specialty      TEXT NOT NULL,
    urgency        TEXT NOT NULL,
    language       TEXT NOT NULL,
    age_band       TEXT NOT NULL,
    required_level TEXT NOT NULL,
    status         TEXT NOT NULL,
    stay           INTEGER NOT NULL,
    opened_at      TIMESTAMP NOT NULL,
    escalated_at   TIMESTAMP,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX pool_open ON pool (status, opened_at, case_id);

CREATE TABLE pool_exclusions (
    case_id         TEXT NOT NULL,
    professional_id TEXT NOT NULL,
    excluded_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, professional_id)
);

CREATE TABLE assignments (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL,
    case_number     TEXT NOT NULL,
    professional_id TEXT NOT NULL,
    status          TEXT NOT NULL,
    claimed_at      TIMESTAMP NOT NULL,
    deadline        TIMESTAMP NOT NULL,
    ended_at        TIMESTAMP
);
-- The second guard of "exactly one winner": whatever path inserts, a case
-- has at most one ACTIVE assignment.
CREATE UNIQUE INDEX assignments_one_active ON assignments (case_id) WHERE status = 'ACTIVE';
CREATE INDEX assignments_due ON assignments (status, deadline);
CREATE INDEX assignments_by_professional ON assignments (professional_id, claimed_at DESC, id DESC);
CREATE INDEX assignments_by_time ON assignments (claimed_at DESC, id DESC);

-- +goose Down
DROP TABLE assignments;
DROP TABLE pool_exclusions;
DROP TABLE pool;
DROP TABLE professionals;
