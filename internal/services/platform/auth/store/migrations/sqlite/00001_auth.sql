-- +goose Up
CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL,
    password_hash     TEXT NOT NULL,
    hash_scheme       TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('patient', 'professional', 'admin')),
    two_factor_method TEXT NOT NULL CHECK (two_factor_method IN ('NONE', 'EMAIL', 'SMS', 'TOTP')),
    totp_secret       TEXT NOT NULL DEFAULT '',
    phone             TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('active', 'locked', 'disabled')),
    failed_attempts   INTEGER NOT NULL DEFAULT 0,
    locked_until      TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

-- A pending second factor: code_hash is empty for TOTP, whose codes come
-- from the authenticator app.
CREATE TABLE challenges (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method     TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

-- Refresh tokens of one session form its family: rotated_at marks a
-- token already exchanged, whose reuse revokes the family.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE reset_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

-- The embedded mode's sessions; with REDIS_URL they live in Redis.
CREATE TABLE sessions (
    id        TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    ended     INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE sessions;
DROP TABLE reset_tokens;
DROP TABLE refresh_tokens;
DROP TABLE challenges;
DROP TABLE users;
