-- +goose Up
-- A CANCELED payment (a 3-D Secure step abandoned for a new attempt) frees
-- its case as a FAILED one does.
DROP INDEX payments_one_open_per_case;
CREATE UNIQUE INDEX payments_one_open_per_case ON payments (case_id) WHERE status NOT IN ('FAILED', 'CANCELED') AND case_id <> '';

-- +goose Down
DROP INDEX payments_one_open_per_case;
CREATE UNIQUE INDEX payments_one_open_per_case ON payments (case_id) WHERE status <> 'FAILED' AND case_id <> '';
