-- +goose Up
-- professionals is the projection of professional.registered plus what
-- credentialing owns: the standing and the level.
CREATE TABLE professionals (
    id            TEXT PRIMARY KEY,
    specialties   TEXT NOT NULL,
    level         TEXT NOT NULL,
    status        TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE credentials (
    id                TEXT PRIMARY KEY,
    professional_id   TEXT NOT NULL REFERENCES professionals (id),
    license_number    TEXT NOT NULL,
    issuing_authority TEXT NOT NULL,
    country           TEXT NOT NULL,
    specialty         TEXT NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    status            TEXT NOT NULL,
    reason            TEXT,
    submitted_at      TIMESTAMP NOT NULL,
    reviewed_at       TIMESTAMP,
    reviewed_by       TEXT
);
CREATE INDEX credentials_by_professional ON credentials (professional_id, submitted_at DESC, id DESC);
-- The expiry check reads only the credentials still in force.
CREATE INDEX credentials_in_force ON credentials (expires_at) WHERE status IN ('PENDING', 'VERIFIED');
-- One licence is under review or verified once at a time.
CREATE UNIQUE INDEX credentials_one_active ON credentials (country, issuing_authority, license_number)
    WHERE status IN ('PENDING', 'VERIFIED');

-- +goose Down
DROP TABLE credentials;
DROP TABLE professionals;
