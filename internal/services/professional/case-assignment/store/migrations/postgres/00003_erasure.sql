-- +goose Up
-- erased_cases are the cases erased with their patient (case.erased, or
-- patient.erased for the patient's cases the pool knew): the id and when,
-- nothing else. A late or redelivered event about one of them finds it
-- here and brings back no pool entry.
CREATE TABLE erased_cases (
    case_id   UUID PRIMARY KEY,
    erased_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE erased_cases;
