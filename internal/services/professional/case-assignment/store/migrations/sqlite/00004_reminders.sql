-- +goose Up
-- The professional of an ACTIVE assignment is told when 75 %, then 90 %,
-- of its time from claim to deadline has passed (domain.Reminder).
-- reminded_percent is the highest share told so far, 0 for none; every
-- lower share counts as told (one passed while a higher one was due is
-- skipped for good). remind_at is when the sweep looks at the
-- assignment next, NULL when nothing is left to tell. Assignments
-- claimed before are looked at on the first sweep, which tells what is
-- due and sets their next time.
ALTER TABLE assignments ADD COLUMN reminded_percent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assignments ADD COLUMN remind_at TIMESTAMP;
UPDATE assignments SET remind_at = claimed_at WHERE status = 'ACTIVE';
CREATE INDEX assignments_remind ON assignments (status, remind_at);

-- +goose Down
DROP INDEX assignments_remind;
ALTER TABLE assignments DROP COLUMN remind_at;
ALTER TABLE assignments DROP COLUMN reminded_percent;
