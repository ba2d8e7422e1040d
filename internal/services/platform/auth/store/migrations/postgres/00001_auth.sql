-- +goose Up
CREATE TABLE users (
    id                UUID PRIMARY KEY,
    email             TEXT NOT NULL,
    password_hash     TEXT NOT NULL,
    hash_scheme       TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('patient', 'professional', 'admin')),
    two_factor_method TEXT NOT NULL CHECK (two_factor_method IN ('NONE', 'EMAIL', 'SMS', 'TOTP')),
    totp_secret       TEXT NOT NULL DEFAULT '',
    phone             TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('active', 'locked', 'disabled')),
    failed_attempts   INTEGER NOT NULL DEFAULT 0,
    locked_until      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

-- A pending second factor: code_hash is empty for TOTP, whose codes come
-- from the authenticator app.
CREATE TABLE challenges (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method     TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

-- Refresh tokens of one session form its family: rotated_at marks a
-- token already exchanged, whose reuse revokes the family.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id UUID NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE reset_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

-- The embedded mode's sessions; with REDIS_URL they live in Redis.
CREATE TABLE sessions (
    id        UUID PRIMARY KEY,
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended     BOOLEAN NOT NULL DEFAULT FALSE
);

-- +goose Down
DROP TABLE sessions;
DROP TABLE reset_tokens;
DROP TABLE refresh_tokens;
DROP TABLE challenges;
DROP TABLE users;
