-- +goose Up
CREATE TABLE cases (
    id          UUID PRIMARY KEY,
    case_number TEXT NOT NULL UNIQUE,
    customer_id UUID NOT NULL,
    specialty   TEXT NOT NULL,
    urgency     TEXT NOT NULL,
    title       TEXT NOT NULL,
    question    TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_by_customer ON cases (customer_id, created_at DESC, id DESC);

CREATE TABLE case_timeline (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     UUID NOT NULL REFERENCES cases (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    event_id    TEXT,
    note        TEXT,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX case_timeline_by_case ON case_timeline (case_id, seq);

-- +goose Down
DROP TABLE case_timeline;
DROP TABLE cases;
