-- +goose Up
-- hash_scheme says how password_hash was made, so the login service that
-- takes credentials over verifies each the right way. Rows written before
-- this column are plain bcrypt; new ones are bcrypt-sha256 (bcrypt of the
-- base64 of the password's SHA-256), which keeps every byte of a password
-- longer than bcrypt's 72 in play.
ALTER TABLE credentials ADD COLUMN hash_scheme TEXT NOT NULL DEFAULT 'bcrypt';

-- +goose Down
ALTER TABLE credentials DROP COLUMN hash_scheme;
