-- +goose Up
-- erased_patients are the patients erased (GDPR Art. 17): their id only,
-- nothing else of theirs, so that a consent change still in flight when
-- they were erased is refused rather than kept.
CREATE TABLE erased_patients (
    patient_id UUID PRIMARY KEY
);

-- +goose Down
DROP TABLE erased_patients;
