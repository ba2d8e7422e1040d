-- +goose Up
-- specialties and languages are JSON arrays of strings. status_at and
-- level_at are the times of the credentialing events that last set them, so
-- an older event retried after a newer one does not undo it.
CREATE TABLE professionals (
    id          UUID PRIMARY KEY,
    pro_number  TEXT NOT NULL,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    email       TEXT NOT NULL,
    specialties JSONB NOT NULL,
    languages   JSONB NOT NULL,
    country     TEXT NOT NULL,
    bio         TEXT NOT NULL DEFAULT '',
    level       TEXT NOT NULL CHECK (level IN ('JUNIOR', 'SENIOR', 'EXPERT', 'DISTINGUISHED')),
    status      TEXT NOT NULL CHECK (status IN ('PENDING', 'VERIFIED', 'SUSPENDED')),
    level_at    TIMESTAMPTZ,
    status_at   TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX professionals_pro_number ON professionals (pro_number);
CREATE UNIQUE INDEX professionals_email ON professionals (email);

-- +goose Down
DROP TABLE professionals;
