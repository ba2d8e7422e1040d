-- +goose Up
-- One row per request to an AI provider (ai.request.completed or
-- ai.request.failed), keyed by the request's id so a redelivered event
-- counts once. cost_micros is in millionths of a US dollar; priced is 0
-- when the price table had no price for the model. month is the UTC
-- month of the request, "2026-12", which the totals group by.
CREATE TABLE ai_requests (
    request_id    TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    failed        BOOLEAN NOT NULL,
    error         TEXT NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    latency_ms    BIGINT NOT NULL,
    cost_micros   BIGINT NOT NULL,
    priced        BOOLEAN NOT NULL,
    month         TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX ai_requests_by_month ON ai_requests (month, provider, model);
CREATE INDEX ai_requests_by_case ON ai_requests (case_id) WHERE case_id <> '';

-- The budgets found spent, once per month and scope: ai.budget.exceeded
-- is published when the row is written.
CREATE TABLE budget_alerts (
    month        TEXT NOT NULL,
    scope        TEXT NOT NULL,
    limit_micros BIGINT NOT NULL,
    spent_micros BIGINT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (month, scope)
);

-- +goose Down
DROP TABLE budget_alerts;
DROP TABLE ai_requests;
