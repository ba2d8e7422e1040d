-- +goose Up
-- The secret of a TOTP enrolment not yet confirmed, sealed like
-- totp_secret (same key, the user id as additional data). Confirming moves
-- it to totp_secret; until then logins keep using the working secret, so
-- an abandoned enrolment locks no one out. An enrolment started before
-- this version and not confirmed must be started again.
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN totp_pending_secret;
