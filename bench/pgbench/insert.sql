-- One patient registration as patient-identity's store writes it: the
-- patient and its outbox event in one transaction. The
-- patient id is derived from a random 63-bit number (pgbench has no uuid
-- variables); event ids are random UUIDs where the store uses UUIDv7.
\set n random(1, 9223372036854775806)
BEGIN;
INSERT INTO patients (id, first_name, middle_name, last_name, date_of_birth, email, phone,
    preferred_channel, email_notifications, sms_notifications, metadata, created_at, updated_at)
    VALUES (md5(:n::text)::uuid, 'Ada', '', 'Lovelace', '1990-12-10', :n || '@example.org', '',
    'EMAIL', true, false, '{"source":"web"}', now(), now());
INSERT INTO outbox (event_id, event_type, aggregate_id, envelope, created_at)
    VALUES (gen_random_uuid(), 'patient.registered', md5(:n::text)::uuid::text,
    '{"id":"0190c5a4-6f1e-7c3a-9b2d-4e5f6a7b8c9d","type":"patient.registered","version":1,"aggregateId":"6f1e0190-c5a4-4c3a-9b2d-4e5f6a7b8c9d","payload":{"patientId":"6f1e0190-c5a4-4c3a-9b2d-4e5f6a7b8c9d"},"timestamp":"2026-01-01T00:00:00.000000Z","serviceId":"patient-identity"}',
    now());
END;
