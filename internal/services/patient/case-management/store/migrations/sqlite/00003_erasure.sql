-- +goose Up
-- What an erasure (GDPR Art. 17) leaves: the bare ids of the erased patient
-- and cases, no data of theirs. An event about an erased case is then
-- acknowledged as expected, and a case opened for the patient while their
-- erasure went through is refused instead of outliving it.
CREATE TABLE erased_patients (
    patient_id TEXT PRIMARY KEY,
    erased_at  TIMESTAMP NOT NULL
);

CREATE TABLE erased_cases (
    case_id   TEXT PRIMARY KEY,
    erased_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE erased_cases;
DROP TABLE erased_patients;
