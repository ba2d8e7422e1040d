-- +goose Up
-- erased_patients are the patients erased (GDPR Art. 17): their id only,
-- so that an upload still in flight when they were erased is refused
-- rather than given a new data key and kept.
CREATE TABLE erased_patients (
    patient_id TEXT PRIMARY KEY,
    erased_at  TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE erased_patients;
