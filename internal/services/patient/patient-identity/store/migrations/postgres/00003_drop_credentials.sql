-- +goose Up
-- Passwords moved to the auth service, which owns every login; this
-- service keeps profiles only.
DROP TABLE credentials;

-- +goose Down
CREATE TABLE credentials (
    patient_id    UUID PRIMARY KEY REFERENCES patients (id),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    hash_scheme   TEXT NOT NULL DEFAULT 'bcrypt'
);
