-- +goose Up
-- The case's specialty, recorded when the opinion is submitted, so the
-- review queue filters by the reviewer's specialties in SQL. Opinions
-- submitted before this column existed keep '' until resubmitted: no
-- professional sees them in the queue (an admin does).
ALTER TABLE opinions ADD COLUMN specialty TEXT NOT NULL DEFAULT '';
CREATE INDEX opinions_review_queue ON opinions (status, submitted_at, id);

-- +goose Down
DROP INDEX opinions_review_queue;
ALTER TABLE opinions DROP COLUMN specialty;
