-- +goose Up
-- The catalogue: the net price of a case by region, specialty and
-- urgency, in integer minor units of an ISO 4217 currency, and the tax
-- rate charged on it in basis points (2000 is 20 %).
CREATE TABLE catalogue_prices (
    region     TEXT NOT NULL,
    specialty  TEXT NOT NULL,
    urgency    TEXT NOT NULL,
    net_amount BIGINT NOT NULL CHECK (net_amount >= 0),
    currency   TEXT NOT NULL,
    tax_rate   INTEGER NOT NULL CHECK (tax_rate BETWEEN 0 AND 10000),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (region, specialty, urgency)
);

-- The default catalogue: every specialty at every urgency in EU (EUR,
-- 20 % VAT), UK (GBP, 20 % VAT) and US (USD, no sales tax on the
-- service). Oncology, neurology and cardiology reviews take longer and
-- cost more; URGENT is half as dear again as STANDARD. Admins change any
-- price with PUT /api/v1/pricing/catalog/{region}/{specialty}/{urgency}.
INSERT INTO catalogue_prices (region, specialty, urgency, net_amount, currency, tax_rate, updated_at)
SELECT r.column1, s.column1, u.column1,
       (CASE WHEN s.column2 = 1 THEN r.column3 ELSE r.column2 END) * u.column2 / 100,
       r.column4, r.column5, CURRENT_TIMESTAMP
FROM (VALUES ('EU', 45000, 59000, 'EUR', 2000),
             ('UK', 39000, 51000, 'GBP', 2000),
             ('US', 49500, 65000, 'USD', 0)) AS r
CROSS JOIN (VALUES ('CARDIOLOGY', 1), ('ONCOLOGY', 1), ('NEUROLOGY', 1), ('ORTHOPEDICS', 0), ('RADIOLOGY', 0),
                   ('DERMATOLOGY', 0), ('GASTROENTEROLOGY', 0), ('PULMONOLOGY', 0), ('ENDOCRINOLOGY', 0),
                   ('NEPHROLOGY', 0), ('UROLOGY', 0), ('GYNECOLOGY', 0), ('PEDIATRICS', 0), ('PSYCHIATRY', 0),
                   ('RHEUMATOLOGY', 0), ('GENERAL_MEDICINE', 0)) AS s
CROSS JOIN (VALUES ('STANDARD', 100), ('URGENT', 150)) AS u;

-- Discount codes, stored in upper case (codes are case-insensitive).
-- percent is PERCENT's share in basis points, amount and currency
-- FIXED's; max_uses and max_uses_per_patient are 0 for no limit. uses
-- counts redeemed quotes: it is the total limit's counter, raised in the
-- redeeming transaction only while under the limit, and it outlives the
-- erasure of the patients who used the code.
CREATE TABLE discount_codes (
    id                   TEXT PRIMARY KEY,
    code                 TEXT NOT NULL UNIQUE,
    kind                 TEXT NOT NULL CHECK (kind IN ('PERCENT', 'FIXED')),
    percent              INTEGER NOT NULL,
    amount               BIGINT NOT NULL,
    currency             TEXT NOT NULL,
    valid_from           TIMESTAMPTZ NOT NULL,
    valid_until          TIMESTAMPTZ,
    max_uses             INTEGER NOT NULL,
    max_uses_per_patient INTEGER NOT NULL,
    uses                 INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    created_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX discount_codes_by_creation ON discount_codes (created_at, id);

-- Quotes issued to patients for their cases, with the breakdown they
-- were signed with. discount_id and discount_code are '' without a code.
-- redeemed_at is set once, when payments redeemed the quote.
CREATE TABLE quotes (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    region          TEXT NOT NULL,
    specialty       TEXT NOT NULL,
    urgency         TEXT NOT NULL,
    currency        TEXT NOT NULL,
    net_amount      BIGINT NOT NULL,
    discount_amount BIGINT NOT NULL,
    tax_rate        INTEGER NOT NULL,
    tax_amount      BIGINT NOT NULL,
    total_amount    BIGINT NOT NULL,
    discount_id     TEXT NOT NULL,
    discount_code   TEXT NOT NULL,
    issued_at       TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    redeemed_at     TIMESTAMPTZ
);
CREATE INDEX quotes_by_case ON quotes (case_id);
CREATE INDEX quotes_by_patient ON quotes (patient_id);

-- One row per redeemed quote that used a code: the per-patient limit
-- counts them. Keyed by the quote, so a quote uses its code once.
CREATE TABLE discount_redemptions (
    quote_id    TEXT PRIMARY KEY,
    discount_id TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    redeemed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX discount_redemptions_by_patient ON discount_redemptions (discount_id, patient_id);
CREATE INDEX discount_redemptions_of_patient ON discount_redemptions (patient_id);

-- +goose Down
DROP TABLE discount_redemptions;
DROP TABLE quotes;
DROP TABLE discount_codes;
DROP TABLE catalogue_prices;
