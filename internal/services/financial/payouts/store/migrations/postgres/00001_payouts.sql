-- +goose Up
-- The rate tables, each in force from effective_from until the next one's:
-- an earning is priced by the table in force when its opinion was approved.
CREATE TABLE rate_tables (
    id             TEXT PRIMARY KEY,
    currency       TEXT NOT NULL,
    effective_from TIMESTAMPTZ NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_tables_by_time ON rate_tables (effective_from, id);

-- A table's rate per level, in minor units of the table's currency.
CREATE TABLE rates (
    table_id     TEXT NOT NULL REFERENCES rate_tables (id),
    level        TEXT NOT NULL,
    opinion      BIGINT NOT NULL CHECK (opinion > 0),
    reviewer_fee BIGINT NOT NULL CHECK (reviewer_fee >= 0),
    PRIMARY KEY (table_id, level)
);

-- The defaults, in euro cents, in force from the start.
INSERT INTO rate_tables (id, currency, effective_from, created_by, created_at)
    VALUES ('00000000-0000-7000-8000-000000000001', 'EUR', '2000-01-01T00:00:00Z', '', '2000-01-01T00:00:00Z');
INSERT INTO rates (table_id, level, opinion, reviewer_fee) VALUES
    ('00000000-0000-7000-8000-000000000001', 'JUNIOR', 6000, 1500),
    ('00000000-0000-7000-8000-000000000001', 'SENIOR', 12000, 2000),
    ('00000000-0000-7000-8000-000000000001', 'EXPERT', 20000, 2500),
    ('00000000-0000-7000-8000-000000000001', 'DISTINGUISHED', 30000, 3000);

-- The payout batches an admin created: the unpaid earnings of a period
-- in one currency.
CREATE TABLE batches (
    id            TEXT PRIMARY KEY,
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    currency      TEXT NOT NULL,
    total         BIGINT NOT NULL,
    professionals INTEGER NOT NULL,
    earnings      INTEGER NOT NULL,
    status        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    paid_by       TEXT NOT NULL DEFAULT '',
    paid_at       TIMESTAMPTZ
);
CREATE INDEX batches_by_time ON batches (created_at, id);

-- One item per professional of a batch: what they are paid.
CREATE TABLE batch_items (
    id              TEXT PRIMARY KEY,
    batch_id        TEXT NOT NULL REFERENCES batches (id),
    professional_id TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    earnings        INTEGER NOT NULL,
    UNIQUE (batch_id, professional_id)
);

-- What professionals earned: one OPINION earning per approved opinion and
-- at most one REVIEW earning, so a redelivered opinion.approved never
-- doubles anything. batch_id is set once, by the one batch that took it.
CREATE TABLE earnings (
    id              TEXT PRIMARY KEY,
    professional_id TEXT NOT NULL,
    opinion_id      TEXT NOT NULL,
    case_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    level           TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    rate_table_id   TEXT NOT NULL REFERENCES rate_tables (id),
    accrued_at      TIMESTAMPTZ NOT NULL,
    batch_id        TEXT REFERENCES batches (id),
    UNIQUE (opinion_id, kind)
);
CREATE INDEX earnings_by_professional ON earnings (professional_id, accrued_at, id);
CREATE INDEX earnings_unpaid ON earnings (currency, accrued_at) WHERE batch_id IS NULL;
CREATE INDEX earnings_by_batch ON earnings (batch_id);

-- Where professionals are paid. holder and IBAN are sealed with a data key
-- of the professional's own, itself wrapped by the master key; only the
-- masked IBAN and the BIC are kept in the clear.
CREATE TABLE payout_accounts (
    professional_id TEXT PRIMARY KEY,
    sealed          BYTEA NOT NULL,
    wrapped_key     BYTEA NOT NULL,
    iban_masked     TEXT NOT NULL,
    bic             TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE payout_accounts;
DROP TABLE earnings;
DROP TABLE batch_items;
DROP TABLE batches;
DROP TABLE rates;
DROP TABLE rate_tables;
