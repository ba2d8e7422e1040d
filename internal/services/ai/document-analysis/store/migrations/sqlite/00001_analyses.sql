-- +goose Up
-- One row per analysed record: the plan's ai_analyses. result is the
-- analysis as the API returns it (JSON); status says whether there is one
-- (OK, PARTIAL, OCR_UNAVAILABLE) or why not (FAILED, with the reason in
-- the result). Analysing a record again replaces its row.
CREATE TABLE analyses (
    document_id TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     TEXT NOT NULL,
    result      TEXT NOT NULL,
    analyzed_at TIMESTAMP NOT NULL
);
CREATE INDEX analyses_by_case ON analyses (case_id);

-- +goose Down
DROP TABLE analyses;
