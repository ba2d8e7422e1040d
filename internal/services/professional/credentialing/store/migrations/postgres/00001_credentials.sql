-- +goose Up
-- professionals is the projection of professional.registered plus what
-- credentialing owns: the standing and the level.
CREATE TABLE professionals (
    id            UUID PRIMARY KEY,
    specialties   TEXT NOT NULL,
    level         TEXT NOT NULL,
    status        TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE credentials (
    id                UUID PRIMARY KEY,
    professional_id   UUID NOT NULL REFERENCES professionals (id),
    license_number    TEXT NOT NULL,
    issuing_authority TEXT NOT NULL,
    country           TEXT NOT NULL,
    specialty         TEXT NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    status            TEXT NOT NULL,
    reason            TEXT,
    submitted_at      TIMESTAMPTZ NOT NULL,
    reviewed_at       TIMESTAMPTZ,
    reviewed_by       UUID
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
