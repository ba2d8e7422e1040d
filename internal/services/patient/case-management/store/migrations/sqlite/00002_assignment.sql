-- +goose Up
-- What the pool needs to match a case (language, a de-identified age band
-- taken from the patient at opening) and who the case is assigned to.
ALTER TABLE cases ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE cases ADD COLUMN age_band TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN professional_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE cases DROP COLUMN professional_id;
ALTER TABLE cases DROP COLUMN age_band;
ALTER TABLE cases DROP COLUMN language;
