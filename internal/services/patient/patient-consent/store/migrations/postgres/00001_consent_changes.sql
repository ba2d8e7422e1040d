-- +goose Up
-- consent_changes is every patient's history of grants and withdrawals,
-- append-only: a consent's state is its latest revision. The key makes
-- two writers that read the same revision unable to both append the next.
CREATE TABLE consent_changes (
    patient_id  UUID NOT NULL,
    purpose     TEXT NOT NULL,
    revision    INTEGER NOT NULL CHECK (revision > 0),
    kind        TEXT NOT NULL CHECK (kind IN ('GRANTED', 'WITHDRAWN')),
    version     TEXT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL,
    client_addr TEXT NOT NULL,
    PRIMARY KEY (patient_id, purpose, revision)
);

-- +goose Down
DROP TABLE consent_changes;
