-- +goose Up
-- audit_entries is append-only: seq is assigned by the append inside its
-- write transaction, so it has no gaps and a gap means a deleted row.
CREATE TABLE audit_entries (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    at              TIMESTAMP NOT NULL,
    actor           TEXT NOT NULL,
    actor_role      TEXT NOT NULL,
    action          TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    client_addr     TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    source_event_id TEXT NOT NULL UNIQUE,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);
CREATE INDEX audit_entries_by_patient ON audit_entries (patient_id, seq) WHERE patient_id <> '';
CREATE INDEX audit_entries_by_actor ON audit_entries (actor, seq);
CREATE INDEX audit_entries_by_resource ON audit_entries (resource_type, resource_id, seq);
CREATE INDEX audit_entries_by_time ON audit_entries (at);

-- The last entry of the chain, so a cut-off tail is detected.
CREATE TABLE audit_chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Refuse changes to written entries; whoever can drop these triggers can
-- edit the file, which the hash chain exposes.
-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_chain_head;
DROP TABLE audit_entries;
