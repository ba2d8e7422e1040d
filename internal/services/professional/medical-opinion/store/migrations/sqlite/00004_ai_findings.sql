-- +goose Up
-- The assigned professional's review of the AI pre-analysis: each
-- finding as the pre-analysis stated it and cited it, with the decision
-- on it (and the professional's wording when edited), as JSON like the
-- opinion's other lists. It is part of the opinion's text: it goes with
-- the row on an erasure. Opinions written before the review existed have
-- none.
ALTER TABLE opinions ADD COLUMN ai_findings TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE opinions DROP COLUMN ai_findings;
