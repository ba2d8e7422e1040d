-- +goose Up
-- The monthly budgets ai-usage found spent (ai.budget.exceeded): while
-- the month lasts, every request goes to the local provider.
CREATE TABLE spent_budgets (
    month TEXT NOT NULL,
    scope TEXT NOT NULL,
    at    TIMESTAMP NOT NULL,
    PRIMARY KEY (month, scope)
);

-- +goose Down
DROP TABLE spent_budgets;
