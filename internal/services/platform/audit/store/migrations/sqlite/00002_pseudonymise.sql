-- +goose Up
-- Erasure without breaking the chain (store/chain.go). Entries are now
-- appended in canonical form 2, whose hash covers a digest of each personal
-- field instead of its value, so that an erasure can replace the value by
-- its digest. The entries already written are form 1: they keep verifying
-- as they were hashed, and none of their fields may change.
ALTER TABLE audit_entries ADD COLUMN form INTEGER NOT NULL DEFAULT 1 CHECK (form IN (1, 2));
-- Which personal fields hold their digest (bits: actor 1, resource_id 2,
-- patient_id 4, client_addr 8, user_agent 16); not hashed.
ALTER TABLE audit_entries ADD COLUMN pseudonymised INTEGER NOT NULL DEFAULT 0 CHECK (pseudonymised BETWEEN 0 AND 31);
-- Salts the digests of client_addr and user_agent, which are easily
-- guessed; dropped when they are pseudonymised. Not hashed.
ALTER TABLE audit_entries ADD COLUMN salt TEXT NOT NULL DEFAULT '';
-- An erasure looks a subject up as resource too.
CREATE INDEX audit_entries_by_resource_id ON audit_entries (resource_id, seq);

-- The erased subjects, by pseudonym only: an entry about one that arrives
-- after the erasure is pseudonymised as it is appended.
CREATE TABLE erased_subjects (
    pseudonym TEXT PRIMARY KEY,
    erased_at TIMESTAMP NOT NULL
);

-- The one update an entry may undergo is its pseudonymisation, and only in
-- form 2: personal fields replaced by digests (64 lowercase hex digits, ''
-- for ''), their bits set, and with client_addr and user_agent (together)
-- their salt cleared. Every other column stays. SQLite has no SHA-256, so
-- unlike PostgreSQL the trigger cannot check that a digest is the old
-- value's: the hash chain does (Verify). The name is the old trigger's, so
-- that whoever drops it to tamper (the tests) still finds it.
DROP TRIGGER audit_entries_no_update;
-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
WHEN NOT (
    OLD.form = 2
    AND NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.form IS OLD.form
    AND NEW.actor_role IS OLD.actor_role AND NEW.action IS OLD.action AND NEW.resource_type IS OLD.resource_type
    AND NEW.purpose IS OLD.purpose AND NEW.request_id IS OLD.request_id AND NEW.outcome IS OLD.outcome
    AND NEW.source_event_id IS OLD.source_event_id AND NEW.prev_hash IS OLD.prev_hash AND NEW.hash IS OLD.hash
    AND CASE
        WHEN (OLD.pseudonymised & 1) = (NEW.pseudonymised & 1) THEN NEW.actor IS OLD.actor
        WHEN (OLD.pseudonymised & 1) = 0 THEN (OLD.actor = '' AND NEW.actor = '')
            OR (OLD.actor <> '' AND length(NEW.actor) = 64 AND NEW.actor NOT GLOB '*[^0-9a-f]*')
        ELSE 0 END
    AND CASE
        WHEN (OLD.pseudonymised & 2) = (NEW.pseudonymised & 2) THEN NEW.resource_id IS OLD.resource_id
        WHEN (OLD.pseudonymised & 2) = 0 THEN (OLD.resource_id = '' AND NEW.resource_id = '')
            OR (OLD.resource_id <> '' AND length(NEW.resource_id) = 64 AND NEW.resource_id NOT GLOB '*[^0-9a-f]*')
        ELSE 0 END
    AND CASE
        WHEN (OLD.pseudonymised & 4) = (NEW.pseudonymised & 4) THEN NEW.patient_id IS OLD.patient_id
        WHEN (OLD.pseudonymised & 4) = 0 THEN (OLD.patient_id = '' AND NEW.patient_id = '')
            OR (OLD.patient_id <> '' AND length(NEW.patient_id) = 64 AND NEW.patient_id NOT GLOB '*[^0-9a-f]*')
        ELSE 0 END
    AND CASE
        WHEN (OLD.pseudonymised & 8) = (NEW.pseudonymised & 8) THEN NEW.client_addr IS OLD.client_addr
        WHEN (OLD.pseudonymised & 8) = 0 THEN (OLD.client_addr = '' AND NEW.client_addr = '')
            OR (OLD.client_addr <> '' AND length(NEW.client_addr) = 64 AND NEW.client_addr NOT GLOB '*[^0-9a-f]*')
        ELSE 0 END
    AND CASE
        WHEN (OLD.pseudonymised & 16) = (NEW.pseudonymised & 16) THEN NEW.user_agent IS OLD.user_agent
        WHEN (OLD.pseudonymised & 16) = 0 THEN (OLD.user_agent = '' AND NEW.user_agent = '')
            OR (OLD.user_agent <> '' AND length(NEW.user_agent) = 64 AND NEW.user_agent NOT GLOB '*[^0-9a-f]*')
        ELSE 0 END
    AND (((NEW.pseudonymised & 24) = 0 AND NEW.salt IS OLD.salt) OR ((NEW.pseudonymised & 24) = 24 AND NEW.salt = ''))
)
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: an entry may only have its personal fields pseudonymised');
END;
-- +goose StatementEnd

-- +goose Down
-- Entries of form 2 no longer verify without their form and salt: only for
-- a store that has none.
DROP TRIGGER audit_entries_no_update;
-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
END;
-- +goose StatementEnd
DROP TABLE erased_subjects;
DROP INDEX audit_entries_by_resource_id;
ALTER TABLE audit_entries DROP COLUMN salt;
ALTER TABLE audit_entries DROP COLUMN pseudonymised;
ALTER TABLE audit_entries DROP COLUMN form;
