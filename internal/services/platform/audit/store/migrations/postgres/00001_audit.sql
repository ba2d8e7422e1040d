-- +goose Up
-- audit_entries is append-only: seq is assigned by the append under the
-- chain-head lock, so it has no gaps (an identity column would skip values
-- on rollback), and a gap therefore means a deleted row.
CREATE TABLE audit_entries (
    seq             BIGINT PRIMARY KEY,
    id              UUID NOT NULL UNIQUE,
    at              TIMESTAMPTZ NOT NULL,
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

-- The one row every append locks: it serialises appends so the chain never
-- forks, and remembers the last entry so a cut-off tail is detected.
CREATE TABLE audit_chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Refuses changes to written entries. A superuser (or the table owner) can
-- still disable the trigger; the hash chain is what exposes such edits.
-- +goose StatementBegin
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

-- +goose Down
DROP TABLE audit_chain_head;
DROP TABLE audit_entries;
DROP FUNCTION audit_entries_append_only();
