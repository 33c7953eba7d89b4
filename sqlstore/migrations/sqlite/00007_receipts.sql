-- +goose Up
-- Receipts (one per successful charge) and credit notes (one per refund),
-- each a snapshot of its content as issued, kept as a JSON document.
-- Numbers come from receipt_counters, one row per series (the seller's
-- prefix and the year): the row is incremented in the transaction that
-- records the payment, so a rollback takes the number back and a crash can
-- neither skip nor repeat one. A database sequence would not do: it keeps
-- the numbers a rolled-back transaction took, leaving gaps.
CREATE TABLE receipt_counters (
    series      TEXT PRIMARY KEY,
    last_number INTEGER NOT NULL
);

CREATE TABLE receipts (
    id          TEXT PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    upgrade_id  TEXT NOT NULL REFERENCES upgrades (id),
    payment_ref TEXT NOT NULL,
    issued_at   TIMESTAMP NOT NULL,
    body        TEXT NOT NULL,
    -- One receipt per charge, one credit note per refund.
    UNIQUE (kind, payment_ref)
);
CREATE INDEX receipts_account ON receipts (account_id, issued_at);
CREATE INDEX receipts_upgrade ON receipts (upgrade_id, issued_at);

-- +goose Down
DROP TABLE receipts;
DROP TABLE receipt_counters;
