-- +goose Up
-- consents is this service's projection of patient-consent: whether each
-- patient's consent to share their cases with professionals
-- (SHARE_WITH_PROFESSIONALS) is in force, with the revision and time of
-- the change that said so, so that an older event never undoes a newer
-- one. A patient without a row has not consented.
CREATE TABLE consents (
    patient_id TEXT PRIMARY KEY,
    granted    BOOLEAN NOT NULL,
    revision   INTEGER NOT NULL,
    changed_at TIMESTAMP NOT NULL
);

-- An entry names its patient, never shown to professionals: an OPEN entry
-- whose patient has not consented is held, offered to nobody. Entries
-- from before name none: they are held, erring towards the patient, until
-- a case.awaiting_assignment naming the patient reaches them (redelivered,
-- or after a release or an expiry).
ALTER TABLE pool ADD COLUMN patient_id TEXT;
CREATE INDEX pool_by_patient ON pool (patient_id, status);

-- +goose Down
DROP INDEX pool_by_patient;
ALTER TABLE pool DROP COLUMN patient_id;
DROP TABLE consents;
