-- +goose Up
-- One-time TOTP recovery codes by their SHA-256 (the codes carry 50 random
-- bits, so a fast hash suffices). Using a code deletes its row: the delete's
-- row count decides, so a code works once even when used concurrently.
-- From this version on users.totp_secret holds "v1:" + AES-256-GCM
-- ciphertext; a value without the prefix is a plaintext secret from before,
-- read as such and sealed when next written or used.
CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- +goose Down
DROP TABLE recovery_codes;
