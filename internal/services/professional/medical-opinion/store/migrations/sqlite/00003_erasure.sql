-- +goose Up
-- erased_cases are the cases erased with their patient (case.erased): the
-- id and when, nothing else. An assignment event about one of them that
-- comes late records no assignment, so nobody writes its opinion again.
CREATE TABLE erased_cases (
    case_id   TEXT PRIMARY KEY,
    erased_at TIMESTAMP NOT NULL
);

-- erased_opinions are the opinions of erased cases, moved out of opinions
-- without a word of what they said: who wrote and last reviewed which
-- opinion under which assignment, how far it got and when. That is the
-- professionals' record of their work (payouts), not the patient's data.
CREATE TABLE erased_opinions (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL,
    assignment_id   TEXT NOT NULL,
    professional_id TEXT NOT NULL,
    reviewer_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    submitted_at    TIMESTAMP,
    approved_at     TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE erased_opinions;
DROP TABLE erased_cases;
