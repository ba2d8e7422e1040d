-- +goose Up
CREATE TABLE patients (
    id                  TEXT PRIMARY KEY,
    first_name          TEXT NOT NULL,
    middle_name         TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    email               TEXT NOT NULL,
    phone               TEXT NOT NULL DEFAULT '',
    preferred_channel   TEXT NOT NULL CHECK (preferred_channel IN ('EMAIL', 'SMS')),
    email_notifications INTEGER NOT NULL,
    sms_notifications   INTEGER NOT NULL,
    metadata            TEXT,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX patients_email ON patients (email);

-- Kept apart from the profile so the login service can take credentials
-- over without touching profiles.
CREATE TABLE credentials (
    patient_id    TEXT PRIMARY KEY REFERENCES patients (id),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE credentials;
DROP TABLE patients;
