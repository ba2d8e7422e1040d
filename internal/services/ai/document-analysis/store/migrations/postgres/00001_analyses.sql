-- +goose Up
-- One row per analysed record: the plan's ai_analyses. result is the
-- analysis as the API returns it (JSONB, with a GIN index for queries into
-- findings and concepts); status says whether there is one (OK, PARTIAL,
-- OCR_UNAVAILABLE) or why not (FAILED, with the reason in the result).
-- Analysing a record again replaces its row.
CREATE TABLE analyses (
    document_id TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     TEXT NOT NULL,
    result      JSONB NOT NULL,
    analyzed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX analyses_by_case ON analyses (case_id);
CREATE INDEX analyses_result ON analyses USING GIN (result jsonb_path_ops);

-- +goose Down
DROP TABLE analyses;
