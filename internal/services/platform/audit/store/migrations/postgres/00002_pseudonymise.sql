-- +goose Up
-- Erasure without breaking the chain (store/chain.go). Entries are now
-- appended in canonical form 2, whose hash covers a digest of each personal
-- field instead of its value, so that an erasure can replace the value by
-- its digest. The entries already written are form 1: they keep verifying
-- as they were hashed, and none of their fields may change.
ALTER TABLE audit_entries ADD COLUMN form INTEGER NOT NULL DEFAULT 1 CHECK (form IN (1, 2));
ALTER TABLE audit_entries ALTER COLUMN form DROP DEFAULT;
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
    erased_at TIMESTAMPTZ NOT NULL
);

-- audit_field_digest is store.digest: the hex SHA-256 of the tag, the salt
-- and the value, each preceded by its length in bytes (8 bytes, big-endian);
-- '' for ''.
-- +goose StatementBegin
CREATE FUNCTION audit_field_digest(salt TEXT, value TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN value = '' THEN '' ELSE encode(sha256(
        int8send(octet_length(convert_to('secondopinion-audit-field-v2', 'UTF8'))::bigint)
            || convert_to('secondopinion-audit-field-v2', 'UTF8')
        || int8send(octet_length(convert_to(salt, 'UTF8'))::bigint) || convert_to(salt, 'UTF8')
        || int8send(octet_length(convert_to(value, 'UTF8'))::bigint) || convert_to(value, 'UTF8')
    ), 'hex') END
$$;
-- +goose StatementEnd

-- A personal field may keep its value, or become the digest of its value
-- as its bit (field) is set; a pseudonymised field stays so.
-- +goose StatementBegin
CREATE FUNCTION audit_field_may_become(old_value TEXT, new_value TEXT, old_mask INTEGER, new_mask INTEGER,
    field INTEGER, salt TEXT) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN old_mask & field = new_mask & field THEN new_value = old_value
        WHEN old_mask & field = 0 THEN new_value = audit_field_digest(salt, old_value)
        ELSE false
    END
$$;
-- +goose StatementEnd

-- The one update an entry may undergo is its pseudonymisation, and only in
-- form 2: personal fields replaced by their digests, their bits set, and
-- with client_addr and user_agent (together) their salt cleared. Every
-- other column stays. Deletes stay refused.
-- +goose StatementBegin
CREATE FUNCTION audit_entries_pseudonymise_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.form <> 2
        OR (NEW.seq, NEW.id, NEW.at, NEW.form, NEW.actor_role, NEW.action, NEW.resource_type, NEW.purpose,
            NEW.request_id, NEW.outcome, NEW.source_event_id, NEW.prev_hash, NEW.hash)
           IS DISTINCT FROM
           (OLD.seq, OLD.id, OLD.at, OLD.form, OLD.actor_role, OLD.action, OLD.resource_type, OLD.purpose,
            OLD.request_id, OLD.outcome, OLD.source_event_id, OLD.prev_hash, OLD.hash)
        OR NOT audit_field_may_become(OLD.actor, NEW.actor, OLD.pseudonymised, NEW.pseudonymised, 1, '')
        OR NOT audit_field_may_become(OLD.resource_id, NEW.resource_id, OLD.pseudonymised, NEW.pseudonymised, 2, '')
        OR NOT audit_field_may_become(OLD.patient_id, NEW.patient_id, OLD.pseudonymised, NEW.pseudonymised, 4, '')
        OR NOT audit_field_may_become(OLD.client_addr, NEW.client_addr, OLD.pseudonymised, NEW.pseudonymised, 8, OLD.salt)
        OR NOT audit_field_may_become(OLD.user_agent, NEW.user_agent, OLD.pseudonymised, NEW.pseudonymised, 16, OLD.salt)
        OR NOT ((NEW.pseudonymised & 24 = 0 AND NEW.salt = OLD.salt) OR (NEW.pseudonymised & 24 = 24 AND NEW.salt = ''))
    THEN
        RAISE EXCEPTION 'audit_entries is append-only: an entry may only have its personal fields pseudonymised';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
DROP TRIGGER audit_entries_no_change ON audit_entries;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_pseudonymise_only();
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();

-- +goose Down
-- Entries of form 2 no longer verify without their form and salt: only for
-- a store that has none.
DROP TRIGGER audit_entries_no_delete ON audit_entries;
DROP TRIGGER audit_entries_no_update ON audit_entries;
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
DROP FUNCTION audit_entries_pseudonymise_only();
DROP FUNCTION audit_field_may_become(TEXT, TEXT, INTEGER, INTEGER, INTEGER, TEXT);
DROP FUNCTION audit_field_digest(TEXT, TEXT);
DROP TABLE erased_subjects;
DROP INDEX audit_entries_by_resource_id;
ALTER TABLE audit_entries DROP COLUMN salt;
ALTER TABLE audit_entries DROP COLUMN pseudonymised;
ALTER TABLE audit_entries DROP COLUMN form;
