-- +goose Up
-- documents are the records of cases. The content is a blob, encrypted
-- under its patient's data key; sha256 is of the original, and a case
-- holds one document per content.
CREATE TABLE documents (
    id          UUID PRIMARY KEY,
    case_id     UUID NOT NULL,
    patient_id  UUID NOT NULL,
    kind        TEXT NOT NULL,
    file_type   TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    size        BIGINT NOT NULL CHECK (size > 0),
    sha256      TEXT NOT NULL,
    blob_key    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (case_id, sha256)
);
CREATE INDEX documents_patient ON documents (patient_id);

-- patient_keys are the patients' data keys, wrapped by the keeper.
-- Destroying one (erasure) makes every blob under it unreadable.
CREATE TABLE patient_keys (
    patient_id UUID PRIMARY KEY,
    wrapped    BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE patient_keys;
DROP TABLE documents;
