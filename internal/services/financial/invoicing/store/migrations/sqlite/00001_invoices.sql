-- +goose Up
-- Invoices and credit notes, as issued: an invoice is a legal document,
-- so a row is written once and its content never changes (VAT Directive
-- art. 233: integrity of content for the whole storage period). Seller
-- and buyer are copied in at issue time, so a later change of either does
-- not change what was issued. lines is the JSON array of the document's
-- lines; amounts are integer minor units of currency, below zero on a
-- credit note. An erasure empties case_id and customer_id, the links to
-- the erased patient that the law does not need (docs/retention.md).
CREATE TABLE invoices (
    id                    TEXT PRIMARY KEY,
    number                TEXT NOT NULL UNIQUE,
    kind                  TEXT NOT NULL,
    region                TEXT NOT NULL,
    year                  INTEGER NOT NULL,
    seq                   INTEGER NOT NULL,
    case_id               TEXT NOT NULL,
    payment_id            TEXT NOT NULL,
    customer_id           TEXT NOT NULL,
    credited_invoice_id   TEXT NOT NULL,
    credited_number       TEXT NOT NULL,
    refund_id             TEXT NOT NULL,
    issued_at             TIMESTAMP NOT NULL,
    currency              TEXT NOT NULL,
    seller_name           TEXT NOT NULL,
    seller_address        TEXT NOT NULL,
    seller_tax_id         TEXT NOT NULL,
    buyer_name            TEXT NOT NULL,
    lines                 TEXT NOT NULL,
    net_total             INTEGER NOT NULL,
    tax_total             INTEGER NOT NULL,
    total                 INTEGER NOT NULL,
    UNIQUE (kind, region, year, seq)
);
-- One invoice per payment, one credit note per refund: a redelivered
-- event finds its document instead of issuing a second.
CREATE UNIQUE INDEX invoices_one_per_payment ON invoices (payment_id) WHERE kind = 'INVOICE';
CREATE UNIQUE INDEX invoices_one_per_refund ON invoices (refund_id) WHERE kind = 'CREDIT_NOTE';
CREATE INDEX invoices_by_time ON invoices (issued_at, id);
CREATE INDEX invoices_by_customer ON invoices (customer_id, issued_at, id) WHERE customer_id <> '';
CREATE INDEX invoices_by_case ON invoices (case_id) WHERE case_id <> '';
CREATE INDEX invoices_credits ON invoices (credited_invoice_id) WHERE kind = 'CREDIT_NOTE';

-- The last number given in each series (kind, region, year). It is
-- incremented in the transaction that inserts the document and its
-- invoice.issued event: the row's lock orders concurrent issues, and a
-- transaction that rolls back gives its number back, so a series has no
-- gap and no duplicate.
CREATE TABLE invoice_counters (
    kind   TEXT NOT NULL,
    region TEXT NOT NULL,
    year   INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (kind, region, year)
);

-- Refunds that arrived before their payment's invoice (events of two
-- aggregates may be reordered, and a failed invoice is retried later):
-- each becomes its credit note, in the transaction that issues the invoice.
CREATE TABLE pending_refunds (
    refund_id   TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX pending_refunds_by_payment ON pending_refunds (payment_id);

-- +goose Down
DROP TABLE pending_refunds;
DROP TABLE invoice_counters;
DROP TABLE invoices;
