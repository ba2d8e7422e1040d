-- +goose Up
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

-- Kept apart from the profile so the login service can take credentials
-- over without touching profiles.
CREATE TABLE credentials (
    patient_id    UUID PRIMARY KEY REFERENCES patients (id),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE credentials;
DROP TABLE patients;
